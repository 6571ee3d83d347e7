import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../core/log.js';
import { ServerConnection } from './connection.js';
import { guestTurns } from './guest-turns.js';
import { SessionInput, type SessionSource } from './session-input.js';

/** A real TCP connection on 127.0.0.1: the server side as a ServerConnection, the client socket. */
async function connectionPair(
  server: net.Server,
  port: number,
): Promise<{ conn: ServerConnection; client: net.Socket }> {
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const socket = await accepted;
  const conn = new ServerConnection({
    socket,
    listener: 'imap',
    remoteAddress: '127.0.0.1',
    log: createLogger({ level: 'fatal' } as Parameters<typeof createLogger>[0]),
    secureContext: tls.createSecureContext({}),
    idleTimeout: 0,
  });
  return { conn, client };
}

function tick(ms = 20): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

void describe('SessionInput', () => {
  let server: net.Server;
  let port = 0;
  before(async () => {
    server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  void it('keeps a wake-up that comes while the session is not waiting', async () => {
    const { conn, client } = await connectionPair(server, port);
    const chunks: Buffer[] = [];
    const input = new SessionInput(conn, 1024);
    input.start((chunk) => {
      chunks.push(chunk);
      return chunks.reduce((n, c) => n + c.length, 0);
    });
    // Input arrives while the session is busy elsewhere (say, waiting for a write to drain).
    client.write('A1 NOOP\r\n');
    await tick();
    assert.equal(chunks.length, 1);
    // Its wake-up was not lost: wait() returns at once instead of sleeping until more input.
    const woke = await Promise.race([input.wait().then(() => true), tick(500).then(() => false)]);
    assert.equal(woke, true);
    client.destroy();
    conn.destroy();
  });

  void it('pauses past maxBuffered, resumes on wait, and reports the end of input', async () => {
    const { conn, client } = await connectionPair(server, port);
    try {
      let held = 0;
      let received = 0;
      const input = new SessionInput(conn, 4096);
      input.start((chunk) => {
        held += chunk.length;
        received += chunk.length;
        return held;
      });
      client.write(Buffer.alloc(8192, 0x61));
      await tick(100);
      assert.equal(received, 8192);
      // Past 4,096 held bytes the socket is paused: more input is not read...
      client.write(Buffer.alloc(8192, 0x62));
      await tick(100);
      assert.equal(received, 8192);
      // ...until the session has consumed what it held and waits for more.
      held = 0;
      await Promise.race([input.wait(), tick(1000)]);
      await tick(50);
      assert.equal(received, 16384);
      assert.equal(input.peerEnded, false);
      client.end();
      held = 0;
      await Promise.race([input.wait(), tick(1000)]);
      await tick();
      assert.equal(input.peerEnded, true);
    } finally {
      client.destroy();
      conn.destroy();
    }
  });
  void it("reads a guest session's input in a turn of the shared queue, a logged-in one's at once", async () => {
    const { conn, client } = await connectionPair(server, port);
    try {
      let guest = true;
      const lines: string[] = [];
      let text = '';
      const input = new SessionInput(conn, 4096, () => guest);
      input.start((chunk) => {
        text += chunk.toString();
        return text.length;
      });
      const source: SessionSource<string> = {
        read() {
          const end = text.indexOf('\r\n');
          if (end < 0) return null;
          const line = text.slice(0, end);
          text = text.slice(end + 2);
          lines.push(line);
          return line;
        },
        stopped: () => false,
        backlog: () => false,
        flush: async () => {},
      };
      client.write('A1 LOGIN u p\r\n');
      const before = guestTurns.grantedTotal;
      assert.equal(await input.next(source), 'A1 LOGIN u p');
      assert.ok(guestTurns.grantedTotal > before, 'a guest input waits for its turn');
      guest = false;
      client.write('A2 NOOP\r\n');
      const loggedIn = guestTurns.grantedTotal;
      assert.equal(await input.next(source), 'A2 NOOP');
      assert.equal(guestTurns.grantedTotal, loggedIn, 'a logged-in session takes no turn');
    } finally {
      client.destroy();
      conn.destroy();
    }
  });
});
