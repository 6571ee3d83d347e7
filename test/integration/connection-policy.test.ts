// Connection-level policy over real sockets, for SMTP, IMAP and POP3 on one server sharing one
// failure tracker (issue 10): plaintext passwords refused without TLS when
// auth.plaintext_from_loopback is off, refusal at the per-address connection limit, the ban end to
// end (wrong logins, then the next connection refused, in every protocol), and IPv6 clients
// grouped by network over ::1.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { Authenticator } from '../../src/auth/authenticator.js';
import { AuthFailureTracker } from '../../src/auth/failure-tracker.js';
import { hashPassword } from '../../src/auth/password.js';
import type { ListenerName, PosternConfig } from '../../src/config/types.js';
import type { Limits } from '../../src/core/limits.js';
import { createLogger } from '../../src/core/log.js';
import { createImapHandler } from '../../src/protocols/imap/handler.js';
import { pop3Protocol } from '../../src/protocols/pop3/handler.js';
import { smtpProtocol } from '../../src/protocols/smtp/handler.js';
import { ListenerSet } from '../../src/server/listeners.js';
import { loadTlsMaterial } from '../../src/server/tls.js';
import type { ServerDeps } from '../../src/server/types.js';
import { openStore } from '../../src/app/open-store.js';
import { RawImapClient } from './imap-harness.js';
import { RawPop3Client } from './pop3-harness.js';
import { tempDir, testConfig } from './server-fixture.js';
import { RawSmtpClient, plainAuth } from './smtp-harness.js';

const USER = 'alice@example.test';
const PASSWORD = 'alice-secret-1';

interface PolicyServer {
  host: string;
  tracker: AuthFailureTracker;
  listeners: ListenerSet;
  port(name: ListenerName): number;
  close(): Promise<void>;
}

