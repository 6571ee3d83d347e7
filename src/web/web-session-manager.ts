// Sessions of the user's page, kept in the store (WebSessions) so that any process or node
// can answer the next request. Invariants: the id exists only in the browser's cookie (the
// store holds its SHA-256); a session past its idle timeout or its absolute lifetime is
// deleted when it is presented and never resumed; an account holds at most maxPerAccount
// sessions (the oldest go first); last-seen writes happen at most once per touchInterval.

import { createHash, randomBytes } from 'node:crypto';
import type { WebSessions } from '../store/roles.js';
import type { WebSession } from '../store/types.js';
import { isSessionId } from './session-cookie.js';

export interface WebSessionLimits {
  /** Milliseconds without a request after which a session ends (default 30 minutes). */
  idleMs: number;
  /** Milliseconds after login at which a session ends however active (default 12 hours). */
  lifetimeMs: number;
  /** Most sessions one account holds at once (default 10). */
  maxPerAccount: number;
  /** Least milliseconds between two last-seen writes of one session (default 60 s). */
  touchIntervalMs: number;
}

export const DEFAULT_WEB_SESSION_LIMITS: Readonly<WebSessionLimits> = Object.freeze({
  idleMs: 30 * 60_000,
  lifetimeMs: 12 * 3600_000,
  maxPerAccount: 10,
  touchIntervalMs: 60_000,
});

/** A session id's stored form. */
export function sessionIdHash(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** A resumed session: the id (from the cookie) and what the store holds. */
export interface ActiveSession {
  id: string;
  idHash: string;
  accountId: number;
}

export interface WebSessionManagerOptions {
  store: WebSessions;
  limits?: Partial<WebSessionLimits>;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

export class WebSessionManager {
  readonly limits: WebSessionLimits;
  private readonly store: WebSessions;
  private readonly now: () => number;

  constructor(opts: WebSessionManagerOptions) {
    this.store = opts.store;
    this.limits = { ...DEFAULT_WEB_SESSION_LIMITS, ...opts.limits };
    this.now = opts.now ?? Date.now;
  }

  /** A new session for the account (after a successful login); the id goes into the cookie. */
  async start(accountId: number): Promise<ActiveSession> {
    // 256 bits from the CSPRNG: unguessable, and the store's hash of it needs no salt.
    const id = randomBytes(32).toString('base64url');
    const idHash = sessionIdHash(id);
    const now = this.now();
    const session: WebSession = {
      idHash,
      accountId,
      createdAt: new Date(now),
      expiresAt: new Date(now + this.limits.lifetimeMs),
      lastSeenAt: new Date(now),
    };
    await this.store.createWebSession(session, {
      staleBefore: new Date(now - this.limits.idleMs),
      maxPerAccount: this.limits.maxPerAccount,
    });
    return { id, idHash, accountId };
  }

  /** The live session this id names, or null (unknown, malformed, idle too long, too old). */
  async resume(id: string | null): Promise<ActiveSession | null> {
    if (id === null || !isSessionId(id)) return null;
    const idHash = sessionIdHash(id);
    const stored = await this.store.getWebSession(idHash);
    if (stored === null) return null;
    const now = this.now();
    if (stored.expiresAt.getTime() <= now || stored.lastSeenAt.getTime() + this.limits.idleMs <= now) {
      await this.store.deleteWebSession(idHash);
      return null;
    }
    if (now - stored.lastSeenAt.getTime() >= this.limits.touchIntervalMs) {
      await this.store.touchWebSession(idHash, new Date(now));
    }
    return { id, idHash, accountId: stored.accountId };
  }

  /** Logout. */
  async end(session: ActiveSession): Promise<void> {
    await this.store.deleteWebSession(session.idHash);
  }

  /** Ends every other session of the account (after a password change); returns how many. */
  async endOthers(session: ActiveSession): Promise<number> {
    return this.store.deleteWebSessions(session.accountId, { keep: session.idHash });
  }
}
