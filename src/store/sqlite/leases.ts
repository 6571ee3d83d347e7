// The Leases role on SQLite: mailbox locks (mailbox_locks), POP3's exclusive access to a
// maildrop across every process on the store. Lease writes commit without waiting for the WAL
// fsync (core.commitWithoutSync): a lease lost in a crash is harmless (it would have lapsed
// anyway), and a login should not wait for the disk.

import type { Leases } from '../roles.js';
import { checkLease } from '../rules/lease.js';
import type { SqliteCore } from './core.js';
import type { WriteTx } from './write-tx.js';

/** The transactional bodies of the lease writes (arguments already checked). */
export const leaseWrites = {
  acquire(tx: WriteTx, mailboxId: number, owner: string, ttlMs: number): boolean {
    const { sql } = tx;
    const now = Date.now();
    const held = sql
      .stmt<{ owner: string; expires_at: number }>(
        'SELECT owner, expires_at FROM mailbox_locks WHERE mailbox_id = ?',
      )
      .get(mailboxId);
    if (held !== undefined && held.owner !== owner && held.expires_at > now) return false;
    sql
      .stmt(
        `INSERT INTO mailbox_locks (mailbox_id, owner, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (mailbox_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
      )
      .run(mailboxId, owner, now + ttlMs);
    return true;
  },

  refresh(tx: WriteTx, mailboxId: number, owner: string, ttlMs: number): boolean {
    const now = Date.now();
    const r = tx.sql
      .stmt('UPDATE mailbox_locks SET expires_at = ? WHERE mailbox_id = ? AND owner = ? AND expires_at > ?')
      .run(now + ttlMs, mailboxId, owner, now);
    return r.changes > 0;
  },

  release(tx: WriteTx, mailboxId: number, owner: string): void {
    tx.sql.stmt('DELETE FROM mailbox_locks WHERE mailbox_id = ? AND owner = ?').run(mailboxId, owner);
  },
};

export class SqliteLeases implements Leases {
  constructor(private readonly core: SqliteCore) {}

  async acquireMailboxLock(mailboxId: number, owner: string, ttlMs: number): Promise<boolean> {
    checkLease(owner, ttlMs);
    return this.core.writeWithoutSync('leases', 'acquire', mailboxId, owner, ttlMs);
  }

  async refreshMailboxLock(mailboxId: number, owner: string, ttlMs: number): Promise<boolean> {
    checkLease(owner, ttlMs);
    return this.core.writeWithoutSync('leases', 'refresh', mailboxId, owner, ttlMs);
  }

  async releaseMailboxLock(mailboxId: number, owner: string): Promise<void> {
    await this.core.writeWithoutSync('leases', 'release', mailboxId, owner);
  }
}
