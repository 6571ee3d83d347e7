// Streaming, byte-exact MIME indexer, run once when a message enters the store.
//
// Invariants:
// - State is bounded whatever the input: one header block (<= limits.headerSize), the start of the
//   current line (<= PREFIX_CAP bytes, for delimiter matching), one preview capture (<= 64 KiB), and
//   the part table (<= limits.mimeParts entries). The body itself is never buffered.
// - Work is linear: every byte is looked at a constant number of times; a candidate delimiter line
//   costs one Map lookup whatever the number of active boundaries (at most limits.mimeDepth).
// - Any split of the input gives the same record: all state carries across write() calls.
// - Nothing recurses on input depth; end() never throws.
//
// RFC 2046 §5.1.1: a delimiter line is "--" boundary followed only by transport padding (SP/HTAB),
// and the line break before it belongs to the delimiter, not to the preceding body. Bare LF counts
// as a line end wherever CRLF does.

import { DEFAULT_LIMITS } from '../../core/limits.js';
import { contentFields } from './content-headers.js';
import { EMPTY_ENVELOPE, envelopeOf } from './envelope.js';
import { firstValues, parseHeaderBlock } from './header-block.js';
import type { HeaderField } from './header-block.js';
import { HTML_CAPTURE, PLAIN_CAPTURE, previewText } from './preview.js';
import { emptySearchHeaders, searchHeaders } from './search-headers.js';
import type { Envelope, MimeLimits, MimePart, MimeRecord } from './types.js';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const DASH = 0x2d;

/** RFC 2046 §5.1.1 allows 70 characters; longer ones are accepted up to this length. */
const MAX_BOUNDARY = 200;
/** "--" boundary "--": enough of a line to recognise any delimiter; the rest may only be padding. */
const PREFIX_CAP = MAX_BOUNDARY + 4;

interface Frame {
  /** The boundary as a Latin-1 string of its bytes. */
  key: string;
  /** The multipart entity this boundary belongs to, and its position in the open stack. */
  entity: number;
  openPos: number;
  /** Frame index this boundary shadowed in `boundaries` (the same boundary reused when nested). */
  shadowed: number | undefined;
}

interface Capture {
  entity: number;
  html: boolean;
  buf: Uint8Array;
  len: number;
}

interface PreviewSource {
  raw: Uint8Array;
  encoding: string;
  charset: string | null;
}

type HeaderEndReason = 'blank' | 'overflow' | 'cut' | 'eof';

