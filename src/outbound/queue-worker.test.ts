// The queue worker over real parts: a SQLite store in a temp dir, the loopback DNS server as the
// resolver, and a scripted SMTP server on loopback as every remote MX (outbound.port points at
// it). Each test queues messages as accepted submissions are queued (store.append with an
// outbound envelope), wakes the worker and checks what the remote received, the recipients'
// states, and the DSNs in the sender's INBOX (read back with Python's email package).

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { authenticate, type DNSResolver } from 'mailauth';
import { after, afterEach, before, test } from 'node:test';
import { openStore } from '../app/open-store.js';
import type { PosternConfig } from '../config/types.js';
import { createLogger } from '../core/log.js';
import { DnsResolver } from '../dns/resolver.js';
import { messageBlobOptions } from '../delivery/local.js';
import type { BlobStore } from '../store/blob/types.js';
import type { MailStore, OutboundEnvelope } from '../store/types.js';
import { startDnsServer, type DnsTestServer } from '../../test/helpers/dns-server.js';
import { parseDsn } from '../../test/helpers/parse-dsn.js';
import { startScriptedSmtpServer, type ScriptedSmtpServer } from '../../test/helpers/scripted-smtp-server.js';
import { waitUntil } from '../../test/helpers/wait-until.js';
import { tempDir, testConfig } from '../../test/integration/server-fixture.js';
import { runPython } from '../../test/helpers/python.js';
import { createDkimKeys, dkimRecordName, dkimRecordValue } from './dkim-keys.js';
import { createDkimSigner } from './dkim-signer.js';
import { owedDsnParts } from './owed-dsn.js';
import { QueueWorker, type QueueWorkerOptions } from './queue-worker.js';
import { transportHooks } from './transport-hooks.js';

let dns: DnsTestServer;
let mx: ScriptedSmtpServer;

before(async () => {
  dns = await startDnsServer({
    'remote.test': { MX: [{ exchange: 'mx.remote.test', priority: 10 }] },
    'other.test': { MX: [{ exchange: 'mx.remote.test', priority: 10 }] },
    'mx.remote.test': { A: ['127.0.0.1'] },
    'nullmx.test': { MX: [{ exchange: '.', priority: 0 }] },
    'broken.test': { fail: 'servfail' },
    // The better MX has nothing listening (127.0.0.2): the next one takes the message.
    'twomx.test': {
      MX: [
        { exchange: 'dead.remote.test', priority: 5 },
        { exchange: 'mx.remote.test', priority: 20 },
      ],
    },
    'dead.remote.test': { A: ['127.0.0.2'] },
  });
  mx = await startScriptedSmtpServer();
});
after(async () => {
  await mx.close();
  await dns.close();
});

interface Fixture {
  dir: string;
  config: PosternConfig;
  store: MailStore;
  blobs: BlobStore;
  worker: QueueWorker;
  queue(
    env: Partial<OutboundEnvelope> & { recipients: OutboundEnvelope['recipients'] },
    text?: string,
  ): Promise<number>;
  inbox(address: string): Promise<Buffer[]>;
  close(): Promise<void>;
}

let current: Fixture | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
  mx.script = {};
});

const MESSAGE =
  'From: <alice@example.test>\r\nTo: <bob@remote.test>\r\nSubject: hello\r\n\r\nHello there.\r\n';

