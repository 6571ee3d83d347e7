// The Messages role on SQLite: append (group-committed through the core), the reads of message
// metadata, flags, expunge, copy and move, and the change feed (changesSince, claimRecent,
// watch). Every write logs one change row per message touched in its own transaction
// (change-log.ts) and raises the mailbox's HIGHESTMODSEQ. The transactional bodies are
// `messageWrites`: synchronous functions of (WriteTx, arguments).
// Invariants:
// - a message takes uid = uidnext++ and modseq = ++highestmodseq of its mailbox, read in the
//   same write transaction, so UIDs and modseqs only grow;
// - the blob refcount equals the number of message rows plus outbound_queue and
//   outbound_dsn_owed rows naming the blob, adjusted in the transaction that adds or removes
//   them; an append's local targets and its outbound copy commit in the same transaction;
// - quota is checked inside that transaction (rows.ts overQuota).

import { decodeMime } from '../rules/mime-json.js';
import type { MimeRecord } from '../../mail/mime/types.js';
import type { Messages } from '../roles.js';
import { AppendRequestFailed, checkAppendRequest, parseAppendTarget } from '../rules/append-request.js';
import { isCount } from '../rules/count.js';
import { StoreError } from '../../core/errors.js';
import {
  applyFlagUpdate,
  decodeKeywords,
  encodeKeywords,
  FLAG_DELETED,
  FLAG_SEEN,
  flagCount,
  flagList,
  parseFlagUpdate,
  sameFlags,
  type ParsedFlags,
} from '../rules/flags.js';
import { exceedsQuota, overQuotaError, QuotaReservations } from '../rules/quota.js';
import { uniqueUids } from '../rules/uid-set.js';
import type {
  AppendOutcome,
  AppendRequest,
  Change,
  ExpungedSince,
  CopyResult,
  FlagResult,
  FlagUpdate,
  MailboxSummary,
  MessageFlags,
  MessageMeta,
  QuotaReservation,
} from '../types.js';
import { adjustBlobRefs, upsertBlob, type PreparedAppendRequest } from './blob-rows.js';
import {
  KIND_ADDED,
  KIND_EXPUNGED,
  KIND_FLAGS,
  KIND_MAILBOX_EVENT,
  logChange,
  toChange,
  type ChangeRow,
} from './change-log.js';
import type { GroupedWrite, Settled, SqliteCore } from './core.js';
import { FlagReads } from './flag-reads.js';
import { LruCache } from '../../core/lru-cache.js';
import { insertOutbound } from './queue.js';
import { listSortFields } from './sort-fields.js';
import type { MessageSortFields, SortFieldName, SortFields } from '../rules/sort-fields.js';
import {
  accountUsage,
  addUsage,
  mailboxRow,
  notFound,
  overQuota,
  requireMailbox,
  type MailboxRow,
  type MessageRow,
} from './rows.js';
import type { StatementCache } from './statement-cache.js';
import type { WriteTx } from './write-tx.js';

const DEFAULT_MIME_CACHE = 1000;

