// Addresses and domain names as the store keeps them: lower-case ASCII, domain names as IDNA
// A-labels (src/mail/domain.ts, shared with the configuration and the command line), local
// parts as given but lower-cased.

import { StoreError } from '../../core/errors.js';
import { normalizeDomain as normalizeDomainName } from '../../mail/domain.js';

/** RFC 5321 §4.5.3.1.1: local part at most 64 octets. */
const MAX_LOCAL_PART = 64;

/** Validates a domain name (LDH labels, IDNA A-labels for internationalised names) and lower-cases it. */
export function normalizeDomain(name: string): string {
  if (typeof name !== 'string') throw invalid('a domain must be a string');
  const domain = normalizeDomainName(name);
  if (domain === null) throw invalid(`invalid domain ${name.slice(0, 64)}`);
  return domain;
}

/** Validates a local part: printable ASCII without space, "@", quotes, brackets or backslash. */
function validLocalPart(local: string): boolean {
  if (local.length === 0 || local.length > MAX_LOCAL_PART) return false;
  for (let i = 0; i < local.length; i++) {
    const c = local.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
    if (c === 0x40 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x28 || c === 0x29)
      return false;
    if (c === 0x2c || c === 0x3a || c === 0x3b || c === 0x5b || c === 0x5d) return false;
  }
  return true;
}

export interface ParsedAddress {
  /** Lower-case local part; '' for a catch-all source (`@domain`). */
  local: string;
  domain: string;
  address: string;
}

/** Parses `local@domain` (lower-cased). With `allowCatchAll`, `@domain` is accepted too. */
export function parseAddress(input: string, opts: { allowCatchAll?: boolean } = {}): ParsedAddress {
  if (typeof input !== 'string') throw invalid('an address must be a string');
  const at = input.lastIndexOf('@');
  if (at === -1) throw invalid(`invalid address ${input.slice(0, 64)}`);
  const local = input.slice(0, at).toLowerCase();
  const domain = normalizeDomain(input.slice(at + 1));
  if (local === '' && opts.allowCatchAll === true) return { local, domain, address: `@${domain}` };
  if (!validLocalPart(local)) throw invalid(`invalid address ${input.slice(0, 64)}`);
  return { local, domain, address: `${local}@${domain}` };
}

/** Like parseAddress but returns null instead of throwing. */
export function tryParseAddress(input: string): ParsedAddress | null {
  try {
    return parseAddress(input);
  } catch {
    return null;
  }
}

function invalid(message: string): StoreError {
  return new StoreError('INVALID_ARGUMENT', message);
}
