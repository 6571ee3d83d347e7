import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SLICE_BYTES, SlicedWrite } from './sliced-write.js';

void test('a large chunk is written in slices, in order, and the event loop gets turns meanwhile', async () => {
  const seen: Buffer[] = [];
  let turns = 0;
  const writer = {
    write(piece: Uint8Array): Promise<void> {
      // Each slice costs 2 ms of synchronous work, like indexing hostile MIME.
      const until = performance.now() + 2;
      while (performance.now() < until) {
        /* busy */
      }
      seen.push(Buffer.from(piece));
      return Promise.resolve();
    },
  };
  const chunk = Buffer.alloc(SLICE_BYTES * 20 + 5);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
  const ticking = setInterval(() => turns++, 0);
  try {
    await new SlicedWrite(writer).write(chunk);
  } finally {
    clearInterval(ticking);
  }
  assert.equal(seen.length, 21);
  assert.ok(seen.slice(0, 20).every((s) => s.length === SLICE_BYTES));
  assert.deepEqual(Buffer.concat(seen), chunk);
  // 42 ms of work: without turns in between the interval could not have run.
  assert.ok(turns >= 3, `${turns} timer turns during the write`);
});
