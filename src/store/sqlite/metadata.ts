// The Metadata role on SQLite: RFC 5464 entries in the `metadata` table (migration 18), keyed by
// (account, mailbox id, name); the server level is mailbox id 0. Invariants:
// - a set is one transaction: every change of a SETMETADATA is applied, or none (RFC 5464 §4.3);
// - the account's entry count (all mailboxes and the server level) never grows past maxEntries:
//   the changes are applied under a savepoint, counted, and rolled back when over;
// - entries of a mailbox are removed with it (purgeMailbox) and with the account (deleteAccount);
// - a set that changed an entry logs a mailbox-event row in the same transaction (on the
//   mailbox, or on INBOX for the server level), so account watches in every process hear of it
//   (IMAP NOTIFY's metadata events, RFC 5465 §5.7); a set that changed nothing logs none.

import type { Metadata } from '../roles.js';
import { INBOX } from '../rules/mailbox-name.js';
import type { MetadataChange, MetadataEntry, MetadataSetResult, MetadataTarget } from '../metadata-types.js';
import {
  KIND_MAILBOX_EVENT,
  MAILBOX_EVENT_METADATA,
  MAILBOX_EVENT_SERVER_METADATA,
  logChange,
} from './change-log.js';
import type { SqliteCore } from './core.js';
import { mailboxRow, mailboxRowByName, notFound, requireAccount } from './rows.js';
import type { StatementCache } from './statement-cache.js';
import type { WriteTx } from './write-tx.js';

/** The server level's mailbox id in the table. */
const SERVER = 0;

/** Thrown inside the savepoint to roll the changes back; never leaves this file. */
class TooMany extends Error {}

/** The mailbox id the rows use, after checking the mailbox is the account's. */
function targetId(sql: StatementCache, target: MetadataTarget): number {
  requireAccount(sql, target.accountId);
  if (target.mailboxId === null) return SERVER;
  const mb = mailboxRow(sql, target.mailboxId);
  if (mb === undefined || mb.account_id !== target.accountId) throw notFound('mailbox');
  return mb.id;
}

function countEntries(sql: StatementCache, accountId: number): number {
  return sql.stmt<number>('SELECT count(*) FROM metadata WHERE account_id = ?', 'pluck').get(accountId) ?? 0;
}

/**
 * A mailbox-event row for changed entries: on the mailbox, or for the server level on the
 * account's INBOX (it always exists; the row needs a mailbox for the account watch to place it).
 */
function logMetadataEvent(tx: WriteTx, accountId: number, mailboxId: number): void {
  const row =
    mailboxId === SERVER ? mailboxRowByName(tx.sql, accountId, INBOX) : mailboxRow(tx.sql, mailboxId);
  if (row === undefined) return;
  const event = mailboxId === SERVER ? MAILBOX_EVENT_SERVER_METADATA : MAILBOX_EVENT_METADATA;
  logChange(tx, row.id, row.highestmodseq, 0, KIND_MAILBOX_EVENT, event, null);
}

/** The transactional bodies of the metadata writes. */
export const metadataWrites = {
  setMetadata(
    tx: WriteTx,
    target: MetadataTarget,
    changes: MetadataChange[],
    maxEntries: number,
  ): MetadataSetResult {
    const { sql } = tx;
    const mailboxId = targetId(sql, target);
    const before = countEntries(sql, target.accountId);
    let changed = 0;
    try {
      sql.db.transaction(() => {
        for (const c of changes) {
          if (c.value === null) {
            changed += sql
              .stmt('DELETE FROM metadata WHERE account_id = ? AND mailbox_id = ? AND name = ?')
              .run(target.accountId, mailboxId, c.name).changes;
          } else {
            // The WHERE makes an unchanged value no change, so it notifies nobody.
            changed += sql
              .stmt(
                `INSERT INTO metadata (account_id, mailbox_id, name, value) VALUES (?, ?, ?, ?)
                 ON CONFLICT (account_id, mailbox_id, name) DO UPDATE SET value = excluded.value
                 WHERE value IS NOT excluded.value`,
              )
              .run(target.accountId, mailboxId, c.name, c.value).changes;
          }
        }
        const after = countEntries(sql, target.accountId);
        if (after > maxEntries && after > before) throw new TooMany();
      })();
    } catch (err) {
      if (err instanceof TooMany) return { ok: false, reason: 'too-many' };
      throw err;
    }
    if (changed > 0) logMetadataEvent(tx, target.accountId, mailboxId);
    return { ok: true };
  },
};

export class SqliteMetadata implements Metadata {
  constructor(private readonly core: SqliteCore) {}

  async getMetadata(target: MetadataTarget): Promise<MetadataEntry[]> {
    this.core.assertOpen();
    const { sql } = this.core;
    const mailboxId = targetId(sql, target);
    return sql
      .stmt<MetadataEntry>(
        'SELECT name, value FROM metadata WHERE account_id = ? AND mailbox_id = ? ORDER BY name',
      )
      .all(target.accountId, mailboxId);
  }

  async setMetadata(
    target: MetadataTarget,
    changes: readonly MetadataChange[],
    opts: { maxEntries: number },
  ): Promise<MetadataSetResult> {
    return this.core.write('metadata', 'setMetadata', target, [...changes], opts.maxEntries);
  }
}
