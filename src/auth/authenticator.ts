// One place where every protocol checks a user name and password. Invariants: an unknown user
// costs one scrypt run like a known one; "disabled" is only revealed to someone who knows the
// password; every failure waits limits.authFailureDelay before answering; wrong passwords count
// towards the per-IP ban (AuthFailureTracker), across protocols. The account row is read on
// every attempt, so the credential cache (which is bound to the stored hash) and the state
// check always see what any process last wrote. Only successes are cached; a miss or a wrong
// password costs a scrypt run as before, queued in the ScryptGate under the client's address.
// App passwords (app-passwords.ts): a password shaped like one is first compared (SHA-256,
// constant time) with the account's app-password rows, read on every attempt and never
// cached, so a revocation in any process holds at the next login; a miss goes on to the
// account's password as before (its cost, delay and ban count unchanged). The web page
// (protocol 'http') never takes an app password: a lost phone must not manage the account.

import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_AUTH } from '../config/schema.js';
import type { AuthSettings } from '../config/types.js';
import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/log.js';
import type { Account, AppPassword, AppPasswordCredential } from '../store/types.js';
import type { Directory } from '../store/roles.js';
import { matchAppPassword, normalizeAppPasswordSecret } from './app-passwords.js';
import { CredentialCache } from './credential-cache.js';
import type { AuthFailureTracker } from './failure-tracker.js';
import { normalizeIp } from './failure-tracker.js';
import { passwordBytes, verifyDummyPassword, verifyPassword, type VerifyOptions } from './password.js';
import { ScryptGate } from './scrypt-gate.js';
import { isPublicOwner } from '../store/rules/public-owner.js';

export type AuthProtocol = 'smtp' | 'imap' | 'pop3' | 'http';

export interface AuthRequest {
  username: string;
  password: string;
  remoteAddress: string;
  protocol: AuthProtocol;
}

export type AuthFailureReason = 'invalid' | 'banned' | 'disabled';

export type AuthResult =
  | {
      ok: true;
      account: Account;
      /** The app password that opened the session, when one did (not the account's password). */
      appPassword?: AppPassword;
    }
  | { ok: false; reason: AuthFailureReason };

export interface AuthenticatorOptions {
  store: Directory;
  limits: Pick<Limits, 'authFailureDelay'>;
  tracker: AuthFailureTracker;
  log?: Logger;
  /** The [auth] settings (cache, scrypt cost and concurrency); defaults when absent. */
  auth?: AuthSettings;
  /** Milliseconds since the epoch, for the cache's TTL; injectable for tests. */
  now?: () => number;
  /**
   * Least time between two recorded uses of one app password, ms (default one minute): a
   * login within it records nothing, so polling clients do not cost a write each.
   */
  appPasswordUseInterval?: number;
}

/** Default least time between two recorded uses of one app password. */
export const APP_PASSWORD_USE_INTERVAL_MS = 60_000;

/** Longest user name looked up (an address: 64 + 1 + 255, RFC 5321 §4.5.3.1). */
const MAX_USERNAME = 320;

export class Authenticator {
  readonly tracker: AuthFailureTracker;
  readonly cache: CredentialCache;
  readonly gate: ScryptGate;
  private readonly store: Directory;
  private readonly delayMs: number;
  private readonly log: Logger | undefined;
  private readonly scryptLogN: number;
  private readonly now: () => number;
  private readonly useIntervalMs: number;
  /** App passwords whose use is being written, so concurrent logins write it once. */
  private readonly recording = new Set<number>();

  constructor(opts: AuthenticatorOptions) {
    const auth = opts.auth ?? DEFAULT_AUTH;
    this.now = opts.now ?? Date.now;
    this.useIntervalMs = Math.max(0, opts.appPasswordUseInterval ?? APP_PASSWORD_USE_INTERVAL_MS);
    this.store = opts.store;
    this.tracker = opts.tracker;
    this.delayMs = opts.limits.authFailureDelay;
    this.log = opts.log;
    this.scryptLogN = auth.scryptLogN;
    this.cache = new CredentialCache({
      ttlMs: auth.cacheTtl * 1000,
      maxEntries: auth.cacheSize,
      now: opts.now,
    });
    this.gate = new ScryptGate(auth.scryptConcurrency);
  }

