// The Mailboxes role on SQLite: an account's mailboxes and subscriptions. Names follow
// rules/mailbox-name.ts, UIDVALIDITY rules/uid-validity.ts. The transactional bodies are
// `mailboxWrites` and the row helpers below (insertMailbox, purgeMailbox, also used by the
// directory when it creates or deletes an account): synchronous functions of a WriteTx.

import { StoreError } from '../../core/errors.js';
import type { Mailboxes } from '../roles.js';
import {
  checkMailboxDeletable,
  checkMailboxRename,
  INBOX,
  normalizeMailboxName,
  parentNames,
} from '../rules/mailbox-name.js';
import { checkSpecialUse } from '../rules/special-use.js';
import { nextUidValidity } from '../rules/uid-validity.js';
import type { Mailbox, SpecialUse } from '../types.js';
import { adjustBlobRefs } from './blob-rows.js';
import { KIND_ADDED, KIND_EXPUNGED, KIND_FLAGS, KIND_MAILBOX_EVENT, logChange } from './change-log.js';
import type { SqliteCore } from './core.js';
import {
  addUsage,
  mailboxRow,
  mailboxRowByName,
  notFound,
  requireAccount,
  toMailbox,
  countRecent,
  deletedSize,
  type MailboxRow,
} from './rows.js';
import type { StatementCache } from './statement-cache.js';
import type { WriteTx } from './write-tx.js';

