// Sans-I/O framing of the POP3 input stream into command lines (RFC 1939 §3, RFC 2449 §4).
// Invariants:
// - Received chunks are kept in a list with an offset and searched with indexOf; a line is
//   handed out as a view of its chunk, and only a line that spans chunks is concatenated (it is
//   at most maxLineLength bytes).
// - Memory stays bounded: a line longer than maxLineLength is dropped as it arrives and
//   reported once (lineTooLong) when its LF comes.
// - POP3 has no literals or data mode from the client: every input is a line, whether a
//   command or an AUTH continuation (RFC 5034 §4), so the reader has a single mode.

export type Pop3Input =
  /** One line, without its line ending (CRLF, or a bare LF). */
  | { kind: 'line'; line: Buffer }
  /** A line over maxLineLength: discarded up to and including its LF. */
  | { kind: 'lineTooLong' };

export interface Pop3ReaderOptions {
  /**
   * Longest line accepted, in bytes, counting its line ending. RFC 2449 §4: 255 octets for a
   * command; the session may use a larger limit for AUTH responses (RFC 5034 §4).
   */
  maxLineLength: number;
}

const CR = 0x0d;
const LF = 0x0a;

export class Pop3Reader {
  private readonly maxLineLength: number;
  /** Received chunks not yet consumed; the first one is consumed from `offset`. */
  private chunks: Buffer[] = [];
  private offset = 0;
  private held = 0;
  // Where the search for LF resumes: chunk index, position in it, bytes before it.
  private scanChunk = 0;
  private scanPos = 0;
  private scanned = 0;
  /** A line over the limit is being dropped until its LF arrives. */
  private discarding = false;
  /** The LF of a dropped line arrived: lineTooLong is due. */
  private tooLongDue = false;

  constructor(opts: Pop3ReaderOptions) {
    if (!Number.isSafeInteger(opts.maxLineLength) || opts.maxLineLength < 3) {
      throw new RangeError('maxLineLength must be an integer of at least 3');
    }
    this.maxLineLength = opts.maxLineLength;
  }

  /** Bytes received and not yet returned by next(). */
  get buffered(): number {
    return this.held;
  }

  /** Appends received bytes. The buffer must not be modified afterwards. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.discarding) {
      const lf = chunk.indexOf(LF);
      if (lf < 0) return;
      this.discarding = false;
      this.tooLongDue = true;
      chunk = chunk.subarray(lf + 1);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.held += chunk.length;
  }

  /**
   * STLS (RFC 2595 §4): drops everything received and not yet consumed, so that no command
   * sent in clear before the handshake is run inside TLS.
   */
  discardBuffered(): void {
    this.chunks = [];
    this.offset = 0;
    this.held = 0;
    this.discarding = false;
    this.tooLongDue = false;
    this.resetScan();
  }

  /** The next input, or null when more bytes are needed. */
  next(): Pop3Input | null {
    if (this.tooLongDue) {
      this.tooLongDue = false;
      return { kind: 'lineTooLong' };
    }
    const chunks = this.chunks;
    while (this.scanChunk < chunks.length) {
      const chunk = chunks[this.scanChunk];
      const lf = chunk.indexOf(LF, this.scanPos);
      if (lf >= 0) {
        const length = this.scanned + (lf - this.scanPos) + 1;
        if (length > this.maxLineLength) {
          this.consume(length);
          return { kind: 'lineTooLong' };
        }
        return { kind: 'line', line: this.takeLine(length) };
      }
      this.scanned += chunk.length - this.scanPos;
      this.scanChunk++;
      this.scanPos = 0;
    }
    // No LF yet. A line that already fills the limit cannot end in time: drop it now.
    if (this.held >= this.maxLineLength) {
      this.consume(this.held);
      this.discarding = true;
    }
    return null;
  }

  private resetScan(): void {
    this.scanChunk = 0;
    this.scanPos = this.offset;
    this.scanned = 0;
  }

  /** Removes `length` bytes (a line and its LF) and returns the line without CRLF / LF. */
  private takeLine(length: number): Buffer {
    const first = this.chunks[0];
    let line: Buffer;
    if (first.length - this.offset >= length) {
      line = first.subarray(this.offset, this.offset + length);
    } else {
      const parts: Buffer[] = [];
      let left = length;
      for (let i = 0, pos = this.offset; left > 0; i++, pos = 0) {
        const piece = this.chunks[i].subarray(pos, pos + left);
        parts.push(piece);
        left -= piece.length;
      }
      line = Buffer.concat(parts, length);
    }
    this.consume(length);
    let end = line.length - 1;
    if (end > 0 && line[end - 1] === CR) end--;
    return line.subarray(0, end);
  }

  /** Drops `n` bytes from the front of the buffer. */
  private consume(n: number): void {
    this.held -= n;
    let drop = 0;
    while (n > 0) {
      const avail = this.chunks[drop].length - this.offset;
      if (n < avail) {
        this.offset += n;
        n = 0;
      } else {
        n -= avail;
        drop++;
        this.offset = 0;
      }
    }
    if (drop > 0) this.chunks.splice(0, drop);
    this.resetScan();
  }
}
