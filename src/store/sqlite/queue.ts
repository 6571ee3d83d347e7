// The OutboundQueue role on SQLite: the durable spool of mail for other servers. A message is
// queued by append(), in the same transaction as its local copies (insertOutbound): one
// outbound_queue row (the envelope as accepted; it holds one reference on its blob) and one
// outbound_recipients row per recipient (its state). Invariants:
// - a recipient is claimed by at most one owner whose lease has not expired; a claim, a
//   renewal and a release are one transaction each (BEGIN IMMEDIATE: no two processes claim
//   the same row), committed without waiting for the WAL fsync (a claim lost in a crash would
//   have lapsed anyway);
// - an outcome is recorded only for a recipient the recording owner still holds and that is
//   not final; every outcome write is durable (WAL fsync) before it resolves;
// - a message whose recipients are all final (delivered, failed) is deleted in the same
//   transaction as the last outcome, and its blob reference released;
// - outbound_queue.next_attempt_at is the earliest next attempt of its queued or deferred
//   recipients (or unchanged when none is), attempts the number of attempts recorded.

import { StoreError } from '../../core/errors.js';
import type { OutboundQueue } from '../roles.js';
import { storedRecipients } from '../rules/outbound-envelope.js';
import {
  checkAttempt,
  checkClaim,
  checkLeaseMs,
  checkOwedDsnParts,
  checkQueueFilter,
  checkQueueOwner,
  checkRecipientIds,
  recipientDomain,
} from '../rules/outbound-queue.js';
import type {
  OutboundEnvelope,
  OutboundMessage,
  OutboundRecipient,
  OwedDsn,
  OwedDsnParts,
  QueueAttempt,
  QueueAttemptResult,
  QueueClaim,
  QueueClaimRequest,
  QueueDetail,
  QueueFilter,
  QueueListEntry,
  QueuedMessageHead,
  QueuedRecipient,
  RecipientOutcome,
  RecipientStatus,
} from '../types.js';
import { adjustBlobRefs } from './blob-rows.js';
import type { SqliteCore } from './core.js';
import { notFound } from './rows.js';
import type { StatementCache } from './statement-cache.js';
import type { WriteTx } from './write-tx.js';

interface OutboundRow {
  id: number;
  blob_id: string;
  size: number;
  mail_from: string;
  recipients: string;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  body: OutboundEnvelope['body'];
  smtputf8: number;
  require_tls: number;
  account_id: number | null;
  queued_at: number;
  next_attempt_at: number;
  attempts: number;
}

type HeadRow = Omit<OutboundRow, 'recipients'>;

interface RecipientRow {
  id: number;
  message_id: number;
  position: number;
  address: string;
  domain: string;
  notify: string | null;
  orcpt: string | null;
  status: RecipientStatus;
  attempts: number;
  last_attempt_at: number | null;
  next_attempt_at: number;
  reply_code: number | null;
  reply_enhanced: string | null;
  reply_text: string | null;
  remote_mta: string | null;
  delay_warned_at: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
}

const HEAD_COLUMNS = `id, blob_id, size, mail_from, envid, ret, body, smtputf8, require_tls, account_id,
  queued_at, next_attempt_at, attempts`;

function toHead(r: HeadRow): QueuedMessageHead {
  return {
    id: r.id,
    blobId: r.blob_id,
    size: r.size,
    mailFrom: r.mail_from,
    envid: r.envid,
    ret: r.ret,
    body: r.body,
    smtputf8: r.smtputf8 !== 0,
    requireTls: r.require_tls !== 0,
    accountId: r.account_id,
    queuedAt: new Date(r.queued_at),
    nextAttemptAt: new Date(r.next_attempt_at),
    attempts: r.attempts,
  };
}

function toOutbound(r: OutboundRow): OutboundMessage {
  return { ...toHead(r), recipients: JSON.parse(r.recipients) as OutboundRecipient[] };
}

