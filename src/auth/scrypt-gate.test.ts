import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScryptGate } from './scrypt-gate.js';

/** A piece of work that finishes when the test says so. */
function manual(): { work: () => Promise<void>; started: Promise<void>; finish: () => void } {
  let onStart!: () => void;
  let finish!: () => void;
  const started = new Promise<void>((resolve) => (onStart = resolve));
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    work: () => {
      onStart();
      return done;
    },
    started,
    finish,
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

void test('at most `concurrency` runs at once; the rest wait and then run', async () => {
  const gate = new ScryptGate(2);
  const jobs = Array.from({ length: 5 }, () => manual());
  const runs = jobs.map((j) => gate.run('198.51.100.1', j.work));
  await tick();
  assert.deepEqual(gate.load, { running: 2, waiting: 3 });
  for (const j of jobs) {
    j.finish();
    await tick();
    assert.ok(gate.load.running <= 2);
  }
  await Promise.all(runs);
  assert.deepEqual(gate.load, { running: 0, waiting: 0 });
});

void test('addresses are served in turn: a flood from one does not delay another behind it', async () => {
  const gate = new ScryptGate(1);
  const order: string[] = [];
  const jobs: Array<ReturnType<typeof manual>> = [];
  const runs: Array<Promise<void>> = [];
  const submit = (address: string, name: string): void => {
    const j = manual();
    jobs.push(j);
    runs.push(gate.run(address, () => (order.push(name), j.work())));
  };
  for (let i = 0; i < 10; i++) submit('198.51.100.1', `flood${i}`);
  submit('203.0.113.9', 'other');
  await tick();
  // flood0 runs; flood1..9 and other wait. After flood0 the other address is next in turn.
  jobs[0]!.finish();
  await tick();
  jobs[1]!.finish();
  await tick();
  assert.deepEqual(order.slice(0, 3), ['flood0', 'flood1', 'other']);
  for (const j of jobs) j.finish();
  await Promise.all(runs);
  assert.equal(order.length, 11);
});

void test('a failing run releases its slot', async () => {
  const gate = new ScryptGate(1);
  await assert.rejects(
    gate.run('a', () => Promise.reject(new Error('boom'))),
    /boom/,
  );
  assert.equal(await gate.run('a', () => Promise.resolve(7)), 7);
  assert.deepEqual(gate.load, { running: 0, waiting: 0 });
});

void test('concurrency must be a positive integer', () => {
  assert.throws(() => new ScryptGate(0), RangeError);
  assert.throws(() => new ScryptGate(1.5), RangeError);
});
