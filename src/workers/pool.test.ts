import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { TaskFailed, TaskTimeout, WorkerGone, WorkerPool } from './pool.js';
import { WORKER_NICENESS } from './task-port.js';

const SCRIPT = new URL('../../test/helpers/pool-test-worker.js', import.meta.url);

function pool(opts: { size?: number; budgetMs?: number } = {}): WorkerPool {
  return new WorkerPool({ script: SCRIPT, size: opts.size ?? 2, budgetMs: opts.budgetMs ?? 10_000 });
}

void test('tasks run in worker threads, at most `size` of them, and can ask the main thread', async () => {
  const p = pool({ size: 2 });
  try {
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => p.run<number>('echo', n)));
    assert.deepEqual(results, [1, 2, 3, 4, 5]);
    assert.ok(p.threads <= 2, `threads ${p.threads}`);
    const asked = await p.run('ask', 'example.test', {
      onRequest: (body) => Promise.resolve(`answer for ${String(body)}`),
    });
    assert.deepEqual(asked, { asked: 'example.test', answer: 'answer for example.test' });
    await assert.rejects(p.run('ask', 'x', { onRequest: () => Promise.reject(new Error('no')) }), TaskFailed);
    await assert.rejects(
      p.run('fail', null),
      (err: unknown) => err instanceof TaskFailed && err.code === 'EFAIL',
    );
  } finally {
    await p.close();
  }
});

void test('a task over its budget is cut off (its worker terminated and replaced); others go on', async () => {
  const p = pool({ size: 1, budgetMs: 10_000 });
  try {
    assert.equal(await p.run('echo', 'warm'), 'warm');
    const startedBefore = p.started;
    const t0 = Date.now();
    await assert.rejects(p.run('spin', null, { budgetMs: 300 }), TaskTimeout);
    const took = Date.now() - t0;
    assert.ok(took >= 290 && took < 3000, `cut off after ${took} ms`);
    assert.equal(p.timedOut, 1);
    // The same (single-thread) pool serves the next task from a new worker.
    assert.equal(await p.run('echo', 'after'), 'after');
    assert.equal(p.started, startedBefore + 1);
  } finally {
    await p.close();
  }
});

void test('the budget counts time spent queued: a task still waiting when it runs out is dropped', async () => {
  const p = pool({ size: 1 });
  try {
    const spinning = p.run('spin', null, { budgetMs: 1500 });
    const t0 = Date.now();
    await assert.rejects(p.run('echo', 'late', { budgetMs: 200 }), TaskTimeout);
    assert.ok(Date.now() - t0 < 1400, 'dropped from the queue before the spinning task ended');
    await assert.rejects(spinning, TaskTimeout);
    assert.equal(await p.run('echo', 'next'), 'next');
  } finally {
    await p.close();
  }
});

void test('the pool survives a killed worker: only its task fails', async () => {
  const p = pool({ size: 2 });
  try {
    const [crashed, fine] = await Promise.allSettled([p.run('crash', null), p.run('echo', 'ok')]);
    assert.equal(crashed.status, 'rejected');
    assert.ok(crashed.status === 'rejected' && crashed.reason instanceof WorkerGone);
    assert.deepEqual(fine, { status: 'fulfilled', value: 'ok' });
    const again = await Promise.all([p.run('echo', 1), p.run('echo', 2), p.run('echo', 3)]);
    assert.deepEqual(again, [1, 2, 3]);
  } finally {
    await p.close();
  }
});

void test("a worker's console output goes to the logger at debug level, not to stdout", async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const p = new WorkerPool({ script: SCRIPT, size: 1, budgetMs: 5000, log });
  const written: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    written.push(String(chunk));
    return (original as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    assert.equal(await p.run('print', 'marker-7f3a'), 'printed');
    // The worker's stdout is a stream read by the pool: wait for its line to be logged.
    for (let i = 0; i < 100 && !lines.some((l) => l.includes('marker-7f3a')); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    process.stdout.write = original;
    await p.close();
  }
  const logged = lines.find((l) => l.includes('marker-7f3a'));
  assert.ok(logged !== undefined, 'the line reached the logger');
  assert.equal((JSON.parse(logged) as { level: number }).level, 20);
  assert.ok(!written.some((w) => w.includes('printed marker-7f3a')), 'nothing of it on stdout');
});

/** Nice value of each thread of this process (Linux /proc), by thread id. */
function threadNiceness(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), Number(fields[16]));
  }
  return out;
}

void test('worker threads run at a lower priority than the event loop (Linux: per-thread nice)', async () => {
  const p = pool({ size: 1 });
  try {
    const before = threadNiceness();
    await p.warm();
    const after = threadNiceness();
    const added = [...after].filter(([tid]) => !before.has(tid));
    assert.ok(
      added.some(([, nice]) => nice === WORKER_NICENESS),
      `new threads: ${JSON.stringify(added)}`,
    );
    assert.equal(after.get(process.pid), 0, 'the main thread keeps its priority');
  } finally {
    await p.close();
  }
});
