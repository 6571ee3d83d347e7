// Hostile input against the real pop3 listener: oversized lines, commands before login, STLS
// command injection (RFC 2595 §4), dropped connections after DELE (RFC 1939 §6), garbage,
// error limits and the autologout timer. Each asserts a clear -ERR, a usable (or cleanly
// closed) connection, and nothing lost.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawPop3Client, sampleMessage, startPop3Server, USERS, type Pop3TestServer } from './pop3-harness.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Logs in, retrying while the previous session's lease is still being released. */
async function loginWhenFree(port: number, user: string): Promise<RawPop3Client> {
  for (let i = 0; i < 40; i++) {
    const { client } = await RawPop3Client.open(port);
    const r = await client.login(user, USERS[user]);
    if (r.ok) return client;
    client.destroy();
    assert.match(r.text, /^\[IN-USE\]/);
    await sleep(50);
  }
  throw new Error('the maildrop stayed locked');
}

void describe('pop3 hostile input', () => {
  let server: Pop3TestServer;
  const stored: Buffer[] = [];

  before(async () => {
    server = await startPop3Server();
    for (let i = 1; i <= 3; i++) {
      const raw = sampleMessage(i);
      await server.deliver(ALICE, raw);
      stored.push(raw);
    }
  });

  after(async () => {
    await server.close();
  });

  void it('a 10 KB line is refused and the connection stays usable; so is a 4 MB one', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    const r = await client.command(`USER ${'a'.repeat(10 * 1024)}`);
    assert.equal(r.ok, false);
    assert.match(r.text, /line too long/);
    // 4 MB without a line end, sent in pieces, then the line end.
    const piece = Buffer.alloc(64 * 1024, 0x41);
    for (let i = 0; i < 64; i++) client.write(piece);
    const huge = await client.command('', 10_000);
    assert.equal(huge.ok, false);
    assert.match(huge.text, /line too long/);
    assert.equal((await client.login(ALICE, USERS[ALICE])).ok, true);
    assert.equal(
      (await client.command('STAT')).text,
      `${stored.length} ${stored.reduce((n, b) => n + b.length, 0)}`,
    );
    // A 10 KB line inside the session too.
    assert.equal((await client.command(`LIST ${'9'.repeat(10 * 1024)}`)).ok, false);
    const got = await client.retr(1);
    assert.ok(Buffer.isBuffer(got) && got.equals(stored[0]));
    await client.command('QUIT');
    await client.closed();
  });

  void it('no maildrop command works before authentication', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    for (const cmd of ['STAT', 'LIST', 'LIST 1', 'RETR 1', 'TOP 1 0', 'DELE 1', 'UIDL', 'RSET', 'NOOP']) {
      const r = await client.command(cmd);
      assert.equal(r.ok, false, `${cmd} before login`);
    }
    const pass = await client.command(`PASS ${USERS[ALICE]}`);
    assert.equal(pass.ok, false, 'PASS without USER');
    assert.match(pass.text, /USER first/);
    assert.equal((await client.command('QUIT')).ok, true);
    await client.closed();
    assert.equal((await server.messages(ALICE)).length, stored.length);
  });

  void it('commands pipelined after STLS in the same packet are discarded', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    client.write(`STLS\r\nUSER ${ALICE}\r\nPASS ${USERS[ALICE]}\r\nDELE 1\r\nQUIT\r\n`);
    const r = await client.response();
    assert.equal(r.ok, true);
    await client.upgrade();
    // Nothing of the injected commands ran: still in AUTHORIZATION, no login happened.
    const stat = await client.command('STAT');
    assert.equal(stat.ok, false);
    const pass = await client.command(`PASS ${USERS[ALICE]}`);
    assert.equal(pass.ok, false, 'the injected USER was forgotten');
    assert.equal((await client.command('QUIT')).ok, true);
    assert.equal((await server.messages(ALICE)).length, stored.length);
  });

  void it('commands after STLS in a later packet, before the reply: discarded, never executed', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    client.socket.setNoDelay(true);
    client.write('STLS\r\n');
    await new Promise((resolve) => setImmediate(resolve));
    client.write(`USER ${ALICE}\r\nPASS ${USERS[ALICE]}\r\nDELE 1\r\nQUIT\r\n`);
    assert.equal((await client.response()).ok, true, 'the first response is the one to STLS');
    // Discarded (the handshake works, still in AUTHORIZATION) or fed to TLS (the handshake
    // fails); never read as commands.
    const upgraded = await client.upgrade().then(
      () => true,
      () => false,
    );
    if (upgraded) {
      assert.equal((await client.command('STAT')).ok, false, 'not logged in');
      assert.equal((await client.command(`PASS ${USERS[ALICE]}`)).ok, false, 'no USER pending');
      assert.equal((await client.command('QUIT')).ok, true);
    }
    client.destroy();
    assert.equal((await server.messages(ALICE)).length, stored.length, 'no DELE applied');
  });

  void it('commands after STLS in a later packet, after the reply: the handshake fails', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    assert.equal((await client.command('STLS')).ok, true);
    client.write(`USER ${ALICE}\r\nPASS ${USERS[ALICE]}\r\nDELE 1\r\nQUIT\r\n`);
    await assert.rejects(client.upgrade());
    client.destroy();
    assert.equal((await server.messages(ALICE)).length, stored.length, 'no DELE applied');
  });

  void it('USER sent in clear is forgotten by STLS (RFC 2595 §4)', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    assert.equal((await client.command(`USER ${ALICE}`)).ok, true);
    assert.equal((await client.command('STLS')).ok, true);
    await client.upgrade();
    const pass = await client.command(`PASS ${USERS[ALICE]}`);
    assert.equal(pass.ok, false);
    client.destroy();
  });

  void it('DELE then a dropped connection deletes nothing and frees the maildrop', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    assert.equal((await client.login(ALICE, USERS[ALICE])).ok, true);
    assert.equal((await client.command('DELE 1')).ok, true);
    assert.equal((await client.command('DELE 2')).ok, true);
    client.destroy();
    const next = await loginWhenFree(server.ports.pop3, ALICE);
    assert.equal((await next.multi('LIST')).lines.length, stored.length);
    const got = await next.retr(1);
    assert.ok(Buffer.isBuffer(got) && got.equals(stored[0]));
    await next.command('QUIT');
    assert.equal((await server.messages(ALICE)).length, stored.length);
  });

  void it('garbage, NUL, invalid UTF-8 and prototype names get -ERR; too many close the session', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    client.write(Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a]));
    assert.equal((await client.response()).ok, false);
    for (const cmd of ['__proto__', 'constructor', 'toString 1', 'USER a\tb', 'RETR1', ' STAT']) {
      assert.equal((await client.command(cmd)).ok, false, cmd);
    }
    assert.equal((await client.multi('CAPA')).status.ok, true, 'still usable');
    // limits.badCommands (20): the session is closed after the 20th.
    let last = { ok: true, text: '' };
    for (let i = 7; i < 20; i++) last = await client.command('XYZZY');
    assert.equal(last.ok, false);
    const closing = await client.response();
    assert.match(closing.text, /too many errors/);
    await client.closed();
  });

  void it('wrong passwords close the session after limits.authFailuresPerSession', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    for (let i = 0; i < 2; i++) {
      const r = await client.login(BOB, 'wrong');
      assert.equal(r.ok, false);
      assert.match(r.text, /^\[AUTH\]/);
    }
    const third = await client.login(BOB, 'wrong');
    assert.equal(third.ok, false);
    assert.match((await client.response()).text, /too many authentication failures/);
    await client.closed();
  });
});

void describe('pop3 autologout', () => {
  let server: Pop3TestServer;
  before(async () => {
    // A 2-second timer here (RFC 1939 §3 asks for at least 10 minutes: the default).
    server = await startPop3Server({ protocol: { idleTimeoutSeconds: 2 } });
    for (let i = 1; i <= 3; i++) await server.deliver(ALICE, sampleMessage(i));
  });
  after(async () => {
    await server.close();
  });

  void it('the autologout timer ends the session without UPDATE', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    assert.equal((await client.login(ALICE, USERS[ALICE])).ok, true);
    assert.equal((await client.command('DELE 3')).ok, true);
    const bye = await client.response(5000);
    assert.equal(bye.ok, false);
    assert.match(bye.text, /autologout/);
    await client.closed();
    const next = await loginWhenFree(server.ports.pop3, ALICE);
    assert.equal((await next.command('STAT')).text.split(' ')[0], '3');
    await next.command('QUIT');
  });
});
