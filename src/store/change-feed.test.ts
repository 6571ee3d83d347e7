import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChangeFeed } from './change-feed.js';

void test('listeners run after notify() returns, coalesced per mailbox', async () => {
  const feed = new ChangeFeed();
  const calls: number[] = [];
  feed.watch(1, (id) => calls.push(id));
  feed.watch(2, (id) => calls.push(id * 10));
  feed.notify([1, 1, 2, 3]);
  feed.notify([1]);
  assert.deepEqual(calls, [], 'nothing runs synchronously');
  await Promise.resolve();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, [1, 20]);
});

void test('unwatch, onActive and a throwing listener', async () => {
  const active: boolean[] = [];
  const errors: unknown[] = [];
  const feed = new ChangeFeed({ onActive: (a) => active.push(a), onError: (e) => errors.push(e) });
  let hits = 0;
  const stopA = feed.watch(5, () => {
    throw new Error('boom');
  });
  const stopB = feed.watch(5, () => hits++);
  assert.deepEqual(active, [true]);
  feed.notify([5]);
  await new Promise((r) => setImmediate(r));
  assert.equal(hits, 1);
  assert.equal(errors.length, 1);
  stopA();
  stopA();
  assert.equal(feed.size, 1);
  stopB();
  assert.deepEqual(active, [true, false]);
  feed.notify([5]);
  await new Promise((r) => setImmediate(r));
  assert.equal(hits, 1);
});

void test('the same function registered twice is called twice and removed once per unwatch', async () => {
  const feed = new ChangeFeed();
  let hits = 0;
  const fn = (): void => {
    hits++;
  };
  const stop1 = feed.watch(1, fn);
  feed.watch(1, fn);
  feed.notify([1]);
  await new Promise((r) => setImmediate(r));
  assert.equal(hits, 2);
  stop1();
  feed.notify([1]);
  await new Promise((r) => setImmediate(r));
  assert.equal(hits, 3);
  feed.close();
  feed.notify([1]);
  await new Promise((r) => setImmediate(r));
  assert.equal(hits, 3);
});

void test('watchAll hears every changed mailbox once per batch and keeps the feed active', async () => {
  const active: boolean[] = [];
  const feed = new ChangeFeed({ onActive: (a) => active.push(a) });
  const batches: number[][] = [];
  const stop = feed.watchAll((ids) => batches.push([...ids]));
  assert.deepEqual(active, [true], 'a batch listener starts the feed (the poll)');
  feed.notify([7, 8]);
  feed.notify([7, 9]);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(batches, [[7, 8, 9]], 'coalesced, unwatched mailboxes included');
  stop();
  assert.deepEqual(active, [true, false]);
  feed.notify([7]);
  await new Promise((r) => setImmediate(r));
  assert.equal(batches.length, 1);
});
