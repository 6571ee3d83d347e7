// Streaming mbox reader (RFC 4155 "application/mbox", mboxrd escaping).
// Invariants:
// - the input is read chunk by chunk; memory is bounded by one message (at most
//   maxMessageSize bytes; a larger message is reported as oversized and its bytes dropped)
//   plus one line fragment of at most FRAGMENT bytes;
// - a message starts at a line beginning "From " that is the first line of the file or follows
//   a blank line; the blank line before it is the separator and not part of the message;
// - lines matching ^>+From  lose one ">" (mboxrd), every bare LF becomes CRLF, CRLF stays;
// - no regular expressions: lines are classified by their first bytes.

import { ByteAccumulator } from './byte-accumulator.js';
import { parseFromLineDate } from './from-line-date.js';

export interface MboxMessage {
  /** 0-based position of the message in the file. */
  index: number;
  /** The From_ line after "From ", without its line end (at most 1000 characters kept). */
  fromLine: string;
  /** The From_ line's date, or null when it has none that parses. */
  internalDate: Date | null;
  /** The message bytes with CRLF line ends; empty when oversized. */
  chunks: Buffer[];
  /** Bytes of the message as it would be stored (after unescaping and CRLF conversion). */
  size: number;
  /** True when the message was larger than maxMessageSize; its bytes were not kept. */
  oversized: boolean;
  /** Bytes of input consumed when the message was complete (for progress reports). */
  inputOffset: number;
}

export interface MboxReadOptions {
  maxMessageSize: number;
}

export class MboxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MboxFormatError';
  }
}

/** A line is classified from at most this many of its first bytes; longer lines pass in pieces. */
const FRAGMENT = 64 * 1024;
const FROM = Buffer.from('From ');
const CRLF = Buffer.from('\r\n');
const LF = 10;
const CR = 13;
const GT = 62;

function startsWithFrom(buf: Uint8Array, at: number): boolean {
  if (buf.length - at < FROM.length) return false;
  for (let i = 0; i < FROM.length; i++) if (buf[at + i] !== FROM[i]) return false;
  return true;
}

/** True for a line that is empty apart from its line end ("\n" or "\r\n"). */
function isBlankLine(line: Uint8Array, complete: boolean): boolean {
  return complete && (line.length === 1 || (line.length === 2 && line[0] === CR));
}

export async function* readMbox(
  source: AsyncIterable<Uint8Array>,
  opts: MboxReadOptions,
): AsyncGenerator<MboxMessage, void, undefined> {
  const parser = new MboxParser(opts.maxMessageSize);
  for await (const chunk of source) {
    parser.push(chunk);
    yield* parser.drain();
  }
  parser.end();
  yield* parser.drain();
}

class MboxParser {
  private readonly ready: MboxMessage[] = [];
  /** Bytes of the line being collected, before its first FRAGMENT bytes are known. */
  private lineHead: Buffer[] = [];
  private lineHeadLen = 0;
  /** Inside a line whose head was already classified (a long line). */
  private inLongLine = false;
  private longLineIsFromLine = false;
  private started = false;
  private prevBlank = true; // the file start counts as "after a blank line"
  private heldBlank: Buffer | null = null;
  private lastByteCR = false;
  private inputOffset = 0;
  private count = 0;
  private cur: { fromLine: string; date: Date | null; acc: ByteAccumulator | null; size: number } | null =
    null;

  constructor(private readonly maxMessageSize: number) {}

  *drain(): Generator<MboxMessage> {
    while (this.ready.length > 0) yield this.ready.shift()!;
  }

