// The no-stall battery, a login flood: 200 concurrent wrong-password logins (150 IMAP LOGIN,
// 25 POP3 PASS, 25 SMTP AUTH PLAIN on submission) from another process (login-flood-client.ts),
// from 127.0.0.2-127.0.0.5. While it runs the bystanders (fixture.ts, from 127.0.0.1) probe IMAP
// NOOP, SMTP NOOP and POP3 STAT and every probe answers within 100 ms; every flood login is
// refused; a correct login that needs its own scrypt run succeeds within seconds (the ScryptGate
// serves client addresses in turn), one found in the credential cache needs no scrypt run, and an
// APPEND (a blob write and two fsyncs on libuv's thread pool, which scrypt also uses) is not
// queued behind the flood's runs.
// Hashes cost scrypt ln=12 (8 times cheaper than the default) so that the 200 runs fit the CI
// budget on a busy 2-core machine; the thread pool is taken the same way at any cost.

import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { scryptRuns } from '../../src/auth/password.js';
import { ImapRawClient } from '../helpers/imap-raw-client.js';
import { Bystanders, startHostileServer, USERS, type HostileServer } from './fixture.js';

const FLOOD = { imap: 150, pop3: 25, smtp: 25 };
const FLOOD_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const CLIENT = fileURLToPath(new URL('./login-flood-client.js', import.meta.url));
const ACCOUNTS = ['victim', 'cold', 'warm'].map((u) => ({
  address: `${u}@example.test`,
  password: `${u}-secret`,
}));
const [VICTIM, COLD, WARM] = ACCOUNTS as [(typeof ACCOUNTS)[0], (typeof ACCOUNTS)[0], (typeof ACCOUNTS)[0]];

type FloodMessage =
  { type: 'ready' } | { type: 'done'; replies: string[] } | { type: 'error'; message: string };

/** The attacker process, its connections opened; `go()` starts the flood. */
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

void describe('no stall during a login flood', { timeout: 300_000 }, () => {
  let server: HostileServer;
  let bystanders: Bystanders;
  let appender: ImapRawClient | undefined;
  let attacker: ChildProcess | null = null;

  before(async () => {
    server = await startHostileServer({
      // The flood must run to its end: no ban, one failure per session, the default delay.
      limits: { authFailuresBeforeBan: 100_000, authFailureDelay: 1000, connectionsPerIp: 100 },
      scryptLogN: 12,
      accounts: ACCOUNTS,
      submission: true,
    });
    bystanders = await Bystanders.connect(server);
    const opened = await ImapRawClient.connect(server.ports.imap);
    appender = opened;
    const r = await opened.command(`LOGIN ${USERS.alice.address} ${USERS.alice.password}`);
    assert.equal(r.status, 'OK');
    // "warm" logs in once so that the credential cache knows it.
    const warmFirst = await ImapRawClient.connect(server.ports.imap);
    assert.equal((await warmFirst.command(`LOGIN ${WARM.address} ${WARM.password}`)).status, 'OK');
    await warmFirst.close();
  });
  after(async () => {
    if (attacker !== null && attacker.exitCode === null) attacker.kill();
    appender?.socket.destroy();
    bystanders.close();
    await server.close();
  });

  void it('200 wrong-password logins are refused; a correct login, a cached one and an APPEND are served meanwhile', async () => {
    const armed = await armFlood({
      ports: { imap: server.ports.imap, pop3: server.ports.pop3, submission: server.ports.submission },
      counts: FLOOD,
      addresses: FLOOD_ADDRESSES,
      user: VICTIM.address,
    });
    attacker = armed.child;
    let floodDone = false;
    const began = Date.now();
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
    const loginAs = async (user: { address: string; password: string }): Promise<string> => {
      const c = await ImapRawClient.connect(server.ports.imap);
      try {
        return (await c.command(`LOGIN ${user.address} ${user.password}`, { timeoutMs: 120_000 })).status;
      } finally {
        c.socket.destroy();
      }
    };
    const { result, worstMs } = await bystanders.during(
      async () => {
        const flood = armed.go().finally(() => (floodDone = true));
        await new Promise((resolve) => setTimeout(resolve, 100));
        const cold = await timed(() => loginAs(COLD));
        const warm = await timed(() => loginAs(WARM));
        const message = Buffer.from('Subject: during the flood\r\n\r\nhello\r\n');
        const append = await timed(
          async () =>
            (await appender!.command(['APPEND INBOX ', { literal: message }], { timeoutMs: 120_000 })).status,
        );
        return { replies: await flood, cold, warm, append };
      },
      // The 200 LOGINs arrive together: handled in one poll phase they held the loop 100-190 ms;
      // guests take turns (src/server/guest-turns.ts), so the probes are answered in between.
      { minProbes: 10 },
    );
    const { replies, cold, warm, append } = result;
    console.log(
      `login flood ${Date.now() - began} ms; cold login ${cold.ms.toFixed(0)} ms (${cold.scrypt} scrypt runs ` +
        `finished meanwhile), warm login ${warm.ms.toFixed(0)} ms, APPEND ${append.ms.toFixed(0)} ms ` +
        `(${append.scrypt} runs); ${bystanders.probes.length} probes, worst ${worstMs.toFixed(1)} ms`,
    );
    const expected = [
      ...Array<string>(FLOOD.imap).fill('NO'),
      ...Array<string>(FLOOD.pop3).fill('-ERR'),
      ...Array<string>(FLOOD.smtp).fill('535'),
    ];
    assert.deepEqual(replies, expected, 'every flood attempt was refused as a wrong password');
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
  });
});
