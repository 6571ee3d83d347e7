// REQUIRETLS (RFC 8689) end to end: Python's smtplib submits to a real Postern (`runServer`, as
// `postern serve` runs it) with MAIL FROM ... REQUIRETLS, and Postern's queue worker delivers to
// loopback MX hosts found through the test DNS server, each an in-test SMTP server on its own
// loopback address (one outbound port for all): one with STARTTLS, a certificate from the
// test CA and REQUIRETLS; one without STARTTLS; one with TLS but without REQUIRETLS. Shown:
// EHLO offers REQUIRETLS only once the session is TLS, and MAIL FROM ... REQUIRETLS in clear is
// refused (530 5.7.10); the message reaches the first server over TLS with REQUIRETLS on its
// MAIL FROM; the other two never see a MAIL command, and the sender gets a 5.7.30 report.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { openStore } from '../../src/app/open-store.js';
import { runServer, type ReadyInfo } from '../../src/app/server.js';
import { hashPassword } from '../../src/auth/password.js';
import type { PosternConfig } from '../../src/config/types.js';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { parseDsn } from '../helpers/parse-dsn.js';
import { runPython } from '../helpers/python.js';
import { startStartTlsServer, type StartTlsServer } from '../helpers/starttls-server.js';
import { createTestCa } from '../helpers/test-ca.js';
import { waitUntil } from '../helpers/wait-until.js';
import { LOOPBACK_0, tempDir, testConfig } from './server-fixture.js';

const PASSWORD = 'alice-secret-1';
let dns: DnsTestServer;
let withTls: StartTlsServer;
let plain: StartTlsServer;
let noRequireTls: StartTlsServer;
let config: PosternConfig;
const ports: Record<string, number> = {};
let stop: () => Promise<void> = () => Promise.resolve();

before(async () => {
  const ca = await createTestCa('REQUIRETLS Test Root');
  const good = await ca.issue(['mx.tls.example']);
  const other = await ca.issue(['mx.norequire.example']);
  withTls = await startStartTlsServer({ tls: { cert: good.chain, key: good.key } });
  // The same port on other loopback addresses: [outbound] port is one port for every MX.
  plain = await startStartTlsServer({ tls: null, host: '127.0.0.2', port: withTls.port });
  noRequireTls = await startStartTlsServer({
    tls: { cert: other.chain, key: other.key },
    host: '127.0.0.3',
    port: withTls.port,
    requireTls: false,
  });
  dns = await startDnsServer({
    'tls.example': { MX: [{ exchange: 'mx.tls.example', priority: 10 }] },
    'mx.tls.example': { A: ['127.0.0.1'] },
    'clear.example': { MX: [{ exchange: 'mx.clear.example', priority: 10 }] },
    'mx.clear.example': { A: ['127.0.0.2'] },
    'norequire.example': { MX: [{ exchange: 'mx.norequire.example', priority: 10 }] },
    'mx.norequire.example': { A: ['127.0.0.3'] },
  });
  config = testConfig(await tempDir('outbound-requiretls'), {
    listen: { submission: LOOPBACK_0 },
    outbound: { port: withTls.port, retryFirst: 60, retryJitter: 0 },
  });
  config.dns = { servers: [dns.address], cacheSeconds: 0 };
  {
    const { store } = await openStore(config);
    await store.createDomain('example.test');
    await store.createAccount({ address: 'alice@example.test', passwordHash: await hashPassword(PASSWORD) });
    await store.close();
  }
  const controller = new AbortController();
  let ready!: (info: ReadyInfo) => void;
  const readyP = new Promise<ReadyInfo>((r) => (ready = r));
  const running = runServer(config, {
    onReady: ready,
    signal: controller.signal,
    handleSignals: false,
    outbound: { tlsCa: ca.cert },
  });
  const info = await Promise.race([readyP, running.then(() => Promise.reject(new Error('server ended')))]);
  for (const l of info.listeners) ports[l.name] = l.port;
  stop = async () => {
    controller.abort();
    await running;
  };
});

after(async () => {
  await stop();
  for (const s of [withTls, plain, noRequireTls]) await s?.close();
  await dns?.close();
  if (config !== undefined) await rm(config.dataDir, { recursive: true, force: true });
});

