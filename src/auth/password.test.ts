import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_PASSWORD_BYTES,
  decodePasswordHash,
  hashPassword,
  preparePasswordVerification,
  scryptRuns,
  verifyDummyPassword,
  verifyPassword,
} from './password.js';
import { UsageError } from '../core/errors.js';

void test('hash has the self-describing scrypt format with a 16-byte salt and 32-byte key', async () => {
  const h = await hashPassword('correct horse');
  const parts = h.split('$');
  assert.equal(parts[1], 'scrypt');
  assert.equal(parts[2], 'ln=15,r=8,p=1');
  assert.equal(Buffer.from(parts[3], 'base64').length, 16);
  assert.equal(Buffer.from(parts[4], 'base64').length, 32);
  const again = await hashPassword('correct horse');
  assert.notEqual(h, again, 'salts differ');
});

void test('verify accepts the right password and refuses a wrong one', async () => {
  const h = await hashPassword('s3cret ünïcode');
  assert.equal(await verifyPassword('s3cret ünïcode', h), true);
  assert.equal(await verifyPassword('s3cret ünïcodE', h), false);
  assert.equal(await verifyPassword('', h), false);
});

void test('passwords are NFKC-normalised before hashing', async () => {
  // U+FB01 (ﬁ ligature) normalises to "fi" under NFKC; "é" composed vs decomposed.
  const h = await hashPassword('\uFB01le caf\u00E9');
  assert.equal(await verifyPassword('file cafe\u0301', h), true);
});

void test('length limit: hashing refuses, verifying fails', async () => {
  const long = 'x'.repeat(MAX_PASSWORD_BYTES + 1);
  await assert.rejects(hashPassword(long), UsageError);
  await assert.rejects(hashPassword(''), UsageError);
  const h = await hashPassword('x'.repeat(MAX_PASSWORD_BYTES));
  assert.equal(await verifyPassword('x'.repeat(MAX_PASSWORD_BYTES), h), true);
  assert.equal(await verifyPassword(long, h), false);
  // 342 three-byte characters are 1026 bytes.
  await assert.rejects(hashPassword('€'.repeat(342)), UsageError);
});

void test('malformed or hostile stored hashes never verify and are bounded', async () => {
  const good = await hashPassword('pw');
  const salt = good.split('$')[3];
  const hash = good.split('$')[4];
  for (const bad of [
    '',
    'plain',
    '$scrypt$ln=15,r=8,p=1$' + salt,
    `$scrypt$ln=30,r=8,p=1$${salt}$${hash}`, // cost above the bound
    `$scrypt$ln=15,r=999,p=1$${salt}$${hash}`,
    `$scrypt$ln=0,r=8,p=1$${salt}$${hash}`,
    `$scrypt$ln=15,r=8,p=1$${salt}$not*base64`,
    `$bcrypt$ln=15,r=8,p=1$${salt}$${hash}`,
    `$scrypt$r=8,ln=15,p=1$${salt}$${hash}`,
  ]) {
    assert.equal(decodePasswordHash(bad), null, bad);
    assert.equal(await verifyPassword('pw', bad), false, bad);
  }
  assert.notEqual(decodePasswordHash(good), null);
});

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

void test('an unknown user (dummy verification) costs about as much as a known one', async () => {
  await preparePasswordVerification();
  const h = await hashPassword('known-password');
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < 5; i++) {
    let t = process.hrtime.bigint();
    await verifyPassword('wrong-password', h);
    known.push(Number(process.hrtime.bigint() - t));
    t = process.hrtime.bigint();
    assert.equal(await verifyDummyPassword('wrong-password'), false);
    unknown.push(Number(process.hrtime.bigint() - t));
  }
  const k = median(known);
  const u = median(unknown);
  assert.ok(u < 2 * k && k < 2 * u, `known ${k / 1e6} ms vs unknown ${u / 1e6} ms`);
  // And the cost is real: scrypt with N=2^15, r=8 cannot run in under a millisecond.
  assert.ok(k > 1e6, `verification took only ${k / 1e6} ms`);
});

void test('the cost of new hashes is an option (auth.scrypt_log_n), bounded to 10..20', async () => {
  const h = await hashPassword('pw', { logN: 10 });
  assert.equal(h.split('$')[2], 'ln=10,r=8,p=1');
  assert.equal(await verifyPassword('pw', h), true);
  for (const logN of [9, 21, 12.5]) await assert.rejects(hashPassword('pw', { logN }), UsageError);
});

void test('every scrypt run is counted, and a scheduler decides when verification runs', async () => {
  const h = await hashPassword('pw', { logN: 10 });
  let scheduled = 0;
  const before = scryptRuns();
  const ok = await verifyPassword('pw', h, {
    schedule: (work) => {
      scheduled++;
      return work();
    },
  });
  assert.equal(ok, true);
  assert.equal(scheduled, 1);
  assert.equal(scryptRuns() - before, 1);
});
