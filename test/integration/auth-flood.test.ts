// 200 concurrent wrong-password logins (IMAP, POP3 and SMTP AUTH, at the default scrypt cost)
// must stall nobody: every probe on other connections (IMAP NOOP, POP3 STAT) answers within
// 100 ms while they run, a correct login by another client that needs its own scrypt run still
// succeeds within seconds (the ScryptGate serves client addresses in turn), a login found in
// the credential cache needs no scrypt run at all, and an APPEND (a blob write and two fsyncs
// on libuv's thread pool, which scrypt also uses) is not queued behind the flood's runs.
// The flood comes from another process (auth-flood-client.ts), from 127.0.0.2-127.0.0.5 (all
// loopback); the other clients run here, from 127.0.0.1.
// Hashes cost scrypt ln=12 (8 times cheaper than the default) so that the 200 runs fit the CI
// budget on a busy 2-core machine; the thread pool is taken the same way at any cost.

import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { hashPassword, scryptRuns } from '../../src/auth/password.js';
import { runServer, type ReadyInfo } from '../../src/server/runtime.js';
import { openStore } from '../../src/store/open-store.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { ImapRawClient } from '../helpers/imap-raw-client.js';
import { LOOPBACK_0, LineReader, tempDir, testConfig } from './server-fixture.js';

const FLOOD = { imap: 150, pop3: 25, smtp: 25 };
const LOG_N = 12;
const FLOOD_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const CLIENT = fileURLToPath(new URL('./auth-flood-client.js', import.meta.url));
const USERS = ['victim', 'probe-imap', 'probe-pop3', 'cold', 'warm'].map((u) => `${u}@example.test`);
const password = (user: string): string => `${user.split('@')[0]}-secret`;

async function connectLines(port: number): Promise<{ socket: net.Socket; r: LineReader }> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  socket.on('error', () => {});
  return { socket, r: new LineReader(socket) };
}

/** Reads lines until one matches `final`; returns it. */
async function until(r: LineReader, final: RegExp, timeoutMs = 120_000): Promise<string> {
  for (;;) {
    const line = await r.next(timeoutMs);
    if (final.test(line)) return line;
  }
}

type FloodMessage =
  { type: 'ready' } | { type: 'done'; replies: string[] } | { type: 'error'; message: string };

