import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniqueUids } from './uid-set.js';
import { nextUidValidity } from './uid-validity.js';

void test('uniqueUids keeps positive integers, once each, ascending', () => {
  assert.deepEqual(uniqueUids([5, 3, 5, 0, -1, 1.5, Number.NaN, 2 ** 53, 3, 1]), [1, 3, 5]);
  assert.deepEqual(uniqueUids([]), []);
});

void test('UIDVALIDITY increases, is never below the Unix time, and stays a 32-bit value', () => {
  const now = 1_800_000_000_000;
  assert.equal(nextUidValidity(0, now), 1_800_000_000);
  assert.equal(nextUidValidity(1_800_000_000, now), 1_800_000_001);
  assert.equal(nextUidValidity(1_900_000_000, now), 1_900_000_001);
  assert.throws(() => nextUidValidity(0xffffffff, now), /exhausted/);
});
