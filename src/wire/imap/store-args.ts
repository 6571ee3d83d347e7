// STORE arguments into a typed flag update (RFC 9051 §6.4.6 and §9 store-att-flags, flag;
// RFC 7162 §3.1.3 UNCHANGEDSINCE).
// Invariants:
// - The number of flags and the length of a keyword are bounded; a longer list is a
//   StoreArgsError (a BAD), never a silently truncated update.
// - System flags come out in their canonical spelling (`\Seen`); keywords exactly as sent.
//   \Recent (RFC 9051 §2.3.2: the server sets it) and `\*` (a PERMANENTFLAGS marker) are refused.
// - Flags are plain strings in an array; callers key Maps with them, never objects.

import type { ImapToken } from './reader.js';
import { FetchParseError, modSequence } from './fetch.js';

export class StoreArgsError extends Error {}

export interface StoreArgs {
  mode: 'add' | 'remove' | 'replace';
  /** `.SILENT`: no untagged FETCH for the changes (RFC 9051 §6.4.6). */
  silent: boolean;
  /** Each flag once (system flags compared case-insensitively, keywords too: RFC 9051 §2.3.2). */
  flags: string[];
  /** RFC 7162 §3.1.3 UNCHANGEDSINCE, when given. */
  unchangedSince?: bigint;
}

export interface StoreArgsOptions {
  /** Most flags in one STORE (default 64). */
  maxFlags?: number;
  /** Longest keyword in bytes (default 255). */
  maxKeywordLength?: number;
}

const SYSTEM = new Map<string, string>([
  ['\\ANSWERED', '\\Answered'],
  ['\\FLAGGED', '\\Flagged'],
  ['\\DELETED', '\\Deleted'],
  ['\\SEEN', '\\Seen'],
  ['\\DRAFT', '\\Draft'],
]);

const MODES = new Map<string, { mode: StoreArgs['mode']; silent: boolean }>([
  ['FLAGS', { mode: 'replace', silent: false }],
  ['FLAGS.SILENT', { mode: 'replace', silent: true }],
  ['+FLAGS', { mode: 'add', silent: false }],
  ['+FLAGS.SILENT', { mode: 'add', silent: true }],
  ['-FLAGS', { mode: 'remove', silent: false }],
  ['-FLAGS.SILENT', { mode: 'remove', silent: true }],
]);

/** Parses the STORE arguments after the sequence set. Throws StoreArgsError. */
export function parseStoreArgs(tokens: readonly ImapToken[], opts: StoreArgsOptions = {}): StoreArgs {
  const maxFlags = opts.maxFlags ?? 64;
  const maxKeywordLength = opts.maxKeywordLength ?? 255;
  let i = 0;
  let unchangedSince: bigint | undefined;
  const first = tokens[0];
  if (first?.kind === 'list') {
    // RFC 7162 §3.1.3: store-modifier list; UNCHANGEDSINCE takes mod-sequence-valzer.
    const m = first.items;
    for (let j = 0; j < m.length; j++) {
      const t = m[j]!;
      if (t.kind !== 'atom' || t.value.toUpperCase() !== 'UNCHANGEDSINCE' || unchangedSince !== undefined) {
        throw new StoreArgsError('invalid STORE modifier');
      }
      try {
        unchangedSince = modSequence(m[++j], { zero: true });
      } catch (err) {
        if (err instanceof FetchParseError) throw new StoreArgsError(err.message);
        throw err;
      }
    }
    if (unchangedSince === undefined) throw new StoreArgsError('invalid STORE modifier');
    i = 1;
  }
  const item = tokens[i];
  const how = item?.kind === 'atom' ? MODES.get(item.value.toUpperCase()) : undefined;
  if (how === undefined) throw new StoreArgsError('expected FLAGS, +FLAGS or -FLAGS');
  const rest = tokens.slice(i + 1);
  let flagTokens: readonly ImapToken[];
  if (rest.length === 1 && rest[0]!.kind === 'list') flagTokens = rest[0]!.items;
  else if (rest.length === 0) throw new StoreArgsError('missing flags');
  else flagTokens = rest;
  if (flagTokens.length > maxFlags) throw new StoreArgsError('too many flags');

  const flags: string[] = [];
  const have = new Set<string>();
  for (const t of flagTokens) {
    // The reader makes an atom spelled NIL a nil token; as a flag it is the keyword NIL.
    if (t.kind !== 'atom' && t.kind !== 'nil') throw new StoreArgsError('invalid flag');
    const flag = parseFlag(t.kind === 'nil' ? 'NIL' : t.value, maxKeywordLength);
    const key = flag.toUpperCase();
    if (have.has(key)) continue;
    have.add(key);
    flags.push(flag);
  }
  const out: StoreArgs = { mode: how.mode, silent: how.silent, flags };
  if (unchangedSince !== undefined) out.unchangedSince = unchangedSince;
  return out;
}

/** RFC 9051 §9 flag = system flag / flag-keyword (an atom). */
function parseFlag(text: string, maxKeywordLength: number): string {
  if (text.charCodeAt(0) === 0x5c) {
    const upper = text.toUpperCase();
    const system = SYSTEM.get(upper);
    if (system !== undefined) return system;
    if (upper === '\\RECENT') throw new StoreArgsError('\\Recent cannot be stored');
    if (upper === '\\*') throw new StoreArgsError('\\* is not a flag');
    throw new StoreArgsError(`unknown system flag ${text.length > 40 ? text.slice(0, 40) : text}`);
  }
  if (text.length > maxKeywordLength) throw new StoreArgsError('keyword too long');
  for (let i = 0; i < text.length; i++) {
    if (!isAtomChar(text.charCodeAt(i))) throw new StoreArgsError('invalid keyword');
  }
  return text;
}

/** RFC 9051 §9 ATOM-CHAR: any CHAR except atom-specials ( ) { SP CTL % * " \ ]. */
function isAtomChar(c: number): boolean {
  return (
    c > 0x20 &&
    c < 0x7f &&
    c !== 0x28 &&
    c !== 0x29 &&
    c !== 0x7b &&
    c !== 0x25 &&
    c !== 0x2a &&
    c !== 0x22 &&
    c !== 0x5c &&
    c !== 0x5d
  );
}
