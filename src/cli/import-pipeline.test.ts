import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPipeline } from './import-pipeline.js';

interface Item {
  n: number;
  bufferedBytes: number;
}

async function* items(count: number, bytes: number, pulled: number[]): AsyncGenerator<Item> {
  for (let n = 0; n < count; n++) {
    pulled.push(n);
    yield { n, bufferedBytes: bytes };
  }
}

void test('never more than `concurrency` deliveries at once; every item settles once', async () => {
  let active = 0;
  let peak = 0;
  const settled: number[] = [];
  await runPipeline(items(200, 0, []), {
    concurrency: 8,
    maxBytesInFlight: Infinity,
    deliver: async (item) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, item.n % 3));
      active--;
      if (item.n % 50 === 7) throw new Error(`bad ${item.n}`);
    },
    onSettled: (item, err) => {
      settled.push(item.n);
      if (item.n % 50 === 7) assert.match(String(err), /bad/);
      else assert.equal(err, null);
    },
  });
  assert.equal(peak, 8);
  assert.deepEqual(
    settled.sort((a, b) => a - b),
    Array.from({ length: 200 }, (_, i) => i),
  );
});

void test('the byte cap limits buffered messages in flight, but one always proceeds', async () => {
  let active = 0;
  let peak = 0;
  const pulled: number[] = [];
  await runPipeline(items(20, 400, pulled), {
    concurrency: 100,
    maxBytesInFlight: 1000,
    deliver: async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 2));
      active--;
    },
    onSettled: () => {},
  });
  assert.equal(peak, 2, '2 x 400 bytes fit under 1000, 3 do not');

  let ran = 0;
  await runPipeline(items(3, 5000, []), {
    concurrency: 4,
    maxBytesInFlight: 1000,
    deliver: () => {
      ran++;
      return Promise.resolve();
    },
    onSettled: () => {},
  });
  assert.equal(ran, 3, 'an item larger than the cap still runs, alone');
});

void test('items are pulled from the source only as slots free up (backpressure)', async () => {
  const pulled: number[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const done = runPipeline(items(50, 0, pulled), {
    concurrency: 4,
    maxBytesInFlight: Infinity,
    deliver: () => gate,
    onSettled: () => {},
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(pulled.length <= 5, `pulled ${pulled.length} items while 4 were blocked`);
  release();
  await done;
  assert.equal(pulled.length, 50);
});
