// POP3 retention (RFC 2449 §6.7 EXPIRE as a policy): which setting applies to an account. The
// account's own, else its domain's, else the server's pop3.expire_days.

import type { Pop3Expire } from '../types.js';

/** Days a message stays after POP3 first retrieved it, or 'never'. */
export type EffectivePop3Expire = number | 'never';

export function effectivePop3Expire(
  account: Pop3Expire,
  domain: Pop3Expire,
  server: 'NEVER' | number,
): EffectivePop3Expire {
  if (account !== null) return account;
  if (domain !== null) return domain;
  return server === 'NEVER' ? 'never' : server;
}

/** The CAPA form: `NEVER` or the number of days (RFC 2449 §6.7). */
export function expireCapability(expire: EffectivePop3Expire): string {
  return expire === 'never' ? 'NEVER' : String(expire);
}
