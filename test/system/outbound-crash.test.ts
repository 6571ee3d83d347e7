// kill -9 while sending (issue 12, "Crash safety"): 5,000 messages for remote recipients are
// queued in the store as an accepted submission queues them (store.append with an outbound
// envelope), spread over several domains whose MX (the loopback DNS server) is one in-test SMTP
// server that records every message it accepts. The real `postern serve` runs as a child
// process and sends them; it is killed with SIGKILL once 1,500 were accepted, then restarted on
// the same data directory. The claims of the killed process lapse after [outbound] lease (3 s
// here), and the restarted server sends the rest. Every message must reach the sink at least
// once; a message reaches it twice only when its 250 came after the last recorded outcome of
// its group, so duplicates are at most the sessions that could be mid-transaction at the kill
// ([outbound] concurrency). The number of duplicates is printed as a diagnostic line.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/app/open-store.js';
import { loadConfig } from '../../src/config/load.js';
import { messageBlobOptions } from '../../src/delivery/local.js';
import { startDnsServer, type DnsTestRecords } from '../helpers/dns-server.js';
import { startScriptedSmtpServer } from '../helpers/scripted-smtp-server.js';
import { waitUntil } from '../helpers/wait-until.js';
import { preparePostern, startPostern, type PosternProcess } from './postern-process.js';

const TOTAL = 5000;
const KILL_AFTER = 1500;
const DOMAINS = 10;
const CONCURRENCY = 20;
const PER_DOMAIN = 4;
const BODY_LINES = 24; // about 2 KiB per message
const FROM = 'sender@example.test';

const rcptOf = (i: number): string => `user${i}@d${i % DOMAINS}.remote.test`;
const idOf = (i: number): string => `crash-${i}@example.test`;

function messageText(i: number): string {
  const lines = [
    `From: <${FROM}>`,
    `To: <${rcptOf(i)}>`,
    `Subject: outbound crash ${i}`,
    'Date: Mon, 07 Dec 2026 03:00:00 +0000',
    `Message-ID: <${idOf(i)}>`,
    '',
  ];
  for (let l = 0; l < BODY_LINES; l++) lines.push(`${i} line ${l} `.padEnd(78, 'x'));
  return `${lines.join('\r\n')}\r\n`;
}

/** Queues every message before the server starts, as the delivery path does (one transaction each). */
async function queueAll(configFile: string): Promise<void> {
  const config = await loadConfig(configFile);
  const { store, blobs } = await openStore(config);
  try {
    const opts = messageBlobOptions(config.limits);
    const one = async (i: number): Promise<void> => {
      const blob = await blobs.write(Buffer.from(messageText(i)), opts);
      await store.append({
        blob,
        targets: [],
        outbound: {
          mailFrom: FROM,
          recipients: [{ address: rcptOf(i), notify: null, orcpt: null }],
          envid: null,
          ret: null,
          body: '7BIT',
          smtputf8: false,
          accountId: null,
        },
      });
    };
    // Several appends at once, so their commits can share a WAL sync.
    const BATCH = 100;
    for (let start = 0; start < TOTAL; start += BATCH) {
      await Promise.all(Array.from({ length: Math.min(BATCH, TOTAL - start) }, (_, k) => one(start + k)));
    }
    assert.equal(await store.countOutbound(), TOTAL, 'every message queued');
  } finally {
    await store.close();
  }
}

