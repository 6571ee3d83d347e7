// One message's FETCH data (RFC 9051 §7.5.2, RFC 3501 §7.4.2, RFC 3516 §4.2). Invariants:
// - body sections are served from the blob by byte range (env.blobs.read with start/end), never
//   by reading the whole message: a section above STREAM_ABOVE bytes is not read here at all but
//   returned as a stream piece, which writeFetchResponse() pipes to the socket with backpressure;
// - the MIME record is read only when an item needs it;
// - body section contents always go as literals ({n}, or ~{n} for BINARY data holding NUL), so
//   the bytes are sent exactly as stored.

import type { Readable } from 'node:stream';
import {
  bodystructure,
  findPart,
  formatBodystructure,
  formatEnvelope,
  sectionRange,
} from '../../mail/mime/index.js';
import { envelopeValue } from '../../mail/mime/bodystructure.js';
import type { ByteRange } from '../../mail/mime/index.js';
import type { MimeRecord } from '../../mail/mime/types.js';
import type { BlobStore } from '../../store/blob/types.js';
import type { MessageMeta } from '../../store/types.js';
import type { Messages } from '../../store/roles.js';
import { atom, raw, ResponseEncoder, type ImapData } from '../../wire/imap/encoder.js';
import type { FetchItem, FetchPartial, FetchSection } from '../../wire/imap/fetch.js';
import { assertKnownEncoding, decodeTransfer } from './binary.js';
import type { ImapSessionContext } from './context.js';

/** Sections larger than this are streamed from the blob instead of read into memory. */
export const STREAM_ABOVE = 64 * 1024;

/** A byte range of a blob to send as the contents of a literal. */
export interface StreamPiece {
  kind: 'stream';
  blobId: string;
  start: number;
  end: number;
}

/** One value of the FETCH list: encoded data or a blob range streamed in place. */
export type FetchPiece = ImapData | StreamPiece;

export interface FetchSources {
  store: Messages;
  blobs: BlobStore;
  /** The client may get UTF-8 in quoted strings (UTF8=ACCEPT). */
  utf8: boolean;
  /** IMAP4rev2 session (RFC 2231 parameters only for rev1 clients without UTF8=ACCEPT). */
  rev2: boolean;
}

/** Per-message lazy access to its MIME record. */
export class MessageSource {
  private mime: MimeRecord | null = null;
  constructor(
    readonly meta: MessageMeta,
    private readonly src: FetchSources,
  ) {}

