// One place where every protocol checks a user name and password. Invariants: an unknown user
// costs one scrypt run like a known one; "disabled" is only revealed to someone who knows the
// password; every failure waits limits.authFailureDelay before answering; wrong passwords count
// towards the per-IP ban (AuthFailureTracker), across protocols.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/log.js';
import type { Account, MailStore } from '../store/types.js';
import type { AuthFailureTracker } from './failure-tracker.js';
import { normalizeIp } from './failure-tracker.js';
import { verifyDummyPassword, verifyPassword } from './password.js';

export type AuthProtocol = 'smtp' | 'imap' | 'pop3' | 'http';

export interface AuthRequest {
  username: string;
  password: string;
  remoteAddress: string;
  protocol: AuthProtocol;
}

export type AuthFailureReason = 'invalid' | 'banned' | 'disabled';

export type AuthResult = { ok: true; account: Account } | { ok: false; reason: AuthFailureReason };

export interface AuthenticatorOptions {
  store: MailStore;
  limits: Pick<Limits, 'authFailureDelay'>;
  tracker: AuthFailureTracker;
  log?: Logger;
}

/** Longest user name looked up (an address: 64 + 1 + 255, RFC 5321 §4.5.3.1). */
const MAX_USERNAME = 320;

export class Authenticator {
  readonly tracker: AuthFailureTracker;
  private readonly store: MailStore;
  private readonly delayMs: number;
  private readonly log: Logger | undefined;

  constructor(opts: AuthenticatorOptions) {
    this.store = opts.store;
    this.tracker = opts.tracker;
    this.delayMs = opts.limits.authFailureDelay;
    this.log = opts.log;
  }

  async authenticate(req: AuthRequest): Promise<AuthResult> {
    const ip = normalizeIp(req.remoteAddress);
    if (this.tracker.isBanned(ip)) return this.fail(req, ip, 'banned');
    const username = req.username.trim().toLowerCase();
    const account =
      username.length > 0 && username.length <= MAX_USERNAME ? await this.store.getAccount(username) : null;
    if (account === null) {
      await verifyDummyPassword(req.password);
      this.tracker.recordFailure(ip);
      return this.fail(req, ip, 'invalid');
    }
    if (!(await verifyPassword(req.password, account.passwordHash))) {
      this.tracker.recordFailure(ip);
      return this.fail(req, ip, 'invalid');
    }
    if (account.state !== 'active') return this.fail(req, ip, 'disabled');
    this.log?.info({ protocol: req.protocol, ip, user: account.address }, 'authenticated');
    return { ok: true, account };
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
