import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SortCache } from './sort-cache.js';
import { sortComparator, type SortRecord } from './sort-keys.js';
import { threadNode } from './thread-tree.js';

const BOX = { mailboxId: 7, uidValidity: 42 };
const pause = (): Promise<void> => Promise.resolve();

/** A record whose sort keys derive from its UID: few distinct sizes, so ties are common. */
function record(uid: number): SortRecord {
  return {
    uid,
    seq: uid,
    arrival: (uid * 7919) % 1000,
    sent: 0,
    size: uid % 5,
    subjectKey: String.fromCharCode(65 + ((uid * 31) % 26)),
    replyOrForward: false,
    messageId: null,
    inReplyTo: null,
    references: [],
    keys: {},
  };
}

/** A loader of records that counts what it was asked for; `gone` UIDs have no record. */
function loader(gone: ReadonlySet<number> = new Set()): {
  load: (uids: number[]) => Promise<SortRecord[]>;
  asked: number[];
} {
  const asked: number[] = [];
  return {
    asked,
    load: (uids) => {
      asked.push(...uids);
      return Promise.resolve(uids.filter((u) => !gone.has(u)).map(record));
    },
  };
}

const PROGRAM = [
  { key: 'SIZE', reverse: true },
  { key: 'SUBJECT', reverse: false },
] as const;
const cmp = sortComparator(PROGRAM);

/** What a plain sort of these UIDs gives (seq = position + 1, as in a view). */
function expected(uids: readonly number[]): number[] {
  return uids
    .map((u, i) => ({ ...record(u), seq: i + 1 }))
    .sort(cmp)
    .map((r) => r.uid);
}

async function sorted(cache: SortCache, uids: number[], l = loader()): Promise<number[]> {
  const order = await cache.sortOrder(BOX, 'P', uids, cmp, l.load, pause);
  return order.map((i) => uids[i]!);
}

void test('a kept order answers a subset and a superset; only the new UIDs are loaded', async () => {
  const cache = new SortCache(1_000_000);
  const all = Array.from({ length: 3000 }, (_, i) => i + 1);
  const first = loader();
  assert.deepEqual(await sorted(cache, all.slice(0, 2000), first), expected(all.slice(0, 2000)));
  assert.equal(first.asked.length, 2000);
  // A subset (SEARCH criteria, or expunges): nothing loaded.
  const subset = all.filter((u) => u % 3 !== 0 && u <= 2000);
  const none = loader();
  assert.deepEqual(await sorted(cache, subset, none), expected(subset));
  assert.equal(none.asked.length, 0);
  // New mail: only it is loaded, and merged in place.
  const more = loader();
  const grown = all.filter((u) => u % 7 !== 0);
  assert.deepEqual(await sorted(cache, grown, more), expected(grown));
  assert.deepEqual(
    more.asked,
    grown.filter((u) => u > 2000),
  );
  assert.equal(cache.size, 2000 + more.asked.length);
});

void test('random sets against a plain sort, with messages gone before their record was read', async () => {
  const cache = new SortCache(1_000_000);
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  // Expunged while the SORT ran: matched, but their records cannot be read any more.
  const gone = new Set(Array.from({ length: 20 }, (_, i) => 97 * (i + 1)));
  for (let round = 0; round < 30; round++) {
    const uids = Array.from({ length: 1 + rand(800) }, () => 1 + rand(2000));
    const set = [...new Set(uids)].sort((a, b) => a - b);
    const got = await sorted(cache, set, loader(gone));
    assert.deepEqual(got, expected(set.filter((u) => !gone.has(u))), `round ${round}`);
  }
});

void test('programs, mailboxes and UIDVALIDITY have entries of their own', async () => {
  const cache = new SortCache(1_000_000);
  const l = loader();
  await cache.sortOrder(BOX, 'P', [1, 2, 3], cmp, l.load, pause);
  await cache.sortOrder(BOX, 'Q', [1, 2, 3], cmp, l.load, pause);
  await cache.sortOrder({ ...BOX, uidValidity: 43 }, 'P', [1, 2, 3], cmp, l.load, pause);
  await cache.sortOrder({ ...BOX, mailboxId: 8 }, 'P', [1, 2, 3], cmp, l.load, pause);
  assert.equal(l.asked.length, 12);
  await cache.sortOrder(BOX, 'P', [1, 2, 3], cmp, l.load, pause);
  assert.equal(l.asked.length, 12);
});

void test('bounded: least recently used entries go first; one entry over the bound is not kept', async () => {
  const cache = new SortCache(250);
  const l = loader();
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  await cache.sortOrder(BOX, 'A', hundred, cmp, l.load, pause);
  await cache.sortOrder(BOX, 'B', hundred, cmp, l.load, pause);
  await cache.sortOrder(BOX, 'A', hundred, cmp, l.load, pause); // A is now the most recent
  assert.equal(l.asked.length, 200);
  await cache.sortOrder(BOX, 'C', hundred, cmp, l.load, pause); // 300 > 250: B goes
  assert.equal(cache.size, 200);
  await cache.sortOrder(BOX, 'A', hundred, cmp, l.load, pause);
  assert.equal(l.asked.length, 300);
  await cache.sortOrder(BOX, 'B', hundred, cmp, l.load, pause);
  assert.equal(l.asked.length, 400);
  const big = Array.from({ length: 300 }, (_, i) => i + 1);
  assert.deepEqual(await sorted(cache, big), expected(big));
  assert.ok(cache.size <= 250);
});

void test('idle entries are swept', async () => {
  const cache = new SortCache(1000, 60_000);
  await cache.sortOrder(BOX, 'A', [1, 2], cmp, loader().load, pause);
  cache.sweep(Date.now() + 30_000);
  assert.equal(cache.size, 2);
  cache.sweep(Date.now() + 61_000);
  assert.equal(cache.size, 0);
});

void test('a THREAD answer is kept for exactly the same UIDs', () => {
  const cache = new SortCache(1_000_000);
  const roots = [threadNode(record(1)), threadNode(record(3))];
  cache.keepThreads(BOX, 'REFERENCES', [1, 3], roots);
  assert.equal(cache.threads(BOX, 'REFERENCES', [1, 3]), roots);
  assert.equal(cache.threads(BOX, 'REFERENCES', [1, 2]), null);
  assert.equal(cache.threads(BOX, 'REFERENCES', [1, 3, 4]), null);
  assert.equal(cache.threads(BOX, 'ORDEREDSUBJECT', [1, 3]), null);
  assert.equal(cache.threads({ ...BOX, uidValidity: 1 }, 'REFERENCES', [1, 3]), null);
});

void test('the records of a kept THREAD answer are there for the next one (new mail since)', async () => {
  const cache = new SortCache(1_000_000);
  const root = threadNode(record(1));
  const child = threadNode(record(3));
  child.parent = root;
  root.children.push(child);
  const dummy = threadNode(null);
  dummy.children.push(threadNode(record(5)));
  cache.keepThreads(BOX, 'REFERENCES', [1, 3, 5], [root, dummy]);
  const kept = await cache.threadRecords(BOX, 'REFERENCES', pause);
  assert.deepEqual([...kept.keys()].sort(), [1, 3, 5]);
  assert.equal(kept.get(3), child.record);
  assert.equal((await cache.threadRecords(BOX, 'ORDEREDSUBJECT', pause)).size, 0);
});
