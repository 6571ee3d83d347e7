// FETCH arguments into a typed request (RFC 9051 §6.4.5 and §9 fetch-att, section, partial;
// RFC 3501 §6.4.5; RFC 3516 BINARY, BINARY.PEEK, BINARY.SIZE; RFC 7162 §3.1.4 CHANGEDSINCE and
// MODSEQ, §3.2.6 VANISHED).
// Invariants:
// - The reader keeps a section as one atom (`BODY.PEEK[HEADER.FIELDS (From To)]<0.100>`); this
//   file re-parses that text in one linear pass, never with a backtracking regular expression.
// - Every count is bounded: items after macro expansion, header field names, part-number depth.
// - Each item carries `name`, the item as the FETCH response must echo it (RFC 9051 §7.5.2):
//   BODY.PEEK is echoed as BODY, a partial as `<offset>`, header field names as the client sent them.
// - Header field names are plain strings in arrays; callers key Maps with them, never objects.

import type { ImapToken } from './reader.js';

export class FetchParseError extends Error {}

/** What a section addresses inside the message or a part (RFC 9051 §9 section-text). */
export type SectionText =
  /** The whole message (`BODY[]`) or the whole part (`BODY[1.2]`). */
  | { kind: 'full' }
  | { kind: 'header' }
  | { kind: 'headerFields'; not: boolean; fields: string[] }
  | { kind: 'text' }
  /** Only after a part number (RFC 9051 §6.4.5). */
  | { kind: 'mime' };

export interface FetchSection {
  /** Part numbers, outermost first; empty for the message itself. */
  part: number[];
  text: SectionText;
}

/** RFC 9051 §6.4.5: `<offset.length>`. */
export interface FetchPartial {
  offset: number;
  length: number;
}

export type FetchItem =
  | { kind: 'uid'; name: 'UID' }
  | { kind: 'flags'; name: 'FLAGS' }
  | { kind: 'internalDate'; name: 'INTERNALDATE' }
  | { kind: 'rfc822Size'; name: 'RFC822.SIZE' }
  | { kind: 'envelope'; name: 'ENVELOPE' }
  /** BODY without a section: the non-extensible BODYSTRUCTURE. */
  | { kind: 'body'; name: 'BODY' }
  | { kind: 'bodyStructure'; name: 'BODYSTRUCTURE' }
  /** RFC822 is BODY[], RFC822.HEADER is BODY.PEEK[HEADER], RFC822.TEXT is BODY[TEXT]. */
  | { kind: 'rfc822'; name: 'RFC822' }
  | { kind: 'rfc822Header'; name: 'RFC822.HEADER' }
  | { kind: 'rfc822Text'; name: 'RFC822.TEXT' }
  | { kind: 'modseq'; name: 'MODSEQ' }
  /** RFC 8970: the message's preview text (LAZY changes nothing: it is always precomputed). */
  | { kind: 'preview'; name: 'PREVIEW' }
  /** RFC 8514: when the message was saved into this mailbox. */
  | { kind: 'saveDate'; name: 'SAVEDATE' }
  /** RFC 8474 §5: the message's EMAILID and THREADID. */
  | { kind: 'emailId'; name: 'EMAILID' }
  | { kind: 'threadId'; name: 'THREADID' }
  | { kind: 'binarySize'; part: number[]; name: string }
  | { kind: 'bodySection'; peek: boolean; section: FetchSection; partial: FetchPartial | null; name: string }
  | { kind: 'binary'; peek: boolean; part: number[]; partial: FetchPartial | null; name: string };

export interface FetchRequest {
  items: FetchItem[];
  /** A non-PEEK BODY[...] / BINARY[...], RFC822 or RFC822.TEXT was asked: \Seen is set implicitly. */
  setsSeen: boolean;
  /** RFC 7162 §3.1.4.1 CHANGEDSINCE modifier, or null. */
  changedSince: bigint | null;
  /** RFC 7162 §3.2.6 VANISHED modifier (only valid in UID FETCH: the caller checks). */
  vanished: boolean;
}

