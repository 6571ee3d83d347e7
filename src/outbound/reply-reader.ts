// The client's side of SMTP replies (RFC 5321 §4.2): bytes from the server in, whole
// (multi-line) replies out. No I/O. Invariants:
// - memory is bounded: a line longer than `maxLineOctets` (RFC 5321 §4.5.3.1.5 says 512; real
//   servers send more, so a few KiB are accepted) or a reply of more than `maxLines` lines is a
//   protocol error, reported the moment the bound is crossed, never buffered further;
// - every line of one reply carries the same code, and the last one has SP (or nothing) after
//   it; anything else is a protocol error (the connection cannot be trusted after it);
// - a line ends at LF; a CR before it is dropped (lenient, as most clients are).

export interface SmtpClientReply {
  code: number;
  /** RFC 3463 enhanced status code from the last line ("5.1.1"), when the server sent one. */
  enhanced: string | null;
  /** The text of each line, without the code and separator. */
  lines: string[];
}

export class SmtpProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmtpProtocolError';
  }
}

export interface ReplyReaderLimits {
  maxLineOctets: number;
  maxLines: number;
}

export const DEFAULT_REPLY_LIMITS: ReplyReaderLimits = { maxLineOctets: 4096, maxLines: 100 };

/** The enhanced code at the start of `text` when its class matches the reply (RFC 3463 §2). */
export function parseEnhanced(code: number, text: string): string | null {
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)/.exec(text);
  if (m === null || Number(m[1]) !== Math.floor(code / 100)) return null;
  return `${m[1]}.${Number(m[2])}.${Number(m[3])}`;
}

export function replyText(reply: SmtpClientReply): string {
  return reply.lines.join(' / ');
}

export class ReplyReader {
  private readonly limits: ReplyReaderLimits;
  private partial: Buffer[] = [];
  private partialLength = 0;
  private current: { code: number; lines: string[] } | null = null;
  private readonly ready: SmtpClientReply[] = [];

  constructor(limits: Partial<ReplyReaderLimits> = {}) {
    this.limits = { ...DEFAULT_REPLY_LIMITS, ...limits };
  }

  /** Feeds received bytes; throws SmtpProtocolError on a malformed or oversized reply. */
  push(chunk: Uint8Array): void {
    let start = 0;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (start < buf.length) {
      const lf = buf.indexOf(0x0a, start);
      const end = lf < 0 ? buf.length : lf;
      if (this.partialLength + (end - start) > this.limits.maxLineOctets) {
        throw new SmtpProtocolError(`reply line longer than ${this.limits.maxLineOctets} octets`);
      }
      if (lf < 0) {
        this.partial.push(Buffer.from(buf.subarray(start)));
        this.partialLength += buf.length - start;
        return;
      }
      this.partial.push(buf.subarray(start, lf));
      const line = Buffer.concat(this.partial);
      this.partial = [];
      this.partialLength = 0;
      start = lf + 1;
      this.line(line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line);
    }
  }

  /** The next whole reply, if one has arrived. */
  shift(): SmtpClientReply | undefined {
    return this.ready.shift();
  }

  /** Whether any byte is held beyond the whole replies (a reply in progress). */
  get holdsPartial(): boolean {
    return this.partialLength > 0 || this.current !== null;
  }

  get pending(): number {
    return this.ready.length;
  }

  private line(raw: Buffer): void {
    const text = raw.toString('utf8');
    const m = /^([2-5]\d\d)([ -]|$)/.exec(text);
    if (m === null) throw new SmtpProtocolError(`malformed reply line: ${JSON.stringify(text.slice(0, 80))}`);
    const code = Number(m[1]);
    const rest = text.slice(4);
    if (this.current !== null && this.current.code !== code) {
      throw new SmtpProtocolError(
        `reply code changed inside a multi-line reply (${this.current.code}, ${code})`,
      );
    }
    const cur = this.current ?? { code, lines: [] };
    if (cur.lines.length >= this.limits.maxLines) {
      throw new SmtpProtocolError(`reply longer than ${this.limits.maxLines} lines`);
    }
    cur.lines.push(rest);
    if (m[2] === '-') {
      this.current = cur;
      return;
    }
    this.current = null;
    const last = cur.lines[cur.lines.length - 1];
    this.ready.push({ code, enhanced: parseEnhanced(code, last), lines: cur.lines });
  }
}
