// The received-bytes queue shared by the line-based codecs (SMTP, POP3). Invariants:
// - received chunks are kept in a list with an offset and searched with indexOf; nothing is
//   copied to look at it, and a line is handed out as a view of its chunk (only a line spanning
//   chunks is concatenated, and it is at most maxLineLength bytes);
// - memory stays bounded: a line longer than maxLineLength is dropped as it arrives and
//   reported once (lineTooLong) when its LF comes;
// - a line ends at LF; a CR just before it is removed too (bare LF is tolerated as a line end).

export type LineInput = { kind: 'line'; line: Buffer } | { kind: 'lineTooLong' };

const CR = 0x0d;
const LF = 0x0a;

export class LineQueue {
  private readonly maxLineLength: number;
  /** Received chunks not yet consumed; the first one is consumed from `offset`. */
  private chunks: Buffer[] = [];
  private first = 0;
  private bytes = 0;
  // Where the search for LF resumes: chunk index, position in it, bytes before it.
  private scanChunk = 0;
  private scanPos = 0;
  private scanned = 0;
  /** A line over the limit is being dropped until its LF arrives. */
  private discarding = false;
  /** The LF of a dropped line arrived: lineTooLong is due. */
  private tooLongDue = false;

  constructor(maxLineLength: number) {
    if (!Number.isSafeInteger(maxLineLength) || maxLineLength < 3) {
      throw new RangeError('maxLineLength must be an integer of at least 3');
    }
    this.maxLineLength = maxLineLength;
  }

  /** Bytes received and not yet consumed. */
  get held(): number {
    return this.bytes;
  }

  /** The first unconsumed chunk (read it from `offset`), for codecs with non-line modes. */
  get firstChunk(): Buffer | undefined {
    return this.chunks[0];
  }

  /** Where the unconsumed bytes of `firstChunk` start. */
  get offset(): number {
    return this.first;
  }

  /** Appends received bytes. The buffer must not be modified afterwards. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.discarding) {
      // Dropping an overlong line: keep nothing until its LF.
      const lf = chunk.indexOf(LF);
      if (lf < 0) return;
      this.discarding = false;
      this.tooLongDue = true;
      chunk = chunk.subarray(lf + 1);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** Drops everything received and not yet consumed (STARTTLS, STLS). */
  clear(): void {
    this.chunks = [];
    this.first = 0;
    this.bytes = 0;
    this.discarding = false;
    this.tooLongDue = false;
    this.rescan();
  }

  /** The next line, or null when its LF has not arrived yet. */
  nextLine(): LineInput | null {
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
    if (this.bytes >= this.maxLineLength) {
      this.consume(this.bytes);
      this.discarding = true;
    }
    return null;
  }

  /** Drops `n` bytes from the front of the queue. */
  consume(n: number): void {
    this.bytes -= n;
    let drop = 0;
    while (n > 0) {
      const avail = this.chunks[drop].length - this.first;
      if (n < avail) {
        this.first += n;
        n = 0;
      } else {
        n -= avail;
        drop++;
        this.first = 0;
      }
    }
    if (drop > 0) this.chunks.splice(0, drop);
    this.rescan();
  }

  /** Restarts the search for LF at the front (after bytes were consumed in another mode). */
  rescan(): void {
    this.scanChunk = 0;
    this.scanPos = this.first;
    this.scanned = 0;
  }

  /** Removes `length` bytes (a line and its LF) and returns the line without CRLF / LF. */
  private takeLine(length: number): Buffer {
    const first = this.chunks[0];
    let line: Buffer;
    if (first.length - this.first >= length) {
      line = first.subarray(this.first, this.first + length);
    } else {
      const parts: Buffer[] = [];
      let left = length;
      for (let i = 0, pos = this.first; left > 0; i++, pos = 0) {
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
}
