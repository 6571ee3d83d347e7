import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildConfig, NO_LISTENERS } from '../config/load.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { openStore } from '../store/open-store.js';
import type { MailStore } from '../store/types.js';
import { Authenticator } from './authenticator.js';
import { AuthFailureTracker } from './failure-tracker.js';
import { hashPassword } from './password.js';

let dir: string;
let store: MailStore;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'postern-auth-'));
  const config = buildConfig({
    hostname: 'mail.example.test',
    dataDir: dir,
    listen: NO_LISTENERS,
    log: { level: 'fatal' },
  });
  store = (await openStore(config)).store;
  await store.createDomain('example.test');
  await store.createAccount({ address: 'alice@example.test', passwordHash: await hashPassword('alice-pw') });
});

after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function make(delay: number, banAfter = 10): Authenticator {
  const limits = { ...DEFAULT_LIMITS, authFailureDelay: delay, authFailuresBeforeBan: banAfter };
  return new Authenticator({ store, limits, tracker: new AuthFailureTracker({ limits }) });
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
