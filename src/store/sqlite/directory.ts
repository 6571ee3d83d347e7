// The Directory role on SQLite: domains, accounts, aliases, recipient resolution (the rules are
// rules/recipient-resolver.ts, over lookups on the domains, accounts and aliases tables), the
// APOP secret and the POP3 login record; app passwords are app-passwords.ts. Arguments are checked before a write begins; the
// transactional bodies are `directoryWrites`, synchronous functions of (WriteTx, arguments).

import { deleteAclsOf } from './acl.js';
import { StoreError } from '../../core/errors.js';
import type { Directory } from '../roles.js';
import { normalizeDomain, parseAddress, tryParseAddress } from '../rules/address.js';
import { isPublicOwner } from '../rules/public-owner.js';
import {
  checkApopSecret,
  checkLoginInterval,
  checkPasswordHash,
  checkQuotaBytes,
  checkQuotaMessages,
  parseAlias,
} from '../rules/directory-fields.js';
import {
  checkQuotaThresholds,
  reachedThreshold,
  type QuotaUsage,
  type QuotaWarningClaim,
} from '../rules/quota-warning.js';
import { resolveRecipientWith, type RecipientLookups } from '../rules/recipient-resolver.js';
import {
  DEFAULT_MAILBOXES,
  type Account,
  type Alias,
  type AppPassword,
  type AppPasswordCredential,
  type AppPasswordUse,
  type Domain,
  type Pop3Expire,
  type Recipient,
} from '../types.js';
import { appPasswordWrites, SqliteAppPasswords } from './app-passwords.js';
import type { SqliteCore } from './core.js';
import { insertMailbox, purgeMailbox } from './mailboxes.js';
import {
  accountRow,
  lowerQuotaWarning,
  notFound,
  pop3ExpireColumn,
  toAccount,
  toDomain,
  type AccountRow,
  type DomainRow,
  type MailboxRow,
} from './rows.js';
import type { WriteTx } from './write-tx.js';

/**
 * Whether any account or domain has its own POP3 retention: asked by every pre-login CAPA, so it
 * must stay an index lookup (the partial indexes of migration 17; schema test checks the plan).
 */
export const POP3_EXPIRE_OVERRIDES_SQL = `SELECT 1 WHERE EXISTS (SELECT 1 FROM accounts WHERE pop3_expire_days IS NOT NULL)
  OR EXISTS (SELECT 1 FROM domains WHERE pop3_expire_days IS NOT NULL)`;

