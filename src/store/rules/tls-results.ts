// Argument rules of the TransportSecurity role (roles.ts), shared by every backend.

import { StoreError } from '../../core/errors.js';
import type { StoredStsPolicy, TlsSessionResult } from '../tls-types.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_REASON = 200;

/** The UTC day of a time, YYYY-MM-DD. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export function checkDay(day: string, what: string): string {
  if (!DAY.test(day)) throw new StoreError('INVALID_ARGUMENT', `${what} must be a YYYY-MM-DD day`);
  return day;
}

export function checkPolicyDomain(domain: string): string {
  const d = domain.toLowerCase();
  if (d.length === 0 || d.length > 253 || /[\s\x00-\x1f\x7f]/.test(d)) {
    throw new StoreError('INVALID_ARGUMENT', 'bad policy domain');
  }
  return d;
}

export function checkStsPolicy(p: StoredStsPolicy): StoredStsPolicy {
  checkPolicyDomain(p.domain);
  if (!/^[A-Za-z0-9]{1,32}$/.test(p.id)) throw new StoreError('INVALID_ARGUMENT', 'bad MTA-STS policy id');
  if (p.text.length > 64 * 1024) throw new StoreError('TOO_LARGE', 'MTA-STS policy over 64 KiB');
  if (Number.isNaN(p.fetchedAt.getTime()) || Number.isNaN(p.expiresAt.getTime())) {
    throw new StoreError('INVALID_ARGUMENT', 'bad MTA-STS policy times');
  }
  return { ...p, domain: p.domain.toLowerCase() };
}

/** A session result as stored: the day, bounded strings, '' for what is absent. */
export function tlsResultKey(r: TlsSessionResult): {
  day: string;
  policyDomain: string;
  policyType: string;
  policyStrings: string;
  mxHost: string;
  result: string;
  sendingIp: string;
  receivingIp: string;
  reason: string;
} {
  if (Number.isNaN(r.at.getTime())) throw new StoreError('INVALID_ARGUMENT', 'bad session time');
  if (r.policyStrings.length > 200) throw new StoreError('INVALID_ARGUMENT', 'too many policy strings');
  const policyStrings = JSON.stringify(r.policyStrings);
  if (policyStrings.length > 70 * 1024) throw new StoreError('TOO_LARGE', 'policy strings too long');
  return {
    day: utcDay(r.at),
    policyDomain: checkPolicyDomain(r.policyDomain),
    policyType: r.policyType,
    policyStrings,
    mxHost: r.mxHost.toLowerCase().slice(0, 253),
    result: r.result,
    sendingIp: (r.sendingIp ?? '').slice(0, 64),
    receivingIp: (r.receivingIp ?? '').slice(0, 64),
    reason: (r.reason ?? '').replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, MAX_REASON),
  };
}