function latin1(bytes: Uint8Array): string {
  if (bytes.length <= 32) {
    // Short keys (the common case) are cheaper to build directly than through a Buffer.
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

function isPadding(c: number): boolean {
  return c === SP || c === HT || c === CR;
}

/** Streaming MIME indexer: feed the message with write() in any split, then call end() once. */
export class MimeIndexer {
  private readonly limits: MimeLimits;
  /** Absolute offset of the next byte. */
  private pos = 0;
  /** Number of LF bytes before `pos`. */
  private lfCount = 0;
  private lastByte = -1;

  // The current line.
  private lineStart = 0;
  private lineLen = 0;
  private eolLen = 0;
  private candidate = false;
  private readonly prefix = new Uint8Array(PREFIX_CAP);
  private prefixLen = 0;

  // The line before it (its line break is the one a delimiter on the current line takes).
  private prevEolLen = 0;
  private prevContentLen = 0;

  private mode: 'header' | 'body' = 'header';
  private headerBuf = new Uint8Array(4096);
  private headerLen = 0;
  private headerDefault = { type: 'text', subtype: 'plain' };

  private readonly parts: MimePart[] = [];
  /** LF count at the body start of each entity. */
  private readonly lfStart: number[] = [];
  /** Open entities, outermost first; the last one is where the current byte belongs. */
  private readonly open: number[] = [];
  private readonly frames: Frame[] = [];
  /** Boundary (Latin-1 key) to the innermost frame using it. */
  private readonly boundaries = new Map<string, number>();

  private truncated = false;
  private envelope: Envelope = { ...EMPTY_ENVELOPE };
  private rootFields: HeaderField[] = [];

  private capture: Capture | null = null;
  private plainSource: PreviewSource | null = null;
  private htmlSource: PreviewSource | null = null;

  private result: MimeRecord | null = null;

  constructor(limits: MimeLimits) {
    this.limits = {
      mimeDepth: Math.max(0, Math.floor(limits.mimeDepth)),
      mimeParts: Math.max(1, Math.floor(limits.mimeParts)),
      headerSize: Math.max(0, Math.floor(limits.headerSize)),
    };
    this.startEntity('message', -1, 0);
  }

  write(chunk: Uint8Array): void {
    if (this.result !== null) throw new Error('MimeIndexer.write() after end()');
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const lf = chunk.indexOf(LF, i);
      const segEnd = lf === -1 ? n : lf + 1;
      this.segment(chunk, i, segEnd, lf !== -1);
      if (lf !== -1) this.lineEnd();
      i = segEnd;
    }
  }

  end(): MimeRecord {
    if (this.result !== null) return this.result;
    try {
      this.result = this.finish();
    } catch {
      // Defensive only: every step above is written not to throw. Keep the offsets we are sure of.
      this.result = {
        size: this.pos,
        envelope: { ...EMPTY_ENVELOPE },
        parts: [],
        headers: emptySearchHeaders(),
        preview: '',
        truncated: true,
      };
    }
    return this.result;
  }

  /** Bytes [a, b) of `chunk`, all on the current line; `hasLf` when b - 1 is the line's LF. */
  private segment(chunk: Uint8Array, a: number, b: number, hasLf: boolean): void {
    const contentEnd = hasLf ? b - 1 : b;
    if (this.lineLen === 0) {
      this.candidate = this.frames.length > 0 && chunk[a] === DASH;
      this.prefixLen = 0;
    }
    if (this.candidate) {
      for (let i = a; i < contentEnd; i++) {
        const c = chunk[i];
        if (this.prefixLen < PREFIX_CAP) {
          this.prefix[this.prefixLen++] = c;
        } else if (!isPadding(c)) {
          this.candidate = false;
          break;
        }
      }
    }
    if (this.mode === 'header') {
      const top = this.parts[this.open[this.open.length - 1]];
      const size = this.pos + (b - a) - top.headerStart;
      if (size > this.limits.headerSize) {
        // The header block is too large: it ends before this line, which becomes body.
        this.finishHeader('overflow', this.lineStart, this.lfCount);
      } else {
        this.appendHeader(chunk.subarray(a, b));
      }
    } else if (this.capture !== null) {
      const cap = this.capture;
      const room = cap.buf.length - cap.len;
      if (room > 0) {
        const take = Math.min(room, b - a);
        cap.buf.set(chunk.subarray(a, a + take), cap.len);
        cap.len += take;
      }
    }
    if (hasLf) {
      const before = b - 2 >= a ? chunk[b - 2] : this.lineLen > 0 ? this.lastByte : -1;
      this.eolLen = before === CR ? 2 : 1;
    }
    this.lineLen += b - a;
    this.pos += b - a;
    this.lastByte = chunk[b - 1];
  }

  private appendHeader(bytes: Uint8Array): void {
    const need = this.headerLen + bytes.length;
    if (need > this.headerBuf.length) {
      let size = this.headerBuf.length * 2;
      while (size < need) size *= 2;
      const grown = new Uint8Array(Math.min(size, Math.max(need, this.limits.headerSize)));
      grown.set(this.headerBuf.subarray(0, this.headerLen));
      this.headerBuf = grown;
    }
    this.headerBuf.set(bytes, this.headerLen);
    this.headerLen = need;
  }

  private lineEnd(): void {
    const lineStart = this.lineStart;
    const eol = this.eolLen;
    const content = this.lineLen - eol;
    this.lfCount++;
    let delimiter = false;
    if (this.candidate) {
      const m = this.matchDelimiter();
      if (m !== null) {
        this.delimiter(m.frame, m.close, lineStart, this.lfCount - 1);
        delimiter = true;
      }
    }
    if (!delimiter && this.mode === 'header' && content === 0) {
      this.finishHeader('blank', this.pos, this.lfCount);
    }
    this.prevEolLen = eol;
    this.prevContentLen = content;
    this.lineStart = this.pos;
    this.lineLen = 0;
    this.candidate = false;
  }

  /** Is the collected line start a delimiter ("--b") or close delimiter ("--b--") of an active boundary? */
  private matchDelimiter(): { frame: number; close: boolean } | null {
    const p = this.prefix;
    let n = this.prefixLen;
    while (n > 0 && isPadding(p[n - 1])) n--;
    if (n < 3 || p[0] !== DASH || p[1] !== DASH) return null;
    const open = this.boundaries.get(latin1(p.subarray(2, n)));
    if (open !== undefined) return { frame: open, close: false };
    if (n >= 5 && p[n - 1] === DASH && p[n - 2] === DASH) {
      const close = this.boundaries.get(latin1(p.subarray(2, n - 2)));
      if (close !== undefined) return { frame: close, close: true };
    }
    return null;
  }

  /** A delimiter line of frame `j` starts at `lineStart`; `pos` is already past the line. */
  private delimiter(j: number, close: boolean, lineStart: number, lfAtLine: number): void {
    const frame = this.frames[j];
    // RFC 2046 §5.1.1: the line break before the delimiter is part of the delimiter, so it is taken
    // from whatever precedes it inside the multipart: the body part being closed (even when that
    // break ends its header block), or the preamble or epilogue. Only the very first line of the
    // multipart body may be a delimiter without a break of its own.
    const childPos = frame.openPos + 1;
    const regionStart =
      childPos < this.open.length
        ? this.parts[this.open[childPos]].headerStart
        : this.parts[frame.entity].headerEnd;
    const stripped = lineStart > regionStart;
    const end = stripped ? lineStart - this.prevEolLen : lineStart;
    const lfAtEnd = stripped ? lfAtLine - 1 : lfAtLine;
    const partial = stripped && this.prevContentLen > 0;
    while (this.frames.length > (close ? j : j + 1)) this.popFrame();
    if (this.mode === 'header') this.finishHeader('cut', end, lfAtEnd);
    while (this.open[this.open.length - 1] !== frame.entity) this.closeEntity(end, lfAtEnd, partial);
    this.mode = 'body';
    if (close) return;
    if (this.parts.length >= this.limits.mimeParts) {
      // Further parts of this multipart are skipped up to the next delimiter.
      this.truncated = true;
      return;
    }
    this.startEntity('part', frame.entity, this.pos);
  }

  private popFrame(): void {
    const f = this.frames.pop();
    if (f === undefined) return;
    if (f.shadowed === undefined) this.boundaries.delete(f.key);
    else this.boundaries.set(f.key, f.shadowed);
  }

  private startEntity(kind: 'message' | 'part', parent: number, at: number): void {
    const idx = this.parts.length;
    let part = '';
    let depth = 0;
    this.headerDefault = { type: 'text', subtype: 'plain' };
    if (parent >= 0) {
      const p = this.parts[parent];
      p.children.push(idx);
      depth = p.depth + 1;
      if (kind === 'part') {
        part = (p.part === '' ? '' : `${p.part}.`) + String(p.children.length);
        // RFC 2046 §5.1.5: in a digest the default body part type is message/rfc822.
        if (p.subtype === 'digest') this.headerDefault = { type: 'message', subtype: 'rfc822' };
      } else {
        // The message inside message/rfc822 takes that part's number; when the container is itself
        // a whole non-multipart message, its body is part 1 of it (RFC 9051 §6.4.5).
        part = p.kind === 'message' ? (p.part === '' ? '1' : `${p.part}.1`) : p.part;
      }
    }
    this.parts.push({
      part,
      kind,
      parent,
      children: [],
      depth,
      headerStart: at,
      headerEnd: at,
      bodyEnd: at,
      headerSize: 0,
      bodySize: 0,
      bodyLines: 0,
      type: 'text',
      subtype: 'plain',
      params: [],
      charset: null,
      id: null,
      description: null,
      encoding: '7bit',
      disposition: null,
      language: null,
      location: null,
      md5: null,
      filename: null,
      message: null,
      opaque: false,
    });
    this.lfStart.push(0);
    this.open.push(idx);
    this.mode = 'header';
    this.headerLen = 0;
  }

  /** The header of the innermost open entity ends at `end` (its body starts there). */
  private finishHeader(reason: HeaderEndReason, end: number, lfAtEnd: number): void {
    const idx = this.open[this.open.length - 1];
    const part = this.parts[idx];
    if (part.headerStart > end) part.headerStart = end;
    part.headerEnd = end;
    part.bodyEnd = end;
    part.headerSize = end - part.headerStart;
    this.lfStart[idx] = lfAtEnd;
    this.mode = 'body';
    const headerBytes = this.headerBuf.subarray(0, Math.min(this.headerLen, part.headerSize));
    this.headerLen = 0;
    try {
      const fields = parseHeaderBlock(headerBytes);
      const first = firstValues(fields);
      Object.assign(part, contentFields(first, this.headerDefault));
      if (part.kind === 'message') {
        const envelope = envelopeOf(first);
        if (part.parent < 0) {
          this.envelope = envelope;
          this.rootFields = fields;
        } else {
          this.parts[part.parent].message = { envelope, root: idx };
        }
      }
    } catch {
      // Defensive: the field parsers do not throw; if one ever does, the entity keeps its defaults
      // (text/plain, no envelope) and the offsets stay exact.
    }
    if (this.headerBuf.length > 64 * 1024) this.headerBuf = new Uint8Array(4096);
    if (reason === 'overflow') this.truncated = true;
    if (reason !== 'blank') return;

    if (part.type === 'multipart') {
      if (part.depth >= this.limits.mimeDepth) {
        part.opaque = true;
        this.truncated = true;
        return;
      }
      let boundary: string | null = null;
      for (const [k, v] of part.params) if (k === 'boundary') boundary = v;
      if (boundary === null) return;
      let bEnd = boundary.length;
      while (bEnd > 0 && (boundary[bEnd - 1] === ' ' || boundary[bEnd - 1] === '\t')) bEnd--;
      const key = latin1(Buffer.from(boundary.slice(0, bEnd), 'utf8'));
      if (key.length === 0 || key.length > MAX_BOUNDARY) return;
      this.frames.push({
        key,
        entity: idx,
        openPos: this.open.length - 1,
        shadowed: this.boundaries.get(key),
      });
      this.boundaries.set(key, this.frames.length - 1);
      return;
    }
    if (part.type === 'message' && (part.subtype === 'rfc822' || part.subtype === 'global')) {
      // RFC 2046 §5.2.1: only 7bit, 8bit or binary; an encoded message is not parsed.
      if (part.encoding !== '7bit' && part.encoding !== '8bit' && part.encoding !== 'binary') {
        part.opaque = true;
        return;
      }
      if (part.depth >= this.limits.mimeDepth || this.parts.length >= this.limits.mimeParts) {
        part.opaque = true;
        this.truncated = true;
        return;
      }
      this.startEntity('message', idx, end);
      return;
    }
    this.startCapture(idx, part);
  }

  private startCapture(idx: number, part: MimePart): void {
    if (this.plainSource !== null || part.type !== 'text') return;
    if (part.disposition !== null && part.disposition.type === 'attachment') return;
    if (part.subtype === 'plain') {
      this.capture = { entity: idx, html: false, buf: new Uint8Array(PLAIN_CAPTURE), len: 0 };
    } else if (part.subtype === 'html' && this.htmlSource === null) {
      this.capture = { entity: idx, html: true, buf: new Uint8Array(HTML_CAPTURE), len: 0 };
    }
  }

  /** Closes the innermost open entity: its body ends at `end`. */
  private closeEntity(end: number, lfAtEnd: number, partial: boolean): void {
    const idx = this.open.pop();
    if (idx === undefined) return;
    const part = this.parts[idx];
    // A delimiter may take the line break that ended this entity's header (its body being empty).
    if (part.headerStart > end) part.headerStart = end;
    if (part.headerEnd > end) {
      part.headerEnd = end;
      part.headerSize = end - part.headerStart;
    }
    part.bodyEnd = end;
    part.bodySize = end - part.headerEnd;
    part.bodyLines = part.bodySize === 0 ? 0 : lfAtEnd - this.lfStart[idx] + (partial ? 1 : 0);
    const cap = this.capture;
    if (cap !== null && cap.entity === idx) {
      const source: PreviewSource = {
        raw: cap.buf.subarray(0, Math.min(cap.len, part.bodySize)),
        encoding: part.encoding,
        charset: part.charset,
      };
      // An empty part does not take the preview; a later one may.
      if (source.raw.length > 0) {
        if (cap.html) this.htmlSource = source;
        else this.plainSource = source;
      }
      this.capture = null;
    }
  }

  private finish(): MimeRecord {
    if (this.lineLen > 0) {
      // The last line has no line break.
      if (this.candidate) {
        const m = this.matchDelimiter();
        if (m !== null) this.delimiter(m.frame, m.close, this.lineStart, this.lfCount);
      }
    }
    if (this.mode === 'header') this.finishHeader('eof', this.pos, this.lfCount);
    const partial = this.pos > 0 && this.lastByte !== LF;
    while (this.open.length > 0) this.closeEntity(this.pos, this.lfCount, partial);
    while (this.frames.length > 0) this.popFrame();

    let preview = '';
    const source = this.plainSource ?? this.htmlSource;
    if (source !== null) {
      preview = previewText(source.raw, {
        encoding: source.encoding,
        charset: source.charset,
        html: source === this.htmlSource && this.plainSource === null,
      });
    }
    return {
      size: this.pos,
      envelope: this.envelope,
      parts: this.parts,
      headers: searchHeaders(this.rootFields),
      preview,
      truncated: this.truncated,
    };
  }
}

/** Indexes a whole message held in memory (tests, import); the store streams through MimeIndexer. */
export function indexMessage(bytes: Uint8Array, limits: MimeLimits = DEFAULT_LIMITS): MimeRecord {
  const indexer = new MimeIndexer(limits);
  indexer.write(bytes);
  return indexer.end();
}
