import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openStore } from '../app/open-store.js';
import { buildConfig, NO_LISTENERS } from '../config/load.js';
import { isStoreError } from '../core/errors.js';
import type { MailStore } from '../store/types.js';
import {
  APP_PASSWORD_ALPHABET,
  APP_PASSWORD_LETTERS,
  cleanAppPasswordLabel,
  generateAppPasswordSecret,
  hashAppPasswordSecret,
  issueAppPassword,
  listAppPasswords,
  matchAppPassword,
  normalizeAppPasswordSecret,
  revokeAppPassword,
} from './app-passwords.js';

let dir: string;
let store: MailStore;
let accountId: number;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'postern-apppw-'));
  const config = buildConfig({
    hostname: 'mail.example.test',
    dataDir: dir,
    listen: NO_LISTENERS,
    log: { level: 'fatal' },
  });
  store = (await openStore(config)).store;
  await store.createDomain('example.test');
  accountId = (await store.createAccount({ address: 'alice@example.test', passwordHash: 'x' })).id;
});

after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

void test('a secret is 6 groups of 5 unambiguous lower-case letters, at least 128 bits', () => {
  const bits = APP_PASSWORD_LETTERS * Math.log2(APP_PASSWORD_ALPHABET.length);
  assert.ok(bits >= 128, `${bits} bits`);
  assert.equal(new Set(APP_PASSWORD_ALPHABET).size, APP_PASSWORD_ALPHABET.length);
  for (const ambiguous of 'ilo0123456789') assert.ok(!APP_PASSWORD_ALPHABET.includes(ambiguous), ambiguous);
  const seen = new Set<string>();
  const counts = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const s = generateAppPasswordSecret();
    assert.match(s, /^[a-z]{5}(-[a-z]{5}){5}$/);
    for (const c of s.replace(/-/g, '')) {
      assert.ok(APP_PASSWORD_ALPHABET.includes(c), c);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    seen.add(s);
  }
  assert.equal(seen.size, 400);
  // 12,000 letters: every one of the 23 turns up (about 520 each; none missing by chance).
  assert.equal(counts.size, APP_PASSWORD_ALPHABET.length);
});

void test('typing: spaces, hyphens and case are ignored; anything else is not an app password', () => {
  const s = generateAppPasswordSecret();
  const letters = s.replace(/-/g, '');
  assert.equal(normalizeAppPasswordSecret(s), letters);
  assert.equal(normalizeAppPasswordSecret(letters), letters);
  assert.equal(normalizeAppPasswordSecret(s.replace(/-/g, ' ').toUpperCase()), letters);
  assert.equal(
    normalizeAppPasswordSecret(' ' + letters.slice(0, 1).toUpperCase() + letters.slice(1)),
    letters,
  );
  assert.equal(normalizeAppPasswordSecret(letters.slice(1)), null); // 29 letters
  assert.equal(normalizeAppPasswordSecret(letters + 'a'), null); // 31
  assert.equal(normalizeAppPasswordSecret('i' + letters.slice(1)), null); // not in the alphabet
  assert.equal(normalizeAppPasswordSecret('3' + letters.slice(1)), null);
  assert.equal(normalizeAppPasswordSecret('-'.repeat(100) + letters), null); // bounded
  assert.equal(normalizeAppPasswordSecret('alice-pw'), null);
});

void test('the hash: SHA-256 with a context, of the normalized secret; match compares every candidate', () => {
  const a = generateAppPasswordSecret();
  const b = generateAppPasswordSecret();
  const ha = hashAppPasswordSecret(normalizeAppPasswordSecret(a)!);
  assert.match(ha, /^sha256:[A-Za-z0-9_-]{43}$/);
  assert.equal(hashAppPasswordSecret(normalizeAppPasswordSecret(a.toUpperCase())!), ha);
  assert.ok(!ha.includes(normalizeAppPasswordSecret(a)!));
  const hb = hashAppPasswordSecret(normalizeAppPasswordSecret(b)!);
  const candidates = [
    { id: 1, secretHash: 'garbage' },
    { id: 2, secretHash: hb },
    { id: 3, secretHash: ha },
  ];
  assert.equal(matchAppPassword(candidates, a)?.id, 3);
  assert.equal(matchAppPassword(candidates, b.replace(/-/g, ' '))?.id, 2);
  assert.equal(matchAppPassword(candidates, generateAppPasswordSecret()), null);
  assert.equal(matchAppPassword(candidates, 'alice-pw'), null);
  assert.equal(matchAppPassword([], a), null);
});

void test('labels: trimmed, bounded, printable on one line', () => {
  assert.equal(cleanAppPasswordLabel('  Zoé’s phone  '), 'Zoé’s phone');
  assert.equal(cleanAppPasswordLabel('📱'.repeat(64)), '📱'.repeat(64));
  for (const bad of [
    '',
    '   ',
    'x'.repeat(65),
    '📱'.repeat(65),
    'a\tb',
    'a\nb',
    'a\u0000b',
    'evil\u202eenohp',
    'a\u2028b',
  ]) {
    assert.throws(
      () => cleanAppPasswordLabel(bad),
      (err: unknown) => isStoreError(err, 'INVALID_ARGUMENT'),
      JSON.stringify(bad),
    );
  }
});

void test('issue, list, revoke through the store: only the hash is kept, the secret matches it', async () => {
  const { appPassword, secret } = await issueAppPassword(store, accountId, '  Phone ');
  assert.equal(appPassword.label, 'Phone');
  assert.equal(appPassword.accountId, accountId);
  const credentials = await store.appPasswordCredentials(accountId);
  const mine = credentials.find((c) => c.id === appPassword.id);
  assert.ok(mine !== undefined);
  assert.equal(mine.secretHash, hashAppPasswordSecret(normalizeAppPasswordSecret(secret)!));
  assert.ok(!JSON.stringify(credentials).includes(secret.replace(/-/g, '')));
  assert.equal(matchAppPassword(credentials, secret)?.id, appPassword.id);
  const second = await issueAppPassword(store, accountId, 'Laptop');
  assert.notEqual(second.secret, secret);
  assert.deepEqual(
    (await listAppPasswords(store, accountId)).slice(0, 2).map((p) => p.label),
    ['Laptop', 'Phone'],
  );
  assert.equal(await revokeAppPassword(store, accountId, appPassword.id), true);
  assert.equal(await revokeAppPassword(store, accountId, appPassword.id), false);
  assert.equal(matchAppPassword(await store.appPasswordCredentials(accountId), secret), null);
  await assert.rejects(issueAppPassword(store, accountId, ''), (err: unknown) =>
    isStoreError(err, 'INVALID_ARGUMENT'),
  );
  await assert.rejects(issueAppPassword(store, 987654, 'Phone'), (err: unknown) =>
    isStoreError(err, 'NOT_FOUND'),
  );
});
