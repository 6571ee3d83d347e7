// The rows of the SQLite schema (schema.ts) as the store reads them, their conversion to the
// interface's types, and the row reads and writes several roles share. Each takes the
// statements of the connection it runs on: the write transaction's (tx.sql) inside a write
// body, the main connection's for a read.

import { StoreError } from '../../core/errors.js';
import { exceedsQuota } from '../rules/quota.js';
import type { Account, AccountState, Domain, Mailbox, SpecialUse } from '../types.js';
import type { StatementCache } from './statement-cache.js';

export interface DomainRow {
  id: number;
  name: string;
  created_at: number;
}

export interface AccountRow {
  id: number;
  domain_id: number;
  address: string;
  password_hash: string;
  quota_bytes: number;
  used_bytes: number;
  state: AccountState;
  created_at: number;
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
  return { id: r.id, name: r.name, createdAt: new Date(r.created_at) };
}

export function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    domainId: r.domain_id,
    address: r.address,
    passwordHash: r.password_hash,
    quotaBytes: r.quota_bytes,
    usedBytes: r.used_bytes,
    state: r.state,
    createdAt: new Date(r.created_at),
  };
}

export function toMailbox(sql: StatementCache, r: MailboxRow): Mailbox {
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
    recent:
      r.uidnext - 1 <= r.recent_uid
        ? 0
        : sql
            .stmt<number>('SELECT count(*) FROM messages WHERE mailbox_id = ? AND uid > ?', 'pluck')
            .get(r.id, r.recent_uid)!,
  };
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

/** Whether `extraBytes` more would put the account over its quota (checked inside the commit). */
export function overQuota(sql: StatementCache, accountId: number, extraBytes: number): boolean {
  if (extraBytes <= 0) return false;
  const a = sql
    .stmt<{ quota_bytes: number; used_bytes: number }>(
      'SELECT quota_bytes, used_bytes FROM accounts WHERE id = ?',
    )
    .get(accountId);
  return a !== undefined && exceedsQuota(a.quota_bytes, a.used_bytes, extraBytes);
}

export function addUsedBytes(sql: StatementCache, accountId: number, delta: number): void {
  if (delta !== 0)
    sql.stmt('UPDATE accounts SET used_bytes = used_bytes + ? WHERE id = ?').run(delta, accountId);
}
