// Authentication failures per client IP, shared by every protocol: after
// limits.authFailuresBeforeBan failures within limits.banSeconds the address is banned for
// banSeconds. IPv6 clients are counted and banned by network (limits.ipv6Prefix, see
// ip-group.ts), so a client cannot escape its ban by moving inside its /64. Listeners refuse new connections from a banned address and the authenticator
// answers 'banned'. Memory is bounded: both maps are capped and evict their oldest entry.
// In cluster mode each worker forwards its failures to the primary, which counts them for the
// whole cluster and broadcasts bans back to every worker (connectTrackerToPrimary /
// relayBansInPrimary below).

import type { Limits } from '../core/limits.js';
import { ipGroup } from './ip-group.js';

export { normalizeIp } from './ip-group.js';

export interface AuthFailureTrackerOptions {
  limits: Pick<Limits, 'authFailuresBeforeBan' | 'banSeconds'> & Partial<Pick<Limits, 'ipv6Prefix'>>;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Most addresses with failures remembered (default 100,000). */
  maxAddresses?: number;
  /** Most bans remembered (default 100,000). */
  maxBans?: number;
}

/** Called when an address becomes banned, with the ban's end (ms since the epoch). */
export type BanListener = (ip: string, until: number) => void;

const DEFAULT_MAX = 100_000;

/** The IPv6 prefix length used when the limits leave it out. */
const DEFAULT_IPV6_PREFIX = 64;

export class AuthFailureTracker {
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly maxAddresses: number;
  private readonly maxBans: number;
  private readonly ipv6Prefix: number;
  /** Failure times per address, oldest first, at most `threshold` entries; Map order = least recently failed first. */
  private readonly failures = new Map<string, number[]>();
  /** Ban end per address; Map order = oldest ban first. */
  private readonly bans = new Map<string, number>();
  private readonly banListeners = new Set<BanListener>();
  private readonly failureListeners = new Set<(ip: string) => void>();

  constructor(opts: AuthFailureTrackerOptions) {
    this.threshold = Math.max(1, opts.limits.authFailuresBeforeBan);
    this.windowMs = opts.limits.banSeconds * 1000;
    this.now = opts.now ?? Date.now;
    this.maxAddresses = opts.maxAddresses ?? DEFAULT_MAX;
    this.maxBans = opts.maxBans ?? DEFAULT_MAX;
    this.ipv6Prefix = opts.limits.ipv6Prefix ?? DEFAULT_IPV6_PREFIX;
  }

  /** What an address is counted and banned under: itself, or its IPv6 network ("2001:db8::/64"). */
  key(address: string): string {
    return ipGroup(address, { ipv6Prefix: this.ipv6Prefix });
  }

  /** Records one failure; returns true when this failure got the address banned. */
  recordFailure(address: string): boolean {
    const ip = this.key(address);
    for (const l of this.failureListeners) l(ip);
    if (this.isBanned(ip)) return false;
    const now = this.now();
    const times = (this.failures.get(ip) ?? []).filter((t) => now - t < this.windowMs);
    times.push(now);
    if (times.length > this.threshold) times.splice(0, times.length - this.threshold);
    this.failures.delete(ip); // re-insert at the end: most recently failed
    if (times.length >= this.threshold) {
      this.ban(ip, now + this.windowMs);
      return true;
    }
    if (this.failures.size >= this.maxAddresses) this.evictOldest(this.failures);
    this.failures.set(ip, times);
    return false;
  }

  /** Bans an address until `until` (ms since the epoch); used locally and for bans broadcast by the primary. */
  ban(address: string, until: number): void {
    const ip = this.key(address);
    this.failures.delete(ip);
    const existing = this.bans.get(ip);
    if (existing !== undefined && existing >= until) return;
    this.bans.delete(ip);
    if (this.bans.size >= this.maxBans) this.evictOldest(this.bans);
    this.bans.set(ip, until);
    for (const l of this.banListeners) l(ip, until);
  }

