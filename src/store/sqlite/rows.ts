// The rows of the SQLite schema (schema.ts) as the store reads them, their conversion to the
// interface's types, and the row reads and writes several roles share. Each takes the
// statements of the connection it runs on: the write transaction's (tx.sql) inside a write
// body, the main connection's for a read.

import { StoreError } from '../../core/errors.js';
import { exceedsQuota } from '../rules/quota.js';
import { QUOTA_WARNING_HYSTERESIS, type AccountUsage } from '../rules/quota-warning.js';
import type { Account, AccountState, Domain, Mailbox, Pop3Expire, SpecialUse } from '../types.js';
import type { StatementCache } from './statement-cache.js';

export interface DomainRow {
  id: number;
  name: string;
  created_at: number;
  pop3_expire_days: number | null;
}

export interface AccountRow {
  id: number;
  domain_id: number;
  address: string;
  password_hash: string;
  quota_bytes: number;
  used_bytes: number;
  quota_messages: number;
  used_messages: number;
  quota_warned_level: number;
  state: AccountState;
  created_at: number;
  pop3_expire_days: number | null;
}

export interface MailboxRow {
  id: number;
  account_id: number;
  name: string;
  special_use: SpecialUse | null;
  uidvalidity: number;
  uidnext: number;
  highestmodseq: number;
  messages: number;
  unseen: number;
  deleted: number;
  size: number;
  recent_uid: number;
  object_id: string | null;
}

export interface MessageRow {
  uid: number;
  modseq: number;
  flags: number;
  keywords: string | null;
  internal_date: number;
  size: number;
  blob_id: string;
}

export function notFound(what: string): StoreError {
  return new StoreError('NOT_FOUND', `${what} not found`);
}

export function toDomain(r: DomainRow): Domain {
  return {
    id: r.id,
    name: r.name,
    createdAt: new Date(r.created_at),
    pop3Expire: pop3ExpireOf(r.pop3_expire_days),
  };
}

/** The column form of a Pop3Expire: NULL inherits, -1 is never. */
export function pop3ExpireColumn(v: Pop3Expire): number | null {
  return v === null ? null : v === 'never' ? -1 : v;
}

export function pop3ExpireOf(column: number | null): Pop3Expire {
  return column === null ? null : column < 0 ? 'never' : column;
}

export function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    domainId: r.domain_id,
    address: r.address,
    passwordHash: r.password_hash,
    quotaBytes: r.quota_bytes,
    usedBytes: r.used_bytes,
    quotaMessages: r.quota_messages,
    usedMessages: r.used_messages,
    state: r.state,
    createdAt: new Date(r.created_at),
    pop3Expire: pop3ExpireOf(r.pop3_expire_days),
  };
}

/**
 * The interface's mailbox from its row: the counters the row keeps, nothing counted. What takes a
 * count over the messages (\Recent, DELETED-STORAGE) is asked for apart (countRecent,
 * deletedSize) by the one command that shows it, so that looking up a mailbox (every APPEND,
 * COPY, LIST) costs one row read whatever its size.
 */
export function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    specialUse: r.special_use,
    uidValidity: r.uidvalidity,
    objectId: r.object_id ?? `F${r.uidvalidity}`,
    uidNext: r.uidnext,
    highestModseq: r.highestmodseq,
    messages: r.messages,
    unseen: r.unseen,
    deleted: r.deleted,
    size: r.size,
    recentUid: r.recent_uid,
  };
}

/** RFC 3501 \Recent: the messages above the mailbox's recent_uid (no session claimed them yet). */
export function countRecent(sql: StatementCache, mailboxId: number): number {
  return sql
    .stmt<number>(
      `SELECT count(*) FROM messages WHERE mailbox_id = @id
         AND uid > (SELECT recent_uid FROM mailboxes WHERE id = @id)`,
      'pluck',
    )
    .get({ id: mailboxId })!;
}

/** Bytes of the messages with \Deleted (the messages_deleted partial index): RFC 9208 DELETED-STORAGE. */
export function deletedSize(sql: StatementCache, mailboxId: number): number {
  return sql
    .stmt<number>(
      'SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = ? AND (flags & 8) != 0',
      'pluck',
    )
    .get(mailboxId)!;
}

