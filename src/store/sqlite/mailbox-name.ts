// Mailbox names as the store keeps them: full names with MAILBOX_DELIMITER ("/"), case-sensitive,
// except that any case of "INBOX" (also as the first level, "inbox/x") is spelled INBOX
// (RFC 9051 §5.1: INBOX is case-insensitive). Names are UTF-8 text here; the IMAP layer converts
// from modified UTF-7 or UTF-8 before calling the store.

import { StoreError } from '../../core/errors.js';
import { MAILBOX_DELIMITER } from '../types.js';

/** Longest mailbox name accepted, in UTF-16 code units. */
export const MAX_MAILBOX_NAME_LENGTH = 1000;
/** Deepest hierarchy accepted. */
export const MAX_MAILBOX_DEPTH = 32;

export const INBOX = 'INBOX';

/**
 * Validates a mailbox name and returns its stored spelling. Refused with INVALID_NAME: empty
 * names or levels ("a//b", "/a", "a/"), "." and ".." levels, control characters, the LIST
 * wildcards "*" and "%" (RFC 9051 §6.3.9), overly long or deep names.
 */
export function normalizeMailboxName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw invalid('empty mailbox name');
  if (name.length > MAX_MAILBOX_NAME_LENGTH) throw invalid('mailbox name too long');
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) throw invalid('control character in mailbox name');
    if (c === 0x2a || c === 0x25) throw invalid('wildcard in mailbox name');
    // Lone surrogates cannot be stored as UTF-8.
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = name.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) throw invalid('invalid UTF-16 in mailbox name');
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      throw invalid('invalid UTF-16 in mailbox name');
    }
  }
  const levels = name.split(MAILBOX_DELIMITER);
  if (levels.length > MAX_MAILBOX_DEPTH) throw invalid('mailbox hierarchy too deep');
  for (const level of levels) {
    if (level.length === 0) throw invalid('empty level in mailbox name');
    if (level === '.' || level === '..') throw invalid('"." or ".." level in mailbox name');
  }
  if (levels[0].toUpperCase() === INBOX) levels[0] = INBOX;
  return levels.join(MAILBOX_DELIMITER);
}

/** The names of every superior level of a (normalised) name, outermost first: "a/b/c" -> ["a", "a/b"]. */
export function parentNames(name: string): string[] {
  const out: string[] = [];
  let at = name.indexOf(MAILBOX_DELIMITER);
  while (at !== -1) {
    out.push(name.slice(0, at));
    at = name.indexOf(MAILBOX_DELIMITER, at + 1);
  }
  return out;
}

/** Whether `name` is a strict inferior of `parent`. */
export function isInferiorOf(name: string, parent: string): boolean {
  return name.length > parent.length + 1 && name.startsWith(parent + MAILBOX_DELIMITER);
}

function invalid(message: string): StoreError {
  return new StoreError('INVALID_NAME', message);
}
