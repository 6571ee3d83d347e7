// The 7-bit downgrade of an 8BITMIME (or BINARYMIME) message for a server that does not offer
// 8BITMIME (RFC 6152 §3: the client must then convert the message to 7 bits or return it; RFC
// 1652 §4 gave the same choice). Conversion follows RFC 2045/2046: each leaf part whose body is
// labelled 8bit or binary (or carries 8-bit octets under a 7bit label) is re-encoded,
// quoted-printable for text/*, base64 otherwise, and its Content-Transfer-Encoding field
// replaced; a multipart or an embedded message/rfc822 labelled 8bit or binary is relabelled
// 7bit once its contents are converted (RFC 2046 §5: composites take no other encoding).
// What cannot be converted is refused (5.6.3) rather than sent damaged:
// - 8-bit octets in any header field (RFC 6152 and RFC 5322 allow none without SMTPUTF8; an
//   RFC 2047 rewrite would change what the author wrote and what DKIM signed);
// - a message without MIME-Version whose body has 8-bit octets (nothing says what its octets
//   mean, so no label can be given: RFC 2045 §4);
// - 8-bit octets in a multipart preamble, epilogue or delimiter line, or in a message/* leaf
//   that is not indexed (message/partial, message/external-body, or past a MIME limit);
// - a message the indexer truncated (a MIME limit): its structure is not fully known.
// Memory: the MIME record (bounded by limits.mime_parts), one header block at a time (bounded
// by limits.message_header_size per entity) and one input chunk: the body is streamed.

import { MimeIndexer } from '../mail/mime/indexer.js';
import type { MimeLimits, MimePart, MimeRecord } from '../mail/mime/types.js';

/** The message cannot be converted to 7 bits without changing it: the reason, for a 5.6.3 reply. */
export class DowngradeImpossible extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DowngradeImpossible';
  }
}

/** A 7bit-labelled leaf turned out to carry 8-bit octets: it must be encoded too. */
class LeafNeedsEncoding extends Error {
  constructor(readonly part: number) {
    super(`part ${part} carries 8-bit octets`);
  }
}

type Segment =
  | { kind: 'header'; start: number; end: number; part: number; cte: string | null }
  | { kind: 'encode'; start: number; end: number; part: number; encoding: 'quoted-printable' | 'base64' }
  /** A leaf body kept as it is (7-bit content expected). */
  | { kind: 'leaf'; start: number; end: number; part: number }
  /** Anything else: preambles, delimiters, epilogues. */
  | { kind: 'copy'; start: number; end: number };

export interface DowngradePlan {
  record: MimeRecord;
  /** Leaves labelled 7bit found to carry 8-bit octets (they get encoded). */
  forced: Set<number>;
}

/** Pass one: the message's MIME structure, read from a stream. */
export async function planDowngrade(
  source: AsyncIterable<Uint8Array>,
  limits: MimeLimits,
): Promise<DowngradePlan> {
  const indexer = new MimeIndexer(limits);
  for await (const chunk of source) indexer.write(chunk);
  const record = indexer.end();
  if (record.truncated) {
    throw new DowngradeImpossible('the MIME structure exceeds a limit: it cannot be converted to 7 bits');
  }
  return { record, forced: new Set() };
}

const EIGHT_BIT = new Set(['8bit', 'binary']);
/** message/* types that must not be base64- or QP-encoded (RFC 2046 §5.2). */
const NO_ENCODING_MESSAGE = new Set(['rfc822', 'partial', 'external-body']);

function isLeaf(p: MimePart): boolean {
  return p.children.length === 0;
}

