// A small SMTP load client that knows exactly which messages were acknowledged: `sessions`
// connections share `total` messages, each with a unique Message-ID; a message counts as
// acknowledged only when the whole "250 " reply to its final dot was read (RFC 5321 §4.1.1.4:
// the server takes responsibility for the message with that reply). A connection cut (e.g.
// the server killed) ends that session; nothing is retried, so the acknowledged set is exact.
// MAIL, RCPT and DATA are pipelined (RFC 2920), as smtp-source does.

import net from 'node:net';

export interface BurstOptions {
  port: number;
  total: number;
  sessions: number;
  from: string;
  to: string;
  /** Approximate size of each message in bytes. */
  size: number;
  /** Called after each acknowledgement with the running count. */
  onAck?: (acked: number) => void;
  /** Gives up on a session whose server stays silent this long (default 30 s). */
  replyTimeoutMs?: number;
}

export interface BurstResult {
  /** Message-IDs (without angle brackets) that got their 250. */
  acked: string[];
  /** Messages whose DATA was sent but no final reply was read. */
  unanswered: string[];
  /** Replies other than 250 to the final dot. */
  refused: number;
}

/** The exact bytes sent for the message with this id (CRLF line endings, no line starts with "."). */
export function burstMessage(id: string, opts: { from: string; to: string; size: number }): Buffer {
  const head =
    `From: <${opts.from}>\r\nTo: <${opts.to}>\r\nSubject: burst ${id}\r\n` +
    `Message-ID: <${id}>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n`;
  const line = `Body of ${id}: the quick brown fox jumps over the lazy dog.\r\n`;
  let body = '';
  while (head.length + body.length + line.length <= opts.size) body += line;
  return Buffer.from(head + body, 'latin1');
}

/** Reads CRLF-terminated reply lines; resolves whole (multi-line) replies as their code. */
class ReplyReader {
  private buffer = '';
  private codes: number[] = [];
  private waiter: ((code: number | null) => void) | null = null;
  private ended = false;

  constructor(socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => {
      this.buffer += s;
      for (let i = this.buffer.indexOf('\r\n'); i >= 0; i = this.buffer.indexOf('\r\n')) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        if (line[3] === '-') continue;
        this.push(Number(line.slice(0, 3)));
      }
      if (this.buffer.length > 8192) socket.destroy();
    });
    const end = (): void => {
      this.ended = true;
      if (this.waiter !== null) {
        const w = this.waiter;
        this.waiter = null;
        w(null);
      }
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  private push(code: number): void {
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w(code);
    } else this.codes.push(code);
  }

  /** The next reply's code, or null when the connection ended or timed out. */
  next(timeoutMs: number): Promise<number | null> {
    const queued = this.codes.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, timeoutMs);
      this.waiter = (code) => {
        clearTimeout(timer);
        resolve(code);
      };
    });
  }
}

export async function smtpBurst(opts: BurstOptions): Promise<BurstResult> {
  const result: BurstResult = { acked: [], unanswered: [], refused: 0 };
  const timeout = opts.replyTimeoutMs ?? 30_000;
  const runId = `${process.pid}.${Date.now().toString(36)}`;
  let next = 0;

  const session = async (n: number): Promise<void> => {
    const socket = await new Promise<net.Socket | null>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: opts.port }, () => resolve(s));
      s.once('error', () => resolve(null));
    });
    if (socket === null) return;
    socket.on('error', () => {});
    const replies = new ReplyReader(socket);
    try {
      if ((await replies.next(timeout)) !== 220) return;
      socket.write(`EHLO burst${n}.example.net\r\n`);
      if ((await replies.next(timeout)) !== 250) return;
      while (next < opts.total) {
        const id = `m${next++}.${runId}@burst.example.net`;
        socket.write(`MAIL FROM:<${opts.from}>\r\nRCPT TO:<${opts.to}>\r\nDATA\r\n`);
        const mail = await replies.next(timeout);
        const rcpt = await replies.next(timeout);
        const data = await replies.next(timeout);
        if (mail !== 250 || rcpt !== 250 || data !== 354) {
          if (data === 354) socket.write('.\r\n');
          return;
        }
        socket.write(burstMessage(id, opts));
        socket.write('.\r\n');
        const done = await replies.next(timeout);
        if (done === 250) {
          result.acked.push(id);
          opts.onAck?.(result.acked.length);
        } else if (done === null) {
          result.unanswered.push(id);
          return;
        } else result.refused++;
      }
      socket.write('QUIT\r\n');
      await replies.next(timeout);
    } finally {
      socket.destroy();
    }
  };

  await Promise.all(Array.from({ length: opts.sessions }, (_, n) => session(n)));
  return result;
}
