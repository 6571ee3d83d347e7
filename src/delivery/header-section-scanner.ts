// A streaming scan of the top-level header section (RFC 5322 §2.2) of a message as it arrives,
// for the checks made at end of data. Invariants:
// - linear and bounded: each byte is looked at once, only while the header section lasts and
//   only up to maxBytes; the state kept is a few counters, a field name of at most 40 bytes,
//   an authserv-id of at most 256 bytes, the From: values up to maxFromBytes, and the ranges
//   of Authentication-Results fields to remove (bounded by the section's size);
// - chunk boundaries may fall anywhere (inside CRLF, a field name, a comment): the result is the
//   same for every split;
// - nothing is decoded or parsed beyond what these checks need; the message itself is not kept.
// What it reports: the section's size, the number of Received: fields (RFC 5321 §6.3 loop
// detection), the byte ranges of Authentication-Results fields whose authserv-id is ours (RFC
// 8601 §5: to be removed before our own is added), and the values of the From: fields.

import { decodeHeaderBytes } from '../mail/mime/header-block.js';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** Longest field name looked at; a longer name is none of those we look for. */
const MAX_NAME = 40;
/** Longest authserv-id kept (a host name is at most 253 bytes). */
const MAX_AUTHSERV_ID = 256;
/** Default bound on the From: values kept, all From: fields together. */
const DEFAULT_MAX_FROM_BYTES = 8192;

export interface HeaderSectionScannerOptions {
  /** Largest header section accepted, in bytes (the empty line ending it not counted). */
  maxBytes: number;
  /** Our authserv-id (RFC 8601 §2.5), compared case-insensitively; null: remove nothing. */
  authservId: string | null;
  /** Bytes of From: field values kept; beyond it `from` is null. */
  maxFromBytes?: number;
}

export interface HeaderSection {
  /** Bytes of the header section seen (up to maxBytes + 1 when it is too large). */
  size: number;
  /** The section went over maxBytes. */
  tooLarge: boolean;
  /** Received: fields in the section. */
  received: number;
  /** [start, end) byte ranges of the Authentication-Results fields naming our authserv-id, ascending. */
  ourAuthResults: ReadonlyArray<readonly [number, number]>;
  /** Unfolded values of the From: fields, in order; null when they exceed maxFromBytes. */
  from: readonly string[] | null;
}

type FieldKind = 'received' | 'authres' | 'from' | 'other';

/** The field names looked for, lower-case, as bytes. */
const NAMES: ReadonlyArray<{ name: Uint8Array; kind: FieldKind }> = [
  { name: Buffer.from('received'), kind: 'received' },
  { name: Buffer.from('authentication-results'), kind: 'authres' },
  { name: Buffer.from('from'), kind: 'from' },
];
const ALL_CANDIDATES = (1 << NAMES.length) - 1;

/** True when `chunk` at `at` holds `lower` (lower-case ASCII), ignoring the case of A-Z. */
function sameLowerAscii(chunk: Uint8Array, at: number, lower: Uint8Array): boolean {
  for (let k = 0; k < lower.length; k++) {
    const b = chunk[at + k] ?? 0;
    if ((b >= 0x41 && b <= 0x5a ? b | 0x20 : b) !== lower[k]) return false;
  }
  return true;
}

/** Where the authserv-id reader is: leading CFWS (RFC 5322 §3.2.2), a token, a quoted-string. */
type IdState = 'cfws' | 'token' | 'quoted' | 'done';

/** RFC 2045 §5.1 tspecials end a token (RFC 8601 §2.2: authserv-id is a value). */
function endsToken(b: number): boolean {
  return (
    b <= SP ||
    b === 0x7f ||
    b === 0x28 || // (
    b === 0x29 || // )
    b === 0x3c || // <
    b === 0x3e || // >
    b === 0x40 || // @
    b === 0x2c || // ,
    b === 0x3b || // ;
    b === COLON ||
    b === 0x5c || // \
    b === 0x22 || // "
    b === 0x2f || // /
    b === 0x5b || // [
    b === 0x5d || // ]
    b === 0x3f || // ?
    b === 0x3d // =
  );
}

