// POP3 over real sockets against the real pop3/pop3s listeners: the RFC 1939 commands, CAPA,
// AUTH, STLS, APOP, PIPELINING, and Python's poplib downloading byte-identical messages.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it, test } from 'node:test';
import { apopDigest } from '../../src/protocols/pop3/commands/auth.js';
import {
  RawPop3Client,
  runPython,
  sampleMessage,
  startPop3Server,
  USERS,
  type Pop3TestServer,
} from './pop3-harness.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

function plain(user: string, password: string): string {
  return Buffer.from(`\0${user}\0${password}`).toString('base64');
}

// RFC 1939 §7, the example exchange: the greeting's timestamp, the shared secret and the digest
// the client sends.
const RFC1939_TIMESTAMP = '<1896.697170952@dbc.mtview.ca.us>';
const RFC1939_SECRET = 'tanstaaf';
const RFC1939_DIGEST = 'c4c9334bac560ecc979e58001b3e22fb';

/** The client's digest, computed here as RFC 1939 §7 says (not with the server's function). */
function clientDigest(timestamp: string, secret: string): string {
  return createHash('md5')
    .update(Buffer.from(timestamp + secret, 'latin1'))
    .digest('hex');
}

void test("APOP digests: RFC 1939's example values", () => {
  assert.equal(clientDigest(RFC1939_TIMESTAMP, RFC1939_SECRET), RFC1939_DIGEST);
  assert.equal(apopDigest(RFC1939_TIMESTAMP, RFC1939_SECRET), RFC1939_DIGEST);
});

