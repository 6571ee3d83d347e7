import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniqueUids } from './uid-set.js';
import { nextUidValidity } from './uid-validity.js';

void test('uniqueUids keeps positive integers, once each, ascending', () => {
  assert.deepEqual(uniqueUids([5, 3, 5, 0, -1, 1.5, Number.NaN, 2 ** 53, 3, 1]), [1, 3, 5]);
  // The ascending fast path: a copy, never the caller's array; a repeat or a bad value leaves it.
  const sorted = [1, 2, 7, 9];
  const copy = uniqueUids(sorted);
  assert.deepEqual(copy, sorted);
  assert.notEqual(copy, sorted);
  assert.deepEqual(uniqueUids([1, 2, 2, 3]), [1, 2, 3]);
  assert.deepEqual(uniqueUids([1, 2, 0]), [1, 2]);
  assert.deepEqual(uniqueUids([]), []);
  assert.deepEqual(uniqueUids([]), []);
});

void test('UIDVALIDITY increases, is never below the Unix time, and stays a 32-bit value', () => {
  const now = 1_800_000_000_000;
  assert.equal(nextUidValidity(0, now), 1_800_000_000);
  assert.equal(nextUidValidity(1_800_000_000, now), 1_800_000_001);
  assert.equal(nextUidValidity(1_900_000_000, now), 1_900_000_001);
  assert.throws(() => nextUidValidity(0xffffffff, now), /exhausted/);
});