/** 1 for the bytes that end a token (TOKEN_END[b] === 1 exactly when endsToken(b)). */
const TOKEN_END = new Uint8Array(256);
for (let b = 0; b < 256; b++) TOKEN_END[b] = endsToken(b) ? 1 : 0;

export class HeaderSectionScanner {
  private readonly maxBytes: number;
  private readonly authservId: string | null;
  private readonly maxFromBytes: number;

  /** Absolute offset of the next byte. */
  private pos = 0;
  /** The scan is over: the empty line was seen, the section was too large, or finish() ran. */
  private done = false;
  private tooLarge = false;
  private size = 0;
  private received = 0;
  private readonly ranges: Array<readonly [number, number]> = [];
  private from: string[] | null = [];
  private fromBytes = 0;

  // The current line.
  private lineStart = 0;
  private lineLen = 0;
  private lineFirst = -1;
  /** A CR was the last byte; whether it is part of a line break depends on the next one. */
  private crPending = false;

  // The current field.
  private mode: 'none' | 'name' | 'value' | 'skip' = 'none';
  private kind: FieldKind = 'other';
  private fieldStart = 0;
  /** Bytes of the field name so far, whether whitespace came in it, the names it may still be. */
  private nameLen = 0;
  private nameWsp = false;
  private candidates = ALL_CANDIDATES;
  private value: number[] = [];
  private idState: IdState = 'cfws';
  private idDepth = 0;
  private idEscape = false;
  private id = '';

  constructor(opts: HeaderSectionScannerOptions) {
    this.maxBytes = opts.maxBytes;
    this.authservId = opts.authservId === null ? null : opts.authservId.toLowerCase();
    this.maxFromBytes = opts.maxFromBytes ?? DEFAULT_MAX_FROM_BYTES;
  }

  /** True once the rest of the message no longer matters to the scan. */
  get finished(): boolean {
    return this.done;
  }

