// How many bounces one address may receive: at most `perHour` DSNs in any sliding hour, counted
// in this process's memory, so a flood of failing mail forged in someone's name (backscatter)
// costs them at most that many reports. Invariants: memory is bounded by the addresses seen in
// the last hour times `perHour` timestamps each, and by maxAddresses (the oldest dropped first).

const HOUR_MS = 3_600_000;

export interface BounceLimiterOptions {
  /** Most bounces per address per hour; 0: no limit. */
  perHour: number;
  /** Most addresses tracked at once (default 100,000). */
  maxAddresses?: number;
  /** The clock, in milliseconds (tests). */
  now?: () => number;
}

export class BounceLimiter {
  private readonly sent = new Map<string, number[]>();
  private readonly perHour: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(opts: BounceLimiterOptions) {
    this.perHour = opts.perHour;
    this.maxAddresses = opts.maxAddresses ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  /** Counts one bounce to `address` and says whether it may go (false: over the limit, not counted). */
  take(address: string): boolean {
    if (this.perHour <= 0) return true;
    const key = address.toLowerCase();
    const now = this.now();
    const times = (this.sent.get(key) ?? []).filter((t) => now - t < HOUR_MS);
    if (times.length >= this.perHour) {
      this.sent.set(key, times);
      return false;
    }
    times.push(now);
    this.sent.delete(key); // re-inserted last: Map order is least recently used first
    this.sent.set(key, times);
    if (this.sent.size > this.maxAddresses) {
      const oldest = this.sent.keys().next().value;
      if (oldest !== undefined) this.sent.delete(oldest);
    }
    return true;
  }
}
