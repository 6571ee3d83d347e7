// SEARCH arguments into a typed tree (RFC 9051 §6.4.4 and §9 search-key; RFC 3501 §6.4.4;
// RFC 4731 / RFC 9051 search-return-opts; RFC 5182 SAVE and `$`; RFC 7162 §3.1.5 MODSEQ).
// Invariants:
// - Nesting (parentheses, NOT, OR) is bounded by maxDepth; deeper input is a SearchError, never
//   a stack overflow. The number of keys is already bounded by the reader's token limit.
// - String values stay bytes: CHARSET is reported, decoding is the caller's (RFC 9051 §6.4.4).
// - Header field names and keywords are plain strings; callers key Maps with them, never objects.

import type { ImapToken } from './reader.js';
import { SequenceSetError, parseSequenceSet, type SequenceSetSpec } from './sequence-set.js';

export class SearchError extends Error {}

export type SystemFlag = '\\Answered' | '\\Deleted' | '\\Draft' | '\\Flagged' | '\\Seen';

/** A calendar date (RFC 9051 §9 date); time and zone are ignored by SEARCH. */
export interface SearchDate {
  year: number;
  month: number;
  day: number;
}

export type SearchKey =
  | { kind: 'all' }
  | { kind: 'flag'; flag: SystemFlag; set: boolean }
  | { kind: 'keyword'; keyword: string; set: boolean }
  /** RFC 3501 only: \Recent (NEW is RECENT UNSEEN, OLD is NOT RECENT: expanded by the parser). */
  | { kind: 'recent' }
  /** BCC, CC, FROM, SUBJECT, TO are header searches on that field. */
  | { kind: 'header'; field: string; value: Buffer }
  | { kind: 'body'; value: Buffer }
  | { kind: 'text'; value: Buffer }
  /** `saved`: RFC 8514 SAVEDBEFORE/SAVEDON/SAVEDSINCE. */
  | { kind: 'date'; field: 'internal' | 'sent' | 'saved'; op: 'before' | 'on' | 'since'; date: SearchDate }
  /** RFC 8474 §6: SEARCH EMAILID / THREADID objectid. */
  | { kind: 'objectId'; field: 'email' | 'thread'; id: string }
  | { kind: 'size'; op: 'larger' | 'smaller'; size: number }
  /** RFC 5032 WITHIN: internal date within (younger) or beyond (older) `seconds` before now. */
  | { kind: 'age'; op: 'younger' | 'older'; seconds: number }
  | { kind: 'uid'; set: SequenceSetSpec }
  | { kind: 'seq'; set: SequenceSetSpec }
  | { kind: 'modseq'; modseq: bigint; entry: { name: string; type: 'priv' | 'shared' | 'all' } | null }
  | { kind: 'not'; key: SearchKey }
  | { kind: 'or'; left: SearchKey; right: SearchKey }
  | { kind: 'and'; keys: SearchKey[] };

export type ReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';

export interface SearchProgram {
  /** RETURN (...) options, or null without RETURN (a plain SEARCH response). */
  returnOptions: ReturnOption[] | null;
  /** The CHARSET argument, upper-cased, or null. */
  charset: string | null;
  /** The criteria; several top-level keys are an 'and'. */
  criteria: SearchKey;
}

export interface SearchOptions {
  /** Deepest nesting of parentheses, NOT and OR (default 32). */
  maxDepth?: number;
}

const FLAG_KEYS = new Map<string, { flag: SystemFlag; set: boolean }>([
  ['ANSWERED', { flag: '\\Answered', set: true }],
  ['DELETED', { flag: '\\Deleted', set: true }],
  ['DRAFT', { flag: '\\Draft', set: true }],
  ['FLAGGED', { flag: '\\Flagged', set: true }],
  ['SEEN', { flag: '\\Seen', set: true }],
  ['UNANSWERED', { flag: '\\Answered', set: false }],
  ['UNDELETED', { flag: '\\Deleted', set: false }],
  ['UNDRAFT', { flag: '\\Draft', set: false }],
  ['UNFLAGGED', { flag: '\\Flagged', set: false }],
  ['UNSEEN', { flag: '\\Seen', set: false }],
]);

const HEADER_KEYS = new Map<string, string>([
  ['BCC', 'Bcc'],
  ['CC', 'Cc'],
  ['FROM', 'From'],
  ['SUBJECT', 'Subject'],
  ['TO', 'To'],
]);

