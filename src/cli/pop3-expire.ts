// The POP3 retention argument of `postern domain pop3-expire` and `postern user pop3-expire`:
// a number of days, "never", or "default" (inherit: the user from the domain, the domain from
// pop3.expire_days).

import { UsageError } from '../core/errors.js';
import type { Pop3Expire } from '../store/types.js';

export function parsePop3Expire(value: string): Pop3Expire {
  const v = value.trim().toLowerCase();
  if (v === 'default') return null;
  if (v === 'never') return 'never';
  if (/^\d{1,6}$/.test(v)) return Number(v);
  throw new UsageError(`expected a number of days, "never" or "default", got "${value}"`);
}

export function describePop3Expire(expire: Pop3Expire): string {
  return expire === null ? 'default' : expire === 'never' ? 'never' : `${expire} days`;
}