  async authenticate(req: AuthRequest): Promise<AuthResult> {
    const ip = normalizeIp(req.remoteAddress);
    if (this.tracker.isBanned(ip)) return this.fail(req, ip, 'banned');
    const username = req.username.trim().toLowerCase();
    // A domain's public-folder owner never logs in (store/rules/public-owner.ts).
    const account =
      username.length > 0 && username.length <= MAX_USERNAME && !isPublicOwner(username)
        ? await this.store.getAccount(username)
        : null;
    const verify: VerifyOptions = { dummyLogN: this.scryptLogN, schedule: this.gate.schedulerFor(ip) };
    if (account === null) {
      await verifyDummyPassword(req.password, verify);
      this.tracker.recordFailure(ip);
      return this.fail(req, ip, 'invalid');
    }
    const app = req.protocol === 'http' ? null : await this.appPassword(account, req.password);
    const verified = app !== null ? 'app-password' : await this.verify(account, req.password, verify);
    if (verified === 'wrong') {
      this.tracker.recordFailure(ip);
      return this.fail(req, ip, 'invalid');
    }
    if (account.state !== 'active') return this.fail(req, ip, 'disabled');
    this.log?.info(
      {
        protocol: req.protocol,
        ip,
        user: account.address,
        cached: verified === 'cached',
        ...(app !== null ? { appPassword: app.id } : {}),
      },
      'authenticated',
    );
    if (app === null) return { ok: true, account };
    this.recordUse(app, req.protocol, ip);
    const { secretHash: _hash, ...appPassword } = app;
    return { ok: true, account, appPassword };
  }

  /** The account's app password that `password` is, read fresh from the store; null if none. */
  private async appPassword(account: Account, password: string): Promise<AppPasswordCredential | null> {
    if (normalizeAppPasswordSecret(password) === null) return null;
    return matchAppPassword(await this.store.appPasswordCredentials(account.id), password);
  }

  /**
   * Records the use unless the row already shows one within the interval (the row was just
   * read, so this holds across processes too). Not awaited: the login does not wait for a
   * write, and a failed write only leaves the last use older than it is.
   */
  private recordUse(app: AppPasswordCredential, protocol: AuthProtocol, ip: string): void {
    const now = this.now();
    const last = app.lastUsedAt?.getTime() ?? null;
    if (last !== null && now >= last && now - last < this.useIntervalMs) return;
    if (this.recording.has(app.id)) return;
    this.recording.add(app.id);
    void this.store
      .recordAppPasswordUse(app.id, { at: new Date(now), protocol, address: ip })
      .catch((err: unknown) =>
        this.log?.warn({ err, appPassword: app.id }, 'could not record an app password use'),
      )
      .finally(() => this.recording.delete(app.id));
  }

  /** The cache first (bound to the hash just read), scrypt on a miss; only successes are remembered. */
  private async verify(
    account: Account,
    password: string,
    opts: VerifyOptions,
  ): Promise<'cached' | 'verified' | 'wrong'> {
    const bytes = passwordBytes(password);
    if (bytes !== null && bytes.length > 0 && this.cache.has(account, bytes)) return 'cached';
    if (!(await verifyPassword(password, account.passwordHash, opts))) return 'wrong';
    if (bytes !== null) this.cache.remember(account, bytes);
    return 'verified';
  }

  private async fail(req: AuthRequest, ip: string, reason: AuthFailureReason): Promise<AuthResult> {
    // Never log the password; the user name is bounded so a hostile one cannot flood the log.
    this.log?.info(
      { protocol: req.protocol, ip, user: req.username.slice(0, MAX_USERNAME), reason },
      'authentication failed',
    );
    if (this.delayMs > 0) await sleep(this.delayMs);
    return { ok: false, reason };
  }
}
