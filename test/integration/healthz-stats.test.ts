// GET /healthz/stats and POST /healthz/stats/reset of a real `postern serve` process, over real
// HTTP: the event-loop lag window, and the store's write counters moving with IMAP writes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HealthStats } from '../../src/server/http.js';
import { DEFAULT_INLINE_MAX_BYTES } from '../../src/store/blob/inline-blob-store.js';
import { ImapRawClient } from '../helpers/imap-raw-client.js';
import { startPosternImap, type PosternImapServer } from '../helpers/postern-imap.js';
import { waitUntil } from '../helpers/wait-until.js';

type Stats = HealthStats;

const USER = 'stats@example.test';
const PASSWORD = 'stats-secret-1';
let server: PosternImapServer;

before(async () => {
  server = await startPosternImap({
    domains: ['example.test'],
    users: [{ address: USER, password: PASSWORD }],
    http: true,
  });
});

after(async () => {
  await server.stop();
});

async function request(method: string, path: string): Promise<{ status: number; body: Stats }> {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, { method });
  return { status: res.status, body: (await res.json()) as Stats };
}

async function stats(): Promise<Stats> {
  const r = await request('GET', '/healthz/stats');
  assert.equal(r.status, 200);
  return r.body;
}

void test('GET /healthz/stats reports the lag histogram of the serving process', async () => {
  await waitUntil(async () => (await stats()).eventLoopDelay.samples >= 50, { what: '50 lag samples' });
  const s = await stats();
  assert.equal(s.pid, server.pid, 'the server process answers, not a helper');
  const lag = s.eventLoopDelay;
  assert.equal(lag.resolutionMs, 2);
  assert.ok(lag.p50Ms >= 0 && lag.p50Ms <= lag.p99Ms && lag.p99Ms <= lag.maxMs, JSON.stringify(lag));
  assert.ok(lag.meanMs <= lag.maxMs, JSON.stringify(lag));
  assert.ok(lag.seconds > 0, JSON.stringify(lag));
});

void test('APPENDs and a STORE move the commit and fsync counters (a file only for a large message)', async () => {
  const c = await ImapRawClient.connect(server.imapPort);
  try {
    assert.equal((await c.command(`LOGIN ${USER} ${PASSWORD}`)).status, 'OK');
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    const s0 = await stats();
    assert.ok(s0.store !== null && s0.blobs !== null, 'the SQLite store and the file blob store count');
    const message = Buffer.from('Subject: counted\r\n\r\nOne message.\r\n');
    const append = await c.command(['APPEND INBOX ', { literal: message }]);
    assert.equal(append.status, 'OK', append.tagged);
    const s1 = await stats();
    assert.ok(
      s1.store!.commits >= s0.store!.commits + 1,
      `commits ${s0.store!.commits} -> ${s1.store!.commits}`,
    );
    assert.ok(
      s1.store!.walFsyncs >= s0.store!.walFsyncs + 1,
      'the APPEND was acknowledged after a WAL fsync',
    );
    // A small message is stored in the database: the WAL fsync made it durable.
    assert.equal(s1.blobs!.fileFsyncs, s0.blobs!.fileFsyncs, 'no blob file for a small message');
    assert.equal(s1.blobs!.dirFsyncs, s0.blobs!.dirFsyncs, 'no directory fsync for a small message');
    const large = Buffer.from(
      `Subject: large\r\n\r\n${`${'x'.repeat(78)}\r\n`.repeat(DEFAULT_INLINE_MAX_BYTES / 64)}`,
    );
    assert.ok(large.length > DEFAULT_INLINE_MAX_BYTES);
    const second = await c.command(['APPEND INBOX ', { literal: large }]);
    assert.equal(second.status, 'OK', second.tagged);
    const s1b = await stats();
    assert.equal(s1b.blobs!.fileFsyncs, s1.blobs!.fileFsyncs + 1, 'one new blob file fsynced');
    assert.ok(s1b.blobs!.dirFsyncs >= s1.blobs!.dirFsyncs + 1, 'its directory fsynced');
    const store = await c.command('STORE 1 +FLAGS (\\Flagged)');
    assert.equal(store.status, 'OK', store.tagged);
    const s2 = await stats();
    assert.ok(s2.store!.commits >= s1b.store!.commits + 1, 'the STORE committed');
    assert.ok(
      s2.store!.walFsyncs >= s1b.store!.walFsyncs + 1,
      'the STORE was acknowledged after a WAL fsync',
    );
    assert.equal(s2.blobs!.fileFsyncs, s1b.blobs!.fileFsyncs, 'a STORE writes no blob');
  } finally {
    await c.close();
  }
});

void test('POST /healthz/stats/reset answers the window so far and starts a new one', async () => {
  await waitUntil(async () => (await stats()).eventLoopDelay.seconds >= 0.2, {
    what: '200 ms of lag window',
  });
  const reset = await request('POST', '/healthz/stats/reset');
  assert.equal(reset.status, 200);
  const old = reset.body.eventLoopDelay;
  const now = (await stats()).eventLoopDelay;
  assert.ok(Date.parse(now.since) >= Date.parse(old.since), `${old.since} -> ${now.since}`);
  assert.ok(now.seconds < old.seconds, `window ${old.seconds} s -> ${now.seconds} s`);
  assert.ok(now.samples < old.samples, `samples ${old.samples} -> ${now.samples}`);
  assert.equal(reset.body.store !== null, true, 'the counters are answered with the reset');
  // Only GET/HEAD read and only POST resets.
  assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}/healthz/stats/reset`)).status, 404);
  assert.equal(
    (await fetch(`http://127.0.0.1:${server.httpPort}/healthz/stats`, { method: 'POST' })).status,
    404,
  );
});