void test('kill -9 while sending 5,000 queued messages: after a restart every message reached the sink, duplicates only from sessions cut at the kill', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-outbound-crash-'));
  const records: DnsTestRecords = { 'mx.sink.test': { A: ['127.0.0.1'] } };
  for (let d = 0; d < DOMAINS; d++)
    records[`d${d}.remote.test`] = { MX: [{ exchange: 'mx.sink.test', priority: 10 }] };
  const dns = await startDnsServer(records);
  /** Acceptances per Message-ID (and the recipient each came for). */
  const accepted = new Map<string, number>();
  let acceptances = 0;
  let wrongRecipient = 0;
  let onAccept: (() => void) | null = null;
  const sink = await startScriptedSmtpServer({
    data: (m) => {
      const id = /^Message-ID: <([^>\r\n]{1,200})>\r$/m.exec(m.data.toString('latin1'))?.[1] ?? '?';
      const i = Number(/^crash-(\d+)@/.exec(id)?.[1] ?? -1);
      if (m.rcpts.length !== 1 || m.rcpts[0] !== rcptOf(i)) wrongRecipient++;
      accepted.set(id, (accepted.get(id) ?? 0) + 1);
      acceptances++;
      onAccept?.();
      return '250 2.0.0 accepted';
    },
  });
  let server: PosternProcess | null = null;
  t.after(async () => {
    await server?.stop(1000);
    await sink.close();
    await dns.close();
    await rm(dir, { recursive: true, force: true });
  });

  const configFile = await preparePostern({
    dir,
    dnsAddress: dns.address,
    domains: ['example.test'],
    users: [],
    extraToml: [
      '[outbound]',
      `port = ${sink.port}`,
      `concurrency = ${CONCURRENCY}`,
      `concurrency_per_domain = ${PER_DOMAIN}`,
      'retry_first = "1s"',
      'retry_max = "2s"',
      'retry_jitter = 0',
      'lease = "3s"',
    ].join('\n'),
  });
  const queuedAt = Date.now();
  await queueAll(configFile);
  const queueMs = Date.now() - queuedAt;

  server = await startPostern(configFile);
  const victim = server;
  const killed = new Promise<number>((resolve) => {
    onAccept = () => {
      if (acceptances === KILL_AFTER) {
        onAccept = null;
        // Before the 250 of this message is written: it is one the killed process never records.
        victim.child.kill('SIGKILL');
        resolve(accepted.size);
      }
    };
  });
  const uniqueAtKill = await Promise.race([
    killed,
    victim.exited.then((code) => {
      throw new Error(`postern serve exited (${code}) before the kill: ${victim.stderr()}`);
    }),
  ]);
  assert.equal(await victim.exited, 'SIGKILL', 'the server died of the kill');
  assert.ok(uniqueAtKill < TOTAL, 'the kill came while sending');

  const restartedAt = Date.now();
  server = await startPostern(configFile);
  await waitUntil(() => accepted.size === TOTAL, {
    what: `every message at the sink (${accepted.size} of ${TOTAL} so far)`,
    timeoutMs: 60_000,
    intervalMs: 50,
  });
  const resendMs = Date.now() - restartedAt;
  // A clean stop lets the groups being sent finish and record their outcomes.
  await server.stop(10_000);
  assert.equal(await server.exited, 0, `clean shutdown; stderr: ${server.stderr()}`);

  const config = await loadConfig(configFile);
  const { store } = await openStore(config);
  try {
    assert.equal(await store.countOutbound(), 0, 'the queue is empty');
  } finally {
    await store.close();
  }

  const lost = Array.from({ length: TOTAL }, (_, i) => idOf(i)).filter((id) => !accepted.has(id));
  assert.deepEqual(lost, [], 'no message lost');
  assert.equal(accepted.size, TOTAL, 'nothing but the queued messages reached the sink');
  assert.equal(wrongRecipient, 0, 'each message went to its own recipient only');
  const duplicates = acceptances - TOTAL;
  const twice = [...accepted.values()].filter((n) => n > 1);
  assert.ok(
    twice.every((n) => n === 2),
    'no message reached the sink more than twice (one crash)',
  );
  t.diagnostic(
    `queued ${TOTAL} in ${queueMs} ms; killed after ${KILL_AFTER} acceptances (${uniqueAtKill} distinct); ` +
      `restart to all delivered: ${resendMs} ms; duplicates: ${duplicates} ` +
      `(bound: concurrency ${CONCURRENCY})`,
  );
  assert.ok(
    duplicates <= CONCURRENCY,
    `duplicates (${duplicates}) at most the sessions that could be mid-transaction at the kill (${CONCURRENCY})`,
  );
});
