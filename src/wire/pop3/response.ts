// Encoding of POP3 responses: status lines (RFC 1939 §3, RFC 2449 §8 response codes), AUTH
// challenges (RFC 5034 §4) and multi-line responses with byte-stuffing (RFC 1939 §3).
// Invariants:
// - Status text is one line: a CR or LF in it is a programming error (RangeError), so input
//   echoed in a reply can never start a forged response line.
// - DotStuffer and TopCutter are sans-I/O and streaming: each push returns views of the input
//   plus small constant buffers, never a copy of the message; a carried state of a few bits
//   makes any split of the input give the same bytes.

import type { Pop3ResponseCode } from './command.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

const CR_BUF = Buffer.from('\r');
const DOT_BUF = Buffer.from('.');
const END_BUF = Buffer.from('.\r\n');
const CRLF_END_BUF = Buffer.from('\r\n.\r\n');

function checkLine(s: string, what: string): void {
  if (s.includes('\r') || s.includes('\n')) throw new RangeError(`${what} must not contain CR or LF`);
}

/** RFC 2449 §8: resp-code = "[" resp-level *("/" resp-level) "]", resp-level = 1*rchar. */
function checkCode(code: string): void {
  if (code.length === 0) throw new RangeError('empty response code');
  let level = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code.charCodeAt(i);
    if (c === 0x2f) {
      if (level === 0) throw new RangeError(`invalid response code ${code}`);
      level = 0;
    } else if (c > 0x20 && c < 0x7f && c !== 0x5b && c !== 0x5d) {
      level++;
    } else {
      throw new RangeError(`invalid response code ${code}`);
    }
  }
  if (level === 0) throw new RangeError(`invalid response code ${code}`);
}

function status(indicator: string, text: string, code: Pop3ResponseCode | null | undefined): Buffer {
  checkLine(text, 'response text');
  let line = indicator;
  if (code !== undefined && code !== null) {
    checkCode(code);
    line += ` [${code}]`;
  }
  if (text.length > 0) line += ` ${text}`;
  return Buffer.from(`${line}\r\n`, 'utf8');
}

/** "+OK [code] text" CRLF. */
export function ok(text: string, code?: Pop3ResponseCode | null): Buffer {
  return status('+OK', text, code);
}

/** "-ERR [code] text" CRLF. */
export function err(text: string, code?: Pop3ResponseCode | null): Buffer {
  return status('-ERR', text, code);
}

/** RFC 5034 §4: a server challenge, "+ " base64 CRLF ("+ " alone for an empty challenge). */
export function authChallenge(data: Buffer): Buffer {
  return Buffer.from(`+ ${data.toString('base64')}\r\n`, 'latin1');
}

/**
 * The body of a multi-line response (after its "+OK" line): lines byte-stuffed and the
 * terminating ".CRLF". Given strings, each is one line (without its CRLF); given a Buffer,
 * it is stuffed as a whole, like a stored message.
 */
export function multiline(body: readonly string[] | Buffer): Buffer {
  if (Buffer.isBuffer(body)) {
    const stuffer = new DotStuffer();
    return Buffer.concat([...stuffer.push(body), stuffer.end()]);
  }
  const parts: string[] = [];
  for (const line of body) {
    checkLine(line, 'multi-line response line');
    parts.push(line.startsWith('.') ? `.${line}\r\n` : `${line}\r\n`);
  }
  parts.push('.\r\n');
  return Buffer.from(parts.join(''), 'utf8');
}

/**
 * Streams a message into a multi-line response body (RFC 1939 §3): a "." is added before each
 * line that starts with ".", a bare LF is written as CRLF, and end() closes with ".CRLF",
 * adding a CRLF first when the data does not end with one.
 */
export class DotStuffer {
  /** At the start of a line (also at the very start). */
  private lineStart = true;
  /** The last byte passed on was a CR. */
  private afterCr = false;
  private empty = true;
  private ended = false;

  /** Returns the pieces to send for `chunk` (views of it and small constant buffers). */
  push(chunk: Buffer): Buffer[] {
    if (this.ended) throw new Error('DotStuffer: push after end');
    const out: Buffer[] = [];
    const end = chunk.length;
    if (end === 0) return out;
    this.empty = false;
    let runStart = 0;
    let pos = 0;
    if (this.lineStart && chunk[0] === DOT) out.push(DOT_BUF);
    for (;;) {
      const lf = chunk.indexOf(LF, pos);
      if (lf < 0) break;
      const prevCr = lf > 0 ? chunk[lf - 1] === CR : this.afterCr;
      if (!prevCr) {
        // A bare LF: lines in a response end with CRLF (RFC 1939 §3).
        if (lf > runStart) out.push(chunk.subarray(runStart, lf));
        out.push(CR_BUF);
        runStart = lf;
      }
      pos = lf + 1;
      if (pos < end && chunk[pos] === DOT) {
        out.push(chunk.subarray(runStart, pos));
        out.push(DOT_BUF);
        runStart = pos;
      }
    }
    if (end > runStart) out.push(chunk.subarray(runStart, end));
    const last = chunk[end - 1];
    this.lineStart = last === LF;
    this.afterCr = last === CR;
    return out;
  }

  /** The terminator: ".CRLF", preceded by CRLF when the data did not end with a line ending. */
  end(): Buffer {
    if (this.ended) throw new Error('DotStuffer: end called twice');
    this.ended = true;
    if (this.empty || this.lineStart) return END_BUF;
    if (this.afterCr) return Buffer.from('\n.\r\n');
    return CRLF_END_BUF;
  }
}

/**
 * TOP (RFC 1939 §7): passes on the header, the blank line after it, and then at most `lines`
 * lines of the body. A message without a blank line is passed whole. Lines end at LF.
 */
export class TopCutter {
  private left: number;
  private inHeader = true;
  /** Bytes of the current line seen so far, capped at 2: only "empty or a lone CR" matters. */
  private lineBytes = 0;
  private lineFirstCr = false;
  private finished = false;

  constructor(lines: number) {
    if (!Number.isSafeInteger(lines) || lines < 0)
      throw new RangeError('lines must be a non-negative integer');
    this.left = lines;
  }

  /** True once the cut is reached: the rest of the message need not be read. */
  get done(): boolean {
    return this.finished;
  }

  /** The part of `chunk` to pass on (possibly empty). */
  push(chunk: Buffer): Buffer {
    if (this.finished || chunk.length === 0) return chunk.subarray(0, 0);
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      if (lf < 0) {
        this.note(chunk, pos, chunk.length);
        return chunk;
      }
      this.note(chunk, pos, lf);
      pos = lf + 1;
      if (this.inHeader) {
        const empty = this.lineBytes === 0 || (this.lineBytes === 1 && this.lineFirstCr);
        if (empty) {
          this.inHeader = false;
          if (this.left === 0) return this.cut(chunk, pos);
        }
      } else if (--this.left === 0) {
        return this.cut(chunk, pos);
      }
      this.lineBytes = 0;
      this.lineFirstCr = false;
    }
    return chunk;
  }

  private note(chunk: Buffer, start: number, stop: number): void {
    if (stop <= start) return;
    if (this.lineBytes === 0) this.lineFirstCr = chunk[start] === CR;
    this.lineBytes = Math.min(this.lineBytes + (stop - start), 2);
  }

  private cut(chunk: Buffer, pos: number): Buffer {
    this.finished = true;
    return chunk.subarray(0, pos);
  }
}
