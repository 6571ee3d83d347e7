// A minimal IMAP client over a raw socket for differential tests and benchmarks: it sends
// exactly the bytes it is given (synchronizing literals wait for the server's "+", RFC 9051
// §4.3; non-synchronizing ones, RFC 7888, do not) and returns the server's responses as
// logical lines, literals inlined byte for byte (latin1 strings, so no byte is reinterpreted).
// No parsing beyond framing: a response line ending in {n} or {n+} is followed by n bytes.
// Bounded: a logical line above maxLineBytes, or a literal count of more than 10 digits,
// destroys the connection with an error.

import net from 'node:net';

export type CommandPart = string | { literal: Buffer; nonSync?: boolean };

export interface CommandResult {
  tag: string;
  /** Untagged and continuation lines received while the command ran (and unsolicited ones before it). */
  lines: string[];
  /** The tagged completion line. */
  tagged: string;
  status: 'OK' | 'NO' | 'BAD' | 'OTHER';
  /** Lines received, counted even when not collected. */
  count: number;
}

export interface CommandOptions {
  /** Keep the lines (default true); false only counts them (benchmarks). */
  collect?: boolean;
  /** Lines to send, one per continuation request ("+") the server makes beyond literals. */
  continuations?: string[];
  /** Fail after this long (default 60 s). */
  timeoutMs?: number;
  /** Use this tag instead of the next generated one. */
  tag?: string;
}

interface Waiter {
  tag: string;
  lines: string[];
  count: number;
  collect: boolean;
  onContinuation: (line: string) => void;
  resolve: (r: CommandResult) => void;
  reject: (err: Error) => void;
}

const CR = 13;
const LF = 10;

export class ImapRawClient {
  readonly socket: net.Socket;
  greeting = '';
  private buf: Buffer = Buffer.alloc(0);
  private scan = 0; // bytes of buf already searched for LF
  private literalLeft = 0;
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private waiter: Waiter | null = null;
  private unsolicited: string[] = [];
  private lineListeners: Array<(line: string) => void> = [];
  private nextTag = 1;
  private closedError: Error | null = null;
  private readonly maxLineBytes: number;

