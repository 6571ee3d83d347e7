// The text SEARCH matches against (RFC 9051 §6.4.4, RFC 3501 §6.4.4): header fields with their
// RFC 2047 encoded words decoded, and the bodies of text parts after undoing their
// content-transfer-encoding and charset. Everything is lower-cased once here, so matching is a
// case-insensitive substring test (`includes`) on both sides lower-cased.
// Invariants:
// - one message's content is loaded lazily and at most once per SEARCH (MessageText memoises);
// - memory per message is bounded: a text part larger than MAX_PART_BYTES is searched only in
//   its first MAX_PART_BYTES bytes, and the header block is bounded by the indexer's header limit;
// - nothing here throws for broken input: undecodable text is searched as Latin-1.

import iconv from 'iconv-lite';
import { decodeWords } from '../../mail/mime/address.js';
import { decodeHeaderBytes, parseHeaderBlock } from '../../mail/mime/header-block.js';
import { decodeQuotedPrintable } from '../../mail/mime/preview.js';
import {
  FIELD_UNPARSED,
  foldSearchText,
  searchFieldText,
  textPartRanges,
  type SearchField,
  type TextPartRange,
} from '../../mail/mime/search-fields.js';
import type { MimeRecord } from '../../mail/mime/types.js';
import type { BlobStore } from '../../store/blob/types.js';
import type { Messages } from '../../store/roles.js';

/** Bytes of one text part searched at most (the rest of a larger part is not searched). */
export const MAX_PART_BYTES = 8 * 1024 * 1024;
/** Messages up to this size are read in one go; larger ones by byte range, part by part. */
const READ_WHOLE_BELOW = 256 * 1024;

export interface TextSource {
  store: Messages;
  blobs: BlobStore;
}

/** Lower-cases for case-insensitive comparison (RFC 9051 §6.4.4 "case-insensitive"). */
export function foldCase(s: string): string {
  return foldSearchText(s);
}

/** One message's searchable content, loaded on first use. */
export class MessageText {
  private mimeRecord: MimeRecord | null = null;
  private whole: Buffer | null = null;
  private fields: Array<{ key: string; value: string }> | null = null;
  private headerBlock: string | null = null;
  private bodies: string[] | null = null;

  constructor(
    private readonly src: TextSource,
    readonly blobId: string,
    readonly size: number,
    /** The text parts when already known (MailStore.textParts): BODY then needs no MIME record. */
    private readonly textParts?: readonly TextPartRange[],
  ) {}

  async mime(): Promise<MimeRecord> {
    this.mimeRecord ??= await this.src.store.getMime(this.blobId);
    return this.mimeRecord;
  }

  /** SUBJECT, FROM, TO, CC, BCC from the indexer's decoded headers, folded; null when absent. */
  async indexedHeader(field: SearchField): Promise<string | null> {
    const value = searchFieldText(await this.mime(), field);
    // An address field the indexer could not parse is searched as written.
    return value === FIELD_UNPARSED ? this.rawField(field) : value;
  }

  private async rawField(key: string): Promise<string | null> {
    for (const f of await this.headerFields()) if (f.key === key) return f.value;
    return null;
  }

  /** Every top-level header field: lower-case name, decoded and folded value. */
  async headerFields(): Promise<Array<{ key: string; value: string }>> {
    if (this.fields === null) {
      const root = (await this.mime()).parts[0];
      const bytes = root === undefined ? Buffer.alloc(0) : await this.bytes(root.headerStart, root.headerEnd);
      this.fields = parseHeaderBlock(bytes).map((f) => ({
        key: f.key,
        value: foldCase(decodeWords(f.value)),
      }));
    }
    return this.fields;
  }

  /** The whole top-level header block, unfolded per field, decoded and folded (TEXT). */
  async headerText(): Promise<string> {
    if (this.headerBlock === null) {
      let s = '';
      for (const f of await this.headerFields()) s += `${f.key}: ${f.value}\n`;
      this.headerBlock = s;
    }
    return this.headerBlock;
  }

  /** The decoded, folded text of every text part (BODY). */
  async bodyTexts(): Promise<string[]> {
    if (this.bodies === null) {
      const ranges = this.textParts ?? textPartRanges(await this.mime());
      const out: string[] = [];
      for (const [start, bodyEnd, encoding, charset] of ranges) {
        const end = Math.min(bodyEnd, start + MAX_PART_BYTES);
        const raw = await this.bytes(start, end);
        out.push(foldCase(decodeText(raw, encoding, charset)));
      }
      this.bodies = out;
    }
    return this.bodies;
  }

  private async bytes(start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    if (this.size <= READ_WHOLE_BELOW) {
      this.whole ??=
        this.src.blobs.readSmallSync?.(this.blobId, this.size) ??
        (await this.src.blobs.readAll(this.blobId, { size: this.size }));
      return this.whole.subarray(start, end);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of this.src.blobs.read(this.blobId, { start, end })) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
}

/** Undoes the content-transfer-encoding, then the charset (RFC 2045 §6, RFC 2046 §4.1.2). */
export function decodeText(raw: Buffer, encoding: string, charset: string | null): string {
  let bytes: Buffer = raw;
  if (encoding === 'base64') bytes = Buffer.from(raw.toString('latin1'), 'base64');
  else if (encoding === 'quoted-printable') {
    const d = decodeQuotedPrintable(raw);
    bytes = Buffer.from(d.buffer, d.byteOffset, d.length);
  }
  const cs = charset === null || charset === 'us-ascii' ? 'utf-8' : charset;
  if (cs === 'utf-8' || cs === 'utf8') return decodeHeaderBytes(bytes);
  try {
    if (iconv.encodingExists(cs)) return iconv.decode(bytes, cs);
  } catch {
    // fall through to Latin-1
  }
  return bytes.toString('latin1');
}
