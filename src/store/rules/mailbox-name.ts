// Mailbox names as every backend keeps them: full names with MAILBOX_DELIMITER ("/"),
// case-sensitive, except that any case of "INBOX" (also as the first level, "inbox/x") is
// spelled INBOX (RFC 9051 §5.1: INBOX is case-insensitive). Names are UTF-8 text here; the IMAP
// layer converts from modified UTF-7 or UTF-8 before calling the store. The one rule set: the
// store refuses what mailboxNameProblem() names, and IMAP words its NO [CANNOT] with it
// (noSuchMailbox in src/protocols/imap/mailbox-name.ts).

import { StoreError } from '../../core/errors.js';
import { MAILBOX_DELIMITER } from '../types.js';

/** Longest mailbox name accepted, in UTF-16 code units. */
export const MAX_MAILBOX_NAME_LENGTH = 1000;
/** Deepest hierarchy accepted. */
export const MAX_MAILBOX_DEPTH = 32;

export const INBOX = 'INBOX';

/**
 * Why a name can never be a mailbox, or null when it can: empty names or levels ("a//b", "/a",
 * "a/"), "." and ".." levels, control characters, the LIST wildcards "*" and "%" (RFC 9051
 * §6.3.9), lone surrogates, overly long or deep names. The reason is lower-case prose.
 */
export function mailboxNameProblem(name: string): string | null {
  const checked = check(name);
  return typeof checked === 'string' ? checked : null;
}

/** Validates a mailbox name and returns its stored spelling; INVALID_NAME names the problem. */
export function normalizeMailboxName(name: string): string {
  const levels = check(name);
  if (typeof levels === 'string') throw new StoreError('INVALID_NAME', levels);
  if (levels[0].toUpperCase() === INBOX) levels[0] = INBOX;
  return levels.join(MAILBOX_DELIMITER);
}

/** The problem with a name, or its levels. */
function check(name: string): string | string[] {
  if (typeof name !== 'string' || name.length === 0) return 'empty mailbox name';
  if (name.length > MAX_MAILBOX_NAME_LENGTH) return 'mailbox name too long';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) return 'control character in mailbox name';
    if (c === 0x2a || c === 0x25) return 'wildcard in mailbox name';
    // Lone surrogates cannot be stored as UTF-8.
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = name.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return 'invalid UTF-16 in mailbox name';
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return 'invalid UTF-16 in mailbox name';
    }
  }
  const levels = name.split(MAILBOX_DELIMITER);
  if (levels.length > MAX_MAILBOX_DEPTH) return 'mailbox hierarchy too deep';
  for (const level of levels) {
    if (level.length === 0) return 'empty level in mailbox name';
    if (level === '.' || level === '..') return '"." or ".." level in mailbox name';
  }
  return levels;
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

/** RFC 9051 §6.3.6: a mailbox cannot become its own inferior (INBOX can: its messages move). */
export function checkMailboxRename(from: string, to: string): void {
  if (from !== INBOX && isInferiorOf(to, from)) {
    throw new StoreError('INVALID_NAME', 'a mailbox cannot be renamed into itself');
  }
}

/** RFC 9051 §6.3.5: INBOX cannot be deleted. */
export function checkMailboxDeletable(name: string): void {
  if (name === INBOX) throw new StoreError('CANNOT_DELETE_INBOX', 'INBOX cannot be deleted');
}