async function startServer(
  opts: { host?: string; limits?: Partial<Limits>; auth?: Partial<PosternConfig['auth']> } = {},
): Promise<PolicyServer> {
  const host = opts.host ?? '127.0.0.1';
  const dir = await tempDir('policy');
  const at = { host, port: 0 };
  const config = testConfig(dir, {
    listen: { smtp: at, submission: at, imap: at, pop3: at },
    limits: opts.limits,
    auth: opts.auth,
  });
  const [{ store, blobs }, tls] = await Promise.all([openStore(config), loadTlsMaterial(config)]);
  await store.createDomain('example.test');
  await store.createAccount({ address: USER, passwordHash: await hashPassword(PASSWORD) });
  const tracker = new AuthFailureTracker({ limits: config.limits });
  const authenticator = new Authenticator({ store, limits: config.limits, tracker });
  const deps: ServerDeps = { config, store, blobs, log: createLogger(config.log), authenticator, tls };
  const smtp = smtpProtocol({ greetingDelayMs: 0 });
  const listeners = await ListenerSet.start({
    deps,
    handlers: new Map([
      ['smtp', smtp],
      ['submission', smtp],
      ['imap', createImapHandler],
      ['pop3', pop3Protocol()],
    ]),
  });
  return {
    host,
    tracker,
    listeners,
    port: (name) => listeners.listening.find((l) => l.name === name)!.port,
    async close() {
      await listeners.shutdown({ graceMs: 1000 });
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

type Proto = 'smtp' | 'imap' | 'pop3';

/** The first line a new connection to `proto` gets (the greeting, or the refusal), and whether it closed. */
async function firstLine(s: PolicyServer, proto: Proto): Promise<{ line: string; closed: boolean }> {
  const host = s.host;
  if (proto === 'imap') {
    const c = await RawImapClient.connect(s.port('imap'), { host });
    const closed = c.greeting.startsWith('* BYE') ? (await c.closed(), true) : false;
    c.destroy();
    return { line: c.greeting, closed };
  }
  if (proto === 'pop3') {
    const { client, greeting } = await RawPop3Client.open(s.port('pop3'), { host });
    const line = `${greeting.ok ? '+OK' : '-ERR'} ${greeting.text}`;
    const closed = greeting.ok ? false : (await client.closed(), true);
    client.destroy();
    return { line, closed };
  }
  const c = await RawSmtpClient.connect(s.port('submission'), { host });
  const r = await c.reply();
  const closed = r.code === 421 ? (await c.closed(), true) : false;
  c.destroy();
  return { line: r.lines.join('\n'), closed };
}

const REFUSED_BANNED: Record<Proto, RegExp> = {
  smtp: /^421 4\.7\.0 mail\.example\.test access temporarily denied$/,
  imap: /^\* BYE Access temporarily denied$/,
  pop3: /^-ERR \[SYS\/TEMP\] access temporarily denied$/,
};
const REFUSED_LIMIT: Record<Proto, RegExp> = {
  smtp: /^421 4\.7\.0 mail\.example\.test too many connections$/,
  imap: /^\* BYE Too many connections$/,
  pop3: /^-ERR \[SYS\/TEMP\] too many connections$/,
};
const GREETING: Record<Proto, RegExp> = {
  smtp: /^220 /,
  imap: /^\* OK /,
  pop3: /^\+OK /,
};

/** One wrong login in `proto`; asserts the protocol's failure answer. */
async function wrongLogin(s: PolicyServer, proto: Proto): Promise<void> {
  const host = s.host;
  if (proto === 'imap') {
    const c = await RawImapClient.connect(s.port('imap'), { host });
    const r = await c.command(`LOGIN ${USER} wrong-password`);
    assert.equal(r.status, 'NO', r.tagged);
    assert.match(r.tagged, /\[AUTHENTICATIONFAILED\]/);
    c.destroy();
  } else if (proto === 'pop3') {
    const { client } = await RawPop3Client.open(s.port('pop3'), { host });
    const r = await client.login(USER, 'wrong-password');
    assert.equal(r.ok, false);
    assert.match(r.text, /^\[AUTH\] /);
    client.destroy();
  } else {
    const c = await RawSmtpClient.connect(s.port('submission'), { host });
    assert.equal((await c.reply()).code, 220);
    assert.equal((await c.command('EHLO client.example')).code, 250);
    const r = await c.command(`AUTH PLAIN ${plainAuth(USER, 'wrong-password')}`);
    assert.equal(r.code, 535);
    c.destroy();
  }
}

void describe('plaintext login from loopback with auth.plaintext_from_loopback = false', () => {
  void it('IMAP advertises LOGINDISABLED and refuses LOGIN and AUTHENTICATE PLAIN until STARTTLS', async () => {
    const s = await startServer({ auth: { plaintextFromLoopback: false } });
    try {
      const c = await RawImapClient.connect(s.port('imap'));
      const caps = await c.command('CAPABILITY');
      const line = caps.untagged.find((l) => l.startsWith('* CAPABILITY'))!;
      assert.match(line, / LOGINDISABLED\b/);
      assert.match(line, / STARTTLS\b/);
      assert.doesNotMatch(line, /AUTH=PLAIN/);
      const login = await c.command(`LOGIN ${USER} ${PASSWORD}`);
      assert.equal(login.status, 'NO');
      assert.match(login.tagged, /\[PRIVACYREQUIRED\]/);
      const plain = await c.command(`AUTHENTICATE PLAIN ${plainAuth(USER, PASSWORD)}`);
      assert.equal(plain.status, 'NO');
      assert.match(plain.tagged, /\[PRIVACYREQUIRED\]/);
      assert.equal(s.tracker.failureCount('127.0.0.1'), 0, 'a refusal is not a wrong password');
      assert.equal((await c.command('STARTTLS')).status, 'OK');
      await c.upgrade();
      const tlsCaps = (await c.command('CAPABILITY')).untagged.join(' ');
      assert.doesNotMatch(tlsCaps, /LOGINDISABLED/);
      assert.match(tlsCaps, /AUTH=PLAIN/);
      assert.equal((await c.command(`LOGIN ${USER} ${PASSWORD}`)).status, 'OK');
      c.destroy();

      const d = await RawImapClient.connect(s.port('imap'));
      assert.equal((await d.command('STARTTLS')).status, 'OK');
      await d.upgrade();
      assert.equal((await d.command(`AUTHENTICATE PLAIN ${plainAuth(USER, PASSWORD)}`)).status, 'OK');
      d.destroy();
    } finally {
      await s.close();
    }
  });

  void it('POP3 refuses USER, PASS and AUTH PLAIN until STLS', async () => {
    const s = await startServer({ auth: { plaintextFromLoopback: false } });
    try {
      const { client } = await RawPop3Client.open(s.port('pop3'));
      const capa = await client.multi('CAPA');
      assert.ok(capa.lines.includes('STLS'));
      assert.ok(!capa.lines.includes('USER'), capa.lines.join(', '));
      const user = await client.command(`USER ${USER}`);
      assert.equal(user.ok, false);
      assert.match(user.text, /^\[AUTH\] /);
      assert.equal((await client.command(`PASS ${PASSWORD}`)).ok, false);
      assert.equal((await client.command(`AUTH PLAIN ${plainAuth(USER, PASSWORD)}`)).ok, false);
      assert.equal((await client.command('STLS')).ok, true);
      await client.upgrade();
      assert.equal((await client.login(USER, PASSWORD)).ok, true);
      assert.equal((await client.command('QUIT')).ok, true);
    } finally {
      await s.close();
    }
  });

  void it('SMTP submission offers and accepts no AUTH before STARTTLS, and both after', async () => {
    const s = await startServer({ auth: { plaintextFromLoopback: false } });
    try {
      const c = await RawSmtpClient.connect(s.port('submission'));
      assert.equal((await c.reply()).code, 220);
      const ehlo = await c.command('EHLO client.example');
      assert.ok(!ehlo.lines.some((l) => l.slice(4).startsWith('AUTH')), ehlo.lines.join('|'));
      const auth = await c.command(`AUTH PLAIN ${plainAuth(USER, PASSWORD)}`);
      assert.equal(auth.code, 538);
      assert.match(auth.text, /^5\.7\.11 /);
      assert.equal((await c.command('MAIL FROM:<alice@example.test>')).code, 530, 'still unauthenticated');
      assert.equal((await c.command('STARTTLS')).code, 220);
      await c.upgrade();
      const tlsEhlo = await c.command('EHLO client.example');
      assert.ok(tlsEhlo.lines.some((l) => l.slice(4) === 'AUTH PLAIN LOGIN'));
      assert.equal((await c.command(`AUTH PLAIN ${plainAuth(USER, PASSWORD)}`)).code, 235);
      c.destroy();
    } finally {
      await s.close();
    }
  });

  void it('with the default (on), the same loopback client may log in without TLS', async () => {
    const s = await startServer();
    try {
      const c = await RawImapClient.connect(s.port('imap'));
      assert.doesNotMatch((await c.command('CAPABILITY')).untagged.join(' '), /LOGINDISABLED/);
      assert.equal((await c.command(`LOGIN ${USER} ${PASSWORD}`)).status, 'OK');
      c.destroy();
    } finally {
      await s.close();
    }
  });
});

void describe('refusal at the per-address connection limit', () => {
  for (const proto of ['imap', 'pop3', 'smtp'] as const) {
    void it(`${proto}: the connection over the limit gets the protocol's refusal and is closed`, async () => {
      const s = await startServer({ limits: { connectionsPerIp: 2 } });
      const name = proto === 'smtp' ? 'submission' : proto;
      try {
        const open: Array<{ destroy(): void }> = [];
        for (let i = 0; i < 2; i++) {
          const held =
            proto === 'imap'
              ? await RawImapClient.connect(s.port(name))
              : proto === 'pop3'
                ? (await RawPop3Client.open(s.port(name))).client
                : await RawSmtpClient.connect(s.port(name));
          open.push(held);
        }
        for (let i = 0; i < 50 && s.listeners.connectionsFrom('127.0.0.1') < 2; i++)
          await new Promise((r) => setTimeout(r, 10));
        const refused = await firstLine(s, proto);
        assert.match(refused.line, REFUSED_LIMIT[proto]);
        assert.ok(refused.closed, 'closed after the refusal');
        // Another protocol counts towards the same address.
        const other = await firstLine(s, proto === 'imap' ? 'pop3' : 'imap');
        assert.ok(other.closed);
        open[0].destroy();
        for (let i = 0; i < 100 && s.listeners.connectionsFrom('127.0.0.1') > 1; i++)
          await new Promise((r) => setTimeout(r, 10));
        const again = await firstLine(s, proto);
        assert.match(again.line, GREETING[proto], 'accepted again once one closed');
        open[1].destroy();
      } finally {
        await s.close();
      }
    });
  }
});

void describe('the ban end to end: wrong logins, then the next connection is refused', () => {
  for (const proto of ['smtp', 'imap', 'pop3'] as const) {
    void it(`wrong logins over ${proto} ban the address in every protocol`, async () => {
      const s = await startServer({
        limits: { authFailuresBeforeBan: 3, authFailuresPerSession: 10, banSeconds: 60 },
      });
      try {
        await wrongLogin(s, proto);
        await wrongLogin(s, proto);
        const before = await firstLine(s, proto);
        assert.match(before.line, GREETING[proto], 'two failures: not banned yet');
        await wrongLogin(s, proto);
        for (const p of ['smtp', 'imap', 'pop3'] as const) {
          const refused = await firstLine(s, p);
          assert.match(refused.line, REFUSED_BANNED[p], `${p} after failures over ${proto}`);
          assert.ok(refused.closed);
        }
      } finally {
        await s.close();
      }
    });
  }
});

void describe('IPv6 clients are grouped by network, end to end over ::1', () => {
  void it('a ban earned from ::1 covers its /64; connections from ::1 count for the /64', async () => {
    const s = await startServer({
      host: '::1',
      limits: { authFailuresBeforeBan: 2, connectionsPerIp: 2, ipv6Prefix: 64 },
    });
    try {
      const held: Array<{ destroy(): void }> = [await RawImapClient.connect(s.port('imap'), { host: '::1' })];
      held.push((await RawPop3Client.open(s.port('pop3'), { host: '::1' })).client);
      for (let i = 0; i < 50 && s.listeners.connectionsFrom('::1') < 2; i++)
        await new Promise((r) => setTimeout(r, 10));
      // Another address of ::/64 is the same client as far as the limit goes.
      assert.equal(s.listeners.connectionsFrom('::2'), 2);
      assert.equal(s.listeners.connectionsFrom('0:0:0:0:ffff:ffff:ffff:ffff'), 2);
      assert.equal(s.listeners.connectionsFrom('0:0:0:1::1'), 0, 'the next /64 is another client');
      assert.match((await firstLine(s, 'imap')).line, REFUSED_LIMIT.imap);
      for (const c of held) c.destroy();
      for (let i = 0; i < 100 && s.listeners.connectionsFrom('::1') > 0; i++)
        await new Promise((r) => setTimeout(r, 10));

      await wrongLogin(s, 'imap');
      await wrongLogin(s, 'pop3');
      assert.equal(s.tracker.isBanned('::1'), true);
      assert.equal(s.tracker.isBanned('::beef:1'), true, 'the whole /64 is banned');
      assert.equal(s.tracker.isBanned('0:0:0:1::1'), false);
      const refused = await firstLine(s, 'smtp');
      assert.match(refused.line, REFUSED_BANNED.smtp);
    } finally {
      await s.close();
    }
  });

  void it('with limits.ipv6_prefix = 128 every address stands alone', async () => {
    const s = await startServer({ host: '::1', limits: { connectionsPerIp: 5, ipv6Prefix: 128 } });
    try {
      const c = await RawImapClient.connect(s.port('imap'), { host: '::1' });
      for (let i = 0; i < 50 && s.listeners.connectionsFrom('::1') < 1; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(s.listeners.connectionsFrom('::1'), 1);
      assert.equal(s.listeners.connectionsFrom('::2'), 0);
      c.destroy();
    } finally {
      await s.close();
    }
  });
});
