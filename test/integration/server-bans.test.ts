// Bans across processes over node's real IPC channel: failures in two workers add up in the
// primary, and the ban it decides reaches both workers.

import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AuthFailureTracker, acceptWorkerFailures, broadcastBans } from '../../src/auth/failure-tracker.js';

const WORKER = fileURLToPath(new URL('./server-ban-worker.js', import.meta.url));

function reply(child: ChildProcess, cmd: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const on = (msg: Record<string, unknown>): void => {
      if (msg.cmd !== cmd) return;
      child.off('message', on);
      resolve(msg);
    };
    child.on('message', on);
  });
}

async function banned(child: ChildProcess, ip: string): Promise<boolean> {
  const r = reply(child, 'banned');
  child.send({ cmd: 'query', ip });
  return (await r).value === true;
}

void test('failures from two worker processes ban an address in both', { timeout: 15_000 }, async () => {
  const primary = new AuthFailureTracker({ limits: { authFailuresBeforeBan: 3, banSeconds: 60 } });
  const workers = [0, 1].map(() =>
    fork(WORKER, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  try {
    await Promise.all(workers.map((w) => reply(w, 'up')));
    for (const w of workers) acceptWorkerFailures(primary, w);
    broadcastBans(primary, () => workers);
    const [w1, w2] = workers;
    const fail = async (w: ChildProcess): Promise<void> => {
      const r = reply(w, 'failed');
      w.send({ cmd: 'fail', ip: '203.0.113.50' });
      await r;
    };
    await fail(w1);
    await fail(w2);
    // Two failures so far (one per worker): nobody is banned yet.
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(primary.failureCount('203.0.113.50'), 2);
    assert.equal(await banned(w1, '203.0.113.50'), false);
    await fail(w2);
    for (let i = 0; i < 100 && !(await banned(w1, '203.0.113.50')); i++)
      await new Promise((res) => setTimeout(res, 10));
    assert.equal(primary.isBanned('203.0.113.50'), true);
    assert.equal(await banned(w1, '203.0.113.50'), true, 'worker 1 got the ban from the primary');
    assert.equal(await banned(w2, '203.0.113.50'), true);
    assert.equal(await banned(w1, '203.0.113.51'), false);
  } finally {
    for (const w of workers) if (w.connected) w.send({ cmd: 'exit' });
    await Promise.all(
      workers.map((w) => (w.exitCode === null ? new Promise((res) => w.once('exit', res)) : null)),
    );
  }
});

void test(
  'IPv6: failures from different addresses of one /64 in two worker processes ban the /64 in both',
  { timeout: 15_000 },
  async () => {
    const primary = new AuthFailureTracker({
      limits: { authFailuresBeforeBan: 3, banSeconds: 60, ipv6Prefix: 64 },
    });
    const workers = [0, 1].map(() =>
      fork(WORKER, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    try {
      await Promise.all(workers.map((w) => reply(w, 'up')));
      for (const w of workers) acceptWorkerFailures(primary, w);
      broadcastBans(primary, () => workers);
      const [w1, w2] = workers;
      const fail = async (w: ChildProcess, ip: string): Promise<void> => {
        const r = reply(w, 'failed');
        w.send({ cmd: 'fail', ip });
        await r;
      };
      await fail(w1, '2001:db8:77:1::1');
      await fail(w2, '2001:db8:77:1::2');
      await fail(w2, '2001:db8:77:1:ffff::3');
      for (let i = 0; i < 100 && !(await banned(w1, '2001:db8:77:1::9')); i++)
        await new Promise((res) => setTimeout(res, 10));
      assert.equal(primary.isBanned('2001:db8:77:1::abc'), true);
      assert.equal(await banned(w1, '2001:db8:77:1::9'), true, 'an address neither worker saw');
      assert.equal(await banned(w2, '2001:db8:77:1:1:2:3:4'), true);
      assert.equal(await banned(w1, '2001:db8:77:2::1'), false, 'the next /64');
    } finally {
      for (const w of workers) if (w.connected) w.send({ cmd: 'exit' });
      await Promise.all(
        workers.map((w) => (w.exitCode === null ? new Promise((res) => w.once('exit', res)) : null)),
      );
    }
  },
);
