// POP3's exclusive access to a maildrop (RFC 1939 §8), held as a lease in the store so that it
// works across processes (cluster workers share one SQLite file). Invariants:
// - the lease is refreshed every ttl/4 while the session lives, so it never lapses under a
//   live session, and lapses within ttl after a crash (kill -9 cannot release it);
// - release() is idempotent and never throws (a session ending must not fail on it).

import { randomBytes } from 'node:crypto';
import type { Logger } from '../../core/log.js';
import type { Leases } from '../../store/roles.js';

/** How long a lease lasts without a refresh. */
export const DEFAULT_LEASE_MS = 120_000;

export class MailboxLease {
  private timer: NodeJS.Timeout | null = null;
  private released = false;

  private constructor(
    private readonly store: Leases,
    readonly mailboxId: number,
    readonly owner: string,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  /** A unique owner name: which process and which connection. */
  static ownerName(connectionId: string): string {
    return `pop3:${process.pid}:${connectionId}:${randomBytes(6).toString('hex')}`;
  }

  /** Takes the lease, or returns null while another session holds it. */
  static async acquire(
    store: Leases,
    mailboxId: number,
    opts: { owner: string; ttlMs?: number; log: Logger },
  ): Promise<MailboxLease | null> {
    const ttlMs = opts.ttlMs ?? DEFAULT_LEASE_MS;
    if (!(await store.acquireMailboxLock(mailboxId, opts.owner, ttlMs))) return null;
    const lease = new MailboxLease(store, mailboxId, opts.owner, ttlMs, opts.log);
    lease.timer = setInterval(() => lease.refresh(), Math.max(1000, Math.floor(ttlMs / 4)));
    lease.timer.unref();
    return lease;
  }

  private refresh(): void {
    if (this.released) return;
    this.store.refreshMailboxLock(this.mailboxId, this.owner, this.ttlMs).then(
      (held) => {
        if (!held && !this.released) this.log.warn({ mailboxId: this.mailboxId }, 'pop3 mailbox lease lost');
      },
      (err: unknown) =>
        this.log.warn({ err, mailboxId: this.mailboxId }, 'pop3 mailbox lease refresh failed'),
    );
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer !== null) clearInterval(this.timer);
    try {
      await this.store.releaseMailboxLock(this.mailboxId, this.owner);
    } catch (err) {
      this.log.warn({ err, mailboxId: this.mailboxId }, 'pop3 mailbox lease release failed');
    }
  }
}
