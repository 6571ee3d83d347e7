import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexOfSorted, lowerBound } from './sorted.js';

void test('lowerBound and indexOfSorted over ascending numbers', () => {
  const xs = [2, 4, 4, 9, 15];
  assert.deepEqual(
    [0, 2, 3, 4, 5, 9, 15, 16].map((v) => lowerBound(xs, v)),
    [0, 0, 1, 1, 3, 3, 4, 5],
  );
  assert.equal(indexOfSorted(xs, 9), 3);
  assert.equal(indexOfSorted(xs, 10), -1);
  assert.equal(indexOfSorted(xs, 100), -1);
  assert.equal(lowerBound([], 1), 0);
  assert.equal(indexOfSorted([], 1), -1);
});