async function fixture(
  outbound: Partial<PosternConfig['outbound']> = {},
  workerOpts: Partial<QueueWorkerOptions> | ((store: MailStore) => Partial<QueueWorkerOptions>) = {},
): Promise<Fixture> {
  const dir = await tempDir('queue-worker');
  const config = testConfig(dir, {
    outbound: { port: mx.port, retryJitter: 0, connectionCacheIdle: 5, ...outbound },
  });
  config.dns = { servers: [dns.address], cacheSeconds: 0 };
  const { store, blobs } = await openStore(config);
  await store.createDomain('example.test');
  await store.createAccount({ address: 'alice@example.test', passwordHash: 'x' });
  const worker = new QueueWorker({
    store,
    blobs,
    config,
    resolver: new DnsResolver({ servers: [dns.address], cacheSeconds: 0 }),
    log: createLogger(config.log),
    owner: 'test-worker',
    pollMs: 200,
    clientTimeouts: { connect: 2000, greeting: 2000, ehlo: 2000, mail: 2000, rcpt: 2000, dataFinal: 2000 },
    ...(typeof workerOpts === 'function' ? workerOpts(store) : workerOpts),
  }).start();
  const f: Fixture = {
    dir,
    config,
    store,
    blobs,
    worker,
    async queue(env, text = MESSAGE) {
      const blob = await blobs.write(Buffer.from(text), messageBlobOptions(config.limits));
      await store.append({
        blob,
        targets: [],
        outbound: {
          mailFrom: 'alice@example.test',
          envid: null,
          ret: null,
          body: '7BIT',
          smtputf8: false,
          accountId: null,
          ...env,
        },
      });
      const all = await store.listOutbound();
      worker.notify();
      return all[all.length - 1]!.id;
    },
    async inbox(address) {
      const account = await store.getAccount(address);
      const mailbox = await store.getMailbox(account!.id, 'INBOX');
      const metas = await store.listMessages(mailbox!.id);
      return Promise.all(metas.map((m) => blobs.readAll(m.blobId)));
    },
    async close() {
      await worker.stop();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  current = f;
  return f;
}

const rcpt = (address: string, notify: string[] | null = null, orcpt: string | null = null) => ({
  address,
  notify,
  orcpt,
});

void test('delivers to the MX found in DNS, reuses one connection for the next message (RSET between), and the message leaves the queue', async () => {
  const f = await fixture();
  const before = { connections: mx.connections, delivered: mx.delivered.length };
  await f.queue({ recipients: [rcpt('bob@remote.test'), rcpt('carol@remote.test')] });
  await waitUntil(async () => (await f.store.countOutbound()) === 0, { what: 'the first message sent' });
  await f.queue({ recipients: [rcpt('dave@remote.test')] }, MESSAGE.replace('hello', 'second'));
  await waitUntil(async () => (await f.store.countOutbound()) === 0, { what: 'the second message sent' });
  const got = mx.delivered.slice(before.delivered);
  assert.equal(got.length, 2);
  assert.deepEqual(got[0]!.rcpts, ['bob@remote.test', 'carol@remote.test'], 'one transaction for one domain');
  assert.equal(got[0]!.mailFrom, 'alice@example.test');
  assert.equal(got[0]!.data.toString(), MESSAGE, 'byte-identical');
  assert.equal(mx.connections - before.connections, 1, 'the cached connection carried the second message');
  assert.ok(mx.commands.includes('RSET'), 'RSET between two messages on one connection');
  assert.equal(f.worker.owner, 'test-worker');
});

void test('a 4xx is retried on schedule, then delivered; the attempts are counted', async () => {
  const f = await fixture({ retryFirst: 1, retryMax: 1 });
  let refusals = 0;
  mx.script = { rcpt: () => (refusals++ < 2 ? '451 4.7.1 greylisted, try later' : '250 2.1.5 ok') };
  const id = await f.queue({ recipients: [rcpt('grey@remote.test')] });
  await waitUntil(async () => (await f.store.showQueued(id))?.recipients[0]?.status === 'deferred', {
    what: 'the deferral',
  });
  const deferred = (await f.store.showQueued(id))!.recipients[0]!;
  assert.deepEqual(deferred.lastReply, { code: 451, enhanced: '4.7.1', text: 'greylisted, try later' });
  assert.equal(deferred.remoteMta, 'mx.remote.test');
  const wait = deferred.nextAttemptAt.getTime() - deferred.lastAttemptAt!.getTime();
  assert.ok(wait >= 900 && wait <= 1100, `retry after retry_first (${wait} ms)`);
  await waitUntil(async () => (await f.store.showQueued(id)) === null, {
    what: 'delivery',
    timeoutMs: 15_000,
  });
  assert.equal(refusals, 3, 'two refusals, then the accepted attempt');
  assert.equal(mx.delivered.at(-1)!.rcpts[0], 'grey@remote.test');
});

void test("a 5xx fails the recipient at once with an RFC 3464 report in the sender's INBOX; ORCPT and ENVID are returned", async () => {
  const f = await fixture();
  mx.script = { rcpt: (to) => (to.startsWith('nobody') ? '550 5.1.1 no such user here' : '250 2.1.5 ok') };
  await f.queue({
    recipients: [rcpt('nobody@remote.test', null, 'rfc822;nobody+2Bx@remote.test'), rcpt('ok@remote.test')],
    envid: 'ENV+2D42',
    ret: 'FULL',
  });
  await waitUntil(async () => (await f.inbox('alice@example.test')).length === 1, { what: 'the bounce' });
  assert.equal(await f.store.countOutbound(), 0, 'one delivered, one failed: the message left the queue');
  const [bounce] = await f.inbox('alice@example.test');
  const dsn = await parseDsn(bounce!);
  assert.equal(dsn.type, 'multipart/report');
  assert.equal(dsn.reportType, 'delivery-status');
  assert.deepEqual(dsn.parts, ['text/plain', 'message/delivery-status', 'message/rfc822']);
  assert.equal(dsn.headers.to, 'alice@example.test');
  assert.equal(dsn.headers['auto-submitted'], 'auto-replied');
  assert.equal(dsn.perMessage!['reporting-mta'], 'dns; mail.example.test');
  assert.equal(dsn.perMessage!['original-envelope-id'], 'ENV-42');
  assert.equal(dsn.recipients.length, 1);
  const r = dsn.recipients[0]!;
  assert.equal(r['final-recipient'], 'rfc822; nobody@remote.test');
  assert.equal(r['original-recipient'], 'rfc822; nobody+x@remote.test');
  assert.equal(r.action, 'failed');
  assert.equal(r.status, '5.1.1');
  assert.equal(r['remote-mta'], 'dns; mx.remote.test');
  assert.match(r['diagnostic-code']!, /^smtp; 550 5\.1\.1 no such user here$/);
});

void test('a null MX and a temporary DNS failure: failed at once (5.1.10) with a report, deferred (4.4.3) without one', async () => {
  const f = await fixture({ retryFirst: 60 });
  await f.queue({ recipients: [rcpt('x@nullmx.test')] });
  const id = await f.queue({ recipients: [rcpt('y@broken.test')] });
  await waitUntil(async () => (await f.inbox('alice@example.test')).length === 1, {
    what: 'the null MX bounce',
  });
  const dsn = await parseDsn((await f.inbox('alice@example.test'))[0]!);
  assert.equal(dsn.recipients[0]!.status, '5.1.10');
  assert.equal(dsn.recipients[0]!.action, 'failed');
  await waitUntil(async () => (await f.store.showQueued(id))?.recipients[0]?.status === 'deferred', {
    what: 'the SERVFAIL deferral',
  });
  assert.equal((await f.store.showQueued(id))!.recipients[0]!.lastReply!.enhanced, '4.4.3');
});

void test('expiry: a recipient still refused temporarily after max_queue_lifetime fails (5.4.7) with a report', async () => {
  const f = await fixture({ maxQueueLifetime: 2, retryFirst: 1, retryMax: 1, delayWarning: 0 });
  mx.script = { rcpt: () => '421 4.3.2 busy' };
  const id = await f.queue({ recipients: [rcpt('slow@remote.test')] });
  await waitUntil(async () => (await f.inbox('alice@example.test')).length === 1, {
    what: 'the expiry bounce',
    timeoutMs: 15_000,
  });
  assert.equal(await f.store.showQueued(id), null);
  const r = (await parseDsn((await f.inbox('alice@example.test'))[0]!)).recipients[0]!;
  assert.equal(r.action, 'failed');
  assert.equal(r.status, '5.4.7');
  assert.match(r['diagnostic-code']!, /421 4\.3\.2 busy \(delivery time expired\)/);
});

void test('NOTIFY: DELAY gets one "delayed" report; SUCCESS to a server without DSN gets "relayed"; NEVER and the null sender get none', async () => {
  const f = await fixture({ retryFirst: 1, retryMax: 1, delayWarning: 1, maxQueueLifetime: 3600 });
  mx.script = { rcpt: (to) => (to.startsWith('late') ? '450 4.2.0 mailbox busy' : '250 2.1.5 ok') };
  const late = await f.queue({ recipients: [rcpt('late@remote.test', ['DELAY', 'FAILURE'])] });
  await f.queue({ recipients: [rcpt('fine@remote.test', ['SUCCESS'])] });
  await f.queue({ recipients: [rcpt('never@nullmx.test', ['NEVER'])] });
  await f.queue({ mailFrom: '', recipients: [rcpt('nobody@nullmx.test')] });
  await waitUntil(async () => (await f.inbox('alice@example.test')).length === 2, {
    what: 'the delayed and relayed reports',
    timeoutMs: 15_000,
  });
  const reports = await Promise.all((await f.inbox('alice@example.test')).map((b) => parseDsn(b)));
  const actions = reports.map((d) => d.recipients[0]!.action).sort();
  assert.deepEqual(actions, ['delayed', 'relayed']);
  const delayed = reports.find((d) => d.recipients[0]!.action === 'delayed')!;
  assert.equal(delayed.recipients[0]!.status, '4.2.0');
  assert.ok(delayed.recipients[0]!['will-retry-until'] !== undefined);
  assert.deepEqual(delayed.parts, ['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
  // Still deferred, warned once: more attempts add no second notice.
  const attempts = (await f.store.showQueued(late))!.recipients[0]!.attempts;
  await waitUntil(async () => (await f.store.showQueued(late))!.recipients[0]!.attempts >= attempts + 1, {
    what: 'another attempt',
    timeoutMs: 10_000,
  });
  assert.ok((await f.store.showQueued(late))!.recipients[0]!.delayWarnedAt !== null);
  assert.equal((await f.inbox('alice@example.test')).length, 2, 'one delayed notice only');
  assert.equal(await f.store.countOutbound(), 1, 'NEVER and <> failed without reports; only "late" waits');
});

void test('bounces to one address are rate-limited (bounce_rate_limit per hour)', async () => {
  const f = await fixture({ bounceRateLimit: 2 });
  for (let i = 0; i < 4; i++) await f.queue({ recipients: [rcpt(`x${i}@nullmx.test`)] });
  await waitUntil(async () => (await f.store.countOutbound()) === 0, { what: 'all four failed' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal((await f.inbox('alice@example.test')).length, 2);
});

for (const perDomain of [1, 3]) {
  void test(`concurrency_per_domain ${perDomain} bounds the sessions to one domain; the signer hook prefixes each attempt`, async () => {
    const f = await fixture(
      { concurrency: 4, concurrencyPerDomain: perDomain, connectionCacheSize: 0 },
      { signer: async ({ message }) => `X-Signed: ${message.id}\r\n` },
    );
    mx.script = { dataDelayMs: 400 };
    mx.resetConcurrency();
    const before = mx.delivered.length;
    for (let i = 0; i < 4; i++) await f.queue({ recipients: [rcpt(`p${i}@remote.test`)] });
    await waitUntil(async () => (await f.store.countOutbound()) === 0, { what: 'all sent' });
    const got = mx.delivered.slice(before);
    assert.equal(got.length, 4);
    assert.ok(mx.maxConcurrent <= perDomain, `${mx.maxConcurrent} sessions to remote.test at once`);
    // Without the bound they do overlap (the measure can see it).
    if (perDomain > 1) assert.ok(mx.maxConcurrent >= 2, `${mx.maxConcurrent} sessions at once`);
    for (const m of got) assert.match(m.data.toString(), /^X-Signed: \d+\r\nFrom: <alice@example\.test>/);
  });
}

void test('every hop in MX order until one answers; a connection lost after the data is retried later, not bounced', async () => {
  const f = await fixture({ retryFirst: 1, retryMax: 1 });
  const before = mx.delivered.length;
  await f.queue({ recipients: [rcpt('first@twomx.test')] });
  await waitUntil(async () => (await f.store.countOutbound()) === 0, {
    what: 'delivery through the second MX',
  });
  assert.deepEqual(
    mx.delivered.slice(before).map((m) => m.rcpts[0]),
    ['first@twomx.test'],
  );

  let drops = 0;
  mx.script = { data: () => (drops++ === 0 ? 'drop' : '250 2.0.0 ok') };
  const id = await f.queue({ recipients: [rcpt('lost@remote.test')] });
  await waitUntil(async () => (await f.store.showQueued(id))?.recipients[0]?.status === 'deferred', {
    what: 'the deferral after the lost reply',
  });
  assert.equal((await f.store.showQueued(id))!.recipients[0]!.lastReply!.enhanced, '4.4.2');
  await waitUntil(async () => (await f.store.showQueued(id)) === null, {
    what: 'the retry',
    timeoutMs: 15_000,
  });
  assert.equal(drops, 2);
  assert.equal((await f.inbox('alice@example.test')).length, 0, 'no bounce');
});

void test('a failed STARTTLS handshake is retried in clear, unless require_tls: then the message waits', async () => {
  const extensions = ['8BITMIME', 'STARTTLS', 'ENHANCEDSTATUSCODES'];
  const f = await fixture({ retryFirst: 60 });
  mx.script = { extensions };
  const before = { connections: mx.connections, delivered: mx.delivered.length };
  await f.queue({ recipients: [rcpt('tls@remote.test')] });
  await waitUntil(async () => (await f.store.countOutbound()) === 0, { what: 'delivery in clear' });
  assert.equal(mx.delivered.length - before.delivered, 1);
  assert.equal(mx.connections - before.connections, 2, 'the broken handshake, then a clear session');
  await f.close();

  const strict = await fixture({ requireTls: true, retryFirst: 60 });
  mx.script = { extensions };
  const id = await strict.queue({ recipients: [rcpt('strict@remote.test')] });
  await waitUntil(async () => (await strict.store.showQueued(id))?.recipients[0]?.status === 'deferred', {
    what: 'the deferral without TLS',
  });
  assert.equal(mx.delivered.length - before.delivered, 1, 'nothing sent in clear');
});

void test('the signer runs once per message and attempt, whatever the number of destination domains', async () => {
  const calls: number[] = [];
  const f = await fixture(
    {},
    {
      signer: async ({ message, body }) => {
        calls.push(message.id);
        let size = 0;
        for await (const chunk of body()) size += chunk.length;
        return `X-Body-Size: ${size}\r\n`;
      },
    },
  );
  const before = mx.delivered.length;
  const id = await f.queue({ recipients: [rcpt('one@remote.test'), rcpt('two@other.test')] });
  await waitUntil(async () => (await f.store.countOutbound()) === 0, { what: 'both domains served' });
  assert.deepEqual(calls, [id]);
  const got = mx.delivered.slice(before);
  assert.equal(got.length, 2, 'one transaction per domain');
  for (const m of got) assert.equal(m.data.toString(), `X-Body-Size: ${MESSAGE.length}\r\n${MESSAGE}`);
});

void test('DANE through the worker: a DNSSEC-validated TLSA record makes TLS mandatory, so an MX without STARTTLS gets nothing in clear; deferred 4.7.x and recorded for TLS-RPT', async () => {
  dns.set('dane.test', { MX: [{ exchange: 'mx.dane.test', priority: 10 }], ad: true });
  dns.set('mx.dane.test', { A: ['127.0.0.1'], ad: true });
  // The TLSA name carries the port connected to (RFC 6698 §3): the test MX's.
  dns.set(`_${mx.port}._tcp.mx.dane.test`, {
    TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: 'ab'.repeat(32) }],
    ad: true,
  });
  const f0config = testConfig(await tempDir('queue-worker-log'), {});
  const f = (current = await fixture({ retryFirst: 60 }, (store) => ({
    transport: transportHooks({
      store,
      resolver: new DnsResolver({ servers: [dns.address], cacheSeconds: 0 }),
      servers: [dns.address],
      log: createLogger(f0config.log),
    }),
  })));
  const before = mx.delivered.length;
  const id = await f.queue({ recipients: [{ address: 'bob@dane.test', notify: null, orcpt: null }] });
  await waitUntil(async () => (await f.store.showQueued(id))?.recipients[0]?.status === 'deferred', {
    what: 'the deferral',
    timeoutMs: 10_000,
  });
  const r = (await f.store.showQueued(id))!.recipients[0]!;
  assert.equal(r.lastReply?.code, 451);
  assert.match(r.lastReply?.enhanced ?? '', /^4\.7\./);
  assert.equal(mx.delivered.length, before, 'nothing sent');
  assert.ok(!mx.commands.some((c) => /^MAIL FROM:<alice@example\.test>/i.test(c) && c.includes('dane')));
  const results = await f.store.listTlsResults({ policyDomain: 'dane.test' });
  assert.equal(results.length, 1, JSON.stringify(results));
  assert.equal(results[0]!.policyType, 'tlsa');
  assert.notEqual(results[0]!.result, 'success');
});

void test('TLS-Required: No through the worker: the DANE policy is set aside and the message goes in clear (RFC 8689 §5)', async () => {
  dns.set('optional.test', { MX: [{ exchange: 'mx.optional.test', priority: 10 }], ad: true });
  dns.set('mx.optional.test', { A: ['127.0.0.1'], ad: true });
  dns.set(`_${mx.port}._tcp.mx.optional.test`, {
    TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: 'ab'.repeat(32) }],
    ad: true,
  });
  const logConfig = testConfig(await tempDir('queue-worker-log'), {});
  const f = (current = await fixture({ retryFirst: 60 }, (store) => ({
    transport: transportHooks({
      store,
      resolver: new DnsResolver({ servers: [dns.address], cacheSeconds: 0 }),
      servers: [dns.address],
      log: createLogger(logConfig.log),
    }),
  })));
  const before = mx.delivered.length;
  const id = await f.queue(
    { recipients: [{ address: 'bob@optional.test', notify: null, orcpt: null }] },
    `TLS-Required: No\r\n${MESSAGE}`,
  );
  await waitUntil(async () => (await f.store.showQueued(id)) === null, {
    what: 'the delivery',
    timeoutMs: 10_000,
  });
  assert.equal(mx.delivered.length, before + 1, 'delivered although DANE would require TLS');
});

void test('every MX greeting with a 5xx defers the message (as Postfix skips 5xx greetings); no report', async () => {
  const f = await fixture({ retryFirst: 60 });
  mx.script = { banner: () => '554 5.3.2 not accepting mail right now' };
  const id = await f.queue({ recipients: [rcpt('later@twomx.test')] });
  await waitUntil(async () => (await f.store.showQueued(id))?.recipients[0]?.status === 'deferred', {
    what: 'the deferral',
    timeoutMs: 10_000,
  });
  const r = (await f.store.showQueued(id))!.recipients[0]!;
  assert.equal(r.lastReply?.code, 554, 'the last greeting kept as the reason');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal((await f.inbox('alice@example.test')).length, 0, 'no bounce');
});

void test("SMTPUTF8 to a server without SMTPUTF8: nothing sent; the sender's report says 5.6.9 (UTF-8 header) or 5.6.7 (non-ASCII address)", async () => {
  const f = await fixture();
  mx.script = { extensions: ['8BITMIME', 'ENHANCEDSTATUSCODES'] };
  const mails = mx.commands.filter((c) => c.startsWith('MAIL')).length;
  await f.queue(
    { smtputf8: true, body: '8BITMIME', recipients: [rcpt('utf8hdr@remote.test')] },
    'From: <alice@example.test>\r\nTo: <utf8hdr@remote.test>\r\nSubject: Grüße\r\n\r\nHallo.\r\n',
  );
  await f.queue({ smtputf8: true, body: '8BITMIME', recipients: [rcpt('jörg@remote.test')] });
  await waitUntil(async () => (await f.inbox('alice@example.test')).length === 2, {
    what: 'both reports',
  });
  const reports = await Promise.all((await f.inbox('alice@example.test')).map((b) => parseDsn(b)));
  const status = new Map(reports.map((d) => [d.recipients[0]!['final-recipient'], d.recipients[0]!.status]));
  assert.equal(status.get('rfc822; utf8hdr@remote.test'), '5.6.9', JSON.stringify([...status]));
  assert.match(
    [...status.keys()].find((k) => k.includes('rg@'))!,
    /^(utf-8|rfc822); j/,
  );
  assert.equal([...status].find(([k]) => k.includes('rg@'))![1], '5.6.7');
  assert.equal(mx.commands.filter((c) => c.startsWith('MAIL')).length, mails, 'no MAIL sent');
});

void test('a report owed by a process that died after recording the failure is sent by the next worker', async () => {
  const f = await fixture();
  await f.worker.stop();
  const id = await f.queue({ recipients: [rcpt('gone@remote.test')], ret: 'FULL' });
  // What the crashed process did: claim, record the permanent failure with its owed report
  // (one transaction), and die before sending the report.
  const [claim] = await f.store.claimOutbound({ owner: 'crashed:1', leaseMs: 60_000, maxRecipients: 10 });
  assert.equal(claim!.message.id, id);
  const r = claim!.recipients[0]!;
  const reply = { code: 550, enhanced: '5.1.1', text: 'no such user' };
  const result = await f.store.recordOutboundAttempt({
    owner: 'crashed:1',
    messageId: id,
    outcomes: [{ recipientId: r.id, kind: 'failed', reply, remoteMta: 'mx.remote.test' }],
    dsn: owedDsnParts(
      claim!.message,
      new Map([
        [
          r.id,
          {
            finalRecipient: r.address,
            action: 'failed',
            status: '5.1.1',
            remoteMta: 'mx.remote.test',
            diagnostic: '550 5.1.1 no such user',
            lastAttemptDate: new Date(),
          },
        ],
      ]),
      1,
    ),
  });
  assert.equal(result.finished, true, 'the message left the queue');
  assert.notEqual(result.owedDsn, null, 'the report is owed in the same transaction');
  assert.equal(await f.store.countOutbound(), 0);
  assert.equal((await f.inbox('alice@example.test')).length, 0);
  // The restarted process (another owner) finds it at its first look at the queue.
  const restarted = new QueueWorker({
    store: f.store,
    blobs: f.blobs,
    config: f.config,
    resolver: new DnsResolver({ servers: [dns.address], cacheSeconds: 0 }),
    log: createLogger(f.config.log),
    owner: 'restarted:2',
    pollMs: 200,
  }).start();
  try {
    await waitUntil(async () => (await f.inbox('alice@example.test')).length === 1, {
      what: 'the owed report',
    });
  } finally {
    await restarted.stop();
  }
  const dsn = await parseDsn((await f.inbox('alice@example.test'))[0]!);
  assert.equal(dsn.recipients[0]!.status, '5.1.1');
  assert.equal(dsn.recipients[0]!['final-recipient'], 'rfc822; gone@remote.test');
  assert.deepEqual(
    dsn.parts,
    ['text/plain', 'message/delivery-status', 'message/rfc822'],
    'the original returned',
  );
  assert.deepEqual(
    await f.store.claimOwedDsns({ owner: 'probe', leaseMs: 1000, max: 10 }),
    [],
    'sent once, then gone',
  );
});

void test('a report to a local sender whose INBOX is over quota is kept and retried, not dropped', async () => {
  const f = await fixture({ retryFirst: 1, retryMax: 1 });
  await f.store.setQuota('alice@example.test', 10);
  mx.script = { rcpt: () => '550 5.1.1 no such user here' };
  await f.queue({ recipients: [rcpt('nobody@remote.test')] });
  await waitUntil(async () => (await f.store.countOutbound()) === 0, { what: 'the failure recorded' });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal((await f.inbox('alice@example.test')).length, 0, 'no room for the report yet');
  await f.store.setQuota('alice@example.test', 0);
  await waitUntil(async () => (await f.inbox('alice@example.test')).length === 1, {
    what: 'the report once there is room',
    timeoutMs: 15_000,
  });
  const dsn = await parseDsn((await f.inbox('alice@example.test'))[0]!);
  assert.equal(dsn.recipients[0]!.status, '5.1.1');
});

/** Every leaf part of a message as Python's email package decodes it: content type and bytes (hex). */
async function decodedParts(message: Buffer): Promise<string[]> {
  const out = await runPython(
    String.raw`
import sys, json
from email import policy
from email.parser import BytesParser
m = BytesParser(policy=policy.compat32).parsebytes(sys.stdin.buffer.read())
out = []
for p in m.walk():
    if p.is_multipart():
        continue
    out.append(p.get_content_type() + ' ' + (p.get_payload(decode=True) or b'').hex())
print(json.dumps(out))
`,
    message,
  );
  return JSON.parse(out) as string[];
}

const EIGHT_BIT_MESSAGE = Buffer.from(
  [
    'From: <alice@example.test>',
    'To: <bob@remote.test>',
    'Subject: 8-bit parts',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    'preamble',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Grüße aus Köln, with a trailing space ',
    'and a very long line: ' + 'ä'.repeat(120) + ' =equals= tab\t',
    '--b1',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: 8bit',
    '',
    '\u00ff\u00fe\u0080 raw \u00e9 bytes',
    '--b1',
    'Content-Type: message/rfc822',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Subject: inner',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Inner caf\u00e9',
    '--b1',
    'Content-Type: text/plain; charset=iso-8859-1',
    '',
    'mislabelled 7bit but caf\u00e9',
    '--b1--',
    'epilogue',
    '',
  ].join('\r\n'),
  'latin1',
);

void test('8BITMIME to a server without it: every part converted to 7 bits (decoded parts equal), DKIM signed over what is sent', async () => {
  const f = await fixture({}, (store) => {
    const dkim = createDkimSigner(store);
    return { signer: ({ body }) => dkim.sign(body()) };
  });
  for (const k of await createDkimKeys(f.store, 'example.test'))
    dns.set(dkimRecordName(k), { TXT: [dkimRecordValue(k)] });
  mx.script = { extensions: ['ENHANCEDSTATUSCODES', 'SIZE 100000000'] };
  const before = mx.delivered.length;
  await f.queue(
    { body: '8BITMIME', recipients: [rcpt('bob@remote.test')] },
    EIGHT_BIT_MESSAGE.toString('latin1'),
  );
  await waitUntil(async () => (await f.store.countOutbound()) === 0, { what: 'the delivery' });
  const [got] = mx.delivered.slice(before);
  assert.ok(got !== undefined, 'delivered, not bounced');
  assert.ok(!/BODY=8BITMIME/i.test(got.mailParams), got.mailParams);
  assert.ok(
    got.data.every((b) => b < 0x80),
    'only 7-bit octets sent',
  );
  const text = got.data.toString('latin1');
  assert.ok(
    text.split('\r\n').every((l) => l.length <= 78),
    'short lines',
  );
  assert.match(text, /Content-Transfer-Encoding: quoted-printable/);
  assert.match(text, /Content-Transfer-Encoding: base64/);
  assert.match(text, /Content-Type: message\/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n/);
  assert.match(text, /\r\npreamble\r\n/);
  assert.match(text, /\r\nepilogue\r\n$/);
  const sentParts = await decodedParts(got.data);
  // As queued (f.queue stores the text as UTF-8).
  const originalParts = await decodedParts(Buffer.from(EIGHT_BIT_MESSAGE.toString('latin1')));
  assert.equal(sentParts.length, 4);
  assert.deepEqual(sentParts, originalParts, 'each part decodes to the original bytes');
  // DKIM: both signatures verify over the converted message.
  const resolver = new DnsResolver({ servers: [dns.address], cacheSeconds: 0 });
  const r = await authenticate(Readable.from([got.data]), {
    ip: '192.0.2.10',
    helo: 'mail.example.test',
    sender: 'alice@example.test',
    mta: 'mx.remote.test',
    resolver: resolver.mailauthResolver() as unknown as DNSResolver,
    disableBimi: true,
  });
  const results = (r.dkim.results ?? []).map((x) => String(x.status?.result ?? ''));
  assert.deepEqual(results, ['pass', 'pass'], JSON.stringify(r.dkim.results));
});

void test('8-bit that cannot be converted (a header field, no MIME-Version) is bounced 5.6.3; nothing sent', async () => {
  const f = await fixture();
  mx.script = { extensions: ['ENHANCEDSTATUSCODES'] };
  const mails = mx.commands.filter((c) => c.startsWith('MAIL')).length;
  await f.queue(
    { body: '8BITMIME', recipients: [rcpt('hdr@remote.test')] },
    'From: <alice@example.test>\r\nSubject: Gr\u00fc\u00dfe\r\nMIME-Version: 1.0\r\n\r\nplain\r\n',
  );
  await f.queue(
    { body: '8BITMIME', recipients: [rcpt('nomime@remote.test')] },
    'From: <alice@example.test>\r\nSubject: x\r\n\r\ncaf\u00e9\r\n',
  );
  await waitUntil(async () => (await f.inbox('alice@example.test')).length === 2, { what: 'two reports' });
  for (const b of await f.inbox('alice@example.test')) {
    const dsn = await parseDsn(b);
    assert.equal(dsn.recipients[0]!.status, '5.6.3');
  }
  assert.equal(mx.commands.filter((c) => c.startsWith('MAIL')).length, mails, 'no MAIL sent');
});

void test('a busy domain does not fill the claimed-ahead list: another domain is sent next, not after all of it', async () => {
  const f = await fixture({ concurrency: 1, concurrencyPerDomain: 1, connectionCacheSize: 0 });
  await f.worker.stop();
  mx.script = { dataDelayMs: 50 };
  const before = mx.delivered.length;
  for (let i = 0; i < 25; i++) await f.queue({ recipients: [rcpt(`busy${i}@remote.test`)] });
  await f.queue({ recipients: [rcpt('quiet@other.test')] });
  const worker = new QueueWorker({
    store: f.store,
    blobs: f.blobs,
    config: f.config,
    resolver: new DnsResolver({ servers: [dns.address], cacheSeconds: 0 }),
    log: createLogger(f.config.log),
    owner: 'busy-test',
    pollMs: 200,
  }).start();
  try {
    await waitUntil(
      () => Promise.resolve(mx.delivered.slice(before).some((m) => m.rcpts[0] === 'quiet@other.test')),
      {
        what: 'the other domain served',
        timeoutMs: 20_000,
      },
    );
    const order = mx.delivered.slice(before).map((m) => m.rcpts[0]);
    assert.ok(
      order.indexOf('quiet@other.test') <= 3,
      `served after ${order.indexOf('quiet@other.test')} others`,
    );
  } finally {
    await worker.stop();
  }
});
