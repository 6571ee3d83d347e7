// Verified credentials, remembered so that a repeated login costs an HMAC instead of a scrypt
// run (as Dovecot's auth_cache). Invariants:
// - an entry is an HMAC-SHA256, under a key drawn at random when the process starts, of the
//   account's id, its address, its stored password hash and the password; the password and any
//   plain hash of it are never kept, and the key never leaves the process;
// - the caller reads the account row on every login and the entry covers the stored hash, so
//   once `postern user passwd` (any process: a cluster worker, the CLI) stores a new hash, or
//   the account is deleted and made again, an old entry can never match: there is nothing to
//   invalidate across processes. The account's state is checked by the caller on every login;
// - only successes are remembered; an entry lives `ttlMs` from its verification (hits do not
//   extend it), and at most `maxEntries` are held, the least recently used evicted first.

import { createHmac, randomBytes } from 'node:crypto';
import type { Account } from '../store/types.js';

export interface CredentialCacheOptions {
  /** How long a verification is trusted, ms; 0 disables the cache (auth.cache_ttl). */
  ttlMs: number;
  /** Most entries held; 0 disables the cache (auth.cache_size). */
  maxEntries: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

/** What of an account an entry is bound to. */
export type CachedAccount = Pick<Account, 'id' | 'address' | 'passwordHash'>;

export class CredentialCache {
  private readonly key = randomBytes(32);
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  /** HMAC (base64) -> expiry (ms since the epoch); Map order = least recently used first. */
  private readonly entries = new Map<string, number>();

  constructor(opts: CredentialCacheOptions) {
    this.ttlMs = Math.max(0, opts.ttlMs);
    this.maxEntries = Math.max(0, Math.floor(opts.maxEntries));
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** True when this password was verified against this account's current hash within the TTL. */
  has(account: CachedAccount, password: Buffer): boolean {
    if (!this.enabled) return false;
    const mac = this.mac(account, password);
    const expires = this.entries.get(mac);
    if (expires === undefined) return false;
    this.entries.delete(mac);
    if (this.now() >= expires) return false;
    this.entries.set(mac, expires); // most recently used
    return true;
  }

  /** Remembers a successful verification of `password` against `account.passwordHash`. */
  remember(account: CachedAccount, password: Buffer): void {
    if (!this.enabled) return;
    const mac = this.mac(account, password);
    this.entries.delete(mac);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(mac, this.now() + this.ttlMs);
  }

  clear(): void {
    this.entries.clear();
  }

  private mac(account: CachedAccount, password: Buffer): string {
    // Every field but the last is length-prefixed, so no two inputs frame the same bytes.
    const h = createHmac('sha256', this.key);
    for (const field of [String(account.id), account.address, account.passwordHash]) {
      h.update(`${Buffer.byteLength(field)}:${field};`);
    }
    return h.update(password).digest('base64');
  }
}