const DATE_KEYS = new Map<string, { field: 'internal' | 'sent' | 'saved'; op: 'before' | 'on' | 'since' }>([
  ['BEFORE', { field: 'internal', op: 'before' }],
  ['ON', { field: 'internal', op: 'on' }],
  ['SINCE', { field: 'internal', op: 'since' }],
  ['SENTBEFORE', { field: 'sent', op: 'before' }],
  ['SENTON', { field: 'sent', op: 'on' }],
  ['SENTSINCE', { field: 'sent', op: 'since' }],
  ['SAVEDBEFORE', { field: 'saved', op: 'before' }],
  ['SAVEDON', { field: 'saved', op: 'on' }],
  ['SAVEDSINCE', { field: 'saved', op: 'since' }],
]);

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const RETURN_OPTIONS: readonly ReturnOption[] = ['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE'];

/** Parses the arguments of SEARCH (or UID SEARCH). Throws SearchError. */
export function parseSearch(args: readonly ImapToken[], opts: SearchOptions = {}): SearchProgram {
  const p = new Parser(args, opts.maxDepth ?? 32);
  return p.program();
}

/** Parses an RFC 9051 §9 date-text, `1-Feb-1994` (day of 1 or 2 digits). */
export function parseSearchDate(text: string): SearchDate | null {
  const a = text.indexOf('-');
  const b = text.indexOf('-', a + 1);
  if (a < 1 || a > 2 || b !== a + 4 || text.length !== b + 5) return null;
  const day = digits(text, 0, a);
  const month = MONTHS.indexOf(text.slice(a + 1, b).toUpperCase()) + 1;
  const year = digits(text, b + 1, text.length);
  if (day === null || year === null || month === 0 || day < 1) return null;
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > last) return null;
  return { year, month, day };
}

