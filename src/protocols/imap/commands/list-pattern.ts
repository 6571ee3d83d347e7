// LIST and LSUB patterns (RFC 9051 §6.3.9, RFC 3501 §6.3.8): "*" matches any run of characters,
// "%" any run without the hierarchy delimiter; everything else matches itself, case-sensitively,
// except the name INBOX, which matches in any case (RFC 9051 §5.1). Invariants:
// - no regular expression and no recursion: the pattern runs as a set of states advanced one
//   name character at a time, so the time is at most (name length) x (pattern length), whatever
//   the pattern (a hostile "*%*%*%*%*a" costs the same as "*a" once runs are collapsed);
// - a pattern with more literal characters than the longest mailbox name matches nothing.

import { MAILBOX_DELIMITER } from '../../../store/types.js';

/** Longer names cannot exist in the store (src/store/rules/mailbox-name.ts). */
const MAX_NAME = 1000;
const STAR = 0x2a;
const PERCENT = 0x25;
const DELIM = MAILBOX_DELIMITER.charCodeAt(0);

export class ListPattern {
  /** The pattern with each run of wildcards collapsed to one ("*" if the run holds any "*"). */
  readonly pattern: string;
  private readonly codes: Uint16Array;
  /** Upper-case pattern characters, for the INBOX part of a name. */
  private readonly upper: Uint16Array;
  private readonly impossible: boolean;
  private readonly wildcards: boolean;
  private cur: Uint8Array;
  private next: Uint8Array;

  constructor(pattern: string) {
    let out = '';
    let literals = 0;
    for (let i = 0; i < pattern.length;) {
      const c = pattern.charCodeAt(i);
      if (c !== STAR && c !== PERCENT) {
        out += pattern[i];
        literals++;
        i++;
        continue;
      }
      let star = false;
      while (i < pattern.length && (pattern.charCodeAt(i) === STAR || pattern.charCodeAt(i) === PERCENT)) {
        if (pattern.charCodeAt(i) === STAR) star = true;
        i++;
      }
      out += star ? '*' : '%';
    }
    this.pattern = out;
    this.impossible = literals > MAX_NAME;
    this.wildcards = out.length !== literals;
    const m = this.impossible ? 0 : out.length;
    this.codes = new Uint16Array(m);
    this.upper = new Uint16Array(m);
    const up = out.toUpperCase();
    for (let i = 0; i < m; i++) {
      this.codes[i] = out.charCodeAt(i);
      // toUpperCase keeps the length for the ASCII that matters here ("inbox"); else no folding.
      this.upper[i] = up.length === out.length ? up.charCodeAt(i) : out.charCodeAt(i);
    }
    this.cur = new Uint8Array(m + 1);
    this.next = new Uint8Array(m + 1);
  }

  /** Whether a stored mailbox name (INBOX spelled in upper case) matches. */
  matches(name: string): boolean {
    if (this.impossible || name.length > MAX_NAME) return false;
    const fold = name === 'INBOX' || name.startsWith('INBOX' + MAILBOX_DELIMITER) ? 5 : 0;
    if (!this.wildcards && fold === 0) return name === this.pattern;
    const p = this.codes;
    const m = p.length;
    let cur = this.cur;
    let next = this.next;
    cur.fill(0);
    cur[0] = 1;
    closure(p, cur);
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      next.fill(0);
      let live = false;
      for (let s = 0; s < m; s++) {
        if (cur[s] === 0) continue;
        const w = p[s]!;
        if (w === STAR || (w === PERCENT && c !== DELIM)) {
          next[s] = 1;
          live = true;
        } else if (w !== STAR && w !== PERCENT && (w === c || (i < fold && this.upper[s] === c))) {
          next[s + 1] = 1;
          live = true;
        }
      }
      if (!live) return false;
      closure(p, next);
      const t = cur;
      cur = next;
      next = t;
    }
    return cur[m] === 1;
  }
}

/** A wildcard may match nothing: a state before one also stands after it. */
function closure(p: Uint16Array, states: Uint8Array): void {
  for (let s = 0; s < p.length; s++) {
    if (states[s] === 1 && (p[s] === STAR || p[s] === PERCENT)) states[s + 1] = 1;
  }
}