/** Stores one message at the end of a mailbox: uid = uidnext++, modseq = ++highestmodseq. */
function insertMessage(
  tx: WriteTx,
  mb: MailboxRow,
  flags: ParsedFlags,
  internalDate: number,
  size: number,
  blobId: string,
): { uid: number; modseq: number; uidvalidity: number } {
  const { sql } = tx;
  // `mb` was read in this transaction; RETURNING would be simpler but is much slower in SQLite.
  const m = { uid: mb.uidnext, modseq: mb.highestmodseq + 1, uidvalidity: mb.uidvalidity };
  sql
    .stmt(
      `UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, messages = messages + 1,
         unseen = unseen + ?, deleted = deleted + ?, size = size + ? WHERE id = ?`,
    )
    .run(
      m.uid + 1,
      m.modseq,
      1 - flagCount(flags.bits, FLAG_SEEN),
      flagCount(flags.bits, FLAG_DELETED),
      size,
      mb.id,
    );
  const keywords = encodeKeywords(flags.keywords);
  sql
    .stmt(
      `INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id, save_date)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(mb.id, m.uid, m.modseq, flags.bits, keywords, internalDate, size, blobId, Date.now());
  logChange(tx, mb.id, m.modseq, m.uid, KIND_ADDED, flags.bits, keywords);
  addUsage(sql, mb.account_id, size, 1);
  return m;
}

/** The rows of these UIDs (missing ones skipped), in UID order. */
function messageRows(sql: StatementCache, mailboxId: number, uids: readonly number[]): MessageRow[] {
  const get = sql.stmt<MessageRow>(
    'SELECT uid, modseq, flags, keywords, internal_date, size, blob_id FROM messages WHERE mailbox_id = ? AND uid = ?',
  );
  const out: MessageRow[] = [];
  for (const uid of uniqueUids(uids)) {
    const r = get.get(mailboxId, uid);
    if (r !== undefined) out.push(r);
  }
  return out;
}

/** Expunges the messages whose time `column` is at or before `before` (NULL never is). */
function expungeAtOrBefore(
  tx: WriteTx,
  mailboxId: number,
  column: 'save_date' | 'pop3_retrieved_at',
  before: number,
  opts: { untouchedOnly?: boolean } = {},
): number[] {
  const mb = requireMailbox(tx.sql, mailboxId);
  // untouchedOnly: flags unchanged since POP3 retrieved it (no IMAP STORE moved its modseq).
  const untouched = opts.untouchedOnly === true ? ' AND modseq <= pop3_retrieved_modseq' : '';
  const rows = tx.sql
    .stmt<MessageRow>(
      `SELECT uid, modseq, flags, keywords, internal_date, size, blob_id FROM messages
       WHERE mailbox_id = ? AND ${column} <= ?${untouched} ORDER BY uid`,
    )
    .all(mailboxId, before);
  return removeMessages(tx, mb, rows, Date.now());
}

/** Deletes these message rows of `mb` under one new modseq; returns their UIDs. */
function removeMessages(tx: WriteTx, mb: MailboxRow, rows: readonly MessageRow[], now: number): number[] {
  if (rows.length === 0) return [];
  const { sql } = tx;
  const modseq = mb.highestmodseq + 1;
  const del = sql.stmt('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?');
  const dropOld = sql.stmt('DELETE FROM changes WHERE mailbox_id = ? AND uid = ? AND kind = ?');
  const refs = new Map<string, number>();
  let unseen = 0;
  let deleted = 0;
  let size = 0;
  const uids: number[] = [];
  for (const r of rows) {
    del.run(mb.id, r.uid);
    dropOld.run(mb.id, r.uid, KIND_FLAGS);
    logChange(tx, mb.id, modseq, r.uid, KIND_EXPUNGED, null, null);
    refs.set(r.blob_id, (refs.get(r.blob_id) ?? 0) + 1);
    unseen += 1 - flagCount(r.flags, FLAG_SEEN);
    deleted += flagCount(r.flags, FLAG_DELETED);
    size += r.size;
    uids.push(r.uid);
  }
  sql
    .stmt(
      `UPDATE mailboxes SET highestmodseq = ?, messages = messages - ?, unseen = unseen - ?, deleted = deleted - ?,
         size = size - ? WHERE id = ?`,
    )
    .run(modseq, rows.length, unseen, deleted, size, mb.id);
  addUsage(sql, mb.account_id, -size, -rows.length);
  for (const [blobId, n] of refs) adjustBlobRefs(sql, blobId, -n, now);
  return uids;
}

/** The transactional bodies of the message writes (arguments already checked). */
export const messageWrites = {
  /**
   * One append request (under its own SAVEPOINT of the group commit): each local target, the
   * outbound copy, and the blob row's references. A failing target fails alone, unless the
   * request is all-or-nothing (AppendRequestFailed rolls its savepoint back).
   */
  append(tx: WriteTx, req: PreparedAppendRequest, now: number): AppendOutcome[] {
    const { blob } = req;
    const outcomes: AppendOutcome[] = [];
    let firstError: StoreError | null = null;
    let stored = 0;
    for (const target of req.targets) {
      const mailboxId = target.mailboxId;
      const parsed = parseAppendTarget(target, now);
      const mb = parsed.ok ? mailboxRow(tx.sql, mailboxId) : undefined;
      const over =
        req.ignoreQuota !== true && mb !== undefined && overQuota(tx.sql, mb.account_id, blob.size, 1);
      if (!parsed.ok || mb === undefined || over) {
        const error = !parsed.ok ? parsed.error : mb === undefined ? notFound('mailbox') : overQuotaError();
        firstError ??= error;
        outcomes.push({ ok: false, mailboxId, error });
        continue;
      }
      const m = insertMessage(tx, mb, parsed.flags, parsed.internalDate, blob.size, blob.blobId);
      outcomes.push({
        ok: true,
        mailboxId,
        accountId: mb.account_id,
        uid: m.uid,
        modseq: m.modseq,
        uidValidity: m.uidvalidity,
        usage: accountUsage(tx.sql, mb.account_id),
      });
      stored++;
    }
    if (req.allOrNothing === true && firstError !== null) throw new AppendRequestFailed(outcomes, firstError);
    if (req.outbound !== undefined) {
      insertOutbound(tx, req.outbound, blob.blobId, blob.size, now);
      stored++;
    }
    // An inline blob nothing refers to leaves nothing behind; a file's row is kept for GC.
    if (stored > 0 || blob.inline === undefined)
      upsertBlob(tx.sql, blob.blobId, blob.size, blob.rows, stored, now, blob.inline);
    return outcomes;
  },

  /**
   * After a request failed (its savepoint rolled back): keeps the blob row, refcount unchanged,
   * so an unreferenced file is collected (an inline blob has no file: nothing to keep).
   */
  appendFailed(tx: WriteTx, req: PreparedAppendRequest, now: number): void {
    if (req.blob.inline === undefined)
      upsertBlob(tx.sql, req.blob.blobId, req.blob.size, req.blob.rows, 0, now);
  },

  updateFlags(
    tx: WriteTx,
    mailboxId: number,
    uids: readonly number[],
    update: FlagUpdate,
    parsed: ParsedFlags,
  ): FlagResult {
    const { sql } = tx;
    const mb = requireMailbox(sql, mailboxId);
    const changed: FlagResult['changed'] = [];
    const modified: number[] = [];
    const modseq = mb.highestmodseq + 1;
    let unseenDelta = 0;
    let deletedDelta = 0;
    const setFlags = sql.stmt(
      'UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?',
    );
    const dropOld = sql.stmt('DELETE FROM changes WHERE mailbox_id = ? AND uid = ? AND kind = ?');
    for (const row of messageRows(sql, mailboxId, uids)) {
      // RFC 7162 §3.1.3: UNCHANGEDSINCE refuses messages modified after the given modseq.
      if (update.unchangedSince !== undefined && row.modseq > update.unchangedSince) {
        modified.push(row.uid);
        continue;
      }
      const current: ParsedFlags = { bits: row.flags, keywords: decodeKeywords(row.keywords) };
      const next = applyFlagUpdate(current, update.mode, parsed);
      if (sameFlags(current, next)) continue;
      const keywords = encodeKeywords(next.keywords);
      setFlags.run(next.bits, keywords, modseq, mailboxId, row.uid);
      // Only the latest flags of a message matter to a client catching up.
      dropOld.run(mailboxId, row.uid, KIND_FLAGS);
      logChange(tx, mailboxId, modseq, row.uid, KIND_FLAGS, next.bits, keywords);
      unseenDelta += flagCount(row.flags, FLAG_SEEN) - flagCount(next.bits, FLAG_SEEN);
      deletedDelta += flagCount(next.bits, FLAG_DELETED) - flagCount(row.flags, FLAG_DELETED);
      changed.push({ uid: row.uid, modseq, flags: flagList(next.bits, keywords) });
    }
    if (changed.length > 0) {
      sql
        .stmt(
          'UPDATE mailboxes SET highestmodseq = ?, unseen = unseen + ?, deleted = deleted + ? WHERE id = ?',
        )
        .run(modseq, unseenDelta, deletedDelta, mailboxId);
    }
    return { changed, modified };
  },

  expunge(tx: WriteTx, mailboxId: number, opts: { uids?: number[]; onlyDeleted?: boolean }): number[] {
    const { sql } = tx;
    const mb = requireMailbox(sql, mailboxId);
    let rows: MessageRow[];
    if (opts.uids === undefined) {
      rows = sql
        .stmt<MessageRow>(
          `SELECT uid, modseq, flags, keywords, internal_date, size, blob_id FROM messages
           WHERE mailbox_id = ? AND (flags & ${FLAG_DELETED}) != 0 ORDER BY uid`,
        )
        .all(mailboxId);
    } else {
      rows = messageRows(sql, mailboxId, opts.uids);
      if (opts.onlyDeleted === true) rows = rows.filter((r) => (r.flags & FLAG_DELETED) !== 0);
    }
    return removeMessages(tx, mb, rows, Date.now());
  },

  /** \Seen (as updateFlags) and the first POP3 retrieval time, in one transaction. */
  markPop3Retrieved(tx: WriteTx, mailboxId: number, uids: readonly number[], at: number): void {
    const update: FlagUpdate = { mode: 'add', flags: ['\\Seen'] };
    messageWrites.updateFlags(tx, mailboxId, uids, update, parseFlagUpdate(update));
    // The modseq after the \Seen above: a later flag change (over IMAP) raises the message's
    // modseq past it, which POP3 retention reads as "an IMAP user has touched it".
    const mark = tx.sql.stmt(
      `UPDATE messages SET pop3_retrieved_at = ?, pop3_retrieved_modseq = modseq
       WHERE mailbox_id = ? AND uid = ? AND pop3_retrieved_at IS NULL`,
    );
    for (const uid of uids) mark.run(at, mailboxId, uid);
  },

  expungeSavedBefore(tx: WriteTx, mailboxId: number, before: number): number[] {
    return expungeAtOrBefore(tx, mailboxId, 'save_date', before);
  },

  expungePop3Retrieved(
    tx: WriteTx,
    mailboxId: number,
    before: number,
    includeImapTouched: boolean,
  ): number[] {
    return expungeAtOrBefore(tx, mailboxId, 'pop3_retrieved_at', before, {
      untouchedOnly: !includeImapTouched,
    });
  },

  /** COPY, or with `move` MOVE (RFC 6851): the copies and the expunge in one transaction. */
  copy(tx: WriteTx, fromId: number, uids: readonly number[], toId: number, move: boolean): CopyResult {
    const { sql } = tx;
    const src = requireMailbox(sql, fromId);
    const dst = requireMailbox(sql, toId);
    const rows = messageRows(sql, fromId, uids);
    if (rows.length === 0) return { uidValidity: dst.uidvalidity, mapping: [] };
    let total = 0;
    for (const r of rows) total += r.size;
    // A move inside one account does not change its usage.
    const within = move && src.account_id === dst.account_id;
    if (overQuota(sql, dst.account_id, within ? 0 : total, within ? 0 : rows.length)) throw overQuotaError();
    const modseq = dst.highestmodseq + 1;
    let uid = dst.uidnext;
    let unseen = 0;
    let deleted = 0;
    const refs = new Map<string, number>();
    const mapping: Array<[number, number]> = [];
    const insert = sql.stmt(
      `INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id, save_date)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // RFC 8514 §4: a copy (or a moved message) is saved into the target now.
    const saved = Date.now();
    for (const r of rows) {
      insert.run(dst.id, uid, modseq, r.flags, r.keywords, r.internal_date, r.size, r.blob_id, saved);
      logChange(tx, dst.id, modseq, uid, KIND_ADDED, r.flags, r.keywords);
      refs.set(r.blob_id, (refs.get(r.blob_id) ?? 0) + 1);
      unseen += 1 - flagCount(r.flags, FLAG_SEEN);
      deleted += flagCount(r.flags, FLAG_DELETED);
      mapping.push([r.uid, uid]);
      uid++;
    }
    sql
      .stmt(
        `UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, messages = messages + ?, unseen = unseen + ?,
           deleted = deleted + ?, size = size + ? WHERE id = ?`,
      )
      .run(uid, modseq, rows.length, unseen, deleted, total, dst.id);
    addUsage(sql, dst.account_id, total, rows.length);
    const now = Date.now();
    for (const [blobId, n] of refs) adjustBlobRefs(sql, blobId, n, now);
    if (move) removeMessages(tx, requireMailbox(sql, fromId), rows, now);
    return { uidValidity: dst.uidvalidity, mapping };
  },

  /** RFC 3501 \Recent: the UIDs no session has claimed yet, now claimed. */
  claimRecent(tx: WriteTx, mailboxId: number): number[] {
    const { sql } = tx;
    const mb = requireMailbox(sql, mailboxId);
    if (mb.uidnext - 1 <= mb.recent_uid) return [];
    const uids = sql
      .stmt<number>('SELECT uid FROM messages WHERE mailbox_id = ? AND uid > ? ORDER BY uid', 'pluck')
      .all(mailboxId, mb.recent_uid);
    sql.stmt('UPDATE mailboxes SET recent_uid = ? WHERE id = ?').run(mb.uidnext - 1, mailboxId);
    return uids;
  },
};

