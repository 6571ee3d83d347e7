// An SMTP server for tests of the outbound queue, on 127.0.0.1 (node:net): it answers each
// command with what the test's script says (a reply line, or 'drop' to cut the connection) and
// records every connection, command and accepted message. No PIPELINING or CHUNKING; STARTTLS
// only when listed in `extensions`, and then broken (the handshake fails); DATA is read up to
// the lone dot and un-stuffed.

import net from 'node:net';

export type ScriptReply = string | 'drop';

export interface ScriptedMessage {
  mailFrom: string;
  mailParams: string;
  rcpts: string[];
  rcptLines: string[];
  data: Buffer;
}

export interface SmtpScript {
  /** EHLO keywords after the greeting line (default: 8BITMIME, SMTPUTF8, SIZE, ENHANCEDSTATUSCODES). */
  extensions?: string[];
  banner?: () => ScriptReply;
  mail?: (from: string) => ScriptReply;
  rcpt?: (to: string) => ScriptReply;
  /** The reply after the final dot; `message` is what was received. */
  data?: (message: ScriptedMessage) => ScriptReply;
  /** Milliseconds to wait before that reply (keeps sessions open at once). */
  dataDelayMs?: number;
}

export interface ScriptedSmtpServer {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Most connections open at once. */
  readonly maxConcurrent: number;
  /** Every command line received, in order (all connections). */
  readonly commands: string[];
  /** Messages whose final dot got a 2xx. */
  readonly delivered: ScriptedMessage[];
  script: SmtpScript;
  /** Starts counting maxConcurrent afresh. */
  resetConcurrency(): void;
  close(): Promise<void>;
}

const DEFAULT_EXTENSIONS = ['8BITMIME', 'SMTPUTF8', 'SIZE 100000000', 'ENHANCEDSTATUSCODES'];

export async function startScriptedSmtpServer(script: SmtpScript = {}): Promise<ScriptedSmtpServer> {
  const sockets = new Set<net.Socket>();
  let open = 0;
  const state = {
    connections: 0,
    maxConcurrent: 0,
    commands: [] as string[],
    delivered: [] as ScriptedMessage[],
    script,
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    state.connections++;
    open++;
    state.maxConcurrent = Math.max(state.maxConcurrent, open);
    socket.on('close', () => {
      sockets.delete(socket);
      open--;
    });
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let inData = false;
    let message: ScriptedMessage | null = null;
    const send = (reply: ScriptReply): boolean => {
      if (reply === 'drop') {
        socket.destroy();
        return false;
      }
      socket.write(`${reply}\r\n`);
      return true;
    };
    const s = (): SmtpScript => state.script;
    if (!send(s().banner?.() ?? '220 mx.test ESMTP scripted')) return;
    const handleLine = (line: string): void => {
      state.commands.push(line);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') {
        const ext = s().extensions ?? DEFAULT_EXTENSIONS;
        const lines = ['mx.test', ...ext];
        socket.write(lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
      } else if (verb === 'HELO') send('250 mx.test');
      else if (verb === 'MAIL') {
        const m = /^MAIL FROM:<([^>]*)>(.*)$/i.exec(line);
        const from = m?.[1] ?? '';
        const reply = s().mail?.(from) ?? '250 2.1.0 ok';
        if (reply.startsWith('2'))
          message = {
            mailFrom: from,
            mailParams: (m?.[2] ?? '').trim(),
            rcpts: [],
            rcptLines: [],
            data: Buffer.alloc(0),
          };
        send(reply);
      } else if (verb === 'RCPT') {
        const m = /^RCPT TO:<([^>]*)>/i.exec(line);
        const to = m?.[1] ?? '';
        const reply = s().rcpt?.(to) ?? '250 2.1.5 ok';
        if (reply.startsWith('2') && message !== null) {
          message.rcpts.push(to);
          message.rcptLines.push(line);
        }
        send(reply);
      } else if (verb === 'DATA') {
        if (message === null || message.rcpts.length === 0) send('503 5.5.1 no recipients');
        else {
          inData = true;
          send('354 go ahead');
        }
      } else if (verb === 'RSET') {
        message = null;
        send('250 2.0.0 ok');
      } else if (line.toUpperCase() === 'STARTTLS') {
        // A broken TLS server: 220, then bytes that are no TLS handshake.
        socket.write('220 2.0.0 ready\r\n');
        setTimeout(() => socket.end('this is not TLS\r\n'), 20);
      } else if (verb === 'NOOP') send('250 2.0.0 ok');
      else if (verb === 'QUIT') {
        socket.end('221 2.0.0 bye\r\n');
      } else send('502 5.5.2 not implemented');
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          const atStart = buffer.subarray(0, 3).toString('latin1') === '.\r\n';
          if (end < 0 && !atStart) return;
          const raw = atStart ? Buffer.alloc(0) : buffer.subarray(0, end + 2);
          buffer = buffer.subarray(atStart ? 3 : end + 5);
          inData = false;
          const m = message!;
          m.data = Buffer.from(raw.toString('latin1').replace(/^\.\./gm, '.'), 'latin1');
          message = null;
          const reply = s().data?.(m) ?? '250 2.0.0 queued';
          const answer = (): void => {
            if (reply !== 'drop' && reply.startsWith('2')) state.delivered.push(m);
            send(reply);
          };
          const delay = s().dataDelayMs ?? 0;
          if (delay > 0) setTimeout(answer, delay);
          else answer();
          continue;
        }
        const i = buffer.indexOf('\r\n');
        if (i < 0) return;
        const line = buffer.subarray(0, i).toString('utf8');
        buffer = buffer.subarray(i + 2);
        handleLine(line);
        if (socket.destroyed) return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get connections() {
      return state.connections;
    },
    get maxConcurrent() {
      return state.maxConcurrent;
    },
    commands: state.commands,
    delivered: state.delivered,
    get script() {
      return state.script;
    },
    set script(v: SmtpScript) {
      state.script = v;
    },
    resetConcurrency() {
      state.maxConcurrent = open;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