function digits(s: string, start: number, end: number): number | null {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
    n = n * 10 + c - 0x30;
  }
  return n;
}

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: readonly ImapToken[],
    private readonly maxDepth: number,
  ) {}

  program(): SearchProgram {
    let returnOptions: ReturnOption[] | null = null;
    let charset: string | null = null;
    if (this.peekAtom() === 'RETURN') {
      this.pos++;
      const list = this.tokens[this.pos++];
      if (list?.kind !== 'list') throw new SearchError('RETURN needs a list of options');
      returnOptions = [];
      for (const t of list.items) {
        const name = t.kind === 'atom' ? t.value.toUpperCase() : '';
        const opt = RETURN_OPTIONS.find((o) => o === name);
        if (opt === undefined) throw new SearchError('unknown RETURN option');
        if (!returnOptions.includes(opt)) returnOptions.push(opt);
      }
      // RFC 4731 §3.1: RETURN () means RETURN (ALL).
      if (returnOptions.length === 0) returnOptions.push('ALL');
    }
    if (this.peekAtom() === 'CHARSET') {
      this.pos++;
      charset = this.astring('CHARSET').toString('latin1').toUpperCase();
    }
    if (this.pos >= this.tokens.length) throw new SearchError('missing search criteria');
    const keys: SearchKey[] = [];
    while (this.pos < this.tokens.length) keys.push(this.key(0));
    return { returnOptions, charset, criteria: keys.length === 1 ? keys[0]! : { kind: 'and', keys } };
  }

  private peekAtom(): string | null {
    const t = this.tokens[this.pos];
    return t?.kind === 'atom' ? t.value.toUpperCase() : null;
  }

  private key(depth: number): SearchKey {
    if (depth > this.maxDepth) throw new SearchError('search criteria nested too deeply');
    const t = this.tokens[this.pos++];
    if (t === undefined) throw new SearchError('missing search key');
    if (t.kind === 'list') {
      if (t.items.length === 0) throw new SearchError('empty parenthesised search key');
      const sub = new Parser(t.items, this.maxDepth);
      const keys: SearchKey[] = [];
      while (sub.pos < t.items.length) keys.push(sub.key(depth + 1));
      return keys.length === 1 ? keys[0]! : { kind: 'and', keys };
    }
    if (t.kind !== 'atom') throw new SearchError('search key expected');
    const name = t.value.toUpperCase();
    const flag = FLAG_KEYS.get(name);
    if (flag !== undefined) return { kind: 'flag', ...flag };
    const header = HEADER_KEYS.get(name);
    if (header !== undefined) return { kind: 'header', field: header, value: this.astring(name) };
    const date = DATE_KEYS.get(name);
    if (date !== undefined) return { kind: 'date', ...date, date: this.date(name) };
    switch (name) {
      case 'ALL':
        return { kind: 'all' };
      case 'RECENT':
        return { kind: 'recent' };
      case 'NEW':
        return { kind: 'and', keys: [{ kind: 'recent' }, { kind: 'flag', flag: '\\Seen', set: false }] };
      case 'OLD':
        return { kind: 'not', key: { kind: 'recent' } };
      case 'BODY':
        return { kind: 'body', value: this.astring(name) };
      case 'TEXT':
        return { kind: 'text', value: this.astring(name) };
      case 'HEADER': {
        const field = this.astring(name).toString('latin1');
        return { kind: 'header', field, value: this.astring(name) };
      }
      case 'KEYWORD':
      case 'UNKEYWORD':
        return { kind: 'keyword', keyword: this.atomArg(name), set: name === 'KEYWORD' };
      case 'LARGER':
      case 'SMALLER':
        return { kind: 'size', op: name === 'LARGER' ? 'larger' : 'smaller', size: this.number(name) };
      case 'SAVEDATESUPPORTED':
        // RFC 8514 §4.2: every mailbox keeps save dates.
        return { kind: 'all' };
      case 'EMAILID':
      case 'THREADID': {
        // RFC 8474 §9: objectid = 1*255(ALPHA / DIGIT / "_" / "-").
        const id = this.atomArg(name);
        if (id.length === 0 || id.length > 255 || !/^[A-Za-z0-9_-]+$/.test(id))
          throw new SearchError(`${name} needs an object id`);
        return { kind: 'objectId', field: name === 'EMAILID' ? 'email' : 'thread', id };
      }
      case 'OLDER':
      case 'YOUNGER': {
        // RFC 5032 §4: "OLDER" SP nz-number / "YOUNGER" SP nz-number.
        const seconds = this.number(name);
        if (seconds === 0) throw new SearchError(`${name} needs a non-zero number`);
        return { kind: 'age', op: name === 'OLDER' ? 'older' : 'younger', seconds };
      }
      case 'UID':
        return { kind: 'uid', set: this.sequenceSet(this.atomArg(name)) };
      case 'NOT':
        return { kind: 'not', key: this.key(depth + 1) };
      case 'OR': {
        const left = this.key(depth + 1);
        return { kind: 'or', left, right: this.key(depth + 1) };
      }
      case 'MODSEQ':
        return this.modseq();
    }
    const c = name.charCodeAt(0);
    if ((c >= 0x30 && c <= 0x39) || c === 0x2a || c === 0x24)
      return { kind: 'seq', set: this.sequenceSet(name) };
    throw new SearchError(`unknown search key ${name.slice(0, 40)}`);
  }

  private sequenceSet(text: string): SequenceSetSpec {
    try {
      return parseSequenceSet(text);
    } catch (err) {
      if (err instanceof SequenceSetError) throw new SearchError(err.message);
      throw err;
    }
  }

  private astring(key: string): Buffer {
    const t = this.tokens[this.pos++];
    if (t?.kind === 'string') return t.value;
    if (t?.kind === 'atom') return Buffer.from(t.value, 'latin1');
    if (t?.kind === 'nil') return Buffer.from('NIL');
    throw new SearchError(`${key} needs a string`);
  }

  private atomArg(key: string): string {
    const t = this.tokens[this.pos++];
    if (t?.kind !== 'atom') throw new SearchError(`${key} needs an atom`);
    return t.value;
  }

  private number(key: string): number {
    const s = this.atomArg(key);
    const n = s.length <= 10 ? digits(s, 0, s.length) : null;
    if (n === null || s.length === 0 || n > 4294967295) throw new SearchError(`${key} needs a number`);
    return n;
  }

  private date(key: string): SearchDate {
    const t = this.tokens[this.pos++];
    const text =
      t?.kind === 'atom'
        ? t.value
        : t?.kind === 'string' && t.form === 'quoted'
          ? t.value.toString('latin1')
          : '';
    const d = parseSearchDate(text);
    if (d === null) throw new SearchError(`${key} needs a date such as 1-Feb-1994`);
    return d;
  }

  private modseq(): SearchKey {
    // RFC 7162 §3.1.5: MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer
    let entry: { name: string; type: 'priv' | 'shared' | 'all' } | null = null;
    const t = this.tokens[this.pos];
    if (t?.kind === 'string') {
      this.pos++;
      const type = this.atomArg('MODSEQ').toLowerCase();
      if (type !== 'priv' && type !== 'shared' && type !== 'all')
        throw new SearchError('bad MODSEQ entry type');
      entry = { name: t.value.toString('latin1'), type };
    }
    const s = this.atomArg('MODSEQ');
    if (s.length === 0 || s.length > 20 || digits(s, 0, s.length) === null)
      throw new SearchError('MODSEQ needs a number');
    const modseq = BigInt(s);
    if (modseq > 9223372036854775807n) throw new SearchError('MODSEQ out of range');
    return { kind: 'modseq', modseq, entry };
  }
}
