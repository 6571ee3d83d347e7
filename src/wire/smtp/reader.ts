// Sans-I/O framing of the SMTP input stream: command lines, DATA bodies, BDAT chunks.
// Invariants:
// - The reader never copies buffered bytes to look at them: received chunks are kept in a list
//   with an offset, searched with indexOf, and handed out as subarrays (a line that spans
//   several chunks is the only thing concatenated, and it is at most maxLineLength bytes).
// - Memory stays bounded in line mode: a line longer than maxLineLength is dropped as it
//   arrives, and reported once (lineTooLong) when its LF comes.
// - Only CRLF "." CRLF ends DATA (RFC 5321 §4.1.1.4, §2.3.8); the scan is one pass with a
//   constant-size state carried across chunk boundaries, so any split of the input gives the
//   same result. Each received chunk gives at most one data output: a view of the chunk when
//   nothing was dropped or inserted, else one copy (at most twice the chunk's size).
// - 'reject': once a bare CR or LF is seen the body will be refused, so the rest is passed on
//   raw (no unstuffing) and only searched for the end marker, at memchr speed.
// - After dataEnd or bdatEnd the reader is in line mode again by itself.

import { LineQueue } from '../line-queue.js';

export type ReaderMode =
  | { kind: 'line' }
  | { kind: 'data'; bareLineEndings: 'reject' | 'normalize' }
  | { kind: 'bdat'; size: number };

export type SmtpInput =
  /** One command line, without its line ending (CRLF, or a bare LF). */
  | { kind: 'line'; line: Buffer }
  /** A line over maxLineLength: discarded up to and including its LF. */
  | { kind: 'lineTooLong' }
  /**
   * DATA body bytes, dot-unstuffed (RFC 5321 §4.5.2); the body keeps its last CRLF, the end
   * marker is not included. 'normalize' writes bare CR / LF as CRLF; 'reject' passes them, and
   * everything after the first one, unchanged (the body is refused at dataEnd).
   */
  | { kind: 'data'; chunk: Buffer }
  /** The end of DATA; error when a bare CR or LF was seen in 'reject' mode. */
  | { kind: 'dataEnd'; error: null | 'bareLineEnding' }
  /** Raw bytes of a BDAT chunk (RFC 3030: no unstuffing, no line-ending rules). */
  | { kind: 'bdatChunk'; chunk: Buffer }
  /** After exactly `size` bytes of a BDAT chunk. */
  | { kind: 'bdatEnd' };

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

const CR_BUF = Buffer.from('\r');
const LF_BUF = Buffer.from('\n');
const DOT_BUF = Buffer.from('.');
const DOT_CR_BUF = Buffer.from('.\r');
const DOT_CRLF_BUF = Buffer.from('.\r\n');
const END_MARKER = Buffer.from('\r\n.\r\n');

// Where the DATA scan stands. "Eligible" line starts follow a real CRLF (or the 354 reply):
// only there can "." CRLF end the body. Line starts after a bare CR or LF are not eligible.
const enum DataState {
  /** Inside a line. */
  Mid,
  /** A CR was passed on; the next byte decides whether it was part of CRLF. */
  AfterCr,
  /** At the start of a line after CRLF (or at the start of the body). */
  LineStart,
  /** At the start of a line after a bare CR or LF. */
  BareLineStart,
  /** After LineStart "." (the dot is held back). */
  Dot,
  /** After BareLineStart "." (the dot is held back). */
  BareDot,
  /** After LineStart "." CR (both held back). */
  DotCr,
}

export interface SmtpReaderOptions {
  /** Longest command line accepted, in bytes, counting its line ending (RFC 5321 §4.5.3.1.4). */
  maxLineLength: number;
}

export class SmtpReader {
  private mode: ReaderMode = { kind: 'line' };

  /** Received bytes not yet consumed, and line mode (shared with POP3: ../line-queue.ts). */
  private readonly input: LineQueue;

  // DATA mode.
  private dataState = DataState.LineStart;
  private dataNormalize = false;
  private dataBare = false;
  /**
   * The body piece being built from one received chunk: the chunk's own bytes while nothing was
   * dropped or inserted (no copy), else a scratch buffer of at most twice the chunk's size.
   */
  private outView: Buffer | null = null;
  private outScratch: Buffer | null = null;
  private outLength = 0;
  // BDAT mode: bytes of the chunk still to come.
  private bdatLeft = 0;

  /** Outputs found but not yet returned. */
  private queue: SmtpInput[] = [];
  private queuedBytes = 0;

  constructor(opts: SmtpReaderOptions) {
    this.input = new LineQueue(opts.maxLineLength);
  }

