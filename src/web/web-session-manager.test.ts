// Web sessions on a real SQLite store with a clock the test moves: a session resumes from its
// id (in another process too), only its hash is stored, idle and absolute expiry end it, the
// count per account is bounded (oldest first), logout and "end the others" work, and expired
// rows are swept when a session is created.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import Database from 'better-sqlite3';
import { openFixture, seedAccount, type StoreFixture } from '../store/sqlite/store-fixture.js';
import { WebSessionManager, sessionIdHash } from './web-session-manager.js';

let fx: StoreFixture;
let now: number;
let accountId: number;
let manager: WebSessionManager;
const limits = { idleMs: 30 * 60_000, lifetimeMs: 12 * 3600_000, maxPerAccount: 3, touchIntervalMs: 60_000 };

beforeEach(async () => {
  fx = await openFixture();
  now = Date.UTC(2026, 0, 1);
  accountId = (await seedAccount(fx.store)).accountId;
  manager = new WebSessionManager({ store: fx.store, limits, now: () => now });
});
afterEach(async () => {
  await fx.cleanup();
});

void test('a session resumes from its id, in another process too; the store holds only its hash', async () => {
  const s = await manager.start(accountId);
  assert.match(s.id, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(s.idHash, sessionIdHash(s.id));
  assert.equal((await manager.resume(s.id))?.accountId, accountId);
  const other = new WebSessionManager({ store: await fx.openAnother(), limits, now: () => now });
  assert.equal((await other.resume(s.id))?.accountId, accountId);
  const db = new Database(fx.store.file, { readonly: true });
  try {
    const rows = db.prepare('SELECT id_hash FROM web_sessions').pluck().all() as string[];
    assert.deepEqual(rows, [s.idHash]);
    const dump = JSON.stringify(db.prepare('SELECT * FROM web_sessions').all());
    assert.ok(!dump.includes(s.id), 'the id itself is not stored');
  } finally {
    db.close();
  }
  assert.equal(await manager.resume(null), null);
  assert.equal(await manager.resume('x'.repeat(43)), null, 'an unknown id');
  assert.equal(await manager.resume('not an id'), null);
});

void test('idle timeout: activity keeps the session, silence ends it', async () => {
  const s = await manager.start(accountId);
  for (let i = 0; i < 5; i++) {
    now += 20 * 60_000; // 20 minutes: under the 30-minute idle limit each time
    assert.notEqual(await manager.resume(s.id), null, `request ${i}`);
  }
  now += 30 * 60_000;
  assert.equal(await manager.resume(s.id), null);
  assert.equal(await fx.store.getWebSession(s.idHash), null, 'an expired session is deleted when presented');
});

void test('absolute lifetime: even an active session ends after it', async () => {
  const s = await manager.start(accountId);
  const end = now + limits.lifetimeMs;
  while (now + 20 * 60_000 < end) {
    now += 20 * 60_000;
    assert.notEqual(await manager.resume(s.id), null);
  }
  now = end;
  assert.equal(await manager.resume(s.id), null);
});

void test('last seen is written at most once per touch interval', async () => {
  const s = await manager.start(accountId);
  now += 10_000;
  await manager.resume(s.id);
  assert.equal((await fx.store.getWebSession(s.idHash))?.lastSeenAt.getTime(), now - 10_000);
  now += 60_000;
  await manager.resume(s.id);
  assert.equal((await fx.store.getWebSession(s.idHash))?.lastSeenAt.getTime(), now);
});

void test('at most maxPerAccount sessions per account: the oldest ends first; other accounts are untouched', async () => {
  const otherAccount = (await seedAccount(fx.store, 'bob@example.org')).accountId;
  const bob = await manager.start(otherAccount);
  const started = [];
  for (let i = 0; i < 5; i++) {
    now += 1000;
    started.push(await manager.start(accountId));
  }
  const live = [];
  for (const s of started) live.push((await manager.resume(s.id)) !== null);
  assert.deepEqual(live, [false, false, true, true, true]);
  assert.notEqual(await manager.resume(bob.id), null);
});

void test('logout ends one session; endOthers ends the rest of the account', async () => {
  const a = await manager.start(accountId);
  const b = await manager.start(accountId);
  const c = await manager.start(accountId);
  await manager.end(a);
  assert.equal(await manager.resume(a.id), null);
  assert.equal(await manager.endOthers(b), 1);
  assert.notEqual(await manager.resume(b.id), null);
  assert.equal(await manager.resume(c.id), null);
});

void test('creating a session sweeps expired ones of every account', async () => {
  const otherAccount = (await seedAccount(fx.store, 'bob@example.org')).accountId;
  const old = await manager.start(otherAccount);
  now += limits.idleMs + 1;
  await manager.start(accountId);
  assert.equal(await fx.store.getWebSession(old.idHash), null);
});

void test('deleting the account deletes its sessions', async () => {
  const s = await manager.start(accountId);
  await fx.store.deleteAccount('alice@example.org');
  assert.equal(await fx.store.getWebSession(s.idHash), null);
});
