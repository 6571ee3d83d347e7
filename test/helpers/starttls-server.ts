// A small SMTP server for tests of outbound TLS policies: it offers STARTTLS (or not) with a
// given certificate chain (node:tls on the accepted socket), accepts any MAIL, RCPT and DATA,
// and records each message with whether it arrived over TLS. It offers REQUIRETLS with TLS,
// so REQUIRETLS messages can go through it.

import net from 'node:net';
import tls from 'node:tls';

export interface StartTlsServerOptions {
  /** PEM chain (leaf first) and key; null: STARTTLS is not offered. */
  tls: { cert: string; key: string } | null;
  /** The loopback address to listen on (default 127.0.0.1) and the port (default: any). */
  host?: string;
  port?: number;
  /** Offer REQUIRETLS once encrypted (default true). */
  requireTls?: boolean;
}

export interface StartTlsServer {
  port: number;
  /** Messages received: the envelope, and whether the session was encrypted. */
  messages: { mailFrom: string; recipients: string[]; tls: boolean; data: string }[];
  /** Every command line, with a "TLS " prefix once encrypted. */
  commands: string[];
  close(): Promise<void>;
}

export async function startStartTlsServer(opts: StartTlsServerOptions): Promise<StartTlsServer> {
  const messages: StartTlsServer['messages'] = [];
  const commands: string[] = [];
  const sockets = new Set<net.Socket>();
  const context =
    opts.tls === null ? null : tls.createSecureContext({ cert: opts.tls.cert, key: opts.tls.key });

  const serve = (socket: net.Socket, encrypted: boolean): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    let inData = false;
    let data = '';
    let mailFrom = '';
    let recipients: string[] = [];
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('latin1');
      for (;;) {
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            messages.push({ mailFrom, recipients, tls: encrypted, data });
            socket.write('250 2.0.0 queued\r\n');
          } else {
            data += (line.startsWith('.') ? line.slice(1) : line) + '\r\n';
          }
          continue;
        }
        commands.push(`${encrypted ? 'TLS ' : ''}${line}`);
        const verb = line.split(' ')[0]?.toUpperCase() ?? '';
        if (verb === 'EHLO') {
          const ext = ['mx.test.invalid', '8BITMIME', 'ENHANCEDSTATUSCODES'];
          if (!encrypted && context !== null) ext.push('STARTTLS');
          if (encrypted && opts.requireTls !== false) ext.push('REQUIRETLS');
          socket.write(ext.map((e, i) => `250${i === ext.length - 1 ? ' ' : '-'}${e}\r\n`).join(''));
        } else if (verb === 'STARTTLS' && !encrypted && context !== null) {
          socket.write('220 2.0.0 go ahead\r\n');
          socket.off('data', onData);
          const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
          serve(secure, true);
          return;
        } else if (verb === 'MAIL') {
          mailFrom = /<([^>]*)>/.exec(line)?.[1] ?? '';
          recipients = [];
          socket.write('250 2.1.0 ok\r\n');
        } else if (verb === 'RCPT') {
          recipients.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
          socket.write('250 2.1.5 ok\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          data = '';
          socket.write('354 go on\r\n');
        } else if (verb === 'RSET' || verb === 'NOOP') {
          socket.write('250 2.0.0 ok\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 bye\r\n');
        } else {
          socket.write('502 5.5.1 unknown\r\n');
        }
      }
    };
    socket.on('data', onData);
  };

  const server = net.createServer((socket) => {
    socket.write('220 mx.test.invalid ESMTP test\r\n');
    serve(socket, false);
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    messages,
    commands,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