/** smtplib: a clear session (EHLO, MAIL ... REQUIRETLS), then STARTTLS, AUTH and a REQUIRETLS send. */
const SUBMIT = `
import json, smtplib, ssl, sys
a = json.load(sys.stdin)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}
s = smtplib.SMTP('127.0.0.1', a['port'], local_hostname='client.example.org', timeout=20)
s.ehlo()
out['clearOffers'] = s.has_extn('requiretls')
s.login('alice@example.test', a['password'])
code, msg = s.docmd('MAIL FROM:<alice@example.test> REQUIRETLS')
out['clearMail'] = '%d %s' % (code, msg.decode())
s.quit()
s = smtplib.SMTP('127.0.0.1', a['port'], local_hostname='client.example.org', timeout=20)
s.starttls(context=ctx)
s.ehlo()
out['tlsOffers'] = s.has_extn('requiretls')
s.login('alice@example.test', a['password'])
out['refused'] = s.sendmail('alice@example.test', [a['to']], a['message'].encode(), mail_options=['REQUIRETLS'])
s.quit()
print(json.dumps(out))
`;

interface Submitted {
  clearOffers: boolean;
  clearMail: string;
  tlsOffers: boolean;
  refused: Record<string, unknown>;
}

async function submit(to: string, subject: string): Promise<Submitted> {
  const message = `From: <alice@example.test>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\nsecret\r\n`;
  const out = await runPython(
    SUBMIT,
    JSON.stringify({ port: ports.submission, password: PASSWORD, to, message }),
  );
  return JSON.parse(out) as Submitted;
}

async function inbox(): Promise<Buffer[]> {
  const { store, blobs } = await openStore(config);
  try {
    const account = await store.getAccount('alice@example.test');
    const mailbox = await store.getMailbox(account!.id, 'INBOX');
    const metas = await store.listMessages(mailbox!.id);
    return await Promise.all(metas.map((m) => blobs.readAll(m.blobId)));
  } finally {
    await store.close();
  }
}

async function reportFor(address: string): Promise<Awaited<ReturnType<typeof parseDsn>> | undefined> {
  for (const m of await inbox()) {
    const dsn = await parseDsn(m);
    if (dsn.recipients.some((r) => r['final-recipient'] === `rfc822; ${address}`)) return dsn;
  }
  return undefined;
}

void test('REQUIRETLS is offered and accepted only over TLS; the message goes over verified TLS with REQUIRETLS', async () => {
  const out = await submit('bob@tls.example', 'over tls');
  assert.equal(out.clearOffers, false, 'no REQUIRETLS in the EHLO of a clear session');
  assert.match(out.clearMail, /^530 5\.7\.10 /);
  assert.equal(out.tlsOffers, true, 'REQUIRETLS offered after STARTTLS');
  assert.deepEqual(out.refused, {});
  await waitUntil(
    () => Promise.resolve(withTls.messages.some((m) => m.recipients.includes('bob@tls.example'))),
    {
      what: 'the delivery over TLS',
      timeoutMs: 30_000,
    },
  );
  const got = withTls.messages.find((m) => m.recipients.includes('bob@tls.example'))!;
  assert.equal(got.tls, true);
  assert.ok(
    withTls.commands.some((c) => /^TLS MAIL FROM:<alice@example\.test>.* REQUIRETLS/.test(c)),
    withTls.commands.join('\n'),
  );
  assert.ok(!withTls.commands.some((c) => c.startsWith('MAIL')), 'no MAIL command in clear');
});

void test('REQUIRETLS to an MX without STARTTLS: nothing sent in clear, the sender gets a 5.7.30 report', async () => {
  const out = await submit('carol@clear.example', 'never in clear');
  assert.deepEqual(out.refused, {});
  await waitUntil(async () => (await reportFor('carol@clear.example')) !== undefined, {
    what: 'the 5.7.30 report',
    timeoutMs: 30_000,
  });
  const dsn = (await reportFor('carol@clear.example'))!;
  assert.equal(dsn.recipients[0]!.action, 'failed');
  assert.equal(dsn.recipients[0]!.status, '5.7.30');
  assert.ok(
    plain.commands.some((c) => c.startsWith('EHLO')),
    'the MX was reached',
  );
  assert.ok(!plain.commands.some((c) => /^(MAIL|RCPT|DATA)/.test(c)), plain.commands.join('\n'));
  assert.equal(plain.messages.length, 0);
});

void test('REQUIRETLS to an MX with TLS that does not offer REQUIRETLS: not sent, 5.7.30 report', async () => {
  const out = await submit('dave@norequire.example', 'no requiretls there');
  assert.deepEqual(out.refused, {});
  await waitUntil(async () => (await reportFor('dave@norequire.example')) !== undefined, {
    what: 'the 5.7.30 report',
    timeoutMs: 30_000,
  });
  const dsn = (await reportFor('dave@norequire.example'))!;
  assert.equal(dsn.recipients[0]!.status, '5.7.30');
  assert.ok(
    noRequireTls.commands.some((c) => c === 'STARTTLS'),
    'TLS was negotiated',
  );
  assert.ok(!noRequireTls.commands.some((c) => /MAIL FROM/.test(c)), noRequireTls.commands.join('\n'));
  assert.equal(noRequireTls.messages.length, 0);
});