export function mailboxRow(sql: StatementCache, mailboxId: number): MailboxRow | undefined {
  return sql.stmt<MailboxRow>('SELECT * FROM mailboxes WHERE id = ?').get(mailboxId);
}

export function mailboxRowByName(
  sql: StatementCache,
  accountId: number,
  name: string,
): MailboxRow | undefined {
  return sql
    .stmt<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? AND name = ?')
    .get(accountId, name);
}

export function requireMailbox(sql: StatementCache, mailboxId: number): MailboxRow {
  const row = mailboxRow(sql, mailboxId);
  if (row === undefined) throw notFound('mailbox');
  return row;
}

export function accountRow(sql: StatementCache, accountId: number): AccountRow | undefined {
  return sql.stmt<AccountRow>('SELECT * FROM accounts WHERE id = ?').get(accountId);
}

export function requireAccount(sql: StatementCache, accountId: number): AccountRow {
  const row = accountRow(sql, accountId);
  if (row === undefined) throw notFound('account');
  return row;
}

/**
 * Whether `extraBytes` (and `extraMessages`) more would put the account over its storage (or
 * message-count) quota; checked inside the commit.
 */
export function overQuota(
  sql: StatementCache,
  accountId: number,
  extraBytes: number,
  extraMessages = 0,
): boolean {
  if (extraBytes <= 0 && extraMessages <= 0) return false;
  const a = sql
    .stmt<Pick<AccountRow, 'quota_bytes' | 'used_bytes' | 'quota_messages' | 'used_messages'>>(
      'SELECT quota_bytes, used_bytes, quota_messages, used_messages FROM accounts WHERE id = ?',
    )
    .get(accountId);
  if (a === undefined) return false;
  return (
    (extraBytes > 0 && exceedsQuota(a.quota_bytes, a.used_bytes, extraBytes)) ||
    (extraMessages > 0 && exceedsQuota(a.quota_messages, a.used_messages, extraMessages))
  );
}

/** Adds to the account's usage (negative to remove): bytes and messages change together. */
/** The account's quota figures and warned level (after a change in this transaction). */
export function accountUsage(sql: StatementCache, accountId: number): AccountUsage {
  const r = sql
    .stmt<AccountUsage>(
      `SELECT quota_bytes AS quotaBytes, used_bytes AS usedBytes, quota_messages AS quotaMessages,
         used_messages AS usedMessages, quota_warned_level AS warnedLevel FROM accounts WHERE id = ?`,
    )
    .get(accountId);
  return r ?? { quotaBytes: 0, usedBytes: 0, quotaMessages: 0, usedMessages: 0, warnedLevel: 0 };
}

export function addUsage(sql: StatementCache, accountId: number, bytes: number, messages: number): void {
  if (bytes !== 0 || messages !== 0)
    sql
      .stmt('UPDATE accounts SET used_bytes = used_bytes + ?, used_messages = used_messages + ? WHERE id = ?')
      .run(bytes, messages, accountId);
  if (bytes < 0 || messages < 0) lowerQuotaWarning(sql, accountId);
}

/**
 * After usage fell (or a quota grew): keeps only the warned thresholds t with usage >= t -
 * hysteresis (rules/quota-warning.ts), i.e. lowers quota_warned_level to floor(percent) +
 * hysteresis when that is less; the next crossing of a dropped threshold warns again. Needs no
 * list of thresholds: the level is a percentage, and thresholds are whole percentages.
 */
export function lowerQuotaWarning(sql: StatementCache, accountId: number): void {
  sql
    .stmt(
      `UPDATE accounts SET quota_warned_level = CAST(MAX(
         CASE WHEN quota_bytes > 0 THEN used_bytes * 100.0 / quota_bytes ELSE 0 END,
         CASE WHEN quota_messages > 0 THEN used_messages * 100.0 / quota_messages ELSE 0 END) AS INTEGER) + ?
       WHERE id = ? AND quota_warned_level > CAST(MAX(
         CASE WHEN quota_bytes > 0 THEN used_bytes * 100.0 / quota_bytes ELSE 0 END,
         CASE WHEN quota_messages > 0 THEN used_messages * 100.0 / quota_messages ELSE 0 END) AS INTEGER) + ?`,
    )
    .run(QUOTA_WARNING_HYSTERESIS, accountId, QUOTA_WARNING_HYSTERESIS);
}
