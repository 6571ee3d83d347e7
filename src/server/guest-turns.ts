// Turns for connections that have not logged in. Node handles every socket that became readable
// in one poll phase, and the work an input starts (parsing, the directory lookup, the credential
// cache's HMAC, queueing a password check) runs right after its read, so a burst of 200 LOGINs
// arriving together held the event loop for 100 ms and more while logged-in users waited
// (test/hostile/login-flood). A guest's input is therefore handled only in its turn: turns are
// granted one per turn of the event loop, in arrival order, so between two guests' inputs the
// loop polls again and logged-in sessions, which take no turns, are served at once. Dovecot gets
// the same separation from its login processes.
// Invariants:
// - a turn is granted from a setImmediate callback, one per callback, and the next is scheduled
//   from it (so it runs after the next poll phase);
// - turns are granted in the order they were asked for; nothing is dropped.

export class TurnQueue {
  private readonly waiting: Array<() => void> = [];
  private head = 0;
  private scheduled = false;
  private granted = 0;

  /** Resolves in this caller's turn. */
  take(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  /** Callers waiting for a turn. */
  get length(): number {
    return this.waiting.length - this.head;
  }

  /** Turns granted since the process started (for tests and stats). */
  get grantedTotal(): number {
    return this.granted;
  }

  private schedule(): void {
    if (this.scheduled || this.length === 0) return;
    this.scheduled = true;
    setImmediate(this.grant);
  }

  private readonly grant = (): void => {
    this.scheduled = false;
    const next = this.waiting[this.head++];
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    if (next !== undefined) {
      this.granted++;
      next();
    }
    this.schedule();
  };
}

/** The process's queue: every protocol's guests share it. */
export const guestTurns = new TurnQueue();
