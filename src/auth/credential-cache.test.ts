import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CredentialCache } from './credential-cache.js';

const alice = { id: 1, address: 'alice@example.test', passwordHash: '$scrypt$ln=15,r=8,p=1$AAAA$BBBB' };
const pw = (s: string): Buffer => Buffer.from(s, 'utf8');

void test('a remembered password hits; another password, hash, id or address does not', () => {
  const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 10 });
  assert.equal(cache.has(alice, pw('secret')), false, 'cold');
  cache.remember(alice, pw('secret'));
  assert.equal(cache.has(alice, pw('secret')), true);
  assert.equal(cache.has(alice, pw('Secret')), false);
  assert.equal(cache.has({ ...alice, passwordHash: '$scrypt$ln=15,r=8,p=1$CCCC$BBBB' }, pw('secret')), false);
  assert.equal(cache.has({ ...alice, id: 2 }, pw('secret')), false, 're-created account');
  assert.equal(cache.has({ ...alice, address: 'bob@example.test' }, pw('secret')), false);
});

void test('fields are framed: moving bytes between hash and password never collides', () => {
  const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 10 });
  cache.remember({ ...alice, passwordHash: 'ab' }, pw('c'));
  assert.equal(cache.has({ ...alice, passwordHash: 'a' }, pw('bc')), false);
  assert.equal(cache.has({ ...alice, passwordHash: 'abc' }, pw('')), false);
});

void test('an entry expires ttl after its verification; hits do not extend it', () => {
  let now = 1_000_000;
  const cache = new CredentialCache({ ttlMs: 10_000, maxEntries: 10, now: () => now });
  cache.remember(alice, pw('secret'));
  now += 9_999;
  assert.equal(cache.has(alice, pw('secret')), true);
  now += 1;
  assert.equal(cache.has(alice, pw('secret')), false, 'expired at ttl');
  assert.equal(cache.size, 0, 'the expired entry is dropped');
});

void test('size is bounded; the least recently used entry goes first', () => {
  const cache = new CredentialCache({ ttlMs: 60_000, maxEntries: 3 });
  const user = (id: number): typeof alice => ({ ...alice, id });
  for (const id of [1, 2, 3]) cache.remember(user(id), pw('p'));
  assert.equal(cache.has(user(1), pw('p')), true); // 1 is now the most recently used
  cache.remember(user(4), pw('p'));
  assert.equal(cache.size, 3);
  assert.equal(cache.has(user(2), pw('p')), false, 'evicted');
  for (const id of [1, 3, 4]) assert.equal(cache.has(user(id), pw('p')), true, `user ${id} kept`);
});

void test('ttl 0 or size 0 turns the cache off', () => {
  for (const opts of [
    { ttlMs: 0, maxEntries: 10 },
    { ttlMs: 60_000, maxEntries: 0 },
  ]) {
    const cache = new CredentialCache(opts);
    assert.equal(cache.enabled, false);
    cache.remember(alice, pw('secret'));
    assert.equal(cache.has(alice, pw('secret')), false);
    assert.equal(cache.size, 0);
  }
});

void test('the password is not kept: entries are 32-byte MACs under a per-process random key', () => {
  const a = new CredentialCache({ ttlMs: 60_000, maxEntries: 10 });
  const b = new CredentialCache({ ttlMs: 60_000, maxEntries: 10 });
  a.remember(alice, pw('a-very-recognisable-password'));
  b.remember(alice, pw('a-very-recognisable-password'));
  const keysOf = (c: CredentialCache): string[] => [
    ...(c as unknown as { entries: Map<string, number> }).entries.keys(),
  ];
  const [ka] = keysOf(a);
  const [kb] = keysOf(b);
  assert.equal(Buffer.from(ka!, 'base64').length, 32);
  assert.notEqual(ka, kb, 'different keys give different MACs');
  assert.ok(!ka!.includes('recognisable'));
});