void describe('pop3 session', () => {
  let server: Pop3TestServer;
  const stored: Buffer[] = [];

  before(async () => {
    server = await startPop3Server({ pop3: { apop: true } });
    for (let i = 1; i <= 4; i++) {
      const raw = sampleMessage(i, i * 3);
      await server.deliver(ALICE, raw);
      stored.push(raw);
    }
    // A large message, streamed in pieces (above SMALL_MESSAGE), with dot lines at chunk edges.
    const big = Buffer.concat([
      Buffer.from('Subject: big\r\n\r\n'),
      ...Array.from({ length: 9000 }, (_, i) =>
        Buffer.from(i % 7 === 0 ? `.${'d'.repeat(60)}\r\n` : `${'x'.repeat(70)} ${i}\r\n`),
      ),
    ]);
    await server.deliver(ALICE, big);
    stored.push(big);
    await server.store.setApopSecret(BOB, RFC1939_SECRET);
  });

  after(async () => {
    await server.close();
  });

  void it('greets with an APOP timestamp and lists capabilities by state', async () => {
    const { client, greeting } = await RawPop3Client.open(server.ports.pop3);
    assert.equal(greeting.ok, true);
    assert.match(greeting.text, /^Postern POP3 server ready <\d+\.[0-9a-f]{16}\.\d+@mail\.example\.test>$/);
    const before = await client.multi('CAPA');
    assert.equal(before.status.ok, true);
    for (const cap of [
      'TOP',
      'UIDL',
      'USER',
      'SASL PLAIN LOGIN',
      'RESP-CODES',
      'AUTH-RESP-CODE',
      'PIPELINING',
      'EXPIRE NEVER',
      'STLS',
      'UTF8 USER',
      'IMPLEMENTATION Postern',
    ]) {
      assert.ok(before.lines.includes(cap), `${cap} in ${before.lines.join(', ')}`);
    }
    assert.ok(!before.lines.some((l) => l.startsWith('LOGIN-DELAY')), 'login_delay 0: not announced');
    assert.equal((await client.login(ALICE, USERS[ALICE])).ok, true);
    const afterLogin = await client.multi('CAPA');
    assert.ok(afterLogin.lines.includes('PIPELINING'));
    assert.ok(!afterLogin.lines.includes('STLS') && !afterLogin.lines.includes('USER'));
    assert.equal((await client.command('QUIT')).ok, true);
    await client.closed();
  });

  void it('STAT, LIST, UIDL, RETR and TOP agree with the store, byte for byte', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    const pass = await client.login(ALICE, USERS[ALICE]);
    const total = stored.reduce((n, b) => n + b.length, 0);
    assert.equal(pass.text, `maildrop has ${stored.length} messages (${total} octets)`);
    assert.equal((await client.command('STAT')).text, `${stored.length} ${total}`);
    const list = await client.multi('LIST');
    assert.deepEqual(
      list.lines,
      stored.map((b, i) => `${i + 1} ${b.length}`),
    );
    assert.equal((await client.command('LIST 2')).text, `2 ${stored[1].length}`);
    const uidl = await client.multi('UIDL');
    const metas = await server.messages(ALICE);
    const inbox = (await server.store.getMailboxById(await server.inboxId(ALICE)))!;
    assert.deepEqual(
      uidl.lines,
      metas.map((m, i) => `${i + 1} ${inbox.uidValidity}.${m.uid}`),
    );
    for (const line of uidl.lines) {
      const id = line.split(' ')[1];
      assert.ok(id.length <= 70 && /^[\x21-\x7e]+$/.test(id));
    }
    for (let i = 0; i < stored.length; i++) {
      const got = await client.retr(i + 1);
      assert.ok(Buffer.isBuffer(got));
      assert.ok(got.equals(stored[i]), `message ${i + 1} byte-identical`);
    }
    const top = await client.multi('TOP 1 2');
    assert.deepEqual(top.lines, [
      ...stored[0].toString().split('\r\n').slice(0, 6),
      'body line 0 of 1',
      '.dot line 1 of 1',
    ]);
    const top0 = await client.multi('TOP 5 0');
    assert.deepEqual(top0.lines, ['Subject: big', '']);
    assert.equal((await client.command('RETR 99')).ok, false);
    assert.equal((await client.command('LIST 0')).ok, false);
    assert.equal((await client.command('NOOP')).ok, true);
    assert.equal((await client.command('QUIT')).ok, true);
    await client.closed();
  });

  void it('DELE hides a message until RSET; QUIT without DELE removes nothing', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    await client.login(ALICE, USERS[ALICE]);
    assert.equal((await client.command('DELE 2')).ok, true);
    const again = await client.command('DELE 2');
    assert.equal(again.ok, false);
    assert.match(again.text, /already deleted/);
    assert.equal((await client.command('RETR 2')).ok, false);
    assert.equal((await client.command('LIST 2')).ok, false);
    assert.equal((await client.multi('LIST')).lines.length, stored.length - 1);
    assert.equal((await client.command('STAT')).text.split(' ')[0], String(stored.length - 1));
    const rset = await client.command('RSET');
    assert.equal(rset.ok, true);
    assert.equal((await client.multi('LIST')).lines.length, stored.length);
    assert.equal((await client.command('QUIT')).ok, true);
    assert.equal((await server.messages(ALICE)).length, stored.length);
  });

  void it('pipelined commands are answered in order (RFC 2449 PIPELINING)', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    client.write(
      `USER ${ALICE}\r\nPASS ${USERS[ALICE]}\r\nSTAT\r\nLIST 1\r\nRETR 1\r\nUIDL 1\r\nNOOP\r\nQUIT\r\n`,
    );
    assert.equal((await client.response()).ok, true);
    assert.match((await client.response()).text, /^maildrop has/);
    assert.match((await client.response()).text, /^\d+ \d+$/);
    assert.equal((await client.response()).text, `1 ${stored[0].length}`);
    assert.equal((await client.response()).text, `${stored[0].length} octets`);
    const body = await client.body();
    assert.equal(Buffer.from(body.map((l) => `${l}\r\n`).join('')).equals(stored[0]), true);
    assert.match((await client.response()).text, /^1 \d+\.\d+$/);
    assert.equal((await client.response()).ok, true);
    assert.match((await client.response()).text, /signing off/);
    await client.closed();
  });

  void it('AUTH PLAIN with an initial response, AUTH LOGIN, "*" cancels, AUTH lists mechanisms', async () => {
    {
      const { client } = await RawPop3Client.open(server.ports.pop3);
      const list = await client.multi('AUTH');
      assert.deepEqual(list.lines, ['PLAIN', 'LOGIN']);
      client.write('AUTH PLAIN\r\n');
      assert.equal(await client.line(), '+ ');
      const cancelled = await client.command('*');
      assert.equal(cancelled.ok, false);
      const ok = await client.command(`AUTH PLAIN ${plain(ALICE, USERS[ALICE])}`);
      assert.equal(ok.ok, true, ok.text);
      assert.match(ok.text, /^maildrop has/);
      await client.command('QUIT');
    }
    {
      const { client } = await RawPop3Client.open(server.ports.pop3);
      client.write('AUTH LOGIN\r\n');
      assert.equal(await client.line(), `+ ${Buffer.from('Username:').toString('base64')}`);
      client.write(`${Buffer.from(ALICE).toString('base64')}\r\n`);
      assert.equal(await client.line(), `+ ${Buffer.from('Password:').toString('base64')}`);
      const ok = await client.command(Buffer.from(USERS[ALICE]).toString('base64'));
      assert.equal(ok.ok, true, ok.text);
      await client.command('QUIT');
    }
    {
      const { client } = await RawPop3Client.open(server.ports.pop3);
      const bad = await client.command(`AUTH PLAIN ${plain(ALICE, 'wrong')}`);
      assert.equal(bad.ok, false);
      assert.match(bad.text, /^\[AUTH\] /);
      const unknown = await client.command('AUTH CRAM-MD5');
      assert.equal(unknown.ok, false);
      client.destroy();
    }
  });

  void it('APOP with the greeting timestamp and the account secret', async () => {
    const { client, greeting } = await RawPop3Client.open(server.ports.pop3);
    const ts = greeting.text.slice(greeting.text.indexOf('<'));
    const wrong = await client.command(`APOP ${BOB} ${clientDigest(ts, 'nope')}`);
    assert.equal(wrong.ok, false);
    assert.match(wrong.text, /^\[AUTH\]/);
    // The digest of another greeting's timestamp (RFC 1939's own) is refused: no replay.
    const replay = await client.command(`APOP ${BOB} ${RFC1939_DIGEST}`);
    assert.equal(replay.ok, false);
    const ok = await client.command(`APOP ${BOB} ${clientDigest(ts, RFC1939_SECRET)}`);
    assert.equal(ok.ok, true, ok.text);
    assert.equal((await client.command('QUIT')).ok, true);
    // An account without an APOP secret cannot use APOP, whatever the digest.
    const second = await RawPop3Client.open(server.ports.pop3);
    const ts2 = second.greeting.text.slice(second.greeting.text.indexOf('<'));
    assert.equal((await second.client.command(`APOP ${ALICE} ${clientDigest(ts2, '')}`)).ok, false);
    second.client.destroy();
  });

  void it('UTF8 and LANG', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    assert.equal((await client.command('UTF8')).ok, true);
    assert.deepEqual((await client.multi('LANG')).lines, ['en English']);
    assert.equal((await client.command('LANG fr')).ok, false);
    assert.equal((await client.login(ALICE, USERS[ALICE])).ok, true);
    assert.equal((await client.command('UTF8')).ok, false, 'only in AUTHORIZATION');
    await client.command('QUIT');
  });

  void it('STLS then login inside TLS; pop3s works from the first byte', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    assert.equal((await client.command('STLS')).ok, true);
    await client.upgrade();
    const caps = await client.multi('CAPA');
    assert.ok(!caps.lines.includes('STLS'), 'no STLS inside TLS');
    assert.equal((await client.command('STLS')).ok, false);
    assert.equal((await client.login(ALICE, USERS[ALICE])).ok, true);
    await client.command('QUIT');

    const s = await RawPop3Client.open(server.ports.pop3s, { tls: true });
    assert.equal(s.greeting.ok, true);
    const capsTls = await s.client.multi('CAPA');
    assert.ok(!capsTls.lines.includes('STLS') && capsTls.lines.includes('USER'));
    assert.equal((await s.client.login(ALICE, USERS[ALICE])).ok, true);
    const got = await s.client.retr(1);
    assert.ok(Buffer.isBuffer(got) && got.equals(stored[0]));
    await s.client.command('QUIT');
  });

  void it("Python's poplib downloads every message byte-identical, over STLS and pop3s", async () => {
    const script = `
import poplib, ssl, sys, json, base64
port, tls_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
out = {}
p = poplib.POP3('127.0.0.1', port, timeout=10)
out['capa'] = sorted(p.capa().keys())
p.stls(context=ctx)
p.user(user); p.pass_(password)
count, size = p.stat()
out['stat'] = [count, size]
out['uidl'] = [u.decode() for u in p.uidl()[1]]
out['msgs'] = [base64.b64encode(b'\\r\\n'.join(p.retr(i)[1]) + b'\\r\\n').decode() for i in range(1, count + 1)]
p.quit()
s = poplib.POP3_SSL('127.0.0.1', tls_port, context=ctx, timeout=10)
s.user(user); s.pass_(password)
out['tls_uidl'] = [u.decode() for u in s.uidl()[1]]
out['tls_first'] = base64.b64encode(b'\\r\\n'.join(s.retr(1)[1]) + b'\\r\\n').decode()
s.quit()
print(json.dumps(out))
`;
    const out = JSON.parse(
      await runPython(script, [String(server.ports.pop3), String(server.ports.pop3s), ALICE, USERS[ALICE]]),
    ) as {
      capa: string[];
      stat: number[];
      uidl: string[];
      msgs: string[];
      tls_uidl: string[];
      tls_first: string;
    };
    assert.ok(out.capa.includes('STLS') && out.capa.includes('UIDL') && out.capa.includes('TOP'));
    assert.deepEqual(out.stat, [stored.length, stored.reduce((n, b) => n + b.length, 0)]);
    assert.equal(out.msgs.length, stored.length);
    out.msgs.forEach((m, i) =>
      assert.ok(Buffer.from(m, 'base64').equals(stored[i]), `poplib message ${i + 1}`),
    );
    assert.deepEqual(out.tls_uidl, out.uidl);
    assert.ok(Buffer.from(out.tls_first, 'base64').equals(stored[0]));
  });
});