  private constructor(socket: net.Socket, maxLineBytes: number) {
    this.socket = socket;
    this.maxLineBytes = maxLineBytes;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  /** Connects and waits for the greeting. */
  static async connect(
    port: number,
    opts: { host?: string; localAddress?: string; maxLineBytes?: number; timeoutMs?: number } = {},
  ): Promise<ImapRawClient> {
    const socket = net.connect({ host: opts.host ?? '127.0.0.1', port, localAddress: opts.localAddress });
    const client = new ImapRawClient(socket, opts.maxLineBytes ?? 64 * 1024 * 1024);
    client.greeting = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no greeting from port ${port}`));
      }, opts.timeoutMs ?? 30_000);
      client.lineListeners.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    client.lineListeners = [];
    client.unsolicited = [];
    return client;
  }

  /** True once the connection failed or was closed. */
  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Lines received outside any command so far (taken: the next call returns only newer ones). */
  takeUnsolicited(): string[] {
    const out = this.unsolicited;
    this.unsolicited = [];
    return out;
  }

  /** Waits for the next line received outside a command (e.g. during IDLE). */
  nextLine(timeoutMs: number): Promise<string | null> {
    if (this.unsolicited.length > 0) return Promise.resolve(this.unsolicited.shift()!);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.lineListeners = this.lineListeners.filter((l) => l !== listener);
        resolve(null);
      }, timeoutMs);
      const listener = (line: string): void => {
        clearTimeout(timer);
        this.lineListeners = this.lineListeners.filter((l) => l !== listener);
        this.unsolicited.pop();
        resolve(line);
      };
      this.lineListeners.push(listener);
    });
  }

  /** Writes bytes as they are (hostile input, raw lines). */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /**
   * Sends one command (the tag is prepended) and resolves with its tagged completion. Parts
   * are joined; a literal part becomes "{n}\r\n" (or "{n+}\r\n") followed by its bytes.
   */
  command(parts: CommandPart | CommandPart[], opts: CommandOptions = {}): Promise<CommandResult> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    if (this.waiter !== null) return Promise.reject(new Error('a command is already running'));
    const list = Array.isArray(parts) ? parts : [parts];
    const tag = opts.tag ?? `A${String(this.nextTag++).padStart(4, '0')}`;
    // Segments: text to send, then wait for "+" (sync literal), then the next segment.
    const segments: Buffer[][] = [[Buffer.from(`${tag} `, 'latin1')]];
    for (const p of list) {
      const cur = segments[segments.length - 1];
      if (typeof p === 'string') {
        cur.push(Buffer.from(p, 'utf8'));
      } else if (p.nonSync === true) {
        cur.push(Buffer.from(`{${p.literal.length}+}\r\n`, 'latin1'), p.literal);
      } else {
        cur.push(Buffer.from(`{${p.literal.length}}\r\n`, 'latin1'));
        segments.push([p.literal]);
      }
    }
    segments[segments.length - 1].push(Buffer.from('\r\n', 'latin1'));
    const continuations = [...(opts.continuations ?? [])];
    let segment = 0;
    return new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        const err = new Error(`timeout waiting for ${tag} (${describe(list)})`);
        this.socket.destroy(err);
        reject(err);
      }, opts.timeoutMs ?? 60_000);
      this.waiter = {
        tag,
        lines: this.takeUnsolicited(),
        count: 0,
        collect: opts.collect ?? true,
        onContinuation: () => {
          if (segment + 1 < segments.length) {
            segment++;
            this.socket.write(Buffer.concat(segments[segment]));
          } else if (continuations.length > 0) {
            this.socket.write(`${continuations.shift()!}\r\n`);
          }
        },
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.socket.write(Buffer.concat(segments[0]));
    });
  }

  /** LOGOUT if possible, then closes the socket. */
  async close(): Promise<void> {
    if (this.closedError === null && this.waiter === null) {
      try {
        await this.command('LOGOUT', { timeoutMs: 5000 });
      } catch {
        // already gone
      }
    }
    this.socket.destroy();
  }

  private fail(err: Error): void {
    if (this.closedError === null) this.closedError = err;
    const w = this.waiter;
    this.waiter = null;
    // What the command received stays readable through takeUnsolicited().
    if (w !== null) this.unsolicited.push(...w.lines);
    if (w !== null)
      w.reject(new Error(`${err.message} (waiting for ${w.tag}; got ${w.lines.slice(-3).join(' | ')})`));
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let start = 0;
    for (;;) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, this.buf.length - start);
        if (take === 0) break;
        this.pushPart(this.buf.subarray(start, start + take));
        start += take;
        this.literalLeft -= take;
        this.scan = start;
        if (this.literalLeft > 0) break;
        continue;
      }
      const lf = this.buf.indexOf(LF, Math.max(start, this.scan));
      if (lf < 0) {
        this.scan = this.buf.length;
        if (this.buf.length - start + this.partsBytes > this.maxLineBytes) {
          this.socket.destroy(new Error('response line too long'));
        }
        break;
      }
      const line = this.buf.subarray(start, lf + 1);
      start = lf + 1;
      this.scan = start;
      const literal = literalCount(line);
      if (literal === -1) {
        this.socket.destroy(new Error('literal count too large'));
        return;
      }
      if (literal >= 0) {
        // The logical line goes on after the literal (even an empty one, {0}).
        this.pushPart(line);
        this.literalLeft = literal;
        continue;
      }
      // A line wholly in this chunk is read in place (onLine copies what it keeps): a 20,000-line
      // response costs no copy per line, so the client measures the server, not itself.
      let whole = line;
      if (this.parts.length > 0) {
        this.pushPart(line);
        whole = Buffer.concat(this.parts);
      }
      this.parts = [];
      this.partsBytes = 0;
      const end = whole.length >= 2 && whole[whole.length - 2] === CR ? whole.length - 2 : whole.length - 1;
      this.onLine(whole, end);
    }
    this.buf = start >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(start);
    this.scan = Math.max(0, this.scan - start);
  }

  private pushPart(b: Buffer): void {
    // Copy: the receive buffer is reused.
    this.parts.push(Buffer.from(b));
    this.partsBytes += b.length;
    if (this.partsBytes > this.maxLineBytes) this.socket.destroy(new Error('response line too long'));
  }

  private onLine(whole: Buffer, end: number): void {
    const w = this.waiter;
    if (w === null) {
      const line = whole.toString('latin1', 0, end);
      this.unsolicited.push(line);
      for (const l of [...this.lineListeners]) l(line);
      return;
    }
    w.count++;
    // Tagged completion: "<tag> " at the start (untagged lines start with "*", continuations "+").
    if (
      end > w.tag.length &&
      whole[0] === w.tag.charCodeAt(0) &&
      whole.toString('latin1', 0, w.tag.length + 1) === `${w.tag} `
    ) {
      const tagged = whole.toString('latin1', 0, end);
      this.waiter = null;
      const word = tagged.slice(w.tag.length + 1, w.tag.length + 4).toUpperCase();
      const status = word.startsWith('OK') ? 'OK' : word === 'NO ' ? 'NO' : word === 'BAD' ? 'BAD' : 'OTHER';
      w.resolve({ tag: w.tag, lines: w.lines, tagged, status, count: w.count });
      return;
    }
    if (w.collect) w.lines.push(whole.toString('latin1', 0, end));
    if (whole[0] === 0x2b /* + */) w.onContinuation(whole.toString('latin1', 0, end));
  }
}

/** n when the line ends with "{n}\r\n" or "{n+}\r\n" (or bare LF), -2 when not, -1 when n is absurd. */
function literalCount(line: Buffer): number {
  let i = line.length - 1; // LF
  if (i > 0 && line[i - 1] === CR) i--;
  i--;
  if (i < 0 || line[i] !== 0x7d /* } */) return -2;
  i--;
  if (i >= 0 && line[i] === 0x2b /* + */) i--;
  let digits = 0;
  let n = 0;
  let mul = 1;
  while (i >= 0 && line[i] >= 0x30 && line[i] <= 0x39) {
    n += (line[i] - 0x30) * mul;
    mul *= 10;
    digits++;
    i--;
    if (digits > 10) return -1;
  }
  if (digits === 0 || i < 0 || line[i] !== 0x7b /* { */) return -2;
  return n;
}

function describe(parts: CommandPart[]): string {
  return parts
    .map((p) => (typeof p === 'string' ? p : `{${p.literal.length}}`))
    .join('')
    .slice(0, 80);
}
