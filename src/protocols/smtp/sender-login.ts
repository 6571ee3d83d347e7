// Who an authenticated user may send as (RFC 6409 §6.1; Postfix's reject_sender_login_mismatch):
// the account's own address, its sub-addresses (user+tag@) and the aliases that deliver to it,
// as the recipient resolver sees them WITHOUT the catch-all. So a sub-address that is itself
// another account, or an alias to someone else, is not the user's; a catch-all does not make
// every unknown address of the domain the user's. Applied to MAIL FROM (553 5.7.1, at once) and
// to every address of the From: header fields (550 5.7.1 at end of data). An address whose
// domain is in smtp.sender_login_exempt_domains may be used by any authenticated user.

import { domainToASCII } from 'node:url';
import { parseAddressList } from '../../mail/mime/address.js';
import type { Account } from '../../store/types.js';
import type { SmtpSessionContext } from './context.js';

/** Most From: addresses looked up for one message. */
const MAX_FROM_ADDRESSES = 100;

/** `local@domain` with the domain as a lower-case A-label, or null when it has no domain. */
function normalise(local: string, domain: string): string | null {
  if (local === '' || domain === '') return null;
  const ascii = domainToASCII(domain);
  if (ascii === '') return null;
  return `${local}@${ascii}`.toLowerCase();
}

/** True when `local@domain` is one of `account`'s addresses (or its domain is exempt). */
export async function ownsAddress(
  ctx: SmtpSessionContext,
  account: Account,
  local: string,
  domain: string,
): Promise<boolean> {
  const address = normalise(local, domain);
  if (address === null) return false;
  if (address === account.address) return true;
  const asciiDomain = address.slice(address.lastIndexOf('@') + 1);
  if (ctx.env.config.smtp.senderLoginExemptDomains.includes(asciiDomain)) return true;
  const targets = await ctx.env.store.resolveRecipient(address, { catchAll: false });
  return targets.some((t) => t.kind === 'local' && t.accountId === account.id);
}

/**
 * The first From: address that is not the user's, '' when the From: fields cannot be checked
 * (too long, too many addresses, an address without a domain), or null when every one is theirs.
 * A message without From: passes: it impersonates nobody.
 */
export async function foreignFromAddress(
  ctx: SmtpSessionContext,
  account: Account,
  from: readonly string[] | null,
): Promise<string | null> {
  if (from === null) return '';
  const seen = new Set<string>();
  for (const value of from) {
    for (const a of parseAddressList(value) ?? []) {
      if (a.host === null) continue; // a group's start or end marker (RFC 5322 §3.4)
      const local = a.mailbox ?? '';
      const key = `${local}@${a.host}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (seen.size > MAX_FROM_ADDRESSES) return '';
      if (!(await ownsAddress(ctx, account, local, a.host))) return key;
    }
  }
  return null;
}
