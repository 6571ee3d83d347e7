// The OutboundQueue role on SQLite: the durable spool of mail for other servers
// (outbound_queue). A message is queued by append(), in the same transaction as its local
// copies (insertOutbound); each queued row holds a reference to its blob.

import type { OutboundQueue } from '../roles.js';
import { storedRecipients } from '../rules/outbound-envelope.js';
import type { OutboundEnvelope, OutboundMessage, OutboundRecipient } from '../types.js';
import { adjustBlobRefs } from './blob-rows.js';
import type { SqliteCore } from './core.js';
import { notFound } from './rows.js';
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
  account_id: number | null;
  queued_at: number;
  next_attempt_at: number;
  attempts: number;
}

function toOutbound(r: OutboundRow): OutboundMessage {
  return {
    id: r.id,
    blobId: r.blob_id,
    size: r.size,
    mailFrom: r.mail_from,
    recipients: JSON.parse(r.recipients) as OutboundRecipient[],
    envid: r.envid,
    ret: r.ret,
    body: r.body,
    smtputf8: r.smtputf8 !== 0,
    accountId: r.account_id,
    queuedAt: new Date(r.queued_at),
    nextAttemptAt: new Date(r.next_attempt_at),
    attempts: r.attempts,
  };
}

/** Queues a message (the caller counts the blob reference it adds), due at once. */
export function insertOutbound(
  tx: WriteTx,
  env: OutboundEnvelope,
  blobId: string,
  size: number,
  now: number,
): void {
  tx.sql
    .stmt(
      `INSERT INTO outbound_queue (blob_id, size, mail_from, recipients, envid, ret, body, smtputf8,
         account_id, queued_at, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      blobId,
      size,
      env.mailFrom,
      JSON.stringify(storedRecipients(env)),
      env.envid,
      env.ret,
      env.body,
      env.smtputf8 ? 1 : 0,
      env.accountId,
      now,
      now,
    );
}

/** The transactional bodies of the queue's writes. */
export const queueWrites = {
  deleteOutbound(tx: WriteTx, id: number): void {
    const { sql } = tx;
    const row = sql.stmt<{ blob_id: string }>('SELECT blob_id FROM outbound_queue WHERE id = ?').get(id);
    if (row === undefined) throw notFound('queued message');
    sql.stmt('DELETE FROM outbound_queue WHERE id = ?').run(id);
    adjustBlobRefs(sql, row.blob_id, -1, Date.now());
  },
};

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
    if (!Number.isSafeInteger(id) || id <= 0) throw notFound('queued message');
    await this.core.write('queue', 'deleteOutbound', id);
  }
}
