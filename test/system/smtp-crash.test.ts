// kill -9 in the middle of an SMTP burst (issue 3): the real `postern serve` runs as a child
// process; our own client sends up to 5,000 messages with unique Message-IDs over 20 sessions
// (so the set of acknowledged messages is exact) while Postfix's smtp-source bursts beside it
// over 5 more sessions (its -c counter counts final dots sent, before their reply is read, so
// with 5 sessions at least counter - 5 messages got their 250, and at most counter are whole); the
// server is killed with SIGKILL once 1,500 were acknowledged; after a restart every
// acknowledged message is in the store, byte for byte after our trace headers (RFC 5321
// §6.1: a 250 to the final dot means the server has taken responsibility for the message).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/app/open-store.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { preparePostern, startPostern, type PosternProcess } from './postern-process.js';
import { burstMessage, smtpBurst } from './smtp-burst-client.js';

const TOTAL = 5000;
const SESSIONS = 20;
const KILL_AFTER = 1500;
const SIZE = 4096;
const FROM = 'sender@x.test';
const TO = 'user@example.test';
/** smtp-source's recipient, kept apart from our client's. */
const SOURCE_TO = 'bob@example.test';
const SOURCE_SESSIONS = 5;

/** Starts smtp-source; resolves with its last -c count once it exits (it dies with the server). */
function smtpSource(port: number): Promise<number> {
  const child = spawn(
    'smtp-source',
    [
      '-c',
      '-s',
      '5',
      '-m',
      String(TOTAL),
      '-l',
      String(SIZE),
      '-f',
      'a@x.test',
      '-t',
      SOURCE_TO,
      `127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let tail = '';
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (s: string) => {
    tail = (tail + s).slice(-100);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => {
    child.once('close', () => {
      clearTimeout(timer);
      // It prints "N\r" each time it has sent a final dot (smtp-source.c, data_done).
      const counts = tail.split(/[\r\n]/).filter((x) => /^\d+$/.test(x));
      resolve(counts.length === 0 ? 0 : Number(counts[counts.length - 1]));
    });
  });
}

void test('kill -9 mid-burst: every message that got its 250 is stored after a restart', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-crash-'));
  const dns = await startDnsServer({ 'x.test': { TXT: ['v=spf1 -all'] } });
  let server: PosternProcess | null = null;
  t.after(async () => {
    await server?.stop(1000);
    await dns.close();
    await rm(dir, { recursive: true, force: true });
  });
  const configFile = await preparePostern({
    dir,
    dnsAddress: dns.address,
    domains: ['example.test'],
    users: [
      { address: TO, password: 'user-secret-1' },
      { address: SOURCE_TO, password: 'bob-secret-2' },
    ],
  });

  server = await startPostern(configFile);
  const victim = server;
  let killedAt = -1;
  const sourceCount = smtpSource(victim.ports.smtp);
  const burst = await smtpBurst({
    port: victim.ports.smtp,
    total: TOTAL,
    sessions: SESSIONS,
    from: FROM,
    to: TO,
    size: SIZE,
    replyTimeoutMs: 10_000,
    onAck: (acked) => {
      if (acked === KILL_AFTER) {
        killedAt = acked;
        victim.child.kill('SIGKILL');
      }
    },
  });
  assert.equal(await victim.exited, 'SIGKILL', 'the server died of the kill, not before');
  assert.equal(killedAt, KILL_AFTER, 'the kill happened mid-burst');
  assert.ok(burst.acked.length >= KILL_AFTER, 'the acknowledgements before the kill were counted');
  assert.ok(burst.acked.length < TOTAL, `the burst was cut (${burst.acked.length} of ${TOTAL} acknowledged)`);
  assert.equal(burst.refused, 0, 'nothing was refused before the kill');
  const sourceCompleted = await sourceCount;
  assert.ok(sourceCompleted > SOURCE_SESSIONS, 'smtp-source got messages through before the kill');
  assert.ok(sourceCompleted < TOTAL, 'smtp-source was cut by the kill');

  // Restart on the same data directory: it recovers and takes mail again.
  server = await startPostern(configFile);
  const after = await smtpBurst({
    port: server.ports.smtp,
    total: 1,
    sessions: 1,
    from: FROM,
    to: TO,
    size: SIZE,
  });
  assert.equal(after.acked.length, 1, 'the restarted server accepts mail');
  await server.stop();
  assert.equal(await server.exited, 0, `clean shutdown; stderr: ${server.stderr()}`);

  const config = await loadConfig(configFile);
  const { store, blobs } = await openStore(config);
  try {
    const account = await store.getAccount(TO);
    assert.ok(account !== null);
    const inbox = await store.getMailbox(account.id, 'INBOX');
    assert.ok(inbox !== null);
    const metas = await store.listMessages(inbox.id);
    const stored = new Map<string, Buffer>();
    for (const meta of metas) {
      const bytes = await blobs.readAll(meta.blobId);
      const m = /^Message-ID: <([^>\r\n]{1,200})>\r$/m.exec(bytes.toString('latin1'));
      assert.ok(m !== null, 'every stored message has its Message-ID');
      assert.ok(!stored.has(m[1]), `no message stored twice (${m[1]})`);
      stored.set(m[1], bytes);
    }
    const missing = [...burst.acked, ...after.acked].filter((id) => !stored.has(id));
    assert.deepEqual(missing, [], `acknowledged but lost: ${missing.length}`);
    for (const id of [...burst.acked, ...after.acked]) {
      const sent = burstMessage(id, { from: FROM, to: TO, size: SIZE });
      const bytes = stored.get(id)!;
      assert.deepEqual(bytes.subarray(bytes.length - sent.length), sent, `${id} stored intact`);
      assert.match(
        bytes.subarray(0, bytes.length - sent.length).toString('latin1'),
        /^Received: from burst\d+\.example\.net /m,
      );
    }
    // Only messages that were sent in full can be there: acknowledged, or cut before their reply.
    const sentInFull = new Set([...burst.acked, ...after.acked, ...burst.unanswered]);
    for (const id of stored.keys()) {
      assert.ok(sentInFull.has(id), `${id} stored although its final dot never left the client`);
    }
    // smtp-source: everything acknowledged is stored (only the last dot of each session may
    // have been unanswered), nothing that was not sent in full, each message whole.
    const bob = await store.getAccount(SOURCE_TO);
    const bobInbox = await store.getMailbox(bob!.id, 'INBOX');
    const bobMetas = await store.listMessages(bobInbox!.id);
    assert.ok(
      bobMetas.length >= sourceCompleted - SOURCE_SESSIONS && bobMetas.length <= sourceCompleted,
      `smtp-source sent ${sourceCompleted} final dots over ${SOURCE_SESSIONS} sessions, ${bobMetas.length} stored`,
    );
    for (const meta of bobMetas) {
      const text = (await blobs.readAll(meta.blobId)).toString('latin1');
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      assert.match(body, /^(?:\dX{77}\r\n){51}X{16}\r\n$/, 'smtp-source message stored whole');
    }
    t.diagnostic(
      `acknowledged before the kill: ${burst.acked.length}; in flight: ${burst.unanswered.length}; ` +
        `stored: ${stored.size}; smtp-source sent ${sourceCompleted} final dots, stored ${bobMetas.length}`,
    );
  } finally {
    await store.close();
  }
});