  /** Bytes held: received and not yet returned by next(). */
  get buffered(): number {
    return this.input.held + this.queuedBytes;
  }

  /** The current mode (line, data or bdat). */
  get currentMode(): ReaderMode {
    return this.mode;
  }

  /** Appends received bytes. The buffer must not be modified afterwards. */
  push(chunk: Buffer): void {
    this.input.push(chunk);
  }

  /**
   * Switches mode. The session calls it after answering DATA with 354 ('data') or on
   * BDAT n ('bdat'); bytes already buffered are read in the new mode.
   */
  setMode(mode: ReaderMode): void {
    switch (mode.kind) {
      case 'line':
        this.mode = { kind: 'line' };
        break;
      case 'data':
        this.mode = { kind: 'data', bareLineEndings: mode.bareLineEndings };
        this.dataState = DataState.LineStart;
        this.dataNormalize = mode.bareLineEndings === 'normalize';
        this.dataBare = false;
        break;
      case 'bdat':
        if (!Number.isSafeInteger(mode.size) || mode.size < 0) {
          throw new RangeError('BDAT size must be a non-negative safe integer');
        }
        this.mode = { kind: 'bdat', size: mode.size };
        this.bdatLeft = mode.size;
        break;
    }
    this.input.rescan();
  }

  /** STARTTLS (RFC 3207 §4.2): drops everything received and not yet consumed; back to line mode. */
  discardBuffered(): void {
    this.input.clear();
    this.queue = [];
    this.queuedBytes = 0;
    this.mode = { kind: 'line' };
  }

  /** The next input, or null when more bytes are needed. */
  next(): SmtpInput | null {
    for (;;) {
      const queued = this.queue.shift();
      if (queued !== undefined) {
        if (queued.kind === 'data' || queued.kind === 'bdatChunk') this.queuedBytes -= queued.chunk.length;
        return queued;
      }
      switch (this.mode.kind) {
        case 'line':
          return this.input.nextLine();
        case 'bdat':
          return this.nextBdat();
        case 'data':
          if (this.input.held === 0) return null;
          this.scanData();
          break;
      }
    }
  }

  // ---- BDAT mode (RFC 3030 §2) ----

  private nextBdat(): SmtpInput | null {
    if (this.bdatLeft === 0) {
      this.mode = { kind: 'line' };
      this.input.rescan();
      return { kind: 'bdatEnd' };
    }
    const first = this.input.firstChunk;
    if (first === undefined) return null;
    const offset = this.input.offset;
    const take = Math.min(this.bdatLeft, first.length - offset);
    const chunk = first.subarray(offset, offset + take);
    this.bdatLeft -= take;
    this.input.consume(take);
    return { kind: 'bdatChunk', chunk };
  }

  // ---- DATA mode (RFC 5321 §4.1.1.4, §4.5.2) ----

  /** Appends buf[start, stop) to the piece being built for the current chunk. */
  private emit(buf: Buffer, start: number, stop: number, capacity: number): void {
    if (stop <= start) return;
    if (this.outView === null && this.outScratch === null) {
      this.outView = buf.subarray(start, stop);
      return;
    }
    let scratch = this.outScratch;
    if (scratch === null) {
      const view = this.outView as Buffer;
      scratch = this.outScratch = Buffer.allocUnsafe(capacity);
      view.copy(scratch, 0);
      this.outLength = view.length;
      this.outView = null;
    }
    if (stop - start <= 8) {
      for (let i = start; i < stop; i++) scratch[this.outLength++] = buf[i];
    } else {
      buf.copy(scratch, this.outLength, start, stop);
      this.outLength += stop - start;
    }
  }

  /** Queues the piece built for the current chunk, if any. */
  private flushPiece(): void {
    const chunk = this.outScratch !== null ? this.outScratch.subarray(0, this.outLength) : this.outView;
    this.outView = null;
    this.outScratch = null;
    this.outLength = 0;
    if (chunk === null || chunk.length === 0) return;
    this.queue.push({ kind: 'data', chunk });
    this.queuedBytes += chunk.length;
  }

