// Outbound delivery end to end, with two real Posterns on loopback (runServer, every part as
// `postern serve` has it): nodemailer submits to A (587, STARTTLS + AUTH); A's queue worker finds
// B as the MX of example.net through the test DNS server and delivers to B's port 25. Shown:
// the message in B's INBOX byte-identical after the trace header fields; a 4xx (B's mailbox
// full at RCPT) retried on schedule and delivered once there is room; a 5xx (unknown user at B),
// a null MX and an expired message each bounced with an RFC 3464 report in the sender's INBOX
// at A, read back with Python's email package; a local recipient failing at commit (quota)
// gets a DSN too; `postern queue list --json` shows the states meanwhile. A signs what alice
// submits with both of example.test's DKIM keys (ed25519 and rsa-2048), published in the test DNS
// with SPF and DMARC records: B's Authentication-Results says dkim=pass for each, spf=pass and
// dmarc=pass.

import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import nodemailer from 'nodemailer';
import { openStore } from '../../src/app/open-store.js';
import { runServer, type ReadyInfo } from '../../src/app/server.js';
import { renderConfigToml } from '../../src/config/load.js';
import type { PosternConfig } from '../../src/config/types.js';
import { hashPassword } from '../../src/auth/password.js';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { parseDsn, type ParsedDsn } from '../helpers/parse-dsn.js';
import { createDkimKeys, dkimRecordName, dkimRecordValue } from '../../src/outbound/dkim-keys.js';
import { waitUntil } from '../helpers/wait-until.js';
import { ok, postern } from './cli-harness.js';
import { LOOPBACK_0, tempDir, testConfig } from './server-fixture.js';

interface Running {
  dir: string;
  config: PosternConfig;
  ports: Record<string, number>;
  stop(): Promise<void>;
}

async function start(config: PosternConfig): Promise<Running> {
  const controller = new AbortController();
  let ready!: (info: ReadyInfo) => void;
  const readyP = new Promise<ReadyInfo>((r) => (ready = r));
  const running = runServer(config, { onReady: ready, signal: controller.signal, handleSignals: false });
  const info = await Promise.race([readyP, running.then(() => Promise.reject(new Error('server ended')))]);
  const ports: Record<string, number> = {};
  for (const l of info.listeners) ports[l.name] = l.port;
  return {
    dir: config.dataDir,
    config,
    ports,
    async stop() {
      controller.abort();
      await running;
    },
  };
}

const ALICE_PW = 'alice-secret-1';
let dns: DnsTestServer;
let a: Running;
let b: Running;

/** The stored bytes of every message in the INBOX of `address` (a store handle of its own, as another process). */
async function inbox(server: Running, address: string): Promise<Buffer[]> {
  const { store, blobs } = await openStore(server.config);
  try {
    const account = await store.getAccount(address);
    const mailbox = await store.getMailbox(account!.id, 'INBOX');
    const metas = await store.listMessages(mailbox!.id);
    return await Promise.all(metas.map((m) => blobs.readAll(m.blobId)));
  } finally {
    await store.close();
  }
}

async function setQuota(server: Running, address: string, bytes: number): Promise<void> {
  const { store } = await openStore(server.config);
  try {
    await store.setQuota(address, bytes);
  } finally {
    await store.close();
  }
}

function submit(
  raw: string,
  to: string[],
  dsn?: { notify?: string[]; ret?: 'headers' | 'full'; id?: string },
) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: a.ports.submission!,
    secure: false,
    requireTLS: true,
    name: 'client.example.org',
    auth: { user: 'alice@example.test', pass: ALICE_PW },
    tls: { rejectUnauthorized: false },
  });
  return transport
    .sendMail({
      envelope: { from: 'alice@example.test', to },
      raw: Buffer.from(raw),
      ...(dsn !== undefined
        ? {
            dsn: {
              notify: dsn.notify ?? ['failure'],
              return: dsn.ret ?? 'headers',
              ...(dsn.id ? { id: dsn.id } : {}),
            },
          }
        : {}),
    })
    .finally(() => transport.close());
}

/** The DSNs in alice's INBOX at A, parsed by Python, with the recipient each reports. */
async function reports(): Promise<ParsedDsn[]> {
  const all = await inbox(a, 'alice@example.test');
  const dsns = all.filter((m) => /^Content-Type: multipart\/report/im.test(m.toString('latin1')));
  return Promise.all(dsns.map((m) => parseDsn(m)));
}

function reportFor(list: ParsedDsn[], address: string): ParsedDsn | undefined {
  return list.find((d) => d.recipients.some((r) => r['final-recipient'] === `rfc822; ${address}`));
}

interface QueueEntry {
  id: number;
  mailFrom: string;
  counts: Record<string, number>;
}

function queueList(): QueueEntry[] {
  return JSON.parse(ok(postern(a.dir, ['queue', 'list', '--json']))) as QueueEntry[];
}

