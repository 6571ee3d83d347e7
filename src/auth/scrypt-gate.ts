// Bounds how many scrypt runs the server does at once. scrypt runs on libuv's thread pool (4
// threads unless UV_THREADPOOL_SIZE says otherwise), which blob writes, fsyncs and file reads
// also need: 200 logins arriving together would otherwise queue every fsync behind 200 runs of
// ~50 ms. Invariants: at most `concurrency` runs are in flight; the others wait in one queue per
// client address, and the queues are served in turn (round robin), so a flood from one address
// delays another address's login by about one run per busy address, not by the whole flood.
// Memory: one queued callback per login waiting, and logins are bounded by connections.

import type { ScryptScheduler } from './password.js';

export class ScryptGate {
  private running = 0;
  /** Waiting runs per address; Map order is the order in which addresses are served next. */
  private readonly queues = new Map<string, Array<() => void>>();

  constructor(readonly concurrency: number) {
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`scrypt concurrency must be a positive integer, got ${concurrency}`);
    }
  }

  /** A scheduler for password.ts that queues under `address`. */
  schedulerFor(address: string): ScryptScheduler {
    return (work) => this.run(address, work);
  }

  async run<T>(address: string, work: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency && this.queues.size === 0) {
      this.running++;
    } else {
      // The slot is handed over by release(), which leaves `running` unchanged.
      await new Promise<void>((resolve) => {
        const queue = this.queues.get(address);
        if (queue === undefined) this.queues.set(address, [resolve]);
        else queue.push(resolve);
      });
    }
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** Runs in flight and runs waiting (for tests and metrics). */
  get load(): { running: number; waiting: number } {
    let waiting = 0;
    for (const q of this.queues.values()) waiting += q.length;
    return { running: this.running, waiting };
  }

  private release(): void {
    const first = this.queues.entries().next();
    if (first.done === true) {
      this.running--;
      return;
    }
    const [address, queue] = first.value;
    const next = queue.shift()!;
    // This address goes to the back of the round (or leaves it when it has nothing left).
    this.queues.delete(address);
    if (queue.length > 0) this.queues.set(address, queue);
    next();
  }
}
