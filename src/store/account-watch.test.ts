import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccountWatch } from './account-watch.js';
import { ChangeFeed } from './change-feed.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

void test('many watchers of one account: each batch sorted by account, each mailbox looked up once', async () => {
  const feed = new ChangeFeed();
  // Account 1 owns mailboxes 1-9, account 2 owns 10-99; 100 and up do not exist.
  const owner = (id: number): number | null => (id < 10 ? 1 : id < 100 ? 2 : null);
  let lookups = 0;
  let listed = 0;
  const watch = new AccountWatch({
    feed,
    ownerOf: (id) => {
      lookups++;
      return owner(id);
    },
    mailboxIdsOf: (account) => {
      listed++;
      return account === 1 ? [1, 2, 3] : [];
    },
  });
  const heard: number[][][] = [];
  const stops = Array.from({ length: 50 }, (_, i) => {
    heard.push([]);
    return watch.watch(1, (ids) => heard[i]!.push([...ids]));
  });
  assert.equal(listed, 1, "the account's mailboxes are read once, by its first watch");
  assert.equal(feed.size, 1, 'one feed listener however many sessions watch');

  feed.notify([2, 10, 11, 4, 100]);
  await turn();
  for (const h of heard) assert.deepEqual(h, [[2, 4]]);
  // 2 was known; 10, 11, 4 and 100 were looked up once for all 50 watchers.
  assert.equal(lookups, 4);
  feed.notify([10, 11, 4, 2]);
  await turn();
  assert.equal(lookups, 4, 'known and foreign ids are remembered');
  for (const h of heard)
    assert.deepEqual(h, [
      [2, 4],
      [4, 2],
    ]);

  for (const stop of stops) stop();
  assert.equal(feed.size, 0, 'the last unwatch leaves the feed (and its poll) idle');
  feed.notify([2]);
  await turn();
  assert.equal(heard[0]!.length, 2);
});

void test('a mailbox deleted after the first watch still reaches its account', async () => {
  const feed = new ChangeFeed();
  const exists = new Set([5, 6]);
  const watch = new AccountWatch({
    feed,
    ownerOf: (id) => (exists.has(id) ? 7 : null),
    mailboxIdsOf: () => [...exists],
  });
  const heard: number[] = [];
  watch.watch(7, (ids) => heard.push(...ids));
  exists.delete(6);
  feed.notify([6]);
  await turn();
  assert.deepEqual(heard, [6]);
});