  /**
   * Scans the first buffered chunk from `offset` to its end or to the end marker, and queues
   * one body piece for it: a view of the chunk when nothing had to be dropped (stuffed dots) or
   * inserted (normalized line endings, a held-back dot), else a copy. The output of one chunk
   * is at most twice its size plus the 3 bytes a previous chunk may have held back.
   */
  private scanData(): void {
    const buf = this.input.firstChunk!; // next() checked that bytes are held
    const start = this.input.offset;
    const end = buf.length;
    const capacity = 2 * (end - start) + 4;
    let nextCr = -2; // position of the next CR / LF at or after pos; -1: none left; -2: unknown
    let nextLf = -2;
    const normalize = this.dataNormalize;
    // 'reject' after a bare line ending: the rest is passed on raw (not unstuffed), searched
    // only for the end marker, so a hostile body costs a memchr-speed scan.
    let skipToEnd = !normalize && this.dataBare;
    let pos = start;
    let runStart = pos;
    let state = this.dataState;
    let finished = false;

    while (pos < end) {
      switch (state) {
        case DataState.Mid: {
          if (skipToEnd && pos < end - 4) {
            // The body is refused already: only the end marker matters. A marker that starts
            // in the last 4 bytes is found by the byte-wise scan below.
            const marker = buf.indexOf(END_MARKER, pos);
            if (marker >= 0) {
              pos = marker + 2;
              state = DataState.LineStart;
            } else {
              pos = end - 4;
            }
            break;
          }
          // Jump to the next CR or LF; everything before it is plain body. Their positions
          // are remembered so that a chunk full of one and empty of the other stays linear.
          if (nextCr !== -1 && nextCr < pos) nextCr = buf.indexOf(CR, pos);
          if (nextLf !== -1 && nextLf < pos) nextLf = buf.indexOf(LF, pos);
          const cr = nextCr;
          const lf = nextLf;
          if (cr < 0 && lf < 0) {
            pos = end;
          } else if (lf < 0 || (cr >= 0 && cr < lf)) {
            pos = cr + 1;
            state = DataState.AfterCr;
          } else {
            // A bare LF (RFC 5321 §2.3.8).
            if (normalize) {
              this.emit(buf, runStart, lf, capacity);
              this.emit(CR_BUF, 0, CR_BUF.length, capacity);
              runStart = lf;
            } else {
              this.dataBare = true;
              skipToEnd = true;
            }
            pos = lf + 1;
            state = DataState.BareLineStart;
          }
          break;
        }
        case DataState.AfterCr:
          if (buf[pos] === LF) {
            pos++;
            state = DataState.LineStart;
          } else {
            // A bare CR: the byte at pos is not consumed here.
            if (normalize) {
              this.emit(buf, runStart, pos, capacity);
              this.emit(LF_BUF, 0, LF_BUF.length, capacity);
              runStart = pos;
            } else {
              this.dataBare = true;
              skipToEnd = true;
            }
            state = DataState.BareLineStart;
          }
          break;
        case DataState.LineStart:
        case DataState.BareLineStart:
          if (buf[pos] === DOT && !(skipToEnd && state === DataState.BareLineStart)) {
            // Hold the dot back: it is dropped (transparency) or ends the body.
            this.emit(buf, runStart, pos, capacity);
            pos++;
            runStart = pos;
            state = state === DataState.LineStart ? DataState.Dot : DataState.BareDot;
          } else {
            state = DataState.Mid;
          }
          break;
        case DataState.Dot: {
          const c = buf[pos];
          if (c === CR) {
            pos++;
            runStart = pos;
            state = DataState.DotCr;
          } else {
            // "." then LF is a lone dot with a bare ending: keep the dot. Otherwise the
            // dot was stuffed (RFC 5321 §4.5.2) and is dropped, unless the body is refused
            // already (then it passes raw).
            if (c === LF || skipToEnd) this.emit(DOT_BUF, 0, DOT_BUF.length, capacity);
            state = DataState.Mid;
          }
          break;
        }
        case DataState.BareDot: {
          const c = buf[pos];
          if (c === CR || c === LF) this.emit(DOT_BUF, 0, DOT_BUF.length, capacity);
          state = DataState.Mid;
          break;
        }
        case DataState.DotCr:
          if (buf[pos] === LF) {
            // CRLF "." CRLF: the end of the body.
            pos++;
            runStart = pos;
            finished = true;
          } else {
            // "." then a bare CR: the line was a lone dot, not the end.
            if (normalize) {
              this.emit(DOT_CRLF_BUF, 0, DOT_CRLF_BUF.length, capacity);
            } else {
              this.emit(DOT_CR_BUF, 0, DOT_CR_BUF.length, capacity);
              this.dataBare = true;
              skipToEnd = true;
            }
            state = DataState.BareLineStart;
          }
          break;
      }
      if (finished) break;
    }

    if (!finished) {
      // Bytes from runStart are plain body, except what the state holds back (no bytes are held
      // at runStart in Dot / BareDot / DotCr: runStart was moved past them).
      this.emit(buf, runStart, pos, capacity);
    }
    this.flushPiece();
    this.dataState = state;
    this.input.consume(pos - start);
    if (finished) {
      this.queue.push({ kind: 'dataEnd', error: this.dataBare ? 'bareLineEnding' : null });
      this.mode = { kind: 'line' };
      this.input.rescan();
    }
  }
}