  /** Feeds the next bytes of the message. */
  push(chunk: Uint8Array): void {
    if (this.done) {
      this.pos += chunk.length;
      return;
    }
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.done) {
        this.pos += n - i;
        return;
      }
      // Fast paths over whole runs of bytes, each giving up (-1) where the byte path must decide
      // (a limit reached, a line or token cut by the chunk's end, comments, quoting).
      if (this.lineLen === 0 && !this.crPending) {
        const next = this.fieldNameFast(chunk, i);
        if (next >= 0) {
          i = next;
          continue;
        }
      }
      if (this.mode === 'value' && this.kind === 'authres' && this.idState === 'cfws' && this.idDepth === 0) {
        const next = this.authservIdFast(chunk, i);
        if (next >= 0) {
          i = next;
          continue;
        }
      }
      if (this.uninteresting()) {
        // The rest of this line matters to nothing but the size: jump to its end.
        let lf = chunk.indexOf(LF, i);
        if (lf === -1) lf = n;
        const skipped = lf - i;
        if (skipped > 0) {
          if (this.pos + skipped > this.maxBytes) {
            this.overLimit(Math.max(this.pos, this.maxBytes));
            this.pos += n - i;
            return;
          }
          this.lineLen += skipped;
          this.pos += skipped;
          i = lf;
          continue;
        }
      }
      this.byte(chunk[i] ?? 0);
      this.pos++;
      i++;
    }
  }

  /**
   * At the start of a line holding "name:" inside this chunk: starts the field as the byte path
   * would, and returns the index after the colon; -1 to leave it to the byte path.
   */
  private fieldNameFast(chunk: Uint8Array, i: number): number {
    const first = chunk[i] ?? 0;
    if (first === SP || first === HT || first === CR || first === LF) return -1;
    const end = Math.min(chunk.length, i + MAX_NAME + 1);
    let colon = -1;
    for (let k = i; k < end; k++) {
      const b = chunk[k];
      if (b === COLON) {
        colon = k;
        break;
      }
      if (b === LF) return -1;
    }
    if (colon < 0 || this.pos + (colon - i + 1) > this.maxBytes) return -1;
    let nameEnd = colon;
    while (nameEnd > i && (chunk[nameEnd - 1] === SP || chunk[nameEnd - 1] === HT)) nameEnd--;
    this.beginField(first);
    let kind: FieldKind = 'other';
    for (const { name, kind: k } of NAMES) {
      if (name.length === nameEnd - i && sameLowerAscii(chunk, i, name)) kind = k;
    }
    this.startValueAs(kind);
    const used = colon - i + 1;
    this.lineLen += used;
    this.pos += used;
    return colon + 1;
  }

  /**
   * An authserv-id that is a plain token after optional blanks, on this line and in this chunk:
   * reads it at once; -1 to leave it to the byte path (comments, quoted-string, cut tokens).
   */
  private authservIdFast(chunk: Uint8Array, i: number): number {
    if (this.lineLen === 0 || this.crPending) return -1;
    const n = chunk.length;
    let j = i;
    while (j < n && (chunk[j] === SP || chunk[j] === HT)) j++;
    if (j >= n || TOKEN_END[chunk[j] ?? 0] === 1) return -1;
    let k = j;
    while (k < n && TOKEN_END[chunk[k] ?? 0] !== 1) k++;
    if (k >= n || this.pos + (k - i) > this.maxBytes) return -1;
    let id = '';
    const last = Math.min(k, j + MAX_AUTHSERV_ID + 1);
    for (let c = j; c < last; c++) id += String.fromCharCode(chunk[c] ?? 0);
    this.id = id;
    // The byte that ends the token ends it in the byte path too, unless it is a line break
    // (not fed to the id: after it comes a fold's blank, or the next field).
    const stop = chunk[k];
    this.idState = stop === CR || stop === LF ? 'token' : 'done';
    this.lineLen += k - i;
    this.pos += k - i;
    return k;
  }

  /**
   * Inside a line whose remaining bytes only count towards the size: a field we do not look
   * at, or a line that is no field. Not at a line's start (it may be the empty line).
   */
  private uninteresting(): boolean {
    if (this.lineLen === 0 || (this.lineLen === 1 && this.lineFirst === CR)) return false;
    if (this.mode === 'skip') return true;
    if (this.mode !== 'value') return false;
    return (
      this.kind === 'other' ||
      this.kind === 'received' ||
      (this.kind === 'authres' && this.idState === 'done')
    );
  }

  private overLimit(pos: number): void {
    this.tooLarge = true;
    this.size = pos + 1;
    this.done = true;
    this.ranges.length = 0;
  }

  /** Ends the scan (end of data) and returns what was found. Safe to call more than once. */
  finish(): HeaderSection {
    if (!this.done) {
      // The message ended inside its header section: the last field ends with the message.
      this.endField(this.pos);
      this.size = this.pos;
      this.done = true;
    }
    return {
      size: this.size,
      tooLarge: this.tooLarge,
      received: this.received,
      ourAuthResults: this.ranges,
      from: this.from,
    };
  }

  private byte(b: number): void {
    const pos = this.pos;
    // The empty line ending the section may start at maxBytes; anything else there is too much.
    if (
      pos >= this.maxBytes &&
      !(this.lineLen === 0 && (b === CR || b === LF)) &&
      !(this.lineLen === 1 && this.lineFirst === CR && b === LF)
    ) {
      this.overLimit(pos);
      return;
    }
    if (b === LF) {
      if (this.lineLen === 0 || (this.lineLen === 1 && this.lineFirst === CR)) {
        // RFC 5322 §2.1: the empty line ends the header section.
        this.endField(this.lineStart);
        this.size = this.lineStart;
        this.done = true;
        return;
      }
      // A line break: unfolding removes it (RFC 5322 §2.2.3); a field name cannot span it.
      this.crPending = false;
      if (this.mode === 'name') this.mode = 'skip';
      this.lineStart = pos + 1;
      this.lineLen = 0;
      this.lineFirst = -1;
      return;
    }
    if (this.lineLen === 0) {
      this.lineFirst = b;
      if (b !== SP && b !== HT) {
        // Not a continuation: the previous field ends here, a new one starts.
        this.beginField(b);
      }
    }
    this.lineLen++;
    if (this.crPending) {
      this.crPending = false;
      this.valueByte(CR); // a CR not followed by LF is part of the text
    }
    switch (this.mode) {
      case 'name':
        if (b === COLON) this.startValue();
        else this.nameByte(b);
        return;
      case 'value':
        if (b === CR) this.crPending = true;
        else this.valueByte(b);
        return;
      default:
        return;
    }
  }

  /** A line that is not a continuation starts with `first`: the previous field ends, a new one starts. */
  private beginField(first: number): void {
    this.endField(this.lineStart);
    this.lineFirst = first;
    this.fieldStart = this.lineStart;
    this.mode = first === CR ? 'skip' : 'name';
    this.kind = 'other';
    this.nameLen = 0;
    this.nameWsp = false;
    this.candidates = ALL_CANDIDATES;
  }

  private nameByte(b: number): void {
    if (b === SP || b === HT) {
      this.nameWsp = true; // RFC 5322 §4.5 (obsolete syntax): whitespace may come before the colon
      return;
    }
    if (this.nameWsp || this.nameLen >= MAX_NAME) {
      this.mode = 'skip';
      return;
    }
    const lower = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
    let still = 0;
    for (let k = 0; k < NAMES.length; k++) {
      const bit = 1 << k;
      if ((this.candidates & bit) !== 0 && NAMES[k].name[this.nameLen] === lower) still |= bit;
    }
    this.candidates = still;
    this.nameLen++;
    if (still === 0) this.mode = 'skip';
  }

  private startValue(): void {
    let kind: FieldKind = 'other';
    for (let k = 0; k < NAMES.length; k++) {
      if ((this.candidates & (1 << k)) !== 0 && NAMES[k].name.length === this.nameLen) kind = NAMES[k].kind;
    }
    this.startValueAs(kind);
  }

  private startValueAs(kind: FieldKind): void {
    this.mode = kind === 'other' ? 'skip' : 'value';
    this.kind = kind;
    if (this.kind === 'received') this.received++;
    if (this.kind === 'from') this.value = [];
    this.idState = 'cfws';
    this.idDepth = 0;
    this.idEscape = false;
    this.id = '';
  }

  private valueByte(b: number): void {
    if (this.mode !== 'value') return;
    if (this.kind === 'from') {
      if (this.from === null) return;
      if (this.fromBytes >= this.maxFromBytes) {
        this.from = null;
        return;
      }
      this.fromBytes++;
      this.value.push(b);
    } else if (this.kind === 'authres') {
      this.idByte(b);
    }
  }

  /** RFC 8601 §2.2: authres-header-field = "Authentication-Results:" authserv-id ...; the id may follow CFWS. */
  private idByte(b: number): void {
    switch (this.idState) {
      case 'cfws':
        if (this.idDepth > 0) {
          if (this.idEscape) this.idEscape = false;
          else if (b === 0x5c) this.idEscape = true;
          else if (b === 0x28) this.idDepth++;
          else if (b === 0x29) this.idDepth--;
        } else if (b === 0x28) {
          this.idDepth = 1;
        } else if (b === 0x22) {
          this.idState = 'quoted';
        } else if (b !== SP && b !== HT && b !== CR) {
          if (endsToken(b)) this.idState = 'done';
          else {
            this.idState = 'token';
            this.id = String.fromCharCode(b);
          }
        }
        return;
      case 'token':
        if (endsToken(b)) this.idState = 'done';
        else this.idChar(b);
        return;
      case 'quoted':
        if (this.idEscape) {
          this.idEscape = false;
          this.idChar(b);
        } else if (b === 0x5c) this.idEscape = true;
        else if (b === 0x22) this.idState = 'done';
        else this.idChar(b);
        return;
      default:
        return;
    }
  }

  private idChar(b: number): void {
    if (this.id.length <= MAX_AUTHSERV_ID) this.id += String.fromCharCode(b);
  }

  /** The field being read (if any) ends before `end`. */
  private endField(end: number): void {
    if (this.mode === 'value') {
      if (this.kind === 'from' && this.from !== null) {
        this.from.push(decodeHeaderBytes(Uint8Array.from(this.value)).trim());
      } else if (
        this.kind === 'authres' &&
        this.authservId !== null &&
        this.idState !== 'cfws' &&
        this.id.length <= MAX_AUTHSERV_ID &&
        this.id.toLowerCase() === this.authservId
      ) {
        this.ranges.push([this.fieldStart, end]);
      }
    }
    this.mode = 'none';
  }
}