export interface FetchParseOptions {
  /** The session speaks IMAP4rev2; the FETCH grammar of both versions is accepted either way. */
  rev2: boolean;
  /** Most items after macro expansion (default 64). */
  maxItems?: number;
  /** Most header field names in one HEADER.FIELDS list (default 100). */
  maxHeaderFields?: number;
  /** Deepest part number, `1.2.3` is 3 (default 32). */
  maxPartDepth?: number;
}

/** RFC 9051 §9: number and nz-number fit in 32 bits. */
const MAX_NUMBER = 4294967295;
/** RFC 7162 §7: mod-sequence-value is at most 2^63 - 1. */
const MAX_MODSEQ = 9223372036854775807n;

const SIMPLE = new Map<string, FetchItem>([
  ['UID', { kind: 'uid', name: 'UID' }],
  ['FLAGS', { kind: 'flags', name: 'FLAGS' }],
  ['INTERNALDATE', { kind: 'internalDate', name: 'INTERNALDATE' }],
  ['RFC822.SIZE', { kind: 'rfc822Size', name: 'RFC822.SIZE' }],
  ['ENVELOPE', { kind: 'envelope', name: 'ENVELOPE' }],
  ['BODY', { kind: 'body', name: 'BODY' }],
  ['BODYSTRUCTURE', { kind: 'bodyStructure', name: 'BODYSTRUCTURE' }],
  ['RFC822', { kind: 'rfc822', name: 'RFC822' }],
  ['RFC822.HEADER', { kind: 'rfc822Header', name: 'RFC822.HEADER' }],
  ['RFC822.TEXT', { kind: 'rfc822Text', name: 'RFC822.TEXT' }],
  ['MODSEQ', { kind: 'modseq', name: 'MODSEQ' }],
  ['PREVIEW', { kind: 'preview', name: 'PREVIEW' }],
  ['SAVEDATE', { kind: 'saveDate', name: 'SAVEDATE' }],
  ['EMAILID', { kind: 'emailId', name: 'EMAILID' }],
  ['THREADID', { kind: 'threadId', name: 'THREADID' }],
]);