function segments(plan: DowngradePlan): Segment[] {
  const { parts } = plan.record;
  const out: Segment[] = [];
  const mime = plan.record.headers.names.includes('mime-version');
  parts.forEach((p, i) => {
    if (isLeaf(p)) {
      const wanted = EIGHT_BIT.has(p.encoding) || plan.forced.has(i);
      if (wanted && !mime) {
        throw new DowngradeImpossible('8-bit data in a message without MIME-Version cannot be labelled');
      }
      if (wanted && p.type === 'message' && NO_ENCODING_MESSAGE.has(p.subtype)) {
        throw new DowngradeImpossible(`8-bit data in a message/${p.subtype} part cannot be encoded`);
      }
      const encoding = p.type === 'text' ? 'quoted-printable' : 'base64';
      out.push({
        kind: 'header',
        start: p.headerStart,
        end: p.headerEnd,
        part: i,
        cte: wanted ? encoding : null,
      });
      if (wanted) out.push({ kind: 'encode', start: p.headerEnd, end: p.bodyEnd, part: i, encoding });
      else out.push({ kind: 'leaf', start: p.headerEnd, end: p.bodyEnd, part: i });
    } else {
      // A composite: relabelled 7bit when it said 8bit or binary (RFC 2046 §5.1, §5.2.1).
      out.push({
        kind: 'header',
        start: p.headerStart,
        end: p.headerEnd,
        part: i,
        cte: EIGHT_BIT.has(p.encoding) ? '7bit' : null,
      });
    }
  });
  // An embedded message's entity shares its header with nothing; parts are in document order.
  out.sort((a, b) => a.start - b.start || a.end - b.end);
  const filled: Segment[] = [];
  let pos = 0;
  for (const s of out) {
    if (s.start < pos) continue; // an entity whose header is also its parent's (never overlaps)
    if (s.start > pos) filled.push({ kind: 'copy', start: pos, end: s.start });
    filled.push(s);
    pos = s.end;
  }
  filled.push({ kind: 'copy', start: pos, end: Number.MAX_SAFE_INTEGER });
  return filled;
}

function hasEightBit(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return true;
  return false;
}

/** The header block with its Content-Transfer-Encoding fields replaced by one saying `cte`. */
function rewriteHeader(header: Buffer, cte: string): Buffer {
  const text = header.toString('latin1');
  const lines = text.split(/(?<=\n)/);
  const kept: string[] = [];
  let dropping = false;
  for (const line of lines) {
    const continuation = line.startsWith(' ') || line.startsWith('\t');
    if (continuation && dropping) continue;
    dropping = /^content-transfer-encoding[ \t]*:/i.test(line);
    if (!dropping) kept.push(line);
  }
  const field = `Content-Transfer-Encoding: ${cte}\r\n`;
  // Before the blank line that ends the block, when there is one.
  const last = kept[kept.length - 1];
  if (last === '\r\n' || last === '\n') kept.splice(kept.length - 1, 0, field);
  else kept.push(field, '\r\n');
  return Buffer.from(kept.join(''), 'latin1');
}

const HEX = '0123456789ABCDEF';

/** Streaming quoted-printable (RFC 2045 §6.7): CRLF are line breaks, lines at most 76 characters. */
class QpEncoder {
  private line = '';
  private pendingCr = false;
  private out: string[] = [];

  private emit(token: string): void {
    if (this.line.length + token.length > 75) {
      this.out.push(this.line, '=\r\n');
      this.line = '';
    }
    this.line += token;
  }

  private hardBreak(): void {
    // Rule 3: whitespace before a line break is encoded.
    const end = this.line.charCodeAt(this.line.length - 1);
    if (end === 0x20 || end === 0x09) {
      this.line = this.line.slice(0, -1);
      this.emit(end === 0x20 ? '=20' : '=09');
    }
    this.out.push(this.line, '\r\n');
    this.line = '';
  }

  private byte(c: number): void {
    if ((c >= 33 && c <= 126 && c !== 61) || c === 0x20 || c === 0x09) this.emit(String.fromCharCode(c));
    else this.emit(`=${HEX[c >> 4]}${HEX[c & 15]}`);
  }

  write(chunk: Uint8Array): Buffer {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.pendingCr) {
        this.pendingCr = false;
        if (c === 0x0a) {
          this.hardBreak();
          continue;
        }
        this.byte(0x0d);
      }
      if (c === 0x0d) this.pendingCr = true;
      else this.byte(c);
    }
    return this.take();
  }

  end(): Buffer {
    if (this.pendingCr) this.byte(0x0d);
    this.pendingCr = false;
    if (this.line.length > 0) {
      // The body's last line has no break of its own (the delimiter's CRLF follows): a soft
      // break would add one, so trailing whitespace is encoded instead.
      const end = this.line.charCodeAt(this.line.length - 1);
      if (end === 0x20 || end === 0x09) {
        this.line = this.line.slice(0, -1);
        this.emit(end === 0x20 ? '=20' : '=09');
      }
      this.out.push(this.line);
      this.line = '';
    }
    return this.take();
  }

  private take(): Buffer {
    const b = Buffer.from(this.out.join(''), 'latin1');
    this.out = [];
    return b;
  }
}

/** Streaming base64 (RFC 2045 §6.8) in lines of 76 characters. */
class Base64Encoder {
  private carry = Buffer.alloc(0);
  private column = 0;

  private lines(b64: string): string {
    let out = '';
    let i = 0;
    while (i < b64.length) {
      const room = 76 - this.column;
      const piece = b64.slice(i, i + room);
      out += piece;
      this.column += piece.length;
      i += piece.length;
      if (this.column === 76 && i < b64.length) {
        out += '\r\n';
        this.column = 0;
      }
    }
    return out;
  }