/** An append request as the core's group commit runs it. */
export class AppendWrite implements GroupedWrite<AppendOutcome[]> {
  constructor(private readonly req: PreparedAppendRequest) {}

  body(tx: WriteTx, now: number): AppendOutcome[] {
    return messageWrites.append(tx, this.req, now);
  }

  failed(tx: WriteTx, err: unknown, now: number): Settled<AppendOutcome[]> {
    const settled: Settled<AppendOutcome[]> =
      err instanceof AppendRequestFailed ? { ok: true, value: err.outcomes } : { ok: false, error: err };
    messageWrites.appendFailed(tx, this.req, now);
    return settled;
  }
}

export interface SqliteMessagesOptions {
  /** MIME records kept parsed in memory (default 1000). */
  mimeCacheSize?: number;
}

export class SqliteMessages implements Messages {
  private readonly mimeCache: LruCache<string, MimeRecord>;
  private readonly flags: FlagReads;
  /** Bytes of APPEND literals being streamed, by account (reserveQuota). */
  private readonly reservations = new QuotaReservations();

  constructor(
    private readonly core: SqliteCore,
    opts: SqliteMessagesOptions = {},
  ) {
    this.mimeCache = new LruCache(opts.mimeCacheSize ?? DEFAULT_MIME_CACHE);
    this.flags = new FlagReads(core);
  }