/** Takes the next UIDVALIDITY of the store (a counter row, in the write). */
function takeUidValidity(sql: StatementCache): number {
  const row = sql
    .stmt<{ value: number }>("SELECT value FROM store_counters WHERE name = 'uidvalidity'")
    .get();
  const value = nextUidValidity(row?.value ?? 0, Date.now());
  sql
    .stmt(
      "INSERT INTO store_counters (name, value) VALUES ('uidvalidity', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .run(value);
  return value;
}

export function insertMailbox(
  tx: WriteTx,
  accountId: number,
  name: string,
  specialUse: SpecialUse | null,
  init?: Partial<Pick<MailboxRow, 'uidnext' | 'highestmodseq' | 'recent_uid'>>,
): MailboxRow {
  const { sql } = tx;
  const uidValidity = takeUidValidity(sql);
  const row = sql
    .stmt<MailboxRow>(
      `INSERT INTO mailboxes (account_id, name, special_use, uidvalidity, uidnext, highestmodseq, recent_uid, object_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    )
    .get(
      accountId,
      name,
      specialUse,
      uidValidity,
      init?.uidnext ?? 1,
      init?.highestmodseq ?? 1,
      init?.recent_uid ?? 0,
      // RFC 8474 §4: MAILBOXID, kept through RENAME (see migration 11).
      `F${uidValidity}`,
    )!;
  tx.mailboxes.add(row.id);
  return row;
}

/**
 * A mailbox created by CREATE or RENAME: a mailbox-event row in the change log lets other
 * processes' account watches (IMAP NOTIFY) hear of it; changesSince never returns it. (The
 * mailboxes a new account starts with need none: nobody watches an account before it exists.)
 */
function insertAnnounced(
  tx: WriteTx,
  accountId: number,
  name: string,
  specialUse: SpecialUse | null,
): MailboxRow {
  const row = insertMailbox(tx, accountId, name, specialUse);
  logChange(tx, row.id, row.highestmodseq, 0, KIND_MAILBOX_EVENT, null, null);
  return row;
}

/** RFC 9051 §6.3.4: the superior names a CREATE (or RENAME) needs are created too. */
function createParents(tx: WriteTx, accountId: number, name: string): void {
  for (const parent of parentNames(name)) {
    if (mailboxRowByName(tx.sql, accountId, parent) === undefined)
      insertAnnounced(tx, accountId, parent, null);
  }
}

/** Removes a mailbox with its messages and change log, releasing blobs and quota. */
export function purgeMailbox(tx: WriteTx, mb: MailboxRow, now: number): void {
  const { sql } = tx;
  type BlobCount = { blob_id: string; n: number };
  const refs = sql
    .stmt<BlobCount>('SELECT blob_id, count(*) AS n FROM messages WHERE mailbox_id = ? GROUP BY blob_id')
    .all(mb.id);
  for (const r of refs) adjustBlobRefs(sql, r.blob_id, -r.n, now);
  addUsage(sql, mb.account_id, -mb.size, -mb.messages);
  sql.stmt('DELETE FROM messages WHERE mailbox_id = ?').run(mb.id);
  sql.stmt('DELETE FROM changes WHERE mailbox_id = ?').run(mb.id);
  // RFC 5464 §3.1: a mailbox's metadata goes with it.
  sql.stmt('DELETE FROM metadata WHERE account_id = ? AND mailbox_id = ?').run(mb.account_id, mb.id);
  sql.stmt('DELETE FROM mailboxes WHERE id = ?').run(mb.id);
  logChange(tx, mb.id, mb.highestmodseq + 1, 0, KIND_MAILBOX_EVENT, null, null);
}

// RFC 9051 §6.3.6: renaming INBOX moves its messages to a new mailbox and leaves INBOX empty;
// inferiors of INBOX are unaffected.
function renameInbox(tx: WriteTx, inbox: MailboxRow, to: string): void {
  const { sql } = tx;
  createParents(tx, inbox.account_id, to);
  const moved = insertMailbox(tx, inbox.account_id, to, null, {
    uidnext: inbox.uidnext,
    highestmodseq: inbox.highestmodseq + 1,
    recent_uid: inbox.recent_uid,
  });
  sql
    .stmt('UPDATE mailboxes SET messages = ?, unseen = ?, deleted = ?, size = ? WHERE id = ?')
    .run(inbox.messages, inbox.unseen, inbox.deleted, inbox.size, moved.id);
  sql.stmt('UPDATE messages SET mailbox_id = ? WHERE mailbox_id = ?').run(moved.id, inbox.id);
  const inboxModseq = inbox.highestmodseq + 1;
  const logged = sql.stmt(
    `INSERT INTO changes (mailbox_id, modseq, uid, kind, flags, keywords)
       SELECT ?, ?, uid, ?, flags, keywords FROM messages WHERE mailbox_id = ? ORDER BY uid`,
  );
  const a = logged.run(moved.id, moved.highestmodseq, KIND_ADDED, moved.id);
  const b = sql
    .stmt(
      `INSERT INTO changes (mailbox_id, modseq, uid, kind, flags, keywords)
       SELECT ?, ?, uid, ?, NULL, NULL FROM messages WHERE mailbox_id = ? ORDER BY uid`,
    )
    .run(inbox.id, inboxModseq, KIND_EXPUNGED, moved.id);
  const last = Number(b.lastInsertRowid);
  if (a.changes + b.changes > 0) {
    tx.recordSeq(last - (a.changes + b.changes) + 1);
    tx.recordSeq(last);
  }
  sql.stmt('DELETE FROM changes WHERE mailbox_id = ? AND kind = ?').run(inbox.id, KIND_FLAGS);
  sql
    .stmt(
      `UPDATE mailboxes SET uidvalidity = ?, highestmodseq = ?, messages = 0, unseen = 0, deleted = 0, size = 0,
         recent_uid = uidnext - 1 WHERE id = ?`,
    )
    .run(takeUidValidity(sql), inboxModseq, inbox.id);
  logChange(tx, inbox.id, inboxModseq, 0, KIND_MAILBOX_EVENT, null, null);
}

function renameTree(tx: WriteTx, src: MailboxRow, to: string): void {
  const { sql } = tx;
  const accountId = src.account_id;
  const from = src.name;
  // Inferiors of `from`: names in ["from/", "from0") ("0" is the character after "/").
  const children = sql
    .stmt<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? AND name > ? AND name < ? ORDER BY name')
    .all(accountId, `${from}/`, `${from}0`);
  const moving = [src, ...children];
  const movingIds = new Set(moving.map((m) => m.id));
  const renames = moving.map((m) => ({ row: m, name: to + m.name.slice(from.length) }));
  for (const r of renames) {
    const clash = mailboxRowByName(sql, accountId, r.name);
    if (clash !== undefined && !movingIds.has(clash.id)) {
      throw new StoreError('ALREADY_EXISTS', 'a mailbox with a target name already exists');
    }
  }
  // Two passes so that a name freed by one rename can be taken by another in the same tree.
  for (const r of renames) {
    sql.stmt('UPDATE mailboxes SET name = ? WHERE id = ?').run(`\u0000${r.row.id}`, r.row.id);
  }
  for (const r of renames) {
    sql
      .stmt('UPDATE mailboxes SET name = ?, uidvalidity = ? WHERE id = ?')
      .run(r.name, takeUidValidity(sql), r.row.id);
    logChange(tx, r.row.id, r.row.highestmodseq, 0, KIND_MAILBOX_EVENT, null, null);
  }
  createParents(tx, accountId, to);
  // Subscriptions follow the mailboxes they name.
  const subscribed = new Set(
    sql.stmt<string>('SELECT name FROM subscriptions WHERE account_id = ?', 'pluck').all(accountId),
  );
  for (const r of renames) {
    if (!subscribed.has(r.row.name)) continue;
    sql.stmt('DELETE FROM subscriptions WHERE account_id = ? AND name = ?').run(accountId, r.row.name);
  }
  for (const r of renames) {
    if (!subscribed.has(r.row.name)) continue;
    sql.stmt('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)').run(accountId, r.name);
  }
}

/**
 * A subscription changed: a mailbox-event row on the mailbox of that name, or on INBOX when no
 * such mailbox exists (a subscription may name none, RFC 9051 §6.3.7), so that account watches
 * in every process hear of it (RFC 5465 SubscriptionChange).
 */
function logSubscriptionEvent(tx: WriteTx, accountId: number, name: string): void {
  const row = mailboxRowByName(tx.sql, accountId, name) ?? mailboxRowByName(tx.sql, accountId, INBOX);
  if (row !== undefined) logChange(tx, row.id, row.highestmodseq, 0, KIND_MAILBOX_EVENT, null, null);
}

/** The transactional bodies of the mailbox writes (names already normalised and checked). */
export const mailboxWrites = {
  createMailbox(tx: WriteTx, accountId: number, name: string, specialUse: SpecialUse | null): Mailbox {
    requireAccount(tx.sql, accountId);
    if (mailboxRowByName(tx.sql, accountId, name) !== undefined) {
      throw new StoreError('ALREADY_EXISTS', 'mailbox already exists');
    }
    createParents(tx, accountId, name);
    return toMailbox(insertAnnounced(tx, accountId, name, specialUse));
  },

  deleteMailbox(tx: WriteTx, accountId: number, name: string): void {
    const mb = mailboxRowByName(tx.sql, accountId, name);
    if (mb === undefined) throw notFound('mailbox');
    purgeMailbox(tx, mb, Date.now());
  },

  renameMailbox(tx: WriteTx, accountId: number, from: string, to: string): void {
    const src = mailboxRowByName(tx.sql, accountId, from);
    if (src === undefined) throw notFound('mailbox');
    if (mailboxRowByName(tx.sql, accountId, to) !== undefined) {
      throw new StoreError('ALREADY_EXISTS', 'target mailbox already exists');
    }
    if (from === INBOX) renameInbox(tx, src, to);
    else renameTree(tx, src, to);
  },

  subscribe(tx: WriteTx, accountId: number, name: string): void {
    requireAccount(tx.sql, accountId);
    const r = tx.sql
      .stmt('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)')
      .run(accountId, name);
    if (r.changes > 0) logSubscriptionEvent(tx, accountId, name);
  },

  unsubscribe(tx: WriteTx, accountId: number, name: string): void {
    const r = tx.sql.stmt('DELETE FROM subscriptions WHERE account_id = ? AND name = ?').run(accountId, name);
    if (r.changes > 0) logSubscriptionEvent(tx, accountId, name);
  },
};

export class SqliteMailboxes implements Mailboxes {
  constructor(private readonly core: SqliteCore) {}

  async listMailboxes(accountId: number): Promise<Mailbox[]> {
    this.core.assertOpen();
    const { sql } = this.core;
    return sql
      .stmt<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? ORDER BY name')
      .all(accountId)
      .map((r) => toMailbox(r));
  }

  async getMailbox(accountId: number, name: string): Promise<Mailbox | null> {
    this.core.assertOpen();
    let n: string;
    try {
      n = normalizeMailboxName(name);
    } catch {
      return null;
    }
    const r = mailboxRowByName(this.core.sql, accountId, n);
    return r === undefined ? null : toMailbox(r);
  }

  async getMailboxById(mailboxId: number): Promise<Mailbox | null> {
    this.core.assertOpen();
    const r = mailboxRow(this.core.sql, mailboxId);
    return r === undefined ? null : toMailbox(r);
  }

  async countRecent(mailboxId: number): Promise<number> {
    this.core.assertOpen();
    return countRecent(this.core.sql, mailboxId);
  }

  async deletedSize(mailboxId: number): Promise<number> {
    this.core.assertOpen();
    return deletedSize(this.core.sql, mailboxId);
  }

  async createMailbox(
    accountId: number,
    name: string,
    opts: { specialUse?: SpecialUse | null } = {},
  ): Promise<Mailbox> {
    const n = normalizeMailboxName(name);
    const specialUse = checkSpecialUse(opts.specialUse);
    return this.core.write('mailboxes', 'createMailbox', accountId, n, specialUse);
  }

  async deleteMailbox(accountId: number, name: string): Promise<void> {
    const n = normalizeMailboxName(name);
    checkMailboxDeletable(n);
    await this.core.write('mailboxes', 'deleteMailbox', accountId, n);
  }

  async renameMailbox(accountId: number, from: string, to: string): Promise<void> {
    const f = normalizeMailboxName(from);
    const t = normalizeMailboxName(to);
    checkMailboxRename(f, t);
    await this.core.write('mailboxes', 'renameMailbox', accountId, f, t);
  }

  async subscribe(accountId: number, name: string): Promise<void> {
    const n = normalizeMailboxName(name);
    await this.core.write('mailboxes', 'subscribe', accountId, n);
  }

  async unsubscribe(accountId: number, name: string): Promise<void> {
    const n = normalizeMailboxName(name);
    await this.core.write('mailboxes', 'unsubscribe', accountId, n);
  }

  async listSubscriptions(accountId: number): Promise<string[]> {
    this.core.assertOpen();
    return this.core.sql
      .stmt<string>('SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name', 'pluck')
      .all(accountId);
  }
}