void describe('pop3 plaintext login away from loopback', () => {
  let server: Pop3TestServer;
  before(async () => {
    // The server treats this loopback client as remote: plaintext login needs TLS.
    server = await startPop3Server({ auth: { plaintextFromLoopback: false } });
  });
  after(async () => {
    await server.close();
  });

  void it('refuses USER/PASS and AUTH PLAIN before STLS and omits them from CAPA; allows them after', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    const caps = await client.multi('CAPA');
    assert.ok(caps.lines.includes('STLS'));
    assert.ok(!caps.lines.includes('USER') && !caps.lines.some((l) => l.startsWith('SASL')));
    const user = await client.command(`USER ${ALICE}`);
    assert.equal(user.ok, false);
    assert.match(user.text, /^\[AUTH\] .*STLS/);
    assert.equal((await client.command(`AUTH PLAIN ${plain(ALICE, USERS[ALICE])}`)).ok, false);
    assert.deepEqual((await client.multi('AUTH')).lines, []);
    assert.equal((await client.command('STLS')).ok, true);
    await client.upgrade();
    const capsTls = await client.multi('CAPA');
    assert.ok(capsTls.lines.includes('USER') && capsTls.lines.includes('SASL PLAIN LOGIN'));
    assert.equal((await client.login(ALICE, USERS[ALICE])).ok, true);
    await client.command('QUIT');
  });
});

