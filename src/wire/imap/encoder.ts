// IMAP response encoding (RFC 9051 §4, §7; RFC 3501 §4, §7; RFC 3516 literal8).
// Invariants:
// - Strings are sent quoted when the quoted form can hold them (RFC 9051 §4.3: no CR, LF or NUL;
//   `"` and `\` escaped; 8-bit only as UTF-8 after ENABLE UTF8=ACCEPT), else as a literal {n};
//   bytes with NUL go as literal8 ~{n} (only valid where BINARY allows it; the caller picks).
// - Output is built as one appended string (a V8 rope, flattened once) plus the literal buffers,
//   joined once in take(): no per-byte work, literal contents are not copied until that concat.
// - Response text never carries CR or LF (they are replaced by spaces).

import { isUtf8 } from 'node:buffer';
import { SequenceSet } from './sequence-set.js';

/** An atom written as is (flags, keywords, FETCH item names, response code names). */
export class Atom {
  constructor(readonly value: string) {}
}

/** Bytes to send as literal8 (RFC 3516 §4.2). */
export class Literal8 {
  constructor(readonly value: Buffer) {}
}

/** Pre-encoded bytes inserted verbatim (for example a cached BODYSTRUCTURE). */
export class Raw {
  constructor(readonly value: string | Buffer) {}
}

/**
 * A value in a response: null is NIL, numbers are numbers, strings and Buffers are strings
 * (quoted or literal as needed), arrays are parenthesised lists, SequenceSet is its compact form.
 */
export type ImapData =
  null | number | bigint | string | Buffer | Atom | Literal8 | Raw | SequenceSet | readonly ImapData[];

export const atom = (value: string): Atom => new Atom(value);
export const literal8 = (value: Buffer): Literal8 => new Literal8(value);
export const raw = (value: string | Buffer): Raw => new Raw(value);

/** A response code (RFC 9051 §7.1) such as [UIDVALIDITY 3857529045] or [COPYUID 38505 304,319:320 3956:3958]. */
export interface ResponseCode {
  name: string;
  data?: readonly ImapData[];
}

export type Status = 'OK' | 'NO' | 'BAD' | 'PREAUTH' | 'BYE';

export interface EncoderOptions {
  /** RFC 9051 §6.3.1 / RFC 6855: UTF-8 may be sent in quoted strings. */
  utf8Accept?: boolean;
  /** Strings longer than this go as literals even when quoting would do (default 1024). */
  maxQuotedLength?: number;
}

/** Pending text is turned into bytes at this length, so the rope it forms stays small for the GC. */
const FLUSH_AT = 32 * 1024;

const enum Form {
  Plain,
  Escaped,
  Literal,
  Binary,
}

/** Classifies a JS string: which form it needs. */
function stringForm(s: string, utf8Accept: boolean): Form {
  let form = Form.Plain;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      if (c === 0x22 || c === 0x5c) form = Form.Escaped;
    } else if (c === 0) return Form.Binary;
    else if (c < 0x20 || c === 0x7f) {
      if (c === 0x0a || c === 0x0d) form = Form.Literal;
      // Other controls are CHAR and may be quoted (RFC 9051 §9 QUOTED-CHAR).
    } else if (!utf8Accept) form = Form.Literal;
    if (form === Form.Literal) {
      // Keep scanning only for NUL, which decides literal8.
      for (let j = i + 1; j < s.length; j++) if (s.charCodeAt(j) === 0) return Form.Binary;
      return Form.Literal;
    }
  }
  return form;
}

function bufferForm(b: Buffer, utf8Accept: boolean): Form {
  if (b.includes(0)) return Form.Binary;
  let form = Form.Plain;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x0a || c === 0x0d) return Form.Literal;
    if (c >= 0x80 && !utf8Accept) return Form.Literal;
    if (c === 0x22 || c === 0x5c) form = Form.Escaped;
  }
  // 8-bit bytes in a quoted string must be valid UTF-8 (RFC 9051 §9 QUOTED-CHAR with utf8-2..4).
  if (utf8Accept && !isUtf8(b)) return Form.Literal;
  return form;
}

function escapeQuoted(s: string): string {
  return s.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
}

function sanitizeText(text: string): string {
  return text.includes('\r') || text.includes('\n') ? text.replace(/[\r\n]/g, ' ') : text;
}

/** Accumulates responses; take() returns them as one Buffer. */
export class ResponseEncoder {
  private readonly utf8Accept: boolean;
  private readonly maxQuoted: number;
  private parts: Buffer[] = [];
  /** Text not yet turned into a Buffer (V8 keeps appended strings as ropes, flattened once). */
  private cur = '';

  constructor(opts: EncoderOptions = {}) {
    this.utf8Accept = opts.utf8Accept ?? false;
    this.maxQuoted = opts.maxQuotedLength ?? 1024;
  }

  /** `* data data ...` CRLF (RFC 9051 §7). */
  untagged(...data: readonly ImapData[]): this {
    let s = '*';
    for (let i = 0; i < data.length; i++) s = this.enc(data[i]!, s + ' ');
    this.cur += s + '\r\n';
    if (this.cur.length > FLUSH_AT) this.flush();
    return this;
  }