/** The transactional bodies of the directory's writes (arguments already checked). */
export const directoryWrites = {
  createDomain(tx: WriteTx, domain: string): Domain {
    const { sql } = tx;
    if (sql.stmt('SELECT 1 FROM domains WHERE name = ?').get(domain) !== undefined) {
      throw new StoreError('ALREADY_EXISTS', `domain ${domain} already exists`);
    }
    const r = sql
      .stmt<DomainRow>('INSERT INTO domains (name, created_at) VALUES (?, ?) RETURNING *')
      .get(domain, Date.now());
    return toDomain(r!);
  },

  deleteDomain(tx: WriteTx, domain: string): void {
    const { sql } = tx;
    const d = sql.stmt<DomainRow>('SELECT * FROM domains WHERE name = ?').get(domain);
    if (d === undefined) throw notFound(`domain ${domain}`);
    if (sql.stmt('SELECT 1 FROM accounts WHERE domain_id = ? LIMIT 1').get(d.id) !== undefined) {
      throw new StoreError('HAS_CHILDREN', `domain ${domain} still has accounts`);
    }
    sql.stmt('DELETE FROM aliases WHERE domain_id = ?').run(d.id);
    sql.stmt('DELETE FROM dkim_keys WHERE domain_id = ?').run(d.id);
    sql.stmt('DELETE FROM domains WHERE id = ?').run(d.id);
  },

  /** The account with the default mailboxes, each subscribed. */
  createAccount(
    tx: WriteTx,
    input: {
      address: string;
      domain: string;
      passwordHash: string;
      quotaBytes: number;
      publicOwner: boolean;
    },
  ): Account {
    const { sql } = tx;
    const d = sql.stmt<{ id: number }>('SELECT id FROM domains WHERE name = ?').get(input.domain);
    if (d === undefined) throw notFound(`domain ${input.domain}`);
    if (sql.stmt('SELECT 1 FROM accounts WHERE address = ?').get(input.address) !== undefined) {
      throw new StoreError('ALREADY_EXISTS', `account ${input.address} already exists`);
    }
    const a = sql
      .stmt<AccountRow>(
        `INSERT INTO accounts (domain_id, address, password_hash, quota_bytes, created_at)
         VALUES (?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(d.id, input.address, input.passwordHash, input.quotaBytes, Date.now())!;
    // A public-folder owner gets INBOX only (it never receives mail; INBOX is every account's).
    for (const mb of input.publicOwner
      ? DEFAULT_MAILBOXES.filter((m) => m.name === 'INBOX')
      : DEFAULT_MAILBOXES) {
      insertMailbox(tx, a.id, mb.name, mb.specialUse);
      sql.stmt('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)').run(a.id, mb.name);
    }
    return toAccount(a);
  },

  setPasswordHash(tx: WriteTx, address: string, passwordHash: string): void {
    const r = tx.sql
      .stmt('UPDATE accounts SET password_hash = ? WHERE address = ?')
      .run(passwordHash, address);
    if (r.changes === 0) throw notFound(`account ${address}`);
  },

  setQuota(tx: WriteTx, address: string, quotaBytes: number): void {
    const r = tx.sql.stmt('UPDATE accounts SET quota_bytes = ? WHERE address = ?').run(quotaBytes, address);
    if (r.changes === 0) throw notFound(`account ${address}`);
    lowerQuotaWarningOf(tx, address);
  },

  setMessageQuota(tx: WriteTx, address: string, quotaMessages: number): void {
    const r = tx.sql
      .stmt('UPDATE accounts SET quota_messages = ? WHERE address = ?')
      .run(quotaMessages, address);
    if (r.changes === 0) throw notFound(`account ${address}`);
    lowerQuotaWarningOf(tx, address);
  },

  /**
   * Raises the account's warned level to the highest threshold its usage has reached, with one
   * conditional UPDATE: of callers racing in any number of processes, exactly one sees it change
   * and gets the claim (it sends the warning). Null when nothing new was reached.
   */
  claimQuotaWarning(tx: WriteTx, accountId: number, thresholds: readonly number[]): QuotaWarningClaim | null {
    const { sql } = tx;
    const row = accountRow(sql, accountId);
    if (row === undefined) return null;
    const usage = usageOf(row);
    const threshold = reachedThreshold(usage, thresholds);
    if (threshold === 0) return null;
    const r = sql
      .stmt('UPDATE accounts SET quota_warned_level = ? WHERE id = ? AND quota_warned_level < ?')
      .run(threshold, accountId, threshold);
    return r.changes === 1 ? { accountId, address: row.address, threshold, usage } : null;
  },

  /** Removes the account with its mailboxes (messages, change log), subscriptions and app passwords. */
  deleteAccount(tx: WriteTx, address: string): void {
    const { sql } = tx;
    const a = sql.stmt<AccountRow>('SELECT * FROM accounts WHERE address = ?').get(address);
    if (a === undefined) throw notFound(`account ${address}`);
    const now = Date.now();
    for (const mb of sql.stmt<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ?').all(a.id)) {
      purgeMailbox(tx, mb, now);
    }
    sql.stmt('DELETE FROM subscriptions WHERE account_id = ?').run(a.id);
    appPasswordWrites.deleteAccountAppPasswords(tx, a.id);
    sql.stmt('DELETE FROM metadata WHERE account_id = ?').run(a.id);
    // RFC 4314: what others shared with this account goes too (its own mailboxes' rows cascade).
    deleteAclsOf(tx, a.address);
    sql.stmt('DELETE FROM accounts WHERE id = ?').run(a.id);
  },

  addAlias(tx: WriteTx, source: { address: string; domain: string }, destination: string): void {
    const { sql } = tx;
    const d = sql.stmt<{ id: number }>('SELECT id FROM domains WHERE name = ?').get(source.domain);
    if (d === undefined) throw notFound(`domain ${source.domain}`);
    const r = sql
      .stmt('INSERT OR IGNORE INTO aliases (source, destination, domain_id) VALUES (?, ?, ?)')
      .run(source.address, destination, d.id);
    if (r.changes === 0) throw new StoreError('ALREADY_EXISTS', 'this alias already exists');
  },

  deleteAlias(tx: WriteTx, source: string): void {
    const r = tx.sql.stmt('DELETE FROM aliases WHERE source = ?').run(source);
    if (r.changes === 0) throw notFound(`alias ${source}`);
  },

  setApopSecret(tx: WriteTx, address: string, secret: string | null): void {
    const r = tx.sql.stmt('UPDATE accounts SET apop_secret = ? WHERE address = ?').run(secret, address);
    if (r.changes === 0) throw notFound(`account ${address}`);
  },

  setPop3Expire(tx: WriteTx, target: { domain: string } | { address: string }, days: number | null): void {
    const r =
      'domain' in target
        ? tx.sql.stmt('UPDATE domains SET pop3_expire_days = ? WHERE name = ?').run(days, target.domain)
        : tx.sql.stmt('UPDATE accounts SET pop3_expire_days = ? WHERE address = ?').run(days, target.address);
    if (r.changes === 0)
      throw notFound('domain' in target ? `domain ${target.domain}` : `account ${target.address}`);
  },

  /** One conditional UPDATE: two processes racing for the same account cannot both pass. */
  recordPop3Login(tx: WriteTx, accountId: number, now: number, minIntervalMs: number): boolean {
    const { sql } = tx;
    const r = sql
      .stmt(
        `UPDATE accounts SET pop3_login_at = @now
         WHERE id = @id AND (pop3_login_at IS NULL OR pop3_login_at <= @now - @interval OR pop3_login_at > @now)`,
      )
      .run({ id: accountId, now, interval: minIntervalMs });
    if (r.changes === 1) return true;
    if (sql.stmt('SELECT 1 FROM accounts WHERE id = ?').get(accountId) === undefined)
      throw notFound(`account ${accountId}`);
    return false;
  },
};

function lowerQuotaWarningOf(tx: WriteTx, address: string): void {
  const id = tx.sql.stmt<number>('SELECT id FROM accounts WHERE address = ?', 'pluck').get(address);
  if (id !== undefined) lowerQuotaWarning(tx.sql, id);
}

function usageOf(row: AccountRow): QuotaUsage {
  return {
    quotaBytes: row.quota_bytes,
    usedBytes: row.used_bytes,
    quotaMessages: row.quota_messages,
    usedMessages: row.used_messages,
  };
}

export class SqliteDirectory implements Directory {
  /** What recipient resolution asks of the tables, on the main connection. */
  private readonly lookups: RecipientLookups;
  private readonly appPasswords: SqliteAppPasswords;

  constructor(private readonly core: SqliteCore) {
    const { sql } = core;
    this.appPasswords = new SqliteAppPasswords(core);
    this.lookups = {
      isLocalDomain: (domain) => sql.stmt('SELECT 1 FROM domains WHERE name = ?').get(domain) !== undefined,
      accountByAddress: (a) =>
        sql
          .stmt<{ id: number; address: string }>('SELECT id, address FROM accounts WHERE address = ?')
          .get(a) ?? null,
      aliasDestinations: (source) =>
        sql
          .stmt<string>('SELECT destination FROM aliases WHERE source = ? ORDER BY destination', 'pluck')
          .all(source),
    };
  }

  // ---------------------------------------------------------------- domains

  async createDomain(name: string): Promise<Domain> {
    const domain = normalizeDomain(name);
    return this.core.write('directory', 'createDomain', domain);
  }

  async listDomains(): Promise<Domain[]> {
    this.core.assertOpen();
    return this.core.sql
      .stmt<DomainRow>('SELECT * FROM domains ORDER BY name')
      .all()
      .map((r) => toDomain(r));
  }

  async getDomain(name: string): Promise<Domain | null> {
    this.core.assertOpen();
    let domain: string;
    try {
      domain = normalizeDomain(name);
    } catch {
      return null;
    }
    const r = this.core.sql.stmt<DomainRow>('SELECT * FROM domains WHERE name = ?').get(domain);
    return r === undefined ? null : toDomain(r);
  }

  async deleteDomain(name: string): Promise<void> {
    const domain = normalizeDomain(name);
    await this.core.write('directory', 'deleteDomain', domain);
  }

  // ---------------------------------------------------------------- accounts

  async createAccount(input: {
    address: string;
    passwordHash: string;
    quotaBytes?: number;
    publicOwner?: boolean;
  }): Promise<Account> {
    const { address, domain } = parseAddress(input.address);
    const publicOwner = isPublicOwner(address);
    if (publicOwner !== (input.publicOwner === true)) {
      throw new StoreError(
        'INVALID_ARGUMENT',
        publicOwner ? `${address} is reserved for public folders` : `${address} is not a public-folder owner`,
      );
    }
    checkPasswordHash(input.passwordHash);
    const quotaBytes = input.quotaBytes ?? 0;
    checkQuotaBytes(quotaBytes);
    const passwordHash = input.passwordHash;
    return this.core.write('directory', 'createAccount', {
      address,
      domain,
      passwordHash,
      quotaBytes,
      publicOwner,
    });
  }

  async getAccount(address: string): Promise<Account | null> {
    this.core.assertOpen();
    const p = tryParseAddress(address);
    if (p === null) return null;
    const r = this.core.sql.stmt<AccountRow>('SELECT * FROM accounts WHERE address = ?').get(p.address);
    return r === undefined ? null : toAccount(r);
  }

  async getAccountById(id: number): Promise<Account | null> {
    this.core.assertOpen();
    const r = accountRow(this.core.sql, id);
    return r === undefined ? null : toAccount(r);
  }

  async listAccounts(domain?: string): Promise<Account[]> {
    this.core.assertOpen();
    const { sql } = this.core;
    if (domain === undefined) {
      return sql
        .stmt<AccountRow>('SELECT * FROM accounts ORDER BY address')
        .all()
        .map((r) => toAccount(r));
    }
    let name: string;
    try {
      name = normalizeDomain(domain);
    } catch {
      return [];
    }
    return sql
      .stmt<AccountRow>(
        'SELECT a.* FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE d.name = ? ORDER BY a.address',
      )
      .all(name)
      .map((r) => toAccount(r));
  }

  async setPasswordHash(address: string, passwordHash: string): Promise<void> {
    const p = parseAddress(address);
    checkPasswordHash(passwordHash);
    await this.core.write('directory', 'setPasswordHash', p.address, passwordHash);
  }

  async setQuota(address: string, quotaBytes: number): Promise<void> {
    const p = parseAddress(address);
    checkQuotaBytes(quotaBytes);
    await this.core.write('directory', 'setQuota', p.address, quotaBytes);
  }

  async setMessageQuota(address: string, quotaMessages: number): Promise<void> {
    const p = parseAddress(address);
    checkQuotaMessages(quotaMessages);
    await this.core.write('directory', 'setMessageQuota', p.address, quotaMessages);
  }

  async deleteAccount(address: string): Promise<void> {
    const p = parseAddress(address);
    await this.core.write('directory', 'deleteAccount', p.address);
  }

  // ---------------------------------------------------------------- aliases

  async addAlias(alias: Alias): Promise<void> {
    const { source, destination } = parseAlias(alias);
    await this.core.write('directory', 'addAlias', source, destination.address);
  }

  async listAliases(domain?: string): Promise<Alias[]> {
    this.core.assertOpen();
    const { sql } = this.core;
    type Row = { source: string; destination: string };
    if (domain === undefined) {
      return sql.stmt<Row>('SELECT source, destination FROM aliases ORDER BY source, destination').all();
    }
    let name: string;
    try {
      name = normalizeDomain(domain);
    } catch {
      return [];
    }
    return sql
      .stmt<Row>(
        `SELECT a.source, a.destination FROM aliases a JOIN domains d ON d.id = a.domain_id
       WHERE d.name = ? ORDER BY a.source, a.destination`,
      )
      .all(name);
  }

  async deleteAlias(source: string): Promise<void> {
    const s = parseAddress(source, { allowCatchAll: true });
    await this.core.write('directory', 'deleteAlias', s.address);
  }

  async resolveRecipient(address: string, opts: { catchAll?: boolean } = {}): Promise<Recipient[]> {
    this.core.assertOpen();
    return resolveRecipientWith(this.lookups, address, { catchAll: opts.catchAll ?? true });
  }

  // ---------------------------------------------------------------- APOP secret, POP3 logins

  async setApopSecret(address: string, secret: string | null): Promise<void> {
    const p = parseAddress(address);
    checkApopSecret(secret);
    await this.core.write('directory', 'setApopSecret', p.address, secret);
  }

  async getApopSecret(accountId: number): Promise<string | null> {
    this.core.assertOpen();
    const r = this.core.sql
      .stmt<{ apop_secret: string | null }>('SELECT apop_secret FROM accounts WHERE id = ?')
      .get(accountId);
    return r?.apop_secret ?? null;
  }

  async setPop3Expire(target: { domain: string } | { address: string }, expire: Pop3Expire): Promise<void> {
    if (typeof expire === 'number' && (!Number.isSafeInteger(expire) || expire < 0)) {
      throw new StoreError('INVALID_ARGUMENT', `POP3 expire days must be a whole number >= 0, got ${expire}`);
    }
    const key =
      'domain' in target
        ? { domain: normalizeDomain(target.domain) }
        : { address: parseAddress(target.address).address };
    await this.core.write('directory', 'setPop3Expire', key, pop3ExpireColumn(expire));
  }

  async hasPop3ExpireOverrides(): Promise<boolean> {
    this.core.assertOpen();
    const row = this.core.sql.stmt(POP3_EXPIRE_OVERRIDES_SQL).get();
    return row !== undefined;
  }

  async claimQuotaWarning(
    accountId: number,
    thresholds: readonly number[],
  ): Promise<QuotaWarningClaim | null> {
    this.core.assertOpen();
    if (thresholds.length === 0) return null;
    const levels = checkQuotaThresholds(thresholds);
    // Nothing new reached (every commit but the few that cross): a read, no write transaction.
    const row = accountRow(this.core.sql, accountId);
    if (row === undefined) return null;
    const reached = reachedThreshold(usageOf(row), levels);
    if (reached === 0 || reached <= row.quota_warned_level) return null;
    return this.core.write('directory', 'claimQuotaWarning', accountId, levels);
  }

  async recordPop3Login(accountId: number, minIntervalMs: number): Promise<boolean> {
    checkLoginInterval(minIntervalMs);
    const now = Date.now();
    return this.core.write('directory', 'recordPop3Login', accountId, now, minIntervalMs);
  }

  // ---------------------------------------------------------------- app passwords (app-passwords.ts)

  createAppPassword(accountId: number, input: { label: string; secretHash: string }): Promise<AppPassword> {
    return this.appPasswords.createAppPassword(accountId, input);
  }

  listAppPasswords(accountId: number): Promise<AppPassword[]> {
    return this.appPasswords.listAppPasswords(accountId);
  }

  revokeAppPassword(accountId: number, id: number): Promise<boolean> {
    return this.appPasswords.revokeAppPassword(accountId, id);
  }

  appPasswordCredentials(accountId: number): Promise<AppPasswordCredential[]> {
    return this.appPasswords.appPasswordCredentials(accountId);
  }

  recordAppPasswordUse(id: number, use: AppPasswordUse): Promise<void> {
    return this.appPasswords.recordAppPasswordUse(id, use);
  }
}
