import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SequenceSet, SequenceSetError, parseSequenceSet } from './sequence-set.js';

function resolved(text: string, highest: number): SequenceSet {
  const spec = parseSequenceSet(text);
  assert.equal(spec.kind, 'ranges');
  if (spec.kind !== 'ranges') throw new Error('unreachable');
  return SequenceSet.resolve(spec, highest);
}

void describe('sequence sets', () => {
  void it('parses ranges, single numbers and *', () => {
    assert.deepEqual(parseSequenceSet('1:5,7,9:*'), {
      kind: 'ranges',
      ranges: [
        { from: 1, to: 5 },
        { from: 7, to: 7 },
        { from: 9, to: '*' },
      ],
    });
    assert.deepEqual(parseSequenceSet('$'), { kind: 'saved' });
  });

  void it('resolves * and merges, sorts and reverses ranges', () => {
    const s = resolved('9:*,7,5:1,3,6', 12);
    assert.deepEqual(s.ranges, [
      [1, 7],
      [9, 12],
    ]);
    assert.equal(s.toString(), '1:7,9:12');
    assert.equal(s.size, 11);
    assert.deepEqual([...s], [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12]);
    assert.ok(s.contains(1) && s.contains(7) && s.contains(10) && s.contains(12));
    assert.ok(!s.contains(0) && !s.contains(8) && !s.contains(13));
    // RFC 9051 §9: "n:*" with n above the highest is "highest:n".
    assert.deepEqual(resolved('20:*', 12).ranges, [[12, 20]]);
    assert.ok(resolved('1:*', 0).isEmpty);
  });

  void it('keeps a huge set as ranges', () => {
    const s = resolved('1:4294967295', 4294967295);
    assert.equal(s.ranges.length, 1);
    assert.equal(s.size, 4294967295);
    assert.ok(s.contains(4000000000));
    assert.equal(s.max, 4294967295);
  });

  void it('rejects malformed sets', () => {
    for (const bad of [
      '',
      '0',
      '1,',
      ',1',
      '1::2',
      '1:',
      'a',
      '01',
      '4294967296',
      '1:2:3',
      '$,1',
      '*1',
      ' 1',
    ]) {
      assert.throws(() => parseSequenceSet(bad), SequenceSetError, bad);
    }
    assert.throws(() => parseSequenceSet('1,2,3,4', { maxRanges: 3 }), /too many/);
  });

  void it('builds the compact form from numbers', () => {
    assert.equal(SequenceSet.fromNumbers([5, 3, 4, 1, 9, 10, 11, 4]).toString(), '1,3:5,9:11');
    assert.equal(SequenceSet.fromNumbers([]).toString(), '');
    const big = SequenceSet.fromNumbers(Array.from({ length: 100000 }, (_, i) => i * 2 + 1));
    assert.equal(big.size, 100000);
    assert.ok(big.contains(199999) && !big.contains(199998));
  });
});