  write(chunk: Uint8Array): Buffer {
    let data = Buffer.concat([this.carry, chunk]);
    const whole = data.length - (data.length % 3);
    this.carry = Buffer.from(data.subarray(whole));
    data = data.subarray(0, whole);
    if (data.length === 0) return Buffer.alloc(0);
    // A line that just filled up gets its break before more characters follow.
    const prefix = this.column === 76 ? ((this.column = 0), '\r\n') : '';
    return Buffer.from(prefix + this.lines(data.toString('base64')), 'latin1');
  }

  end(): Buffer {
    const rest = this.carry.length > 0 ? this.carry.toString('base64') : '';
    this.carry = Buffer.alloc(0);
    const prefix = rest.length > 0 && this.column === 76 ? ((this.column = 0), '\r\n') : '';
    return Buffer.from(prefix + this.lines(rest), 'latin1');
  }
}

/**
 * Pass two (and three): the converted message, streamed from a fresh `source`. Throws
 * DowngradeImpossible (or, internally, retries the plan with a mislabelled leaf encoded).
 */
export async function* downgradedStream(
  plan: DowngradePlan,
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const segs = segments(plan);
  let si = 0;
  let pos = 0;
  let header: Buffer[] = [];
  let encoder: QpEncoder | Base64Encoder | null = null;
  for await (const input of source) {
    let chunk = input;
    const out: Uint8Array[] = [];
    while (chunk.length > 0) {
      const seg = segs[si]!;
      const take = Math.min(chunk.length, seg.end - pos);
      const piece = chunk.subarray(0, take);
      chunk = chunk.subarray(take);
      pos += take;
      switch (seg.kind) {
        case 'header':
          header.push(Buffer.from(piece));
          break;
        case 'encode':
          encoder ??= seg.encoding === 'base64' ? new Base64Encoder() : new QpEncoder();
          out.push(encoder.write(piece));
          break;
        case 'leaf':
          if (hasEightBit(piece)) throw new LeafNeedsEncoding(seg.part);
          out.push(piece);
          break;
        case 'copy':
          if (hasEightBit(piece)) {
            throw new DowngradeImpossible('8-bit data outside any body part cannot be converted');
          }
          out.push(piece);
          break;
      }
      if (pos === seg.end) {
        if (seg.kind === 'header') {
          const block = Buffer.concat(header);
          header = [];
          if (hasEightBit(block)) {
            throw new DowngradeImpossible('8-bit data in a header field cannot be converted to 7 bits');
          }
          out.push(seg.cte === null ? block : rewriteHeader(block, seg.cte));
        } else if (seg.kind === 'encode') {
          out.push(encoder!.end());
          encoder = null;
        }
        si++;
      }
    }
    if (out.length > 0) yield Buffer.concat(out);
  }
  // The message ended inside a segment (a header block without its blank line, a last body).
  const seg = segs[si];
  if (seg?.kind === 'header' && header.length > 0) {
    const block = Buffer.concat(header);
    if (hasEightBit(block))
      throw new DowngradeImpossible('8-bit data in a header field cannot be converted to 7 bits');
    yield seg.cte === null ? block : rewriteHeader(block, seg.cte);
  } else if (seg?.kind === 'encode' && encoder !== null) {
    yield encoder.end();
  }
}

/**
 * Measures the converted message (and lets `consume` read it, for a DKIM signature over the
 * bytes that will be sent), encoding any 7bit-labelled leaf found to carry 8-bit octets.
 * Throws DowngradeImpossible when the message cannot be converted.
 */
export async function prepareDowngrade(
  plan: DowngradePlan,
  source: () => AsyncIterable<Uint8Array>,
  consume?: (stream: AsyncIterable<Uint8Array>) => Promise<void>,
): Promise<{ size: number; body: () => AsyncIterable<Uint8Array> }> {
  for (let round = 0; round <= plan.record.parts.length; round++) {
    let size = 0;
    const counted = async function* (): AsyncGenerator<Uint8Array> {
      for await (const c of downgradedStream(plan, source())) {
        size += c.length;
        yield c;
      }
    };
    try {
      if (consume !== undefined) await consume(counted());
      else for await (const c of counted()) void c;
      return { size, body: () => downgradedStream(plan, source()) };
    } catch (err) {
      if (!(err instanceof LeafNeedsEncoding)) throw err;
      plan.forced.add(err.part);
    }
  }
  throw new DowngradeImpossible('the message could not be converted to 7 bits');
}
