// Sans-I/O framing of the POP3 input stream into command lines (RFC 1939 §3, RFC 2449 §4).
// Invariants:
// - Buffering, line views and the bounded handling of overlong lines are LineQueue's (shared
//   with SMTP, see ../line-queue.ts).
// - POP3 has no literals or data mode from the client: every input is a line, whether a
//   command or an AUTH continuation (RFC 5034 §4), so the reader has a single mode.

import { LineQueue } from '../line-queue.js';

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

export class Pop3Reader {
  private readonly input: LineQueue;

  constructor(opts: Pop3ReaderOptions) {
    this.input = new LineQueue(opts.maxLineLength);
  }

  /** Bytes received and not yet returned by next(). */
  get buffered(): number {
    return this.input.held;
  }

  /** Appends received bytes. The buffer must not be modified afterwards. */
  push(chunk: Buffer): void {
    this.input.push(chunk);
  }

  /**
   * STLS (RFC 2595 §4): drops everything received and not yet consumed, so that no command
   * sent in clear before the handshake is run inside TLS.
   */
  discardBuffered(): void {
    this.input.clear();
  }

  /** The next input, or null when more bytes are needed. */
  next(): Pop3Input | null {
    return this.input.nextLine();
  }
}