  push(chunk: Uint8Array): void {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let off = 0;
    while (off < buf.length) {
      const nl = buf.indexOf(LF, off);
      const end = nl < 0 ? buf.length : nl + 1;
      const piece = buf.subarray(off, end);
      this.inputOffset += piece.length;
      off = end;
      const complete = nl >= 0;
      if (this.inLongLine) {
        this.continueLine(piece, complete);
        if (complete) this.inLongLine = false;
        continue;
      }
      this.lineHead.push(piece);
      this.lineHeadLen += piece.length;
      if (complete || this.lineHeadLen >= FRAGMENT) {
        const head = this.lineHead.length === 1 ? this.lineHead[0]! : Buffer.concat(this.lineHead);
        this.lineHead = [];
        this.lineHeadLen = 0;
        this.lineStart(head, complete);
        if (!complete) this.inLongLine = true;
      }
    }
  }

  end(): void {
    if (this.lineHeadLen > 0) {
      const head = Buffer.concat(this.lineHead);
      this.lineHead = [];
      this.lineHeadLen = 0;
      this.lineStart(head, false);
    }
    this.heldBlank = null; // the separator blank line after the last message
    this.finishMessage();
  }

  private lineStart(line: Buffer, complete: boolean): void {
    if (this.prevBlank && startsWithFrom(line, 0)) {
      this.heldBlank = null;
      this.finishMessage();
      this.started = true;
      let end = line.length;
      if (complete) end -= end >= 2 && line[end - 2] === CR ? 2 : 1;
      const text = line.subarray(FROM.length, Math.min(end, FROM.length + 1000)).toString('latin1');
      this.cur = {
        fromLine: text,
        date: parseFromLineDate(text),
        acc: new ByteAccumulator(),
        size: 0,
      };
      this.prevBlank = false;
      this.longLineIsFromLine = !complete;
      return;
    }
    this.longLineIsFromLine = false;
    const blank = isBlankLine(line, complete);
    if (!this.started) {
      if (blank) return; // blank lines before the first From_ line are ignored
      throw new MboxFormatError('not an mbox file: it does not start with a "From " line');
    }
    if (this.heldBlank !== null) {
      this.append(this.heldBlank, true);
      this.heldBlank = null;
    }
    this.prevBlank = blank;
    if (blank) {
      this.heldBlank = line;
      return;
    }
    this.lastByteCR = false;
    // mboxrd: ">From ", ">>From ", ... lose one ">".
    if (line[0] === GT) {
      let i = 0;
      while (i < line.length && line[i] === GT) i++;
      if (startsWithFrom(line, i)) line = line.subarray(1);
    }
    this.append(line, complete);
  }

  private continueLine(piece: Buffer, complete: boolean): void {
    if (this.longLineIsFromLine) return; // the rest of an overlong From_ line is dropped
    this.append(piece, complete);
  }

  /** Adds bytes of the current line; when `complete`, the piece ends in LF, written as CRLF. */
  private append(piece: Buffer, complete: boolean): void {
    const cur = this.cur;
    if (cur === null) return;
    let body = piece;
    let eol: Buffer | null = null;
    if (complete) {
      const crBefore = piece.length >= 2 ? piece[piece.length - 2] === CR : this.lastByteCR;
      if (crBefore) {
        // already CRLF
      } else {
        body = piece.subarray(0, piece.length - 1);
        eol = CRLF;
      }
    }
    if (body.length > 0) this.lastByteCR = body[body.length - 1] === CR;
    this.addBytes(cur, body);
    if (eol !== null) this.addBytes(cur, eol);
    if (complete) this.lastByteCR = false;
  }

  private addBytes(cur: NonNullable<MboxParser['cur']>, bytes: Buffer): void {
    cur.size += bytes.length;
    if (cur.acc === null) return;
    if (cur.size > this.maxMessageSize) {
      cur.acc = null; // oversized: stop keeping bytes, keep counting
      return;
    }
    cur.acc.append(bytes);
  }

  private finishMessage(): void {
    const cur = this.cur;
    if (cur === null) return;
    this.cur = null;
    this.ready.push({
      index: this.count++,
      fromLine: cur.fromLine,
      internalDate: cur.date,
      chunks: cur.acc === null ? [] : cur.acc.take(),
      size: cur.size,
      oversized: cur.acc === null,
      inputOffset: this.inputOffset,
    });
  }
}
