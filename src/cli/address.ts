// Mail addresses as the command line accepts them: local@domain with a dot-atom local part
// (RFC 5322 §3.4.1, §3.2.3), at most 64 octets (RFC 5321 §4.5.3.1.1), stored lower-case;
// the domain an LDH name (IDNA A-label for internationalised names).

import { UsageError } from '../core/errors.js';
import { normalizeDomain } from '../mail/domain.js';
import { PUBLIC_OWNER_LOCAL } from '../store/rules/public-owner.js';

const ATEXT_SPECIALS = "!#$%&'*+-/=?^_`{|}~";

function isAtext(c: string): boolean {
  const code = c.charCodeAt(0);
  return (
    (code >= 97 && code <= 122) ||
    (code >= 65 && code <= 90) ||
    (code >= 48 && code <= 57) ||
    ATEXT_SPECIALS.includes(c)
  );
}

export function isDotAtom(local: string): boolean {
  if (local.length === 0 || local.length > 64) return false;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  for (const c of local) if (c !== '.' && !isAtext(c)) return false;
  return true;
}

export interface ParsedAddress {
  local: string;
  domain: string;
  address: string;
}

/**
 * `allowPublicOwner` also accepts a domain's public-folder owner (".shared@domain",
 * store/rules/public-owner.ts), which is no dot-atom: for the commands that may name it (quota).
 */
export function parseAddress(input: string, opts: { allowPublicOwner?: boolean } = {}): ParsedAddress {
  const at = input.lastIndexOf('@');
  if (at <= 0 || at === input.length - 1) {
    throw new UsageError(`not a valid address: ${JSON.stringify(input)} (expected local@domain)`);
  }
  const local = input.slice(0, at).toLowerCase();
  const publicOwner = opts.allowPublicOwner === true && local === PUBLIC_OWNER_LOCAL;
  if (!publicOwner && !isDotAtom(local))
    throw new UsageError(`not a valid address: ${JSON.stringify(input)} (bad local part)`);
  const domain = parseDomain(input.slice(at + 1));
  return { local, domain, address: `${local}@${domain}` };
}

export function parseDomain(input: string): string {
  const domain = normalizeDomain(input);
  if (domain === null) {
    throw new UsageError(
      `not a valid domain name: ${JSON.stringify(input)} (letters, digits and hyphens in dot-separated labels)`,
    );
  }
  return domain;
}