// RFC 9051 §6.4.5 macros.
const MACROS = new Map<string, readonly string[]>([
  ['ALL', ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']],
  ['FAST', ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']],
  ['FULL', ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']],
]);

/** Parses the FETCH arguments after the sequence set. Throws FetchParseError. */
export function parseFetchItems(tokens: readonly ImapToken[], opts: FetchParseOptions): FetchRequest {
  const limits = {
    maxItems: opts.maxItems ?? 64,
    maxHeaderFields: opts.maxHeaderFields ?? 100,
    maxPartDepth: opts.maxPartDepth ?? 32,
  };
  const first = tokens[0];
  if (first === undefined) throw new FetchParseError('missing FETCH items');
  let texts: string[];
  let modsAt = 1;
  if (first.kind === 'atom') {
    const macro = MACROS.get(first.value.toUpperCase());
    texts = macro !== undefined ? [...macro] : [first.value];
    // `FETCH 1 PREVIEW (LAZY)`: the list is the item's modifiers, not the command's.
    if (first.value.toUpperCase() === 'PREVIEW' && isPreviewModifiers(tokens[1])) modsAt = 2;
  } else if (first.kind === 'list') {
    if (first.items.length === 0) throw new FetchParseError('empty FETCH item list');
    if (first.items.length > limits.maxItems) throw new FetchParseError('too many FETCH items');
    texts = [];
    const list = first.items;
    for (let i = 0; i < list.length; i++) {
      const t = list[i]!;
      if (t.kind !== 'atom') throw new FetchParseError('invalid FETCH item');
      texts.push(t.value);
      if (t.value.toUpperCase() === 'PREVIEW' && list[i + 1]?.kind === 'list') {
        if (!isPreviewModifiers(list[i + 1])) throw new FetchParseError('unknown PREVIEW modifier');
        i++;
      }
    }
  } else throw new FetchParseError('invalid FETCH items');
  if (tokens.length > modsAt + 1) throw new FetchParseError('unexpected arguments after FETCH items');

  const items: FetchItem[] = [];
  const seen = new Set<string>();
  let setsSeen = false;
  const add = (item: FetchItem): void => {
    // A repeated item is answered once.
    const key = `${item.kind} ${item.name}`;
    if (seen.has(key)) return;
    seen.add(key);
    items.push(item);
  };
  for (const text of texts) {
    const item = parseItem(text, limits);
    if (
      ((item.kind === 'bodySection' || item.kind === 'binary') && !item.peek) ||
      item.kind === 'rfc822' ||
      item.kind === 'rfc822Text'
    )
      setsSeen = true;
    add(item);
  }

  let changedSince: bigint | null = null;
  let vanished = false;
  const mods = tokens[modsAt];
  if (mods !== undefined) {
    if (mods.kind !== 'list' || mods.items.length === 0) throw new FetchParseError('invalid FETCH modifiers');
    const m = mods.items;
    for (let i = 0; i < m.length; i++) {
      const t = m[i]!;
      const name = t.kind === 'atom' ? t.value.toUpperCase() : '';
      if (name === 'CHANGEDSINCE') {
        if (changedSince !== null) throw new FetchParseError('CHANGEDSINCE given twice');
        // RFC 7162 §3.1.4.1: mod-sequence-value, 0 is allowed.
        changedSince = modSequence(m[++i], { zero: true });
      } else if (name === 'VANISHED') {
        if (vanished) throw new FetchParseError('VANISHED given twice');
        vanished = true;
      } else throw new FetchParseError('unknown FETCH modifier');
    }
    // RFC 7162 §3.2.6: VANISHED without CHANGEDSINCE is a BAD.
    if (vanished && changedSince === null) throw new FetchParseError('VANISHED requires CHANGEDSINCE');
  }
  // RFC 7162 §3.1.4.1: with CHANGEDSINCE every FETCH response carries MODSEQ.
  if (changedSince !== null) add({ kind: 'modseq', name: 'MODSEQ' });
  if (items.length > limits.maxItems) throw new FetchParseError('too many FETCH items');
  return { items, setsSeen, changedSince, vanished };
}

/** RFC 8970 §3: preview-mod = "LAZY"; a non-empty list of them. */
function isPreviewModifiers(t: ImapToken | undefined): boolean {
  return (
    t?.kind === 'list' &&
    t.items.length > 0 &&
    t.items.every((m) => m.kind === 'atom' && m.value.toUpperCase() === 'LAZY')
  );
}

interface Limits {
  maxItems: number;
  maxHeaderFields: number;
  maxPartDepth: number;
}

function parseItem(text: string, limits: Limits): FetchItem {
  const bracket = text.indexOf('[');
  if (bracket < 0) {
    const simple = SIMPLE.get(text.toUpperCase());
    if (simple === undefined) throw new FetchParseError(`unknown FETCH item ${clip(text)}`);
    return { ...simple };
  }
  const head = text.slice(0, bracket).toUpperCase();
  const close = text.indexOf(']', bracket + 1);
  if (close < 0) throw new FetchParseError('unterminated section');
  const inner = text.slice(bracket + 1, close);
  const rest = text.slice(close + 1);
  const partial = rest === '' ? null : parsePartial(rest);
  switch (head) {
    case 'BODY':
    case 'BODY.PEEK': {
      const section = parseSection(inner, limits);
      const name = `BODY[${sectionText(section)}]${partial === null ? '' : `<${partial.offset}>`}`;
      return { kind: 'bodySection', peek: head === 'BODY.PEEK', section, partial, name };
    }
    case 'BINARY':
    case 'BINARY.PEEK': {
      // RFC 3516 §4.1 / RFC 9051 §9: section-binary = "[" [section-part] "]".
      const part = inner === '' ? [] : parsePart(inner, 0, inner.length, limits);
      const name = `BINARY[${part.join('.')}]${partial === null ? '' : `<${partial.offset}>`}`;
      return { kind: 'binary', peek: head === 'BINARY.PEEK', part, partial, name };
    }
    case 'BINARY.SIZE': {
      if (partial !== null) throw new FetchParseError('BINARY.SIZE takes no partial');
      const part = inner === '' ? [] : parsePart(inner, 0, inner.length, limits);
      return { kind: 'binarySize', part, name: `BINARY.SIZE[${part.join('.')}]` };
    }
    default:
      throw new FetchParseError(`unknown FETCH item ${clip(text)}`);
  }
}

/** RFC 9051 §9: partial = "<" number "." nz-number ">". */
function parsePartial(text: string): FetchPartial {
  const dot = text.indexOf('.');
  if (text[0] !== '<' || text[text.length - 1] !== '>' || dot < 0)
    throw new FetchParseError('invalid partial');
  const offset = number(text, 1, dot);
  const length = number(text, dot + 1, text.length - 1);
  if (offset === null || length === null || length === 0) throw new FetchParseError('invalid partial');
  return { offset, length };
}

/** Digits in text[start, end) as a 32-bit number, or null. */
function number(text: string, start: number, end: number): number | null {
  if (end <= start || end - start > 10) return null;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
    n = n * 10 + (c - 0x30);
  }
  return n > MAX_NUMBER ? null : n;
}

/** Part numbers `1.2.3` in text[start, end): nz-numbers joined by dots. */
function parsePart(text: string, start: number, end: number, limits: Limits): number[] {
  const part: number[] = [];
  let i = start;
  for (;;) {
    let j = i;
    while (j < end && text.charCodeAt(j) !== 0x2e) j++;
    const n = number(text, i, j);
    if (n === null || n === 0 || text.charCodeAt(i) === 0x30)
      throw new FetchParseError('invalid part number');
    if (part.length >= limits.maxPartDepth) throw new FetchParseError('part number nested too deeply');
    part.push(n);
    if (j === end) return part;
    i = j + 1;
  }
}

/** RFC 9051 §9 section-spec, the text between the brackets. */
function parseSection(inner: string, limits: Limits): FetchSection {
  if (inner === '') return { part: [], text: { kind: 'full' } };
  // Leading part numbers: as many `digits.` groups as there are, then a keyword or the end.
  let i = 0;
  let partEnd = 0;
  while (i < inner.length) {
    const c = inner.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    while (i < inner.length && inner.charCodeAt(i) >= 0x30 && inner.charCodeAt(i) <= 0x39) i++;
    partEnd = i;
    if (i < inner.length && inner.charCodeAt(i) === 0x2e) i++;
    else break;
  }
  const part = partEnd === 0 ? [] : parsePart(inner, 0, partEnd, limits);
  let pos = partEnd === 0 ? 0 : partEnd;
  if (pos === inner.length) return { part, text: { kind: 'full' } };
  if (partEnd > 0) {
    if (inner.charCodeAt(pos) !== 0x2e) throw new FetchParseError('invalid section');
    pos++;
  }
  const sp = inner.indexOf(' ', pos);
  const keyword = inner.slice(pos, sp < 0 ? inner.length : sp).toUpperCase();
  if (keyword === 'HEADER.FIELDS' || keyword === 'HEADER.FIELDS.NOT') {
    if (sp < 0) throw new FetchParseError('HEADER.FIELDS needs a list of field names');
    const fields = parseFieldList(inner, sp + 1, limits);
    return { part, text: { kind: 'headerFields', not: keyword === 'HEADER.FIELDS.NOT', fields } };
  }
  if (sp >= 0) throw new FetchParseError('invalid section');
  if (keyword === 'HEADER') return { part, text: { kind: 'header' } };
  if (keyword === 'TEXT') return { part, text: { kind: 'text' } };
  // RFC 9051 §6.4.5: MIME refers to a part's MIME header, so it needs a part number.
  if (keyword === 'MIME' && part.length > 0) return { part, text: { kind: 'mime' } };
  throw new FetchParseError('invalid section');
}

/** RFC 9051 §9 header-list = "(" header-fld-name *(SP header-fld-name) ")", names are astrings. */
function parseFieldList(text: string, start: number, limits: Limits): string[] {
  if (text.charCodeAt(start) !== 0x28 || text.charCodeAt(text.length - 1) !== 0x29) {
    throw new FetchParseError('invalid header field list');
  }
  const end = text.length - 1;
  const fields: string[] = [];
  let i = start + 1;
  for (;;) {
    if (fields.length >= limits.maxHeaderFields) throw new FetchParseError('too many header field names');
    let name: string;
    if (text.charCodeAt(i) === 0x22) {
      // quoted = DQUOTE *QUOTED-CHAR DQUOTE, with \" and \\ escapes.
      let out = '';
      let j = i + 1;
      for (;;) {
        if (j >= end) throw new FetchParseError('unterminated quoted header field name');
        const c = text.charCodeAt(j);
        if (c === 0x22) break;
        if (c === 0x5c) {
          const n = text.charCodeAt(j + 1);
          if (n !== 0x22 && n !== 0x5c) throw new FetchParseError('invalid escape in header field name');
          out += text[j + 1];
          j += 2;
          continue;
        }
        out += text[j];
        j++;
      }
      name = out;
      i = j + 1;
    } else {
      let j = i;
      while (j < end && isAstringChar(text.charCodeAt(j))) j++;
      name = text.slice(i, j);
      i = j;
    }
    // RFC 5322 §3.6.8: field-name is printable US-ASCII except colon; never empty.
    if (name.length === 0 || !isFieldName(name)) throw new FetchParseError('invalid header field name');
    fields.push(name);
    if (i === end) return fields;
    if (text.charCodeAt(i) !== 0x20 || i + 1 === end) throw new FetchParseError('invalid header field list');
    i++;
  }
}

/** RFC 9051 §9 ASTRING-CHAR (ATOM-CHAR / resp-specials); `]` cannot occur in the reader's section. */
function isAstringChar(c: number): boolean {
  return (
    c > 0x20 &&
    c < 0x7f &&
    c !== 0x28 &&
    c !== 0x29 &&
    c !== 0x7b &&
    c !== 0x25 &&
    c !== 0x2a &&
    c !== 0x22 &&
    c !== 0x5c
  );
}

function isFieldName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x3a) return false;
  }
  return true;
}

