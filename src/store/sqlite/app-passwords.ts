// The app-password part of the Directory role on SQLite: the app_passwords table (migration
// 16), one row per per-device password of an account. Arguments are checked
// (rules/app-password-fields.ts) before a write begins; the transactional bodies are
// `appPasswordWrites`. Reads run on the main connection: a login reads the account's rows on
// every attempt, so a revocation (a deleted row, by any process) is seen at the next login.

import { StoreError } from '../../core/errors.js';
import {
  checkAppPasswordHash,
  checkAppPasswordId,
  checkAppPasswordLabel,
  MAX_APP_PASSWORDS,
} from '../rules/app-password-fields.js';
import { isCount } from '../rules/count.js';
import type { AppPassword, AppPasswordCredential, AppPasswordUse } from '../types.js';
import type { SqliteCore } from './core.js';
import { notFound } from './rows.js';
import type { WriteTx } from './write-tx.js';

interface AppPasswordRow {
  id: number;
  account_id: number;
  label: string;
  secret_hash: string;
  created_at: number;
  last_used_at: number | null;
  last_used_protocol: string | null;
  last_used_address: string | null;
}

function toAppPassword(r: AppPasswordRow): AppPassword {
  return {
    id: r.id,
    accountId: r.account_id,
    label: r.label,
    createdAt: new Date(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : new Date(r.last_used_at),
    lastUsedProtocol: r.last_used_protocol,
    lastUsedAddress: r.last_used_address,
  };
}

/** Bounds on what a login records (a protocol name, an IP address). */
const MAX_USE_FIELD = 64;

/** The transactional bodies of the app-password writes (arguments already checked). */
export const appPasswordWrites = {
  createAppPassword(
    tx: WriteTx,
    accountId: number,
    input: { label: string; secretHash: string },
    now: number,
  ): AppPassword {
    const { sql } = tx;
    if (sql.stmt('SELECT 1 FROM accounts WHERE id = ?').get(accountId) === undefined)
      throw notFound(`account ${accountId}`);
    const held = sql
      .stmt<number>('SELECT count(*) FROM app_passwords WHERE account_id = ?', 'pluck')
      .get(accountId)!;
    if (held >= MAX_APP_PASSWORDS) {
      throw new StoreError(
        'INVALID_ARGUMENT',
        `the account already has ${MAX_APP_PASSWORDS} app passwords: revoke one first`,
      );
    }
    const r = sql
      .stmt<AppPasswordRow>(
        `INSERT INTO app_passwords (account_id, label, secret_hash, created_at)
         VALUES (?, ?, ?, ?) RETURNING *`,
      )
      .get(accountId, input.label, input.secretHash, now)!;
    return toAppPassword(r);
  },

  revokeAppPassword(tx: WriteTx, accountId: number, id: number): boolean {
    const r = tx.sql.stmt('DELETE FROM app_passwords WHERE id = ? AND account_id = ?').run(id, accountId);
    return r.changes === 1;
  },

  recordAppPasswordUse(tx: WriteTx, id: number, at: number, protocol: string, address: string): void {
    tx.sql
      .stmt(
        `UPDATE app_passwords SET last_used_at = ?, last_used_protocol = ?, last_used_address = ?
         WHERE id = ?`,
      )
      .run(at, protocol, address, id);
  },

  /** Part of deleting an account (directory.ts): its app passwords go with it. */
  deleteAccountAppPasswords(tx: WriteTx, accountId: number): void {
    tx.sql.stmt('DELETE FROM app_passwords WHERE account_id = ?').run(accountId);
  },
};

export class SqliteAppPasswords {
  constructor(private readonly core: SqliteCore) {}

  async createAppPassword(
    accountId: number,
    input: { label: string; secretHash: string },
  ): Promise<AppPassword> {
    checkAppPasswordId(accountId);
    checkAppPasswordLabel(input.label);
    checkAppPasswordHash(input.secretHash);
    const clean = { label: input.label, secretHash: input.secretHash };
    return this.core.write('appPasswords', 'createAppPassword', accountId, clean, Date.now());
  }

  async listAppPasswords(accountId: number): Promise<AppPassword[]> {
    return this.rows(accountId).map(toAppPassword);
  }

  async revokeAppPassword(accountId: number, id: number): Promise<boolean> {
    if (!isCount(accountId) || !isCount(id)) return false;
    return this.core.write('appPasswords', 'revokeAppPassword', accountId, id);
  }

  async appPasswordCredentials(accountId: number): Promise<AppPasswordCredential[]> {
    return this.rows(accountId).map((r) => ({ ...toAppPassword(r), secretHash: r.secret_hash }));
  }

  async recordAppPasswordUse(id: number, use: AppPasswordUse): Promise<void> {
    checkAppPasswordId(id);
    const at = use.at.getTime();
    if (!Number.isFinite(at)) throw new StoreError('INVALID_ARGUMENT', 'the use time must be a valid date');
    await this.core.write(
      'appPasswords',
      'recordAppPasswordUse',
      id,
      at,
      use.protocol.slice(0, MAX_USE_FIELD),
      use.address.slice(0, MAX_USE_FIELD),
    );
  }

  /** Newest first; ids grow with time, so they break ties between rows made in one millisecond. */
  private rows(accountId: number): AppPasswordRow[] {
    this.core.assertOpen();
    if (!isCount(accountId)) return [];
    return this.core.sql
      .stmt<AppPasswordRow>(
        'SELECT * FROM app_passwords WHERE account_id = ? ORDER BY created_at DESC, id DESC',
      )
      .all(accountId);
  }
}