  /** `tag OK [CODE data] text` CRLF; tag `*` gives an untagged status response. */
  status(tag: string, status: Status, code: ResponseCode | null, text: string): this {
    let s = tag + ' ' + status;
    if (code !== null) {
      s += ' [' + code.name;
      for (const d of code.data ?? []) s = this.enc(d, s + ' ');
      s += ']';
    }
    this.cur += s + ' ' + sanitizeText(text === '' ? status : text) + '\r\n';
    return this;
  }

  /** `+ text` CRLF (RFC 9051 §7.6). */
  continuation(text: string): this {
    this.cur += '+ ' + sanitizeText(text) + '\r\n';
    return this;
  }

  /** Appends one value (no separator, no line ending). */
  data(d: ImapData): this {
    this.cur += this.enc(d, '');
    return this;
  }

  /**
   * Returns `s` followed by the encoding of `d`. Text is carried in `s` (one short string per
   * response); a literal moves the text so far into the output and restarts `s` empty.
   */
  private enc(d: ImapData, s: string): string {
    if (typeof d === 'number') {
      if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`not an IMAP number: ${d}`);
      return s + d;
    }
    if (d === null) return s + 'NIL';
    if (d instanceof Atom) return s + d.value;
    if (isList(d)) {
      s += '(';
      for (let i = 0; i < d.length; i++) s = this.enc(d[i]!, i > 0 ? s + ' ' : s);
      return s + ')';
    }
    if (typeof d === 'string') return this.string(d, s);
    if (typeof d === 'bigint') return s + d.toString();
    if (Buffer.isBuffer(d)) return this.bytes(d, s);
    if (d instanceof Literal8) return this.literal(d.value, true, s);
    if (d instanceof SequenceSet) return s + d.toString();
    if (typeof d.value === 'string') return s + d.value;
    this.cur += s;
    this.push(d.value);
    return '';
  }

  /** Bytes held so far (approximate for pending string pieces: counts UTF-16 units). */
  get length(): number {
    let n = 0;
    for (const p of this.parts) n += p.length;
    n += this.cur.length;
    return n;
  }

  /** Everything encoded so far, as one Buffer; the encoder is then empty. */
  take(): Buffer {
    this.flush();
    const out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    this.parts = [];
    return out;
  }

  private flush(): void {
    if (this.cur.length > 0) {
      this.parts.push(Buffer.from(this.cur, 'utf8'));
      this.cur = '';
    }
  }

  private push(b: Buffer): void {
    this.flush();
    this.parts.push(b);
  }

  private string(v: string, s: string): string {
    const form = v.length > this.maxQuoted ? Form.Literal : stringForm(v, this.utf8Accept);
    if (form === Form.Plain) return s + '"' + v + '"';
    if (form === Form.Escaped) return s + '"' + escapeQuoted(v) + '"';
    const b = Buffer.from(v, 'utf8');
    return this.literal(b, form === Form.Binary || b.includes(0), s);
  }

  private bytes(b: Buffer, s: string): string {
    const form =
      b.length > this.maxQuoted
        ? b.includes(0)
          ? Form.Binary
          : Form.Literal
        : bufferForm(b, this.utf8Accept);
    if (form === Form.Plain || form === Form.Escaped) {
      const v = b.toString(this.utf8Accept ? 'utf8' : 'latin1');
      return s + '"' + (form === Form.Escaped ? escapeQuoted(v) : v) + '"';
    }
    return this.literal(b, form === Form.Binary, s);
  }

  private literal(b: Buffer, binary: boolean, s: string): string {
    this.cur += s + (binary ? '~{' : '{') + String(b.length) + '}\r\n';
    this.push(b);
    return '';
  }
}

function isList(d: ImapData): d is readonly ImapData[] {
  return Array.isArray(d);
}

/** One untagged response as bytes. */
export function untagged(data: readonly ImapData[], opts?: EncoderOptions): Buffer {
  return new ResponseEncoder(opts).untagged(...data).take();
}

/** One tagged status response as bytes. */
export function tagged(
  tag: string,
  status: 'OK' | 'NO' | 'BAD',
  code: ResponseCode | null,
  text: string,
): Buffer {
  return new ResponseEncoder().status(tag, status, code, text).take();
}

/** A continuation request as bytes. */
export function continuation(text: string): Buffer {
  return new ResponseEncoder().continuation(text).take();
}

/** Response code helpers (RFC 9051 §7.1, RFC 4315 UIDPLUS). */
export const codes = {
  uidValidity: (v: number): ResponseCode => ({ name: 'UIDVALIDITY', data: [v] }),
  uidNext: (n: number): ResponseCode => ({ name: 'UIDNEXT', data: [n] }),
  appendUid: (validity: number, uid: number): ResponseCode => ({ name: 'APPENDUID', data: [validity, uid] }),
  copyUid: (validity: number, from: SequenceSet, to: SequenceSet): ResponseCode => ({
    name: 'COPYUID',
    data: [validity, from, to],
  }),
  permanentFlags: (flags: readonly string[]): ResponseCode => ({
    name: 'PERMANENTFLAGS',
    data: [flags.map(atom)],
  }),
  capability: (caps: readonly string[]): ResponseCode => ({ name: 'CAPABILITY', data: caps.map(atom) }),
  simple: (name: string): ResponseCode => ({ name }),
};