/** The section as echoed in the response: keywords upper-case, field names as given. */
function sectionText(section: FetchSection): string {
  const parts = section.part.join('.');
  const t = section.text;
  let kw: string;
  switch (t.kind) {
    case 'full':
      return parts;
    case 'header':
      kw = 'HEADER';
      break;
    case 'text':
      kw = 'TEXT';
      break;
    case 'mime':
      kw = 'MIME';
      break;
    case 'headerFields':
      kw = `HEADER.FIELDS${t.not ? '.NOT' : ''} (${t.fields.map(fieldAstring).join(' ')})`;
      break;
  }
  return parts === '' ? kw : `${parts}.${kw}`;
}

/** A field name as an atom when it is one, else a quoted string. */
function fieldAstring(name: string): string {
  for (let i = 0; i < name.length; i++) {
    if (!isAstringChar(name.charCodeAt(i)) || name.charCodeAt(i) === 0x5d) {
      return `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;
    }
  }
  return name;
}

/** RFC 7162 §7 mod-sequence-value (1*DIGIT, at most 2^63 - 1); zero only where allowed. */
export function modSequence(token: ImapToken | undefined, opts: { zero: boolean }): bigint {
  if (token?.kind !== 'atom') throw new FetchParseError('expected a mod-sequence value');
  const v = token.value;
  if (v.length === 0 || v.length > 19) throw new FetchParseError('invalid mod-sequence value');
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) throw new FetchParseError('invalid mod-sequence value');
  }
  const n = BigInt(v);
  if (n > MAX_MODSEQ || (n === 0n && !opts.zero)) throw new FetchParseError('invalid mod-sequence value');
  return n;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