void describe('POP3 LOGIN-DELAY', () => {
  void it('announces the configured delay and refuses a second login within it', async () => {
    const server = await startPop3Server({ pop3: { loginDelay: 60 } });
    try {
      const first = await RawPop3Client.open(server.ports.pop3);
      const capa = await first.client.multi('CAPA');
      assert.ok(capa.lines.includes('LOGIN-DELAY 60'), capa.lines.join(', '));
      assert.equal((await first.client.login(ALICE, USERS[ALICE])).ok, true);
      assert.equal((await first.client.command('QUIT')).ok, true);
      await first.client.closed();
      // RFC 2449 §8.1.2: the right password, too soon: -ERR [LOGIN-DELAY], still in AUTHORIZATION.
      const second = await RawPop3Client.open(server.ports.pop3);
      const refused = await second.client.login(ALICE, USERS[ALICE]);
      assert.equal(refused.ok, false);
      assert.match(refused.text, /^\[LOGIN-DELAY\] /);
      assert.equal((await second.client.command('STAT')).ok, false);
      // The maildrop was not left locked: a wrong password is still [AUTH], not [IN-USE].
      const wrong = await second.client.login(ALICE, 'not the password');
      assert.match(wrong.text, /^\[AUTH\] /);
      assert.equal((await second.client.command('QUIT')).ok, true);
      await second.client.closed();
    } finally {
      await server.close();
    }
  });
});

void test('graceful shutdown: -ERR [SYS/TEMP] and close; DELEs are not applied (RFC 1939 §6: no UPDATE)', async () => {
  const server = await startPop3Server();
  try {
    for (let i = 1; i <= 3; i++) await server.deliver(ALICE, sampleMessage(i, 3));
    const { client } = await RawPop3Client.open(server.ports.pop3);
    assert.equal((await client.login(ALICE, USERS[ALICE])).ok, true);
    assert.equal((await client.command('DELE 1')).ok, true);
    assert.equal((await client.command('DELE 2')).ok, true);
    const waiting = await RawPop3Client.open(server.ports.pop3);
    const shutdown = server.shutdownListeners(5000);
    for (const c of [client, waiting.client]) {
      const bye = await c.response(10_000);
      assert.equal(bye.ok, false);
      assert.match(bye.text, /^\[SYS\/TEMP\] /);
      await c.closed(10_000);
    }
    await shutdown;
    assert.equal((await server.messages(ALICE)).length, 3, 'the session never entered UPDATE');
  } finally {
    await server.close();
  }
});
