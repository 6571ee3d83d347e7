// The WebSessions role on SQLite (migration 20): web_sessions, one row per session of the
// user's page, keyed by the SHA-256 of the session id. Creating and touching a session commit
// without waiting for the WAL fsync (a session lost in a crash means logging in again); ending
// sessions (logout, password change) waits for it, so an ended session stays ended.
// Invariant: after createWebSession, the account holds at most maxPerAccount sessions.

import type { WebSessions } from '../roles.js';
import { checkWebSession, checkWebSessionIdHash } from '../rules/web-session.js';
import type { WebSession } from '../types.js';
import type { SqliteCore } from './core.js';
import type { WriteTx } from './write-tx.js';

interface WebSessionRow {
  id_hash: string;
  account_id: number;
  created_at: number;
  expires_at: number;
  last_seen_at: number;
}

/** The transactional bodies of the role's writes (arguments already checked; times in ms). */
export const webSessionWrites = {
  create(
    tx: WriteTx,
    s: { idHash: string; accountId: number; createdAt: number; expiresAt: number },
    staleBefore: number,
    maxPerAccount: number,
  ): void {
    const { sql } = tx;
    sql
      .stmt('DELETE FROM web_sessions WHERE expires_at <= ? OR last_seen_at < ?')
      .run(s.createdAt, staleBefore);
    sql
      .stmt(
        `INSERT INTO web_sessions (id_hash, account_id, created_at, expires_at, last_seen_at)
         VALUES (?, ?, ?, ?, ?)`,
      )
      .run(s.idHash, s.accountId, s.createdAt, s.expiresAt, s.createdAt);
    // The oldest go first: a forgotten browser loses its session before the one just made.
    sql
      .stmt(
        `DELETE FROM web_sessions WHERE id_hash IN (
           SELECT id_hash FROM web_sessions WHERE account_id = ?
           ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)`,
      )
      .run(s.accountId, maxPerAccount);
  },

  touch(tx: WriteTx, idHash: string, lastSeenAt: number): void {
    tx.sql
      .stmt('UPDATE web_sessions SET last_seen_at = max(last_seen_at, ?) WHERE id_hash = ?')
      .run(lastSeenAt, idHash);
  },

  delete(tx: WriteTx, idHash: string): void {
    tx.sql.stmt('DELETE FROM web_sessions WHERE id_hash = ?').run(idHash);
  },

  deleteForAccount(tx: WriteTx, accountId: number, keep: string | null): number {
    return tx.sql
      .stmt('DELETE FROM web_sessions WHERE account_id = ? AND (? IS NULL OR id_hash <> ?)')
      .run(accountId, keep, keep).changes;
  },
};

function toWebSession(r: WebSessionRow): WebSession {
  return {
    idHash: r.id_hash,
    accountId: r.account_id,
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    lastSeenAt: new Date(r.last_seen_at),
  };
}

export class SqliteWebSessions implements WebSessions {
  constructor(private readonly core: SqliteCore) {}

  async createWebSession(
    session: WebSession,
    opts: { staleBefore: Date; maxPerAccount: number },
  ): Promise<void> {
    checkWebSession(session, opts.maxPerAccount);
    await this.core.writeWithoutSync(
      'webSessions',
      'create',
      {
        idHash: session.idHash,
        accountId: session.accountId,
        createdAt: session.createdAt.getTime(),
        expiresAt: session.expiresAt.getTime(),
      },
      opts.staleBefore.getTime(),
      opts.maxPerAccount,
    );
  }

  async getWebSession(idHash: string): Promise<WebSession | null> {
    this.core.assertOpen();
    checkWebSessionIdHash(idHash);
    const r = this.core.sql.stmt<WebSessionRow>('SELECT * FROM web_sessions WHERE id_hash = ?').get(idHash);
    return r === undefined ? null : toWebSession(r);
  }

  async touchWebSession(idHash: string, lastSeenAt: Date): Promise<void> {
    checkWebSessionIdHash(idHash);
    await this.core.writeWithoutSync('webSessions', 'touch', idHash, lastSeenAt.getTime());
  }

  async deleteWebSession(idHash: string): Promise<void> {
    checkWebSessionIdHash(idHash);
    await this.core.write('webSessions', 'delete', idHash);
  }

  async deleteWebSessions(accountId: number, opts: { keep?: string } = {}): Promise<number> {
    if (opts.keep !== undefined) checkWebSessionIdHash(opts.keep);
    return this.core.write('webSessions', 'deleteForAccount', accountId, opts.keep ?? null);
  }
}
