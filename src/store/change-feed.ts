// "Mailbox M changed" notifications for MailStore.watch(), shared by every backend.
// Invariants:
// - listeners never run inside a store transaction: notify() only queues, and the queue is
//   drained in a microtask, after the committing call has returned;
// - notifications are coalesced per mailbox and delivered at least once per notify();
// - a throwing listener is reported to onError and never stops the others.
// A backend calls notify() after its own commits and when it learns of changes made elsewhere
// (sqlite: polling PRAGMA data_version; postgres: LISTEN/NOTIFY).

export type MailboxListener = (mailboxId: number) => void;
/** Hears of every changed mailbox, one call per dispatched batch (account watches build on it). */
export type BatchListener = (mailboxIds: readonly number[]) => void;

export interface ChangeFeedOptions {
  /** Called with true when the first listener is added and false when the last one goes. */
  onActive?: (active: boolean) => void;
  onError?: (err: unknown, mailboxId: number) => void;
}

export class ChangeFeed {
  private readonly listeners = new Map<number, Set<MailboxListener>>();
  private readonly batchListeners = new Set<BatchListener>();
  private pending = new Set<number>();
  private scheduled = false;
  private count = 0;
  private closed = false;
  private readonly opts: ChangeFeedOptions;

  constructor(opts: ChangeFeedOptions = {}) {
    this.opts = opts;
  }

  /** Number of registered listeners (all mailboxes). */
  get size(): number {
    return this.count;
  }

  /** Whether anyone listens to this mailbox. */
  isWatched(mailboxId: number): boolean {
    return this.listeners.has(mailboxId);
  }

  watch(mailboxId: number, listener: MailboxListener): () => void {
    if (this.closed) return () => undefined;
    let set = this.listeners.get(mailboxId);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(mailboxId, set);
    }
    // The same function may be registered twice; wrap it so each registration is its own entry.
    const entry: MailboxListener = (id) => listener(id);
    set.add(entry);
    this.count++;
    if (this.count === 1) this.opts.onActive?.(true);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const current = this.listeners.get(mailboxId);
      if (current === undefined || !current.delete(entry)) return;
      if (current.size === 0) this.listeners.delete(mailboxId);
      this.count--;
      if (this.count === 0 && !this.closed) this.opts.onActive?.(false);
    };
  }

  /**
   * Listens to every mailbox: the listener gets each dispatched batch of changed mailbox ids
   * (one call per batch, after the per-mailbox listeners). Counts as a listener for onActive.
   */
  watchAll(listener: BatchListener): () => void {
    if (this.closed) return () => undefined;
    const entry: BatchListener = (ids) => listener(ids);
    this.batchListeners.add(entry);
    this.count++;
    if (this.count === 1) this.opts.onActive?.(true);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      if (!this.batchListeners.delete(entry)) return;
      this.count--;
      if (this.count === 0 && !this.closed) this.opts.onActive?.(false);
    };
  }

  /** Mailboxes changed (by this process or another): their listeners run soon, outside any transaction. */
  notify(mailboxIds: Iterable<number>): void {
    if (this.closed) return;
    const all = this.batchListeners.size > 0;
    for (const id of mailboxIds) if (all || this.listeners.has(id)) this.pending.add(id);
    if (this.pending.size === 0 || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.dispatch());
  }

  /** Drops every listener; later notify() calls do nothing. */
  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.batchListeners.clear();
    this.pending.clear();
    this.count = 0;
  }

  private dispatch(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Set();
    for (const id of batch) {
      const set = this.listeners.get(id);
      if (set === undefined) continue;
      for (const listener of Array.from(set)) {
        try {
          listener(id);
        } catch (err) {
          this.opts.onError?.(err, id);
        }
      }
    }
    if (this.batchListeners.size === 0 || batch.size === 0) return;
    const ids = [...batch];
    for (const listener of Array.from(this.batchListeners)) {
      try {
        listener(ids);
      } catch (err) {
        this.opts.onError?.(err, ids[0]!);
      }
    }
  }
}