  isBanned(address: string): boolean {
    const ip = this.key(address);
    const until = this.bans.get(ip);
    if (until === undefined) return false;
    if (this.now() < until) return true;
    this.bans.delete(ip);
    return false;
  }

  /** Failures of an address still inside the window. */
  failureCount(address: string): number {
    const ip = this.key(address);
    const now = this.now();
    return (this.failures.get(ip) ?? []).filter((t) => now - t < this.windowMs).length;
  }

  /** Number of addresses with remembered failures or bans (for tests and metrics). */
  get size(): { addresses: number; bans: number } {
    return { addresses: this.failures.size, bans: this.bans.size };
  }

  onBan(listener: BanListener): () => void {
    this.banListeners.add(listener);
    return () => this.banListeners.delete(listener);
  }

  /** Observes every failure (the cluster bridge forwards them to the primary). */
  onFailure(listener: (ip: string) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  private evictOldest(map: Map<string, unknown>): void {
    const first = map.keys().next();
    if (first.done !== true) map.delete(first.value);
  }
}

/**
 * Per-session failure counting for the protocol sessions: after limits.authFailuresPerSession
 * failures the session should be closed (SMTP 421, IMAP BYE, POP3 -ERR then close).
 */
export class SessionAuthFailures {
  private count = 0;
  constructor(private readonly limit: number) {}
  /** Counts a failure; true when the session must now be closed. */
  fail(): boolean {
    this.count++;
    return this.count >= this.limit;
  }
  get failures(): number {
    return this.count;
  }
}

// Cluster IPC. Messages are plain objects tagged with a type the rest of the program does not use.
interface FailureMessage {
  type: 'postern:auth-failure';
  ip: string;
}
interface BanMessage {
  type: 'postern:ban';
  ip: string;
  until: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function isFailureMessage(v: unknown): v is FailureMessage {
  return isRecord(v) && v.type === 'postern:auth-failure' && typeof v.ip === 'string' && v.ip.length <= 64;
}

function isBanMessage(v: unknown): v is BanMessage {
  return (
    isRecord(v) &&
    v.type === 'postern:ban' &&
    typeof v.ip === 'string' &&
    v.ip.length <= 64 &&
    typeof v.until === 'number' &&
    Number.isFinite(v.until)
  );
}

/** The IPC side of a cluster worker (process itself) or of a worker handle in the primary. */
export interface IpcEndpoint {
  send?(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * In a worker: forwards every failure to the primary and applies the bans it broadcasts.
 * The worker still counts its own failures too, so it bans at once without a round trip.
 */
export function connectTrackerToPrimary(tracker: AuthFailureTracker, channel: IpcEndpoint): () => void {
  const offFailure = tracker.onFailure((ip) => {
    const msg: FailureMessage = { type: 'postern:auth-failure', ip };
    channel.send?.(msg);
  });
  const onMessage = (msg: unknown): void => {
    if (isBanMessage(msg)) tracker.ban(msg.ip, msg.until);
  };
  channel.on('message', onMessage);
  return () => {
    offFailure();
    channel.off('message', onMessage);
  };
}

/**
 * In the primary: counts failures reported by a worker in the cluster-wide tracker; the caller
 * broadcasts bans with `broadcastBans`.
 */
export function acceptWorkerFailures(tracker: AuthFailureTracker, worker: IpcEndpoint): () => void {
  const onMessage = (msg: unknown): void => {
    if (isFailureMessage(msg)) tracker.recordFailure(msg.ip);
  };
  worker.on('message', onMessage);
  return () => worker.off('message', onMessage);
}

/** In the primary: sends every new ban to the workers returned by `workers()`. */
export function broadcastBans(tracker: AuthFailureTracker, workers: () => Iterable<IpcEndpoint>): () => void {
  return tracker.onBan((ip, until) => {
    const msg: BanMessage = { type: 'postern:ban', ip, until };
    for (const w of workers()) w.send?.(msg);
  });
}