before(async () => {
  dns = await startDnsServer({
    'example.net': { MX: [{ exchange: 'mx.example.net', priority: 10 }] },
    'mx.example.net': { A: ['127.0.0.1'] },
    'nullmx.example': { MX: [{ exchange: '.', priority: 0 }] },
    'example.test': {
      MX: [{ exchange: 'mail.example.test', priority: 10 }],
      TXT: ['v=spf1 ip4:127.0.0.1 -all'],
    },
    'mail.example.test': { A: ['127.0.0.1'] },
    '_dmarc.example.test': { TXT: ['v=DMARC1; p=reject'] },
  });
  // B: the remote domain's MX.
  const bConfig = testConfig(await tempDir('outbound-b'), { listen: { smtp: LOOPBACK_0 } });
  bConfig.hostname = 'mx.example.net';
  bConfig.dns = { servers: [dns.address], cacheSeconds: 0 };
  {
    const { store } = await openStore(bConfig);
    await store.createDomain('example.net');
    for (const user of ['bob', 'full', 'stuck']) {
      await store.createAccount({
        address: `${user}@example.net`,
        passwordHash: 'unused',
        quotaBytes: user === 'bob' ? 0 : 10,
      });
    }
    await store.close();
  }
  b = await start(bConfig);

  // A: the submission server whose users send to example.net.
  const aConfig = testConfig(await tempDir('outbound-a'), {
    listen: { submission: LOOPBACK_0 },
    outbound: {
      port: b.ports.smtp!,
      retryFirst: 1,
      retryMax: 1,
      retryJitter: 0,
      maxQueueLifetime: 600,
      delayWarning: 0,
    },
  });
  aConfig.dns = { servers: [dns.address], cacheSeconds: 0 };
  {
    const { store } = await openStore(aConfig);
    await store.createDomain('example.test');
    await store.createAccount({ address: 'alice@example.test', passwordHash: await hashPassword(ALICE_PW) });
    await store.createAccount({ address: 'carol@example.test', passwordHash: 'unused', quotaBytes: 100 });
    // As `postern domain add` does: both keys, published as `postern dns` prints them.
    for (const key of await createDkimKeys(store, 'example.test')) {
      dns.set(dkimRecordName(key), { TXT: [dkimRecordValue(key)] });
    }
    await store.close();
  }
  await writeFile(path.join(aConfig.dataDir, 'postern.toml'), renderConfigToml(aConfig));
  a = await start(aConfig);
});

after(async () => {
  await a?.stop();
  await b?.stop();
  await dns?.close();
  for (const s of [a, b]) if (s !== undefined) await rm(s.dir, { recursive: true, force: true });
});

void test('nodemailer -> A (submission) -> B (the MX in DNS) -> INBOX, byte-identical after the trace header fields', async () => {
  const raw =
    'From: Alice <alice@example.test>\r\nTo: <bob@example.net>\r\nSubject: across\r\n' +
    'Message-ID: <across-1@example.test>\r\nMIME-Version: 1.0\r\n\r\n.leading dot\r\nHello Bob.\r\n';
  const info = await submit(raw, ['bob@example.net']);
  assert.deepEqual(info.accepted, ['bob@example.net']);
  await waitUntil(async () => (await inbox(b, 'bob@example.net')).length === 1, {
    what: "the message in B's INBOX",
    timeoutMs: 30_000,
  });
  const stored = (await inbox(b, 'bob@example.net'))[0]!.toString('latin1');
  assert.ok(stored.endsWith(raw), 'the original bytes, unchanged, after the trace fields');
  const trace = stored.slice(0, stored.length - raw.length);
  const names = [...trace.matchAll(/^([A-Za-z-]+):/gm)].map((m) => m[1]!.toLowerCase());
  assert.ok(names.length >= 2, 'a Received field from each of A and B');
  for (const n of names) {
    assert.ok(
      ['received', 'received-spf', 'authentication-results', 'dkim-signature'].includes(n),
      `trace field ${n}`,
    );
  }
  // Both of A's signatures verified at B, with SPF and DMARC (RFC 8601 results).
  const results = /^Authentication-Results:[^\r]*(?:\r\n[ \t][^\r]*)*/m.exec(trace)?.[0] ?? '';
  const dkim = [...results.matchAll(/dkim=(\w+)[^;]*header\.s=([\w-]+)/g)].map((m) => `${m[1]} ${m[2]}`);
  assert.equal(dkim.length, 2, results);
  assert.ok(
    dkim.every((d) => d.startsWith('pass ')),
    results,
  );
  assert.ok(dkim.some((d) => d.endsWith('-ed')) && dkim.some((d) => d.endsWith('-rsa')), results);
  assert.match(results, /spf=pass/);
  assert.match(results, /dmarc=pass/);
  assert.match(trace, /by mx\.example\.net/);
  assert.match(trace, /by mail\.example\.test/);
  await waitUntil(async () => queueList().length === 0, {
    what: 'an empty queue at A',
    timeoutMs: 30_000,
    intervalMs: 250,
  });
});