  // ---------------------------------------------------------------- append (group commit)

  append(req: AppendRequest): Promise<AppendOutcome[]> {
    try {
      this.core.assertAccepting();
      checkAppendRequest(req);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.core.append(req);
  }

  appendAll(reqs: AppendRequest[]): Promise<AppendOutcome[][]> {
    try {
      this.core.assertAccepting();
      if (!Array.isArray(reqs) || reqs.length === 0)
        throw new StoreError('INVALID_ARGUMENT', 'appendAll needs at least one request');
      for (const req of reqs) {
        checkAppendRequest(req);
        if (req.outbound !== undefined)
          throw new StoreError('INVALID_ARGUMENT', 'appendAll stores into mailboxes only');
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.core.appendAll(reqs);
  }

  // ---------------------------------------------------------------- reading messages

  async listMessages(
    mailboxId: number,
    opts: { uids?: number[]; minUid?: number } = {},
  ): Promise<MessageMeta[]> {
    this.core.assertOpen();
    const { sql } = this.core;
    if (sql.stmt('SELECT 1 FROM mailboxes WHERE id = ?').get(mailboxId) === undefined)
      throw notFound('mailbox');
    const minUid = Math.max(1, opts.minUid ?? 1);
    const out: MessageMeta[] = [];
    const push = (r: unknown[]): void => {
      out.push({
        mailboxId,
        uid: r[0] as number,
        modseq: r[1] as number,
        flags: flagList(r[2] as number, r[3] as string | null),
        internalDate: new Date(r[4] as number),
        size: r[5] as number,
        blobId: r[6] as string,
        saveDate: new Date((r[7] as number | null) ?? (r[4] as number)),
      });
    };
    const cols = 'uid, modseq, flags, keywords, internal_date, size, blob_id, save_date';
    if (opts.uids === undefined) {
      const rows = sql
        .stmt<unknown[]>(`SELECT ${cols} FROM messages WHERE mailbox_id = ? AND uid >= ? ORDER BY uid`, 'raw')
        .all(mailboxId, minUid);
      for (const r of rows) push(r);
      return out;
    }
    const uids = uniqueUids(opts.uids).filter((u) => u >= minUid);
    if (uids.length === 0) return out;
    if (uids.length <= 32) {
      const get = sql.stmt<unknown[]>(`SELECT ${cols} FROM messages WHERE mailbox_id = ? AND uid = ?`, 'raw');
      for (const uid of uids) {
        const r = get.get(mailboxId, uid);
        if (r !== undefined) push(r);
      }
      return out;
    }
    const wanted = new Set(uids);
    const rows = sql
      .stmt<unknown[]>(
        `SELECT ${cols} FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid`,
        'raw',
      )
      .all(mailboxId, uids[0], uids[uids.length - 1]);
    for (const r of rows) if (wanted.has(r[0] as number)) push(r);
    return out;
  }

  async hasMessage(mailboxId: number, uid: number): Promise<boolean> {
    this.core.assertOpen();
    // POP3 asks before every RETR (has another session expunged it?): one primary-key lookup.
    return (
      this.core.sql
        .stmt<number>('SELECT 1 FROM messages WHERE mailbox_id = ? AND uid = ?', 'pluck')
        .get(mailboxId, uid) !== undefined
    );
  }

  async mailboxSummary(mailboxId: number): Promise<MailboxSummary> {
    this.core.assertOpen();
    return this.flags.mailboxSummary(mailboxId);
  }

  async listFlags(mailboxId: number, uids: number[]): Promise<MessageFlags[]> {
    this.core.assertOpen();
    return this.flags.listFlags(mailboxId, uids);
  }

  /** The MIME record of a blob. Cached and shared between callers: treat it as read-only. */
  async getMime(blobId: string): Promise<MimeRecord> {
    this.core.assertOpen();
    const cached = this.mimeCache.get(blobId);
    if (cached !== undefined) return cached;
    const text = this.core.sql.stmt<string>('SELECT mime FROM blobs WHERE id = ?', 'pluck').get(blobId);
    if (text === undefined) throw notFound('blob');
    const mime = decodeMime(text);
    this.mimeCache.set(blobId, mime);
    return mime;
  }

  async listSortFields(
    mailboxId: number,
    uids: number[],
    wanted: readonly SortFieldName[],
  ): Promise<MessageSortFields[]> {
    this.core.assertOpen();
    const { sql } = this.core;
    if (sql.stmt('SELECT 1 FROM mailboxes WHERE id = ?').get(mailboxId) === undefined)
      throw notFound('mailbox');
    const missing: Array<{ blobId: string; fields: SortFields }> = [];
    const out = await listSortFields(
      sql,
      mailboxId,
      uniqueUids(uids),
      wanted,
      (id) => this.getMime(id),
      missing,
    );
    // Blobs from before migration 21: kept for the next SORT by the writer thread, not awaited
    // (nothing depends on it; a failure only means the next SORT computes them again).
    if (missing.length > 0 && !this.core.isClosed) {
      this.core
        .writeWithoutSync('sortFields', 'fill', missing)
        .catch((err: unknown) => this.core.log.warn({ err }, 'keeping SORT fields failed'));
    }
    return out;
  }

  /** Drops a blob's cached MIME record (its row was removed). */
  forgetBlob(blobId: string): void {
    this.mimeCache.delete(blobId);
  }

  clearCaches(): void {
    this.mimeCache.clear();
  }

  // ---------------------------------------------------------------- writes

  async updateFlags(mailboxId: number, uids: number[], update: FlagUpdate): Promise<FlagResult> {
    const parsed = parseFlagUpdate(update);
    return this.core.write('messages', 'updateFlags', mailboxId, uids, update, parsed);
  }

  async expunge(mailboxId: number, opts: { uids?: number[]; onlyDeleted?: boolean } = {}): Promise<number[]> {
    return this.core.write('messages', 'expunge', mailboxId, opts);
  }

  async markPop3Retrieved(mailboxId: number, uids: number[], at: number): Promise<void> {
    if (uids.length === 0) return;
    await this.core.write('messages', 'markPop3Retrieved', mailboxId, uids, at);
  }

  async expungeSavedBefore(mailboxId: number, before: number): Promise<number[]> {
    this.core.assertOpen();
    const any = this.core.sql
      .stmt('SELECT 1 FROM messages WHERE mailbox_id = ? AND save_date <= ? LIMIT 1')
      .get(mailboxId, before);
    if (any === undefined) return [];
    return this.core.write('messages', 'expungeSavedBefore', mailboxId, before);
  }

  async expungePop3Retrieved(
    mailboxId: number,
    before: number,
    opts: { includeImapTouched?: boolean } = {},
  ): Promise<number[]> {
    this.core.assertOpen();
    // Nothing retrieved long enough ago (the usual hourly case): a read, no write transaction.
    const any = this.core.sql
      .stmt(
        'SELECT 1 FROM messages WHERE mailbox_id = ? AND pop3_retrieved_at IS NOT NULL AND pop3_retrieved_at <= ? LIMIT 1',
      )
      .get(mailboxId, before);
    if (any === undefined) return [];
    return this.core.write(
      'messages',
      'expungePop3Retrieved',
      mailboxId,
      before,
      opts.includeImapTouched === true,
    );
  }

  async copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.core.write('messages', 'copy', fromMailboxId, uids, toMailboxId, false);
  }

  async move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.core.write('messages', 'copy', fromMailboxId, uids, toMailboxId, true);
  }

  // ---------------------------------------------------------------- change feed

  async changesSince(mailboxId: number, modseq: number): Promise<Change[]> {
    this.core.assertOpen();
    // A session is told only of changes a crash cannot take back.
    await this.core.visibleDurable();
    this.core.assertOpen();
    const { sql } = this.core;
    if (sql.stmt('SELECT 1 FROM mailboxes WHERE id = ?').get(mailboxId) === undefined)
      throw notFound('mailbox');
    const rows = sql
      .stmt<ChangeRow>(
        `SELECT kind, modseq, uid, flags, keywords FROM changes
       WHERE mailbox_id = ? AND modseq > ? AND kind < ${KIND_MAILBOX_EVENT} ORDER BY modseq, seq`,
      )
      .all(mailboxId, Number.isFinite(modseq) ? modseq : 0);
    return rows.map(toChange);
  }

  async expungedSince(mailboxId: number, modseq: number): Promise<ExpungedSince> {
    this.core.assertOpen();
    await this.core.visibleDurable();
    this.core.assertOpen();
    const { sql } = this.core;
    const floor = sql
      .stmt<number>('SELECT expunge_floor FROM mailboxes WHERE id = ?', 'pluck')
      .get(mailboxId);
    if (floor === undefined) throw notFound('mailbox');
    const since = Number.isFinite(modseq) ? modseq : 0;
    const uids = sql
      .stmt<number>(
        `SELECT uid FROM changes WHERE mailbox_id = ? AND modseq > ? AND kind = ${KIND_EXPUNGED} ORDER BY uid`,
        'pluck',
      )
      .all(mailboxId, since);
    return { uids, complete: since >= floor };
  }

  async claimRecent(mailboxId: number): Promise<number[]> {
    this.core.assertOpen();
    // Nothing new since the last claim (the usual case on re-SELECT): answer from a read, without
    // a write transaction and its WAL fsync. A message committed meanwhile is claimed next time.
    const current = requireMailbox(this.core.sql, mailboxId);
    if (current.uidnext - 1 <= current.recent_uid) return [];
    return this.core.write('messages', 'claimRecent', mailboxId);
  }

  watch(mailboxId: number, listener: (mailboxId: number) => void): () => void {
    return this.core.watch(mailboxId, listener);
  }

  watchAccount(accountId: number, listener: (mailboxIds: readonly number[]) => void): () => void {
    return this.core.watchAccount(accountId, listener);
  }

  // ---------------------------------------------------------------- quota reservations

  async reserveQuota(accountId: number, bytes: number): Promise<QuotaReservation> {
    this.core.assertOpen();
    if (!isCount(bytes)) throw new StoreError('INVALID_ARGUMENT', 'bytes must be a count');
    const a = this.core.sql
      .stmt<{ quota_bytes: number; used_bytes: number; quota_messages: number; used_messages: number }>(
        'SELECT quota_bytes, used_bytes, quota_messages, used_messages FROM accounts WHERE id = ?',
      )
      .get(accountId);
    if (a === undefined) throw notFound('account');
    // An account that holds its most messages has no room for one more, whatever its size.
    if (exceedsQuota(a.quota_messages, a.used_messages, 1)) throw overQuotaError();
    return this.reservations.reserve(accountId, bytes, {
      quotaBytes: a.quota_bytes,
      usedBytes: a.used_bytes,
    });
  }
}
