// Entry names of IMAP METADATA (RFC 5464 §3.2) and the server entries Postern provides.
// Invariants:
// - a valid name starts with /private/ or /shared/ (§3.2: every entry is in one of the two),
//   has no "*" or "%" (they would be LIST-like wildcards), no "//", no trailing "/", no control
//   character, is valid UTF-8, and is at most MAX_ENTRY_LENGTH characters;
// - names compare without case (§3.2): they are kept and answered in lower case;
// - the bare prefixes /private and /shared name no entry; GETMETADATA takes them as roots
//   whose descendants DEPTH reaches, SETMETADATA refuses them.

import { atom, type ImapData } from '../../wire/imap/encoder.js';
import type { ImapToken } from '../../wire/imap/reader.js';
import { ImapBad } from './errors.js';

/** Longest entry name accepted (the RFC sets none; a bound keeps a command's cost bounded). */
export const MAX_ENTRY_LENGTH = 1024;

export const PREFIXES = ['/private', '/shared'] as const;

/** A checked, lower-cased entry name; `root` for a bare /private or /shared. */
export interface EntryName {
  name: string;
  root: boolean;
}

/** Why `name` is not an entry name, or null when it is one (not yet lower-cased). */
export function entryNameProblem(name: string): string | null {
  if (name.length === 0) return 'empty entry name';
  if (name.length > MAX_ENTRY_LENGTH) return 'entry name too long';
  if (name.includes('\uFFFD')) return 'entry name is not UTF-8';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return 'control character in entry name';
    if (c === 0x2a || c === 0x25) return '"*" and "%" are not allowed in entry names';
  }
  if (name.includes('//')) return 'empty level ("//") in entry name';
  if (name.endsWith('/')) return 'entry name ends with "/"';
  const lower = name.toLowerCase();
  if (!PREFIXES.some((p) => lower === p || lower.startsWith(`${p}/`))) {
    return 'entry names start with /private or /shared';
  }
  return null;
}

/** The entry name of an argument, or BAD (RFC 5464 §3.2: invalid names are a syntax error). */
export function entryArg(token: ImapToken | undefined): EntryName {
  let text: string | null = null;
  if (token?.kind === 'atom') text = token.value;
  else if (token?.kind === 'string' && token.form !== 'literal8') text = token.value.toString('utf8');
  if (text === null) throw new ImapBad('Entry name expected');
  const problem = entryNameProblem(text);
  if (problem !== null) throw new ImapBad(`Invalid entry name: ${problem}`);
  const name = text.toLowerCase();
  return { name, root: (PREFIXES as readonly string[]).includes(name) };
}

/** Whether `name` is `root` or below it, down to `depth` levels (Infinity: any). */
export function withinDepth(root: string, name: string, depth: number): boolean {
  if (name === root) return true;
  if (!name.startsWith(`${root}/`)) return false;
  if (depth === Infinity) return true;
  let levels = 0;
  for (let i = root.length; i < name.length; i++) if (name.charCodeAt(i) === 0x2f) levels++;
  return levels <= depth;
}

/** An entry name in a response: an atom when it can be one, else a string. */
export function entryData(name: string): ImapData {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    // RFC 9051 §9 ASTRING-CHAR (no "(", ")", "{", SP, CTL, "%", "*", '"', "\"; 7-bit only).
    if (c <= 0x20 || c >= 0x7f || c === 0x28 || c === 0x29 || c === 0x7b || c === 0x22 || c === 0x5c) {
      return name;
    }
  }
  return atom(name);
}

/**
 * RFC 5464 §3.2.1.1: the server entry /shared/admin, a URI for the administrator. Provided by
 * the server, read only for users (SETMETADATA of it is NO [NOPERM]).
 */
export const ADMIN_ENTRY = '/shared/admin';

/** The administrator's address as /shared/admin gives it: postmaster of the server's hostname (RFC 5321 §4.5.1). */
export function adminContact(hostname: string): string {
  return `mailto:postmaster@${hostname}`;
}
