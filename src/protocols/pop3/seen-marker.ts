// RETR sets \Seen (so IMAP clients see the message as read) and records when POP3 first
// retrieved the message (its retention starts then), without a store commit per RETR.
// Invariants:
// - UIDs marked are committed in batches: when BATCH_SIZE are pending, or BATCH_DELAY_MS after
//   the first pending one, whichever comes first; at most one flag update is in flight;
// - drain() resolves once every UID marked before it is committed (or its failure logged);
//   the session drains before UPDATE and whenever it ends, so a download that completed leaves
//   its messages \Seen even if the connection then drops.
// Why batches: each commit is a WAL write and, every ~1000 pages, a checkpoint that runs on the
// event loop; one per RETR cut download throughput by two thirds (bench/pop3-download.ts).

import type { Logger } from '../../core/log.js';
import type { Messages } from '../../store/roles.js';

/** UIDs per flag update at most before it is started without waiting. */
export const BATCH_SIZE = 500;
/** How long a marked UID may wait for more to share its commit. */
export const BATCH_DELAY_MS = 1000;

export class SeenMarker {
  private pending: number[] = [];
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Messages,
    private readonly mailboxId: number,
    private readonly log: Logger,
  ) {}

  mark(uid: number): void {
    this.pending.push(uid);
    if (this.pending.length >= BATCH_SIZE) this.start();
    else if (this.timer === null && this.running === null) {
      this.timer = setTimeout(() => this.start(), BATCH_DELAY_MS);
      this.timer.unref();
    }
  }

  private start(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.running ??= this.commit();
  }

  /** One flag update with everything pending; what is marked meanwhile waits for its own batch. */
  private async commit(): Promise<void> {
    const uids = this.pending;
    this.pending = [];
    try {
      // \Seen and the start of the message's POP3 retention (pop3.expire_days), one commit.
      await this.store.markPop3Retrieved(this.mailboxId, uids, Date.now());
    } catch (err) {
      this.log.warn({ err, mailboxId: this.mailboxId, count: uids.length }, 'pop3: setting \\Seen failed');
    }
    this.running = null;
    if (this.pending.length >= BATCH_SIZE) this.start();
    else if (this.pending.length > 0 && this.timer === null) {
      this.timer = setTimeout(() => this.start(), BATCH_DELAY_MS);
      this.timer.unref();
    }
  }

  /** Commits everything marked so far. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.running !== null) await this.running;
      else if (this.pending.length > 0) this.start();
      else return;
    }
  }
}
