// Streaming DATA encoding for the client (RFC 5321 §4.5.2): a "." is doubled at the start of
// every line, and the end of data is <CRLF>.<CRLF>. No I/O. Invariants:
// - the bytes pass through unchanged apart from the added dots and, only when the message does
//   not already end with CRLF, one CRLF before the final "." (RFC 5321 §4.1.1.4); a bare CR or
//   LF inside the message is left as it is;
// - a line starts after every LF (so a bare LF followed by "." is stuffed too: a receiver that
//   takes LF as a line end cannot see an end of data inside the message);
// - state is three numbers: chunks may be split anywhere, memory is one output chunk.

const DOT = 0x2e;
const CR = 0x0d;
const LF = 0x0a;

export class DotStuffer {
  private atLineStart = true;
  private last = -1;
  private beforeLast = -1;
  private total = 0;

  /** The stuffed form of `chunk` (the same buffer when nothing had to change). */
  push(chunk: Uint8Array): Buffer {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.length === 0) return buf;
    const parts: Buffer[] = [];
    let from = 0;
    if (this.atLineStart && buf[0] === DOT) {
      parts.push(Buffer.from('.'));
    }
    let i = buf.indexOf(LF);
    while (i >= 0 && i + 1 < buf.length) {
      if (buf[i + 1] === DOT) {
        parts.push(buf.subarray(from, i + 1), Buffer.from('.'));
        from = i + 1;
      }
      i = buf.indexOf(LF, i + 1);
    }
    this.atLineStart = buf[buf.length - 1] === LF;
    this.beforeLast = buf.length >= 2 ? buf[buf.length - 2] : this.last;
    this.last = buf[buf.length - 1];
    this.total += buf.length;
    if (parts.length === 0) return buf;
    parts.push(buf.subarray(from));
    return Buffer.concat(parts);
  }

  /** What ends the data: ".\r\n", after a CRLF when the message lacked its final one. */
  end(): Buffer {
    const endsWithCrlf = this.total >= 2 && this.beforeLast === CR && this.last === LF;
    return Buffer.from(this.total === 0 || endsWithCrlf ? '.\r\n' : '\r\n.\r\n');
  }
}