  async record(): Promise<MimeRecord> {
    if (this.mime === null) this.mime = await this.src.store.getMime(this.meta.blobId);
    return this.mime;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * RFC 9051 §9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz", in UTC. The grammar allows a space or a
 * zero before a one-digit day; zero, as Dovecot sends it.
 */
export function formatInternalDate(d: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  const day = two(d.getUTCDate());
  return (
    `${day}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`
  );
}

/** Reads bytes [start, end) of a blob into memory (callers keep ranges small). */
export async function readRange(
  blobs: BlobStore,
  blobId: string,
  start: number,
  end: number,
): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of blobs.read(blobId, { start, end }) as AsyncIterable<Buffer>) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** A literal `{n}` (or `~{n}`) with its contents, as one pre-encoded value. */
export function literalData(bytes: Buffer, opts: { binary?: boolean } = {}): ImapData {
  return raw(Buffer.concat([Buffer.from(`${opts.binary === true ? '~' : ''}{${bytes.length}}\r\n`), bytes]));
}

/**
 * What a section that does not exist reads as: RFC 9051 §6.4.5 does not say; an empty literal,
 * as Dovecot answers (NIL would break clients that expect a string).
 */
const EMPTY: ImapData = raw('{0}\r\n');

/** The window of a partial fetch inside a range (RFC 9051 §6.4.5: empty past the end). */
function window(range: ByteRange, partial: FetchPartial | null): ByteRange {
  if (partial === null) return range;
  const start = Math.min(range.start + partial.offset, range.end);
  return { start, end: Math.min(start + partial.length, range.end) };
}

/**
 * RFC 9051 §6.4.5 HEADER.FIELDS / HEADER.FIELDS.NOT: the matching fields of a header block,
 * compared case-insensitively, every occurrence, folded lines kept, then the blank line.
 */
export function filterHeaderFields(header: Buffer, names: readonly string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const out: Buffer[] = [];
  let keep = false;
  let i = 0;
  const n = header.length;
  while (i < n) {
    let lf = header.indexOf(0x0a, i);
    const lineEnd = lf < 0 ? n : lf + 1;
    if (lf < 0) lf = n;
    const contentEnd = lf > i && header[lf - 1] === 0x0d ? lf - 1 : lf;
    if (contentEnd === i) break; // the blank line ending the header
    const first = header[i];
    if (first !== 0x20 && first !== 0x09) {
      const colon = header.indexOf(0x3a, i);
      if (colon < 0 || colon >= contentEnd) keep = false;
      else {
        let nameEnd = colon;
        while (nameEnd > i && (header[nameEnd - 1] === 0x20 || header[nameEnd - 1] === 0x09)) nameEnd--;
        const name = header.toString('latin1', i, nameEnd).toLowerCase();
        keep = wanted.has(name) !== not;
      }
    }
    if (keep) {
      out.push(header.subarray(i, lineEnd));
      if (lineEnd === n && header[n - 1] !== 0x0a) out.push(Buffer.from('\r\n'));
    }
    i = lineEnd;
  }
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}

/** The byte range BODY[section] addresses (whole-message ranges need no MIME record), or null. */
async function sectionBytes(msg: MessageSource, section: FetchSection): Promise<{ range: ByteRange } | null> {
  const t = section.text;
  if (section.part.length === 0 && t.kind === 'full') return { range: { start: 0, end: msg.meta.size } };
  const record = await msg.record();
  switch (t.kind) {
    case 'full': {
      const r = sectionRange(record, section.part, '');
      return r === null ? null : { range: r };
    }
    case 'mime':
    case 'header':
    case 'text': {
      const r = sectionRange(
        record,
        section.part,
        t.kind === 'mime' ? 'MIME' : t.kind === 'header' ? 'HEADER' : 'TEXT',
      );
      return r === null ? null : { range: r };
    }
    case 'headerFields':
      return null;
  }
}

export interface BuildOptions {
  seq: number;
  /** FLAGS atoms of the message as the session reports them. */
  flags: ImapData[];
}

/**
 * Appends a metadata item (UID, FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ) of a message to
 * `out`; false for any other item. Shared by buildFetchItems and FETCH's metadata-only path.
 */
/**
 * RFC 8474 §5.1 EMAILID: derived from the content address (sha256) of the message's bytes, so
 * COPY and MOVE (which share the blob) keep it, and two ids are equal only for identical bytes
 * (RFC 8474 lets identical content share one). 'M' and 32 hex digits (128 bits).
 */
export function emailIdOf(blobId: string): string {
  return `M${blobId.slice(0, 32)}`;
}

export function pushMetadataItem(
  out: FetchPiece[],
  item: FetchItem,
  meta: MessageMeta,
  flags: ImapData[],
): boolean {
  switch (item.kind) {
    case 'uid':
      out.push(atom('UID'), meta.uid);
      return true;
    case 'flags':
      out.push(atom('FLAGS'), flags);
      return true;
    case 'internalDate':
      out.push(atom('INTERNALDATE'), formatInternalDate(meta.internalDate));
      return true;
    case 'rfc822Size':
      out.push(atom('RFC822.SIZE'), meta.size);
      return true;
    case 'modseq':
      // RFC 7162 §3.1.4.1: MODSEQ (n).
      out.push(atom('MODSEQ'), [meta.modseq]);
      return true;
    case 'saveDate':
      // RFC 8514 §3: a date-time like INTERNALDATE.
      out.push(atom('SAVEDATE'), formatInternalDate(meta.saveDate));
      return true;
    case 'emailId':
      // RFC 8474 §5.1: EMAILID (objectid).
      out.push(atom('EMAILID'), [atom(emailIdOf(meta.blobId))]);
      return true;
    case 'threadId':
      // RFC 8474 §5.2: NIL where threads are not computed (they are not, yet).
      out.push(atom('THREADID'), null);
      return true;
    default:
      return false;
  }
}

/**
 * The FETCH list of one message for the requested items, in the order asked.
 * Throws ImapNo for BINARY of a part with an unknown transfer encoding.
 */
export async function buildFetchItems(
  msg: MessageSource,
  items: readonly FetchItem[],
  src: FetchSources,
  opts: BuildOptions,
): Promise<FetchPiece[]> {
  const out: FetchPiece[] = [];
  const meta = msg.meta;
  for (const item of items) {
    if (pushMetadataItem(out, item, meta, opts.flags)) continue;
    switch (item.kind) {
      case 'envelope':
        out.push(
          atom('ENVELOPE'),
          raw(formatEnvelope(envelopeValue((await msg.record()).envelope), src.utf8)),
        );
        break;
      case 'preview':
        // RFC 8970 §3: computed at delivery (at most 200 characters, under the 256 allowed);
        // an empty string when the message has no text to show.
        out.push(atom('PREVIEW'), (await msg.record()).preview);
        break;
      case 'body':
      case 'bodyStructure': {
        const record = await msg.record();
        const extended = item.kind === 'bodyStructure';
        const value = bodystructure(record, { extended, utf8: src.utf8 || src.rev2 });
        out.push(atom(extended ? 'BODYSTRUCTURE' : 'BODY'), raw(formatBodystructure(value, src.utf8)));
        break;
      }
      case 'rfc822':
        out.push(
          atom('RFC822'),
          ...(await sectionData(msg, { part: [], text: { kind: 'full' } }, null, src)),
        );
        break;
      case 'rfc822Header':
        out.push(
          atom('RFC822.HEADER'),
          ...(await sectionData(msg, { part: [], text: { kind: 'header' } }, null, src)),
        );
        break;
      case 'rfc822Text':
        out.push(
          atom('RFC822.TEXT'),
          ...(await sectionData(msg, { part: [], text: { kind: 'text' } }, null, src)),
        );
        break;
      case 'bodySection': {
        // Header field names echoed in upper case, as Dovecot does (RFC 9051 §7.5.2 compares
        // them case-insensitively).
        const name = item.section.text.kind === 'headerFields' ? item.name.toUpperCase() : item.name;
        out.push(atom(name), ...(await sectionData(msg, item.section, item.partial, src)));
        break;
      }
      case 'binary':
        out.push(atom(item.name), await binaryData(msg, item.part, item.partial, src));
        break;
      case 'binarySize':
        out.push(atom(item.name), await binarySize(msg, item.part, src));
        break;
    }
  }
  return out;
}

/** BODY[section]<partial>: a literal, a stream piece for a large range, or NIL when absent. */
async function sectionData(
  msg: MessageSource,
  section: FetchSection,
  partial: FetchPartial | null,
  src: FetchSources,
): Promise<FetchPiece[]> {
  if (section.text.kind === 'headerFields') {
    const record = await msg.record();
    const r = sectionRange(record, section.part, 'HEADER');
    if (r === null) return [EMPTY];
    const header = await readRange(src.blobs, msg.meta.blobId, r.start, r.end);
    const filtered = filterHeaderFields(header, section.text.fields, section.text.not);
    const w = window({ start: 0, end: filtered.length }, partial);
    return [literalData(filtered.subarray(w.start, w.end))];
  }
  const found = await sectionBytes(msg, section);
  if (found === null) return [EMPTY];
  const w = window(found.range, partial);
  if (w.end - w.start > STREAM_ABOVE) {
    return [{ kind: 'stream', blobId: msg.meta.blobId, start: w.start, end: w.end }];
  }
  return [literalData(await readRange(src.blobs, msg.meta.blobId, w.start, w.end))];
}

/** The decoded content of BINARY[part] (RFC 3516 §4.2), or null when the part does not exist. */
async function decodedPart(msg: MessageSource, part: number[], src: FetchSources): Promise<Buffer | null> {
  if (part.length === 0) return readRange(src.blobs, msg.meta.blobId, 0, msg.meta.size);
  const record = await msg.record();
  const p = findPart(record, part);
  const r = sectionRange(record, part, '');
  if (p === null || r === null) return null;
  assertKnownEncoding(p.encoding);
  return decodeTransfer(await readRange(src.blobs, msg.meta.blobId, r.start, r.end), p.encoding);
}

async function binaryData(
  msg: MessageSource,
  part: number[],
  partial: FetchPartial | null,
  src: FetchSources,
): Promise<FetchPiece> {
  const data = await decodedPart(msg, part, src);
  if (data === null) return EMPTY;
  const w = window({ start: 0, end: data.length }, partial);
  const slice = data.subarray(w.start, w.end);
  // RFC 3516 §4.2: literal8 when the decoded data holds NUL.
  return literalData(slice, { binary: slice.includes(0) });
}

async function binarySize(msg: MessageSource, part: number[], src: FetchSources): Promise<FetchPiece> {
  if (part.length === 0) return msg.meta.size;
  const record = await msg.record();
  const p = findPart(record, part);
  const r = sectionRange(record, part, '');
  // A part that does not exist has no content: 0, as Dovecot answers.
  if (p === null || r === null) return 0;
  assertKnownEncoding(p.encoding);
  if (p.encoding === 'base64' || p.encoding === 'quoted-printable') {
    return (await decodedPart(msg, part, src))?.length ?? null;
  }
  return r.end - r.start;
}

function isStream(p: FetchPiece): p is StreamPiece {
  return (
    typeof p === 'object' && p !== null && !Array.isArray(p) && (p as { kind?: unknown }).kind === 'stream'
  );
}

/**
 * Writes `* seq FETCH (pieces)`: queued with the other untagged responses when it holds no
 * stream piece; otherwise written in order, each blob range piped with backpressure.
 */
export async function writeFetchResponse(
  ctx: ImapSessionContext,
  seq: number,
  pieces: readonly FetchPiece[],
): Promise<void> {
  if (!pieces.some(isStream)) {
    ctx.untagged(seq, atom('FETCH'), pieces as ImapData[]);
    return;
  }
  const enc = new ResponseEncoder({ utf8Accept: ctx.utf8 });
  enc.data(raw(`* ${seq} FETCH (`));
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (i > 0) enc.data(raw(' '));
    if (!isStream(p)) {
      enc.data(p);
      continue;
    }
    const length = p.end - p.start;
    enc.data(raw(`{${length}}\r\n`));
    await ctx.writeRaw(enc.take());
    let sent = 0;
    const stream: Readable = ctx.env.blobs.read(p.blobId, { start: p.start, end: p.end });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      sent += chunk.length;
      await ctx.writeRaw(chunk);
    }
    if (sent !== length) {
      // The literal length is already on the wire: the stream cannot be repaired.
      ctx.log.error({ blobId: p.blobId, sent, length }, 'blob shorter than its record');
      ctx.conn.destroy();
      throw new Error('blob shorter than its record');
    }
  }
  enc.data(raw(')\r\n'));
  await ctx.writeRaw(enc.take());
}
