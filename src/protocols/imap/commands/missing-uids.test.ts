import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SequenceSet } from '../../../wire/imap/sequence-set.js';
import { missingUids } from './fetch.js';

const set = (ranges: [number, number][]): SequenceSet => SequenceSet.fromRanges(ranges);

void test('missingUids: the wanted numbers up to top that are not present, as ranges', () => {
  assert.equal(missingUids(set([[1, 10]]), 10, [2, 3, 7]).toString(), '1,4:6,8:10');
  assert.equal(missingUids(set([[1, 10]]), 10, []).toString(), '1:10');
  assert.equal(missingUids(set([[1, 10]]), 10, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).toString(), '');
  // Clipped to top; present numbers outside the wanted ranges are skipped.
  assert.equal(missingUids(set([[5, 100]]), 8, [1, 6, 9, 50]).toString(), '5,7:8');
  assert.equal(
    missingUids(
      set([
        [1, 2],
        [4, 6],
        [9, 9],
      ]),
      20,
      [2, 5, 9],
    ).toString(),
    '1,4,6',
  );
  assert.equal(missingUids(set([[30, 40]]), 20, [1]).toString(), '');
});