function toRecipient(r: RecipientRow): QueuedRecipient {
  return {
    id: r.id,
    messageId: r.message_id,
    address: r.address,
    domain: r.domain,
    notify: r.notify === null ? null : (JSON.parse(r.notify) as string[]),
    orcpt: r.orcpt,
    status: r.status,
    attempts: r.attempts,
    lastAttemptAt: r.last_attempt_at === null ? null : new Date(r.last_attempt_at),
    nextAttemptAt: new Date(r.next_attempt_at),
    lastReply:
      r.reply_code === null
        ? null
        : { code: r.reply_code, enhanced: r.reply_enhanced, text: r.reply_text ?? '' },
    remoteMta: r.remote_mta,
    delayWarnedAt: r.delay_warned_at === null ? null : new Date(r.delay_warned_at),
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at === null ? null : new Date(r.lease_expires_at),
  };
}

function emptyCounts(): Record<RecipientStatus, number> {
  return { queued: 0, deferred: 0, delivered: 0, failed: 0, held: 0 };
}

/** Queues a message (the caller counts the blob reference it adds), due at once. */
export function insertOutbound(
  tx: WriteTx,
  env: OutboundEnvelope,
  blobId: string,
  size: number,
  now: number,
): void {
  const recipients = storedRecipients(env);
  const r = tx.sql
    .stmt(
      `INSERT INTO outbound_queue (blob_id, size, mail_from, recipients, envid, ret, body, smtputf8,
         require_tls, account_id, queued_at, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      blobId,
      size,
      env.mailFrom,
      JSON.stringify(recipients),
      env.envid,
      env.ret,
      env.body,
      env.smtputf8 ? 1 : 0,
      env.requireTls === true ? 1 : 0,
      env.accountId,
      now,
      now,
    );
  const messageId = Number(r.lastInsertRowid);
  const insert = tx.sql.stmt(
    `INSERT INTO outbound_recipients (message_id, position, address, domain, notify, orcpt, status,
       next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)`,
  );
  recipients.forEach((rcpt, i) => {
    insert.run(
      messageId,
      i,
      rcpt.address,
      recipientDomain(rcpt.address),
      rcpt.notify === null ? null : JSON.stringify(rcpt.notify),
      rcpt.orcpt,
      now,
    );
  });
}

function messageExists(sql: StatementCache, id: number): boolean {
  return sql.stmt('SELECT 1 FROM outbound_queue WHERE id = ?', 'pluck').get(id) !== undefined;
}

/** The message's next attempt: the earliest of its queued or deferred recipients (else unchanged). */
function refreshNextAttempt(sql: StatementCache, id: number): void {
  sql
    .stmt(
      `UPDATE outbound_queue SET next_attempt_at = coalesce(
         (SELECT min(next_attempt_at) FROM outbound_recipients
          WHERE message_id = @id AND status IN ('queued', 'deferred')), next_attempt_at)
       WHERE id = @id`,
    )
    .run({ id });
}

function removeMessage(sql: StatementCache, id: number, now: number): void {
  const row = sql.stmt<{ blob_id: string }>('SELECT blob_id FROM outbound_queue WHERE id = ?').get(id);
  if (row === undefined) throw notFound('queued message');
  sql.stmt('DELETE FROM outbound_recipients WHERE message_id = ?').run(id);
  sql.stmt('DELETE FROM outbound_queue WHERE id = ?').run(id);
  adjustBlobRefs(sql, row.blob_id, -1, now);
}

function readRecipients(sql: StatementCache, ids: number[]): RecipientRow[] {
  return sql
    .stmt<RecipientRow>(
      `SELECT * FROM outbound_recipients WHERE id IN (SELECT value FROM json_each(?))
       ORDER BY message_id, position`,
    )
    .all(JSON.stringify(ids));
}

interface OwedRow {
  id: number;
  blob_id: string;
  size: number;
  head: string;
  blocks: string;
  created_at: number;
  attempts: number;
}

function toOwed(r: OwedRow): OwedDsn {
  return {
    id: r.id,
    blobId: r.blob_id,
    size: r.size,
    head: r.head,
    blocks: JSON.parse(r.blocks) as string[],
    createdAt: new Date(r.created_at),
    attempts: r.attempts,
  };
}

/** Stores an owed DSN due now, with one more reference on the original's blob. */
function oweDsn(
  sql: StatementCache,
  blobId: string,
  size: number,
  head: string,
  blocks: string[],
  now: number,
  lease: { owner: string; leaseMs: number },
): OwedDsn {
  // Leased to the recorder, which sends it at once; another process takes it only if that lapses.
  const r = sql
    .stmt(
      `INSERT INTO outbound_dsn_owed (blob_id, size, head, blocks, created_at, next_attempt_at,
         lease_owner, lease_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(blobId, size, head, JSON.stringify(blocks), now, now, lease.owner, now + lease.leaseMs);
  adjustBlobRefs(sql, blobId, 1, now);
  return { id: Number(r.lastInsertRowid), blobId, size, head, blocks, createdAt: new Date(now), attempts: 0 };
}

/** The transactional bodies of the queue's writes (arguments already checked). */
export const queueWrites = {
  deleteOutbound(tx: WriteTx, id: number): void {
    removeMessage(tx.sql, id, Date.now());
  },

  claim(
    tx: WriteTx,
    owner: string,
    leaseMs: number,
    max: number,
    now: number,
    skip: string[] = [],
  ): QueueClaim[] {
    const { sql } = tx;
    // The partial index outbound_recipients_due serves this scan (same WHERE on status).
    const ids = sql
      .stmt<number>(
        `SELECT id FROM outbound_recipients
         WHERE status IN ('queued', 'deferred') AND next_attempt_at <= @now
           AND (lease_owner IS NULL OR lease_expires_at <= @now)
           AND (@skip = '[]' OR domain NOT IN (SELECT value FROM json_each(@skip)))
         ORDER BY next_attempt_at, id LIMIT @max`,
        'pluck',
      )
      .all({ now, max, skip: JSON.stringify(skip) });
    if (ids.length === 0) return [];
    sql
      .stmt(
        `UPDATE outbound_recipients SET lease_owner = ?, lease_expires_at = ?
         WHERE id IN (SELECT value FROM json_each(?))`,
      )
      .run(owner, now + leaseMs, JSON.stringify(ids));
    const rows = readRecipients(sql, ids);
    const byMessage = new Map<number, QueuedRecipient[]>();
    for (const r of rows) {
      let list = byMessage.get(r.message_id);
      if (list === undefined) byMessage.set(r.message_id, (list = []));
      list.push(toRecipient(r));
    }
    const heads = sql
      .stmt<HeadRow>(
        `SELECT ${HEAD_COLUMNS} FROM outbound_queue WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`,
      )
      .all(JSON.stringify([...byMessage.keys()]));
    return heads.map((h) => ({ message: toHead(h), recipients: byMessage.get(h.id) ?? [] }));
  },

  renewClaim(tx: WriteTx, owner: string, ids: number[], leaseMs: number, now: number): number[] {
    return tx.sql
      .stmt<number>(
        `UPDATE outbound_recipients SET lease_expires_at = ?
         WHERE lease_owner = ? AND id IN (SELECT value FROM json_each(?)) RETURNING id`,
        'pluck',
      )
      .all(now + leaseMs, owner, JSON.stringify(ids))
      .sort((a, b) => a - b);
  },

  releaseRecipients(tx: WriteTx, owner: string, ids: number[]): number {
    return tx.sql
      .stmt(
        `UPDATE outbound_recipients SET lease_owner = NULL, lease_expires_at = NULL
         WHERE lease_owner = ? AND id IN (SELECT value FROM json_each(?))`,
      )
      .run(owner, JSON.stringify(ids)).changes;
  },

  releaseClaims(tx: WriteTx, owner: string): number {
    return tx.sql
      .stmt(
        'UPDATE outbound_recipients SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = ?',
      )
      .run(owner).changes;
  },

  record(
    tx: WriteTx,
    owner: string,
    messageId: number,
    outcomes: RecipientOutcome[],
    at: number,
    dsn: OwedDsnParts | null,
  ): QueueAttemptResult {
    const { sql } = tx;
    const head = sql
      .stmt<{ blob_id: string; size: number }>('SELECT blob_id, size FROM outbound_queue WHERE id = ?')
      .get(messageId);
    if (head === undefined) throw notFound('queued message');
    const get = sql.stmt<{ status: RecipientStatus; lease_owner: string | null }>(
      'SELECT status, lease_owner FROM outbound_recipients WHERE id = ? AND message_id = ?',
    );
    const update = sql.stmt(
      `UPDATE outbound_recipients SET status = @status, attempts = attempts + 1, last_attempt_at = @at,
         next_attempt_at = @next, reply_code = @code, reply_enhanced = @enhanced, reply_text = @text,
         remote_mta = @mta, delay_warned_at = coalesce(@warned, delay_warned_at),
         lease_owner = NULL, lease_expires_at = NULL
       WHERE id = @id`,
    );
    const recorded: number[] = [];
    const lost: number[] = [];
    for (const o of outcomes) {
      const row = get.get(o.recipientId, messageId);
      if (
        row === undefined ||
        row.lease_owner !== owner ||
        row.status === 'delivered' ||
        row.status === 'failed'
      ) {
        lost.push(o.recipientId);
        continue;
      }
      // A recipient held while its send was under way stays held when deferred.
      const status: RecipientStatus =
        o.kind === 'deferred' ? (row.status === 'held' ? 'held' : 'deferred') : o.kind;
      update.run({
        id: o.recipientId,
        status,
        at,
        next: o.kind === 'deferred' ? o.until.getTime() : at,
        code: o.reply?.code ?? null,
        enhanced: o.reply?.enhanced ?? null,
        text: o.reply?.text ?? null,
        mta: o.remoteMta ?? null,
        warned: o.kind === 'deferred' && o.delayWarned === true ? at : null,
      });
      recorded.push(o.recipientId);
    }
    if (recorded.length > 0) {
      sql.stmt('UPDATE outbound_queue SET attempts = attempts + 1 WHERE id = ?').run(messageId);
    }
    // The DSN is owed in the same transaction as the outcomes it reports (and keeps the blob).
    const blocks = dsn === null ? [] : recorded.flatMap((id) => dsn.blocks.get(id) ?? []);
    const owedDsn =
      blocks.length === 0
        ? null
        : oweDsn(sql, head.blob_id, head.size, dsn!.head, blocks, at, { owner, leaseMs: dsn!.leaseMs });
    const open = sql
      .stmt<number>(
        `SELECT count(*) FROM outbound_recipients WHERE message_id = ? AND status NOT IN ('delivered', 'failed')`,
        'pluck',
      )
      .get(messageId);
    if (open === 0) {
      removeMessage(sql, messageId, Date.now());
      return { recorded, lost, finished: true, owedDsn };
    }
    refreshNextAttempt(sql, messageId);
    return { recorded, lost, finished: false, owedDsn };
  },

  claimOwed(tx: WriteTx, owner: string, leaseMs: number, max: number, now: number): OwedDsn[] {
    return tx.sql
      .stmt<OwedRow>(
        `UPDATE outbound_dsn_owed SET lease_owner = @owner, lease_expires_at = @until
         WHERE id IN (SELECT id FROM outbound_dsn_owed WHERE next_attempt_at <= @now
           AND (lease_owner IS NULL OR lease_expires_at <= @now) ORDER BY next_attempt_at, id LIMIT @max)
         RETURNING id, blob_id, size, head, blocks, created_at, attempts`,
      )
      .all({ owner, until: now + leaseMs, now, max })
      .sort((a, b) => a.id - b.id)
      .map(toOwed);
  },

  finishOwed(tx: WriteTx, id: number, now: number): void {
    const { sql } = tx;
    const row = sql.stmt<{ blob_id: string }>('SELECT blob_id FROM outbound_dsn_owed WHERE id = ?').get(id);
    if (row === undefined) return;
    sql.stmt('DELETE FROM outbound_dsn_owed WHERE id = ?').run(id);
    adjustBlobRefs(sql, row.blob_id, -1, now);
  },

  deferOwed(tx: WriteTx, id: number, until: number): void {
    tx.sql
      .stmt(
        `UPDATE outbound_dsn_owed SET attempts = attempts + 1, next_attempt_at = ?, lease_owner = NULL,
           lease_expires_at = NULL WHERE id = ?`,
      )
      .run(until, id);
  },

  hold(tx: WriteTx, id: number): number {
    if (!messageExists(tx.sql, id)) throw notFound('queued message');
    return tx.sql
      .stmt(
        `UPDATE outbound_recipients SET status = 'held' WHERE message_id = ? AND status IN ('queued', 'deferred')`,
      )
      .run(id).changes;
  },

  release(tx: WriteTx, id: number, now: number): number {
    const { sql } = tx;
    if (!messageExists(sql, id)) throw notFound('queued message');
    const n = sql
      .stmt(
        `UPDATE outbound_recipients SET status = CASE WHEN attempts > 0 THEN 'deferred' ELSE 'queued' END,
           next_attempt_at = ? WHERE message_id = ? AND status = 'held'`,
      )
      .run(now, id).changes;
    refreshNextAttempt(sql, id);
    return n;
  },

  retry(tx: WriteTx, id: number, now: number): number {
    const { sql } = tx;
    if (!messageExists(sql, id)) throw notFound('queued message');
    const n = sql
      .stmt(
        `UPDATE outbound_recipients SET next_attempt_at = min(next_attempt_at, ?)
         WHERE message_id = ? AND status IN ('queued', 'deferred')`,
      )
      .run(now, id).changes;
    refreshNextAttempt(sql, id);
    return n;
  },
};

function checkId(id: number): void {
  if (!Number.isSafeInteger(id) || id <= 0) throw notFound('queued message');
}

export class SqliteOutboundQueue implements OutboundQueue {
  constructor(private readonly core: SqliteCore) {}

  async listOutbound(): Promise<OutboundMessage[]> {
    this.core.assertOpen();
    return this.core.sql.stmt<OutboundRow>('SELECT * FROM outbound_queue ORDER BY id').all().map(toOutbound);
  }

  async countOutbound(): Promise<number> {
    this.core.assertOpen();
    return this.core.sql.stmt<number>('SELECT count(*) FROM outbound_queue', 'pluck').get() ?? 0;
  }

  async deleteOutbound(id: number): Promise<void> {
    checkId(id);
    await this.core.write('queue', 'deleteOutbound', id);
  }

  async claimOutbound(req: QueueClaimRequest): Promise<QueueClaim[]> {
    const c = checkClaim(req);
    return this.core.writeWithoutSync('queue', 'claim', c.owner, c.leaseMs, c.max, c.now, c.skip);
  }

  async renewOutboundClaim(owner: string, recipientIds: number[], leaseMs: number): Promise<number[]> {
    checkQueueOwner(owner);
    checkRecipientIds(recipientIds);
    checkLeaseMs(leaseMs);
    if (recipientIds.length === 0) return [];
    return this.core.writeWithoutSync('queue', 'renewClaim', owner, recipientIds, leaseMs, Date.now());
  }

  async releaseOutboundRecipients(owner: string, recipientIds: number[]): Promise<number> {
    checkQueueOwner(owner);
    checkRecipientIds(recipientIds);
    if (recipientIds.length === 0) return 0;
    return this.core.writeWithoutSync('queue', 'releaseRecipients', owner, recipientIds);
  }

  async releaseOutboundClaims(owner: string): Promise<number> {
    checkQueueOwner(owner);
    return this.core.writeWithoutSync('queue', 'releaseClaims', owner);
  }

  async nextOutboundDue(): Promise<Date | null> {
    this.core.assertOpen();
    // The partial index outbound_recipients_due serves the status filter.
    const at = this.core.sql
      .stmt<number | null>(
        `SELECT min(CASE WHEN lease_owner IS NOT NULL AND lease_expires_at > next_attempt_at
                    THEN lease_expires_at ELSE next_attempt_at END)
         FROM outbound_recipients WHERE status IN ('queued', 'deferred')`,
        'pluck',
      )
      .get();
    return at === null || at === undefined ? null : new Date(at);
  }

  async recordOutboundAttempt(attempt: QueueAttempt): Promise<QueueAttemptResult> {
    const a = checkAttempt(attempt);
    return this.core.write(
      'queue',
      'record',
      a.owner,
      a.messageId,
      attempt.outcomes,
      a.at,
      attempt.dsn === undefined ? null : checkOwedDsnParts(attempt.dsn),
    );
  }

  async claimOwedDsns(req: { owner: string; leaseMs: number; max: number; now?: Date }): Promise<OwedDsn[]> {
    const c = checkClaim({
      owner: req.owner,
      leaseMs: req.leaseMs,
      maxRecipients: req.max,
      ...(req.now !== undefined ? { now: req.now } : {}),
    });
    return this.core.writeWithoutSync('queue', 'claimOwed', c.owner, c.leaseMs, c.max, c.now);
  }

  async finishOwedDsn(id: number): Promise<void> {
    checkId(id);
    await this.core.write('queue', 'finishOwed', id, Date.now());
  }

  async deferOwedDsn(id: number, until: Date): Promise<void> {
    checkId(id);
    if (!(until instanceof Date) || !Number.isFinite(until.getTime())) {
      throw new StoreError('INVALID_ARGUMENT', 'queue: until must be a valid Date');
    }
    await this.core.write('queue', 'deferOwed', id, until.getTime());
  }

  async holdOutbound(id: number): Promise<number> {
    checkId(id);
    return this.core.write('queue', 'hold', id);
  }

  async releaseOutbound(id: number): Promise<number> {
    checkId(id);
    return this.core.write('queue', 'release', id, Date.now());
  }

  async retryOutbound(id: number): Promise<number> {
    checkId(id);
    return this.core.write('queue', 'retry', id, Date.now());
  }

  async listQueue(filter?: QueueFilter): Promise<QueueListEntry[]> {
    const f = checkQueueFilter(filter);
    this.core.assertOpen();
    const { sql } = this.core;
    const heads = sql
      .stmt<HeadRow>(
        `SELECT ${HEAD_COLUMNS} FROM outbound_queue q
         WHERE q.id > @afterId
           AND (@sender IS NULL OR lower(q.mail_from) = lower(@sender))
           AND (@status IS NULL OR EXISTS (SELECT 1 FROM outbound_recipients r
                 WHERE r.message_id = q.id AND r.status = @status))
           AND (@domain IS NULL OR EXISTS (SELECT 1 FROM outbound_recipients r
                 WHERE r.message_id = q.id AND r.domain = @domain))
         ORDER BY q.id LIMIT @limit`,
      )
      .all(f);
    if (heads.length === 0) return [];
    const counts = new Map<number, Record<RecipientStatus, number>>();
    for (const h of heads) counts.set(h.id, emptyCounts());
    const rows = sql
      .stmt<{ message_id: number; status: RecipientStatus; n: number }>(
        `SELECT message_id, status, count(*) AS n FROM outbound_recipients
         WHERE message_id IN (SELECT value FROM json_each(?)) GROUP BY message_id, status`,
      )
      .all(JSON.stringify(heads.map((h) => h.id)));
    for (const r of rows) {
      const c = counts.get(r.message_id);
      if (c !== undefined) c[r.status] = r.n;
    }
    return heads.map((h) => ({ ...toHead(h), counts: counts.get(h.id) ?? emptyCounts() }));
  }

  async showQueued(id: number): Promise<QueueDetail | null> {
    if (!Number.isSafeInteger(id) || id <= 0) return null;
    this.core.assertOpen();
    const { sql } = this.core;
    const head = sql.stmt<HeadRow>(`SELECT ${HEAD_COLUMNS} FROM outbound_queue WHERE id = ?`).get(id);
    if (head === undefined) return null;
    const recipients = sql
      .stmt<RecipientRow>('SELECT * FROM outbound_recipients WHERE message_id = ? ORDER BY position')
      .all(id)
      .map(toRecipient);
    return { ...toHead(head), recipients };
  }
}
