// Access control list rights (RFC 4314 §2.1), backend-independent. A rights set is kept as a
// string of the eleven rights "lrswipkxtea" in that canonical order; the obsolete "c" and "d"
// (RFC 4314 §2.1.1) are virtual: accepted on input, derived on output, never stored. Postern
// takes the second reading of §2.1.1 (as Dovecot does): "c" is "k" alone, "d" is "x", "t" and
// "e" together, so RIGHTS=texk (§2.2.1) names the rights RFC 2086 did not have.

import { StoreError } from '../../core/errors.js';

/** Every real right in canonical order (RFC 4314 §2.1). */
export const ALL_RIGHTS = 'lrswipkxtea';
/** RFC 4314 §2.1.1: the members of the virtual "delete" right. */
const DELETE_MEMBERS = 'xte';
/** The identifier every authenticated user matches (RFC 4314 §2). */
export const ANYONE = 'anyone';

export type RightsChange = { mode: 'replace' | 'add' | 'remove'; rights: string };

/** A rights string put in canonical order without duplicates (only real rights kept). */
export function canonicalRights(rights: string): string {
  let out = '';
  for (const r of ALL_RIGHTS) if (rights.includes(r)) out += r;
  return out;
}

/**
 * The rights a SETACL argument names (RFC 4314 §3.1): an optional "+" or "-" then rights
 * characters; "c" stands for "k" and "d" for "xte" (§2.1.1). INVALID_ARGUMENT for an unknown
 * right: §3.1 says such a SETACL must get BAD and never be half applied.
 */
export function parseRightsChange(text: string): RightsChange {
  let mode: RightsChange['mode'] = 'replace';
  let body = text;
  if (body.startsWith('+')) {
    mode = 'add';
    body = body.slice(1);
  } else if (body.startsWith('-')) {
    mode = 'remove';
    body = body.slice(1);
  }
  let expanded = '';
  for (const ch of body) {
    if (ALL_RIGHTS.includes(ch)) expanded += ch;
    else if (ch === 'c') expanded += 'k';
    else if (ch === 'd') expanded += DELETE_MEMBERS;
    else throw new StoreError('INVALID_ARGUMENT', `unknown right ${JSON.stringify(ch.slice(0, 4))}`);
  }
  return { mode, rights: canonicalRights(expanded) };
}

/** The rights after a change. */
export function applyRightsChange(current: string, change: RightsChange): string {
  if (change.mode === 'replace') return change.rights;
  if (change.mode === 'add') return canonicalRights(current + change.rights);
  let out = '';
  for (const r of current) if (!change.rights.includes(r)) out += r;
  return out;
}

/** The rights as ACL and MYRIGHTS responses show them: with "c" and "d" (RFC 4314 §2.1.1). */
export function rightsForWire(rights: string): string {
  let out = canonicalRights(rights);
  if (out.includes('k')) out += 'c';
  if ([...DELETE_MEMBERS].some((r) => out.includes(r))) out += 'd';
  return out;
}

/** Whether `rights` holds the right `r` (one real right). */
export function hasRight(rights: string, r: string): boolean {
  return rights.includes(r);
}

/** The union of rights sets (a user's own entry and "anyone", RFC 4314 §2). */
export function unionRights(...sets: string[]): string {
  return canonicalRights(sets.join(''));
}

/**
 * An ACL identifier as stored: "anyone", or an account address in its normal form. Negative
 * rights ("-name", RFC 4314 §2) are not supported. Null when the identifier is neither.
 */
export function normalizeIdentifier(identifier: string): string | null {
  if (identifier.toLowerCase() === ANYONE) return ANYONE;
  if (identifier.startsWith('-')) return null;
  const at = identifier.lastIndexOf('@');
  if (at <= 0 || at === identifier.length - 1 || identifier.length > 320) return null;
  for (const ch of identifier) if (ch <= ' ' || ch === '\u007f') return null;
  return identifier.toLowerCase();
}
