// IMAP flags as the store keeps them: the five system flags as a bitmask, keywords as a
// space-separated string (a keyword is an atom, so it never contains a space).
// RFC 9051 §2.3.2: system flags begin with "\" and are case-insensitive; \Recent is not stored
// (the store tracks it per mailbox, see claimRecent). Keywords compare case-insensitively
// (like Dovecot) but keep the spelling they were first stored with.

import { StoreError } from '../../core/errors.js';
import { SYSTEM_FLAGS, type FlagUpdate, type SystemFlag } from '../types.js';
import { isCount } from './count.js';

export const FLAG_SEEN = 1;
export const FLAG_ANSWERED = 2;
export const FLAG_FLAGGED = 4;
export const FLAG_DELETED = 8;
export const FLAG_DRAFT = 16;

/** Longest keyword accepted, in characters. */
export const MAX_KEYWORD_LENGTH = 200;
/** Most keywords one message may carry. */
export const MAX_KEYWORDS_PER_MESSAGE = 100;

const BIT_OF: ReadonlyMap<string, number> = new Map(SYSTEM_FLAGS.map((f, i) => [f.toLowerCase(), 1 << i]));

/** For every bitmask 0..31 the canonical system flags it stands for, in SYSTEM_FLAGS order. */
const SYSTEM_BY_BITS: ReadonlyArray<readonly string[]> = Array.from(
  { length: 32 },
  (_, bits): readonly SystemFlag[] => Object.freeze(SYSTEM_FLAGS.filter((_f, i) => (bits & (1 << i)) !== 0)),
);

/** A parsed flag list: system flags as bits, keywords deduplicated (first spelling wins). */
export interface ParsedFlags {
  bits: number;
  keywords: string[];
}

// RFC 9051 §9: atom-specials = "(" / ")" / "{" / SP / CTL / "%" / "*" / DQUOTE / "\" / "]";
// an ATOM-CHAR is any other 7-bit CHAR.
function isAtomChar(code: number): boolean {
  if (code <= 0x20 || code >= 0x7f) return false;
  switch (code) {
    case 0x28: // (
    case 0x29: // )
    case 0x7b: // {
    case 0x25: // %
    case 0x2a: // *
    case 0x22: // "
    case 0x5c: // \
    case 0x5d: // ]
      return false;
    default:
      return true;
  }
}

export function isValidKeyword(keyword: string): boolean {
  if (keyword.length === 0 || keyword.length > MAX_KEYWORD_LENGTH) return false;
  for (let i = 0; i < keyword.length; i++) {
    if (!isAtomChar(keyword.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * Validates and normalises a flag list from a client. Unknown "\" flags and keywords that are
 * not atoms are refused with INVALID_ARGUMENT; \Recent is dropped (it cannot be set, RFC 3501 §2.3.2).
 */
export function parseFlags(flags: readonly string[]): ParsedFlags {
  let bits = 0;
  const keywords: string[] = [];
  const seen = new Set<string>();
  for (const flag of flags) {
    if (typeof flag !== 'string') throw new StoreError('INVALID_ARGUMENT', 'a flag must be a string');
    if (flag.startsWith('\\')) {
      const lower = flag.toLowerCase();
      if (lower === '\\recent') continue;
      const bit = BIT_OF.get(lower);
      if (bit === undefined)
        throw new StoreError('INVALID_ARGUMENT', `unknown system flag ${flag.slice(0, 64)}`);
      bits |= bit;
      continue;
    }
    if (!isValidKeyword(flag)) throw new StoreError('INVALID_ARGUMENT', 'a keyword must be an IMAP atom');
    const key = flag.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    keywords.push(flag);
    if (keywords.length > MAX_KEYWORDS_PER_MESSAGE) {
      throw new StoreError('INVALID_ARGUMENT', `more than ${MAX_KEYWORDS_PER_MESSAGE} keywords`);
    }
  }
  return { bits, keywords };
}

/** The stored form of a keyword list (null when empty). */
export function encodeKeywords(keywords: readonly string[]): string | null {
  return keywords.length === 0 ? null : keywords.join(' ');
}

export function decodeKeywords(stored: string | null): string[] {
  return stored === null || stored === '' ? [] : stored.split(' ');
}

/** The flag list of a message: system flags then keywords. Cheap: one table look-up and a concat. */
export function flagList(bits: number, keywords: string | null): string[] {
  const system = SYSTEM_BY_BITS[bits & 31];
  return keywords === null || keywords === '' ? system.slice() : system.concat(keywords.split(' '));
}

/** Applies a STORE to (bits, keywords); returns the new state. */
export function applyFlagUpdate(
  current: ParsedFlags,
  mode: 'add' | 'remove' | 'replace',
  update: ParsedFlags,
): ParsedFlags {
  switch (mode) {
    case 'replace':
      return { bits: update.bits, keywords: update.keywords.slice() };
    case 'add': {
      const have = new Set(current.keywords.map((k) => k.toLowerCase()));
      const keywords = current.keywords.slice();
      for (const k of update.keywords) {
        if (!have.has(k.toLowerCase())) {
          have.add(k.toLowerCase());
          keywords.push(k);
        }
      }
      if (keywords.length > MAX_KEYWORDS_PER_MESSAGE) {
        throw new StoreError('INVALID_ARGUMENT', `more than ${MAX_KEYWORDS_PER_MESSAGE} keywords`);
      }
      return { bits: current.bits | update.bits, keywords };
    }
    case 'remove': {
      const drop = new Set(update.keywords.map((k) => k.toLowerCase()));
      return {
        bits: current.bits & ~update.bits,
        keywords: current.keywords.filter((k) => !drop.has(k.toLowerCase())),
      };
    }
  }
}

/** Same system flags and the same keywords (compared case-insensitively, in any order). */
export function sameFlags(a: ParsedFlags, b: ParsedFlags): boolean {
  if (a.bits !== b.bits || a.keywords.length !== b.keywords.length) return false;
  if (a.keywords.length === 0) return true;
  const have = new Set(a.keywords.map((k) => k.toLowerCase()));
  return b.keywords.every((k) => have.has(k.toLowerCase()));
}

/** 1 when `bits` holds `flag`, else 0: what a message adds to a mailbox counter (unseen, deleted). */
export function flagCount(bits: number, flag: number): number {
  return (bits & flag) !== 0 ? 1 : 0;
}

/** Validates a STORE (mode, CONDSTORE UNCHANGEDSINCE) and returns its parsed flags. */
export function parseFlagUpdate(update: FlagUpdate): ParsedFlags {
  if (update.mode !== 'add' && update.mode !== 'remove' && update.mode !== 'replace') {
    throw new StoreError('INVALID_ARGUMENT', 'unknown flag mode');
  }
  if (update.unchangedSince !== undefined && !isCount(update.unchangedSince)) {
    throw new StoreError('INVALID_ARGUMENT', 'unchangedSince must be a non-negative integer');
  }
  return parseFlags(update.flags);
}
