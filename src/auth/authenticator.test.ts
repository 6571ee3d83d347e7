import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildConfig, NO_LISTENERS } from '../config/load.js';
import { DEFAULT_AUTH } from '../config/schema.js';
import type { AuthSettings } from '../config/types.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { openStore } from '../app/open-store.js';
import { SQLITE_FILE_NAME } from '../store/sqlite/sqlite-store.js';
import type { MailStore } from '../store/types.js';
import { Authenticator } from './authenticator.js';
import { AuthFailureTracker } from './failure-tracker.js';
import { hashPassword, scryptRuns } from './password.js';

let dir: string;
let store: MailStore;
/** A second connection to the same database, as the CLI or another worker would have. */
let other: MailStore;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'postern-auth-'));
  const config = buildConfig({
    hostname: 'mail.example.test',
    dataDir: dir,
    listen: NO_LISTENERS,
    log: { level: 'fatal' },
  });
  store = (await openStore(config)).store;
  other = (await openStore(config)).store;
  await store.createDomain('example.test');
  await store.createAccount({ address: 'alice@example.test', passwordHash: await hashPassword('alice-pw') });
});

after(async () => {
  await other.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function make(
  delay: number,
  banAfter = 10,
  opts: { auth?: Partial<AuthSettings>; now?: () => number } = {},
): Authenticator {
  const limits = { ...DEFAULT_LIMITS, authFailureDelay: delay, authFailuresBeforeBan: banAfter };
  return new Authenticator({
    store,
    limits,
    tracker: new AuthFailureTracker({ limits }),
    auth: { ...DEFAULT_AUTH, ...opts.auth },
    now: opts.now,
  });
}

/** Logs in and returns the result with the number of scrypt runs it cost. */
async function login(
  auth: Authenticator,
  username: string,
  password: string,
  remoteAddress = '127.0.0.9',
): Promise<{ result: string; scrypt: number }> {
  const before = scryptRuns();
  const r = await auth.authenticate({ username, password, remoteAddress, protocol: 'imap' });
  return { result: r.ok ? 'ok' : r.reason, scrypt: scryptRuns() - before };
}

async function addUser(address: string, password: string): Promise<void> {
  await store.createAccount({ address, passwordHash: await hashPassword(password) });
}

void test('right password: ok with the account (user name case-insensitive)', async () => {
  const auth = make(0);
  const r = await auth.authenticate({
    username: 'Alice@Example.TEST',
    password: 'alice-pw',
    remoteAddress: '127.0.0.1',
    protocol: 'imap',
  });
  assert.equal(r.ok, true);
  assert.equal(r.ok && r.account.address, 'alice@example.test');
});

void test('wrong password and unknown user both answer invalid, after the delay, and count', async () => {
  const auth = make(150);
  let t = Date.now();
  const wrong = await auth.authenticate({
    username: 'alice@example.test',
    password: 'nope',
    remoteAddress: '127.0.0.2',
    protocol: 'smtp',
  });
  assert.deepEqual(wrong, { ok: false, reason: 'invalid' });
  assert.ok(Date.now() - t >= 145, 'failure delayed');
  t = Date.now();
  const unknown = await auth.authenticate({
    username: 'bob@example.test',
    password: 'x',
    remoteAddress: '127.0.0.2',
    protocol: 'pop3',
  });
  assert.deepEqual(unknown, { ok: false, reason: 'invalid' });
  assert.ok(Date.now() - t >= 145);
  assert.equal(auth.tracker.failureCount('127.0.0.2'), 2);
});

void test('after the ban threshold the address is banned even with the right password', async () => {
  const auth = make(0, 3);
  for (let i = 0; i < 3; i++) {
    const r = await auth.authenticate({
      username: 'alice@example.test',
      password: `bad${i}`,
      remoteAddress: '127.0.0.3',
      protocol: 'imap',
    });
    assert.deepEqual(r, { ok: false, reason: 'invalid' });
  }
  const r = await auth.authenticate({
    username: 'alice@example.test',
    password: 'alice-pw',
    remoteAddress: '127.0.0.3',
    protocol: 'smtp',
  });
  assert.deepEqual(r, { ok: false, reason: 'banned' });
  const other = await auth.authenticate({
    username: 'alice@example.test',
    password: 'alice-pw',
    remoteAddress: '127.0.0.4',
    protocol: 'smtp',
  });
  assert.equal(other.ok, true, 'another address is not affected');
});

void test('oversized user names are not looked up', async () => {
  const auth = make(0);
  const r = await auth.authenticate({
    username: 'a'.repeat(10_000),
    password: 'x',
    remoteAddress: '127.0.0.5',
    protocol: 'imap',
  });
  assert.deepEqual(r, { ok: false, reason: 'invalid' });
});

void test('cache: a repeated login costs no scrypt run; the first one and a wrong password do', async () => {
  await addUser('cache1@example.test', 'pw-1');
  const auth = make(0);
  assert.deepEqual(await login(auth, 'cache1@example.test', 'pw-1'), { result: 'ok', scrypt: 1 });
  assert.deepEqual(await login(auth, 'CACHE1@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
  assert.deepEqual(await login(auth, 'cache1@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
  // A wrong password with a warm cache: refused, verified for real, counted for the ban.
  assert.deepEqual(await login(auth, 'cache1@example.test', 'pw-2', '127.0.0.10'), {
    result: 'invalid',
    scrypt: 1,
  });
  assert.equal(auth.tracker.failureCount('127.0.0.10'), 1);
  // ... and it evicted nothing: the right password still hits.
  assert.deepEqual(await login(auth, 'cache1@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
});

void test('cache: failures are never cached, and a warm cache does not stop the ban', async () => {
  await addUser('cache2@example.test', 'pw-1');
  const auth = make(0, 3);
  assert.equal((await login(auth, 'cache2@example.test', 'pw-1', '127.0.0.11')).result, 'ok');
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await login(auth, 'cache2@example.test', 'wrong', '127.0.0.11'), {
      result: 'invalid',
      scrypt: 1,
    });
  }
  assert.deepEqual(await login(auth, 'cache2@example.test', 'pw-1', '127.0.0.11'), {
    result: 'banned',
    scrypt: 0,
  });
  assert.deepEqual(await login(auth, 'cache2@example.test', 'pw-1', '127.0.0.12'), {
    result: 'ok',
    scrypt: 0,
  });
});

void test('cache: an entry expires after auth.cache_ttl', async () => {
  await addUser('cache3@example.test', 'pw-1');
  let now = Date.now();
  const auth = make(0, 10, { auth: { cacheTtl: 60 }, now: () => now });
  assert.deepEqual(await login(auth, 'cache3@example.test', 'pw-1'), { result: 'ok', scrypt: 1 });
  now += 59_000;
  assert.deepEqual(await login(auth, 'cache3@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
  now += 1_000;
  assert.deepEqual(await login(auth, 'cache3@example.test', 'pw-1'), { result: 'ok', scrypt: 1 });
  assert.deepEqual(await login(auth, 'cache3@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
});

void test('cache: a password changed through another connection takes effect at the next login', async () => {
  await addUser('cache4@example.test', 'old-pw');
  const auth = make(0);
  assert.equal((await login(auth, 'cache4@example.test', 'old-pw')).result, 'ok');
  assert.deepEqual(await login(auth, 'cache4@example.test', 'old-pw'), { result: 'ok', scrypt: 0 });
  await other.setPasswordHash('cache4@example.test', await hashPassword('new-pw'));
  assert.deepEqual(await login(auth, 'cache4@example.test', 'old-pw'), { result: 'invalid', scrypt: 1 });
  assert.deepEqual(await login(auth, 'cache4@example.test', 'new-pw'), { result: 'ok', scrypt: 1 });
  assert.deepEqual(await login(auth, 'cache4@example.test', 'new-pw'), { result: 'ok', scrypt: 0 });
  // Setting the same password again stores a new salt: the entry misses once, then hits.
  await other.setPasswordHash('cache4@example.test', await hashPassword('new-pw'));
  assert.deepEqual(await login(auth, 'cache4@example.test', 'new-pw'), { result: 'ok', scrypt: 1 });
});

void test('cache: a deleted account is refused with a warm cache, and so is one made again', async () => {
  await addUser('cache5@example.test', 'pw-1');
  const auth = make(0);
  assert.equal((await login(auth, 'cache5@example.test', 'pw-1')).result, 'ok');
  assert.deepEqual(await login(auth, 'cache5@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
  await other.deleteAccount('cache5@example.test');
  // Unknown user: a dummy verification, as for any unknown user.
  assert.deepEqual(await login(auth, 'cache5@example.test', 'pw-1'), { result: 'invalid', scrypt: 1 });
  await other.createAccount({ address: 'cache5@example.test', passwordHash: await hashPassword('pw-2') });
  assert.deepEqual(await login(auth, 'cache5@example.test', 'pw-1'), { result: 'invalid', scrypt: 1 });
  assert.deepEqual(await login(auth, 'cache5@example.test', 'pw-2'), { result: 'ok', scrypt: 1 });
});

void test('cache: a disabled account is refused with a warm cache, and served again once enabled', async () => {
  await addUser('cache6@example.test', 'pw-1');
  const auth = make(0);
  assert.equal((await login(auth, 'cache6@example.test', 'pw-1')).result, 'ok');
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path.join(dir, SQLITE_FILE_NAME));
  try {
    db.prepare("UPDATE accounts SET state = 'disabled' WHERE address = ?").run('cache6@example.test');
    assert.deepEqual(await login(auth, 'cache6@example.test', 'pw-1'), { result: 'disabled', scrypt: 0 });
    assert.deepEqual(await login(auth, 'cache6@example.test', 'pw-2'), { result: 'invalid', scrypt: 1 });
    db.prepare("UPDATE accounts SET state = 'active' WHERE address = ?").run('cache6@example.test');
    assert.deepEqual(await login(auth, 'cache6@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
  } finally {
    db.close();
  }
});

void test('cache off (auth.cache_ttl = 0): every login runs scrypt', async () => {
  await addUser('cache7@example.test', 'pw-1');
  const auth = make(0, 10, { auth: { cacheTtl: 0 } });
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await login(auth, 'cache7@example.test', 'pw-1'), { result: 'ok', scrypt: 1 });
  }
});

void test('unknown users cost one dummy scrypt run at auth.scrypt_log_n, cache or not', async () => {
  const auth = make(0, 10, { auth: { scryptLogN: 11 } });
  for (let i = 0; i < 2; i++) {
    // The first call also makes the dummy hash of that cost (one more run).
    const r = await login(auth, 'nobody@example.test', 'pw-1', '127.0.0.13');
    assert.equal(r.result, 'invalid');
    assert.equal(r.scrypt, i === 0 ? 2 : 1);
  }
});