void test('a 4xx (mailbox full at B) is retried on schedule and delivered once there is room; queue list shows it deferred', async () => {
  const raw =
    'From: <alice@example.test>\r\nTo: <full@example.net>\r\nSubject: retry\r\n\r\nPlease retry.\r\n';
  await submit(raw, ['full@example.net']);
  await waitUntil(() => queueList().some((e) => e.counts.deferred === 1), {
    what: 'the deferral in queue list',
    timeoutMs: 30_000,
    intervalMs: 250,
  });
  const [entry] = queueList();
  assert.equal(entry!.mailFrom, 'alice@example.test');
  assert.deepEqual(entry!.counts, { queued: 0, deferred: 1, delivered: 0, failed: 0, held: 0 });
  const shown = JSON.parse(ok(postern(a.dir, ['queue', 'show', String(entry!.id), '--json']))) as {
    recipients: Array<{ status: string; lastReply: { code: number; enhanced: string } }>;
  };
  assert.equal(shown.recipients[0]!.lastReply.code, 452);
  assert.equal(shown.recipients[0]!.lastReply.enhanced, '4.2.2');
  await setQuota(b, 'full@example.net', 0);
  await waitUntil(async () => (await inbox(b, 'full@example.net')).length === 1, {
    what: 'delivery after the retry',
    timeoutMs: 30_000,
  });
  assert.ok((await inbox(b, 'full@example.net'))[0]!.toString('latin1').endsWith(raw));
  await waitUntil(async () => queueList().length === 0, {
    what: 'the message gone from the queue',
    timeoutMs: 30_000,
    intervalMs: 250,
  });
});

void test("a 5xx, a null MX and an expired message each bounce with an RFC 3464 report in the sender's INBOX", async () => {
  // A again, with a lifetime of 2 seconds (its queue is empty; what it queues now expires soon).
  await a.stop();
  a = await start({ ...a.config, outbound: { ...a.config.outbound, maxQueueLifetime: 2 } });
  const raw = (to: string): string =>
    `From: <alice@example.test>\r\nTo: <${to}>\r\nSubject: to ${to}\r\n\r\nBody.\r\n`;
  await submit(raw('nobody@example.net'), ['nobody@example.net'], { ret: 'full', id: 'ENV-5XX' });
  await submit(raw('x@nullmx.example'), ['x@nullmx.example']);
  await submit(raw('stuck@example.net'), ['stuck@example.net']);
  await waitUntil(async () => (await reports()).length === 3, { what: 'three bounces', timeoutMs: 40_000 });
  const list = await reports();
  for (const d of list) {
    assert.equal(d.type, 'multipart/report');
    assert.equal(d.reportType, 'delivery-status');
    assert.equal(d.parts[1], 'message/delivery-status');
    assert.equal(d.perMessage!['reporting-mta'], 'dns; mail.example.test');
    assert.equal(d.headers.to, 'alice@example.test');
    assert.equal(d.recipients[0]!.action, 'failed');
  }
  const unknown = reportFor(list, 'nobody@example.net')!;
  assert.equal(unknown.recipients[0]!.status, '5.1.1');
  assert.equal(unknown.recipients[0]!['remote-mta'], 'dns; mx.example.net');
  assert.equal(unknown.perMessage!['original-envelope-id'], 'ENV-5XX');
  assert.equal(unknown.parts[2], 'message/rfc822', 'RET=FULL returns the message');
  assert.equal(reportFor(list, 'x@nullmx.example')!.recipients[0]!.status, '5.1.10');
  const expired = reportFor(list, 'stuck@example.net')!;
  assert.equal(expired.recipients[0]!.status, '5.4.7');
  assert.match(expired.recipients[0]!['diagnostic-code']!, /452 4\.2\.2 .*delivery time expired/);
  assert.equal((await inbox(b, 'stuck@example.net')).length, 0);
  await waitUntil(async () => queueList().length === 0, {
    what: 'an empty queue',
    timeoutMs: 30_000,
    intervalMs: 250,
  });
});

void test('a local recipient whose mailbox refuses the message at commit (quota) gets a DSN; the other recipient has it', async () => {
  const before = (await reports()).length;
  const raw =
    'From: <alice@example.test>\r\nTo: <carol@example.test>\r\nSubject: local quota\r\n\r\n' +
    `${'This line makes the message larger than carol may hold. '.repeat(4)}\r\n`;
  const info = await submit(raw, ['carol@example.test', 'alice@example.test']);
  assert.deepEqual(
    [...info.accepted].sort(),
    ['alice@example.test', 'carol@example.test'],
    'both accepted at RCPT',
  );
  await waitUntil(async () => (await reports()).length === before + 1, {
    what: 'the DSN for carol',
    timeoutMs: 30_000,
  });
  const dsn = reportFor(await reports(), 'carol@example.test')!;
  assert.equal(dsn.recipients[0]!.action, 'failed');
  assert.equal(dsn.recipients[0]!.status, '5.2.2');
  assert.equal((await inbox(a, 'carol@example.test')).length, 0);
  const mine = await inbox(a, 'alice@example.test');
  assert.ok(
    mine.some((m) => m.toString('latin1').endsWith(raw)),
    'alice has the message',
  );
});