/** The attacker process (auth-flood-client.ts), its connections opened; `go()` starts the flood. */
async function armFlood(plan: object): Promise<{ child: ChildProcess; go: () => Promise<string[]> }> {
  const child = fork(CLIENT, [JSON.stringify(plan)], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (): Promise<FloodMessage> =>
    new Promise((resolve, reject) => {
      child.once('message', (m) => resolve(m as FloodMessage));
      child.once('exit', (code) => reject(new Error(`flood client exited (${code})`)));
    });
  const ready = await next();
  if (ready.type !== 'ready') throw new Error(`flood client: ${JSON.stringify(ready)}`);
  return {
    child,
    async go() {
      const done = next();
      child.send('go');
      const m = await done;
      if (m.type !== 'done') throw new Error(`flood client: ${JSON.stringify(m)}`);
      return m.replies;
    },
  };
}

void test('200 concurrent wrong-password logins stall no other client', { timeout: 300_000 }, async () => {
  const dir = await tempDir('auth-flood');
  const dns = await startDnsServer({});
  const config = testConfig(dir, {
    listen: { imap: LOOPBACK_0, pop3: LOOPBACK_0, submission: LOOPBACK_0 },
    // The flood must run to its end: no ban, one failure per session, the default delay.
    limits: { authFailuresBeforeBan: 100_000, authFailureDelay: 1000, connectionsPerIp: 100 },
    auth: { scryptLogN: LOG_N },
  });
  config.dns.servers = [dns.address];
  const controller = new AbortController();
  let running: Promise<void> | null = null;
  const sockets: Array<{ destroy(): void }> = [];
  let attacker: ChildProcess | null = null;
  try {
    const opened = await openStore(config);
    await opened.store.createDomain('example.test');
    for (const user of USERS) {
      const passwordHash = await hashPassword(password(user), { logN: LOG_N });
      await opened.store.createAccount({ address: user, passwordHash });
    }
    await opened.store.close();
    let ready!: (info: ReadyInfo) => void;
    const readyP = new Promise<ReadyInfo>((r) => (ready = r));
    running = runServer(config, { onReady: ready, signal: controller.signal, handleSignals: false });
    const info = await readyP;
    const port = (name: string): number => info.listeners.find((l) => l.name === name)!.port;

    // Bystanders, logged in before the flood; "warm" logs in once so the cache knows it.
    const imap = await ImapRawClient.connect(port('imap'));
    sockets.push(imap.socket);
    assert.equal(
      (await imap.command(`LOGIN probe-imap@example.test ${password('probe-imap')}`)).status,
      'OK',
    );
    assert.equal((await imap.command('SELECT INBOX')).status, 'OK');
    const appender = await ImapRawClient.connect(port('imap'));
    sockets.push(appender.socket);
    assert.equal(
      (await appender.command(`LOGIN probe-imap@example.test ${password('probe-imap')}`)).status,
      'OK',
    );
    const pop = await connectLines(port('pop3'));
    sockets.push(pop.socket);
    await until(pop.r, /^\+OK/);
    pop.socket.write('USER probe-pop3@example.test\r\n');
    await until(pop.r, /^\+OK/);
    pop.socket.write(`PASS ${password('probe-pop3')}\r\n`);
    assert.match(await until(pop.r, /^[+-]/), /^\+OK/);
    const warmFirst = await ImapRawClient.connect(port('imap'));
    assert.equal((await warmFirst.command(`LOGIN warm@example.test ${password('warm')}`)).status, 'OK');
    await warmFirst.close();

    // The flood: every connection opened first, then every wrong password sent at once.
    const armed = await armFlood({
      ports: { imap: port('imap'), pop3: port('pop3'), submission: port('submission') },
      counts: FLOOD,
      addresses: FLOOD_ADDRESSES,
      user: 'victim@example.test',
    });
    attacker = armed.child;
    const floodStarted = Date.now();
    let floodDone = false;
    const flood = armed.go().finally(() => (floodDone = true));

    // Probes on the bystanders for as long as the flood runs.
    const noopMs: number[] = [];
    const statMs: number[] = [];
    const probing = (async () => {
      for (let i = 0; i < 100_000 && !floodDone; i++) {
        let t = performance.now();
        assert.equal((await imap.command('NOOP')).status, 'OK');
        noopMs.push(performance.now() - t);
        t = performance.now();
        pop.socket.write('STAT\r\n');
        assert.match(await until(pop.r, /^[+-]/), /^\+OK \d+ \d+/);
        statMs.push(performance.now() - t);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    // Meanwhile: a correct login that needs scrypt, one the cache knows, and an APPEND.
    await new Promise((resolve) => setTimeout(resolve, 100));
    // `scrypt`: runs finished meanwhile. Without the gate a request that needs the thread pool
    // waits behind every queued run of the flood, on any machine, fast or slow.
    const timed = async (
      fn: () => Promise<string>,
    ): Promise<{ status: string; ms: number; during: boolean; scrypt: number }> => {
      const t = performance.now();
      const before = scryptRuns();
      const status = await fn();
      return { status, ms: performance.now() - t, during: !floodDone, scrypt: scryptRuns() - before };
    };
    const loginAs = async (user: string): Promise<string> => {
      const c = await ImapRawClient.connect(port('imap'));
      try {
        return (await c.command(`LOGIN ${user} ${password(user)}`, { timeoutMs: 120_000 })).status;
      } finally {
        c.socket.destroy();
      }
    };
    const cold = await timed(() => loginAs('cold@example.test'));
    const warm = await timed(() => loginAs('warm@example.test'));
    const message = Buffer.from('Subject: during the flood\r\n\r\nhello\r\n');
    const append = await timed(
      async () =>
        (await appender.command(['APPEND INBOX ', { literal: message }], { timeoutMs: 120_000 })).status,
    );

    const results = await flood;
    await probing;
    const floodMs = Date.now() - floodStarted;
    console.log(
      `# flood ${floodMs} ms; cold login ${cold.ms.toFixed(0)} ms (${cold.scrypt} scrypt runs finished meanwhile), ` +
        `warm login ${warm.ms.toFixed(0)} ms, APPEND ${append.ms.toFixed(0)} ms (${append.scrypt} runs); ${noopMs.length} NOOP (max ${Math.max(...noopMs).toFixed(1)} ms), ` +
        `${statMs.length} STAT (max ${Math.max(...statMs).toFixed(1)} ms)`,
    );
    const expected = [
      ...Array<string>(FLOOD.imap).fill('NO'),
      ...Array<string>(FLOOD.pop3).fill('-ERR'),
      ...Array<string>(FLOOD.smtp).fill('535'),
    ];
    assert.deepEqual(results, expected, 'every flood attempt was refused as a wrong password');
    assert.ok(
      noopMs.length >= 10 && statMs.length >= 10,
      `${noopMs.length} probes: the flood ended too soon`,
    );
    noopMs.forEach((ms, i) => assert.ok(ms < 100, `NOOP probe ${i} took ${ms.toFixed(1)} ms`));
    statMs.forEach((ms, i) => assert.ok(ms < 100, `STAT probe ${i} took ${ms.toFixed(1)} ms`));
    assert.deepEqual(
      [cold.status, warm.status, append.status],
      ['OK', 'OK', 'OK'],
      'the other clients were served',
    );
    assert.ok(cold.during && warm.during && append.during, 'they were served while the flood still ran');
    assert.ok(cold.ms < 5000, `a correct login needing scrypt took ${cold.ms.toFixed(0)} ms`);
    assert.ok(warm.ms < 1000, `a cached login took ${warm.ms.toFixed(0)} ms`);
    assert.ok(append.ms < 2000, `APPEND took ${append.ms.toFixed(0)} ms`);
    // Served in turn, not after the flood: a quarter of the flood's runs at most.
    assert.ok(cold.scrypt < 50, `the correct login waited for ${cold.scrypt} of the flood's scrypt runs`);
    assert.ok(append.scrypt < 50, `APPEND waited for ${append.scrypt} of the flood's scrypt runs`);
  } finally {
    if (attacker !== null && attacker.exitCode === null) attacker.kill();
    for (const s of sockets) s.destroy();
    controller.abort();
    await running;
    await dns.close();
    await rm(dir, { recursive: true, force: true });
  }
});
