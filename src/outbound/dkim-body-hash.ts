// The DKIM body hash with "relaxed" body canonicalisation (RFC 6376 §3.4.4), streaming and
// linear in the input whatever its line lengths: each byte is looked at once, and the state
// between chunks is a few counters (pending whitespace, pending empty lines, a CR not yet
// known to end a line). mailauth's own relaxed hasher keeps an unfinished line and rescans it
// with every chunk, so a body of one long line costs time quadratic in its length (4 MiB
// without a line break: over a second, up to 50 ms per 64 KiB chunk on this machine).
// Line ends are CRLF or a bare LF (counted as CRLF, as mailauth does); a CR not followed by LF
// is an ordinary byte.

import { createHash, type Hash } from 'node:crypto';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;

export class RelaxedBodyHash {
  private readonly hash: Hash;
  /** Whitespace seen on the current line after its last emitted byte (or its start). */
  private pendingWsp = false;
  /** The current line has a byte other than whitespace. */
  private lineHasContent = false;
  /** Empty lines seen since the last line with content: emitted only if content follows (a/c). */
  private emptyLines = 0;
  /** The previous chunk ended with a CR. */
  private pendingCr = false;
  /** Canonical bytes hashed so far. */
  length = 0;

  constructor(algorithm: 'sha256' = 'sha256') {
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    // The state in locals for the loop (this is the hot path); at most 3 output bytes per input
    // byte (a pending CR, a space, the byte), pending empty lines are written by flushEmpty.
    const n = chunk.length;
    const out = Buffer.allocUnsafe(n * 3 + 16);
    let w = 0;
    let pendingWsp = this.pendingWsp;
    let lineHasContent = this.lineHasContent;
    let pendingCr = this.pendingCr;
    for (let i = 0; i < n; i++) {
      let b = chunk[i]!;
      if (pendingCr) {
        pendingCr = false;
        if (b !== LF) {
          // The CR was an ordinary byte; b is looked at again below.
          i--;
          b = CR;
        }
      } else if (b === CR) {
        pendingCr = true;
        continue;
      } else if (b === SP || b === HT) {
        pendingWsp = true;
        continue;
      }
      if (b === LF) {
        // a: whitespace at the end of a line is dropped; an empty line waits (c).
        pendingWsp = false;
        if (lineHasContent) {
          out[w++] = CR;
          out[w++] = LF;
          lineHasContent = false;
        } else {
          this.emptyLines++;
        }
        continue;
      }
      if (this.emptyLines > 0) w = this.flushEmpty(out, w);
      if (pendingWsp) {
        // b: a run of whitespace inside a line is one space.
        out[w++] = SP;
        pendingWsp = false;
      }
      out[w++] = b;
      lineHasContent = true;
    }
    this.pendingWsp = pendingWsp;
    this.lineHasContent = lineHasContent;
    this.pendingCr = pendingCr;
    this.emit(out, w);
  }

  /** The base64 hash (bh=). Ends the hash: no update after it. */
  digest(): string {
    const out = Buffer.allocUnsafe(16);
    let w = 0;
    if (this.pendingCr) {
      // A CR ending the body is an ordinary byte.
      this.pendingCr = false;
      if (this.emptyLines > 0) w = this.flushEmpty(out, w);
      if (this.pendingWsp) out[w++] = SP;
      out[w++] = CR;
      this.lineHasContent = true;
    }
    // c: trailing empty lines are ignored; a body not ending in CRLF gets one.
    if (this.lineHasContent) {
      out[w++] = CR;
      out[w++] = LF;
    }
    this.emit(out, w);
    return this.hash.digest('base64');
  }

  /** Writes the pending empty lines before content; returns the new fill of `out`. */
  private flushEmpty(out: Buffer, w: number): number {
    while (this.emptyLines > 0) {
      if (w + 5 > out.length) {
        this.emit(out, w);
        w = 0;
      }
      out[w++] = CR;
      out[w++] = LF;
      this.emptyLines--;
    }
    return w;
  }

  private emit(out: Buffer, w: number): void {
    if (w === 0) return;
    this.hash.update(out.subarray(0, w));
    this.length += w;
  }
}
