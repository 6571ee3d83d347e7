import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError } from '../../core/errors.js';
import {
  applyFlagUpdate,
  FLAG_DELETED,
  FLAG_SEEN,
  flagList,
  isValidKeyword,
  MAX_KEYWORDS_PER_MESSAGE,
  parseFlags,
  sameFlags,
} from './flags.js';

void test('system flags are case-insensitive and normalised; \\Recent is dropped', () => {
  const p = parseFlags(['\\SEEN', '\\deleted', '\\Recent', '\\Seen']);
  assert.equal(p.bits, FLAG_SEEN | FLAG_DELETED);
  assert.deepEqual(p.keywords, []);
  assert.deepEqual(flagList(p.bits, null), ['\\Seen', '\\Deleted']);
});

void test('unknown system flags and non-atom keywords are refused', () => {
  for (const bad of [
    '\\Bogus',
    'a b',
    'x(',
    'x)',
    'x{',
    'x%',
    'x*',
    'x"',
    'x\\',
    'x]',
    '',
    'é',
    'a\u0001',
    'a\u007f',
  ]) {
    assert.throws(
      () => parseFlags([bad]),
      (e) => isStoreError(e, 'INVALID_ARGUMENT'),
      JSON.stringify(bad),
    );
  }
  assert.equal(isValidKeyword('$Forwarded'), true);
  assert.equal(isValidKeyword('__proto__'), true);
  assert.equal(isValidKeyword('x'.repeat(201)), false);
});

void test('keywords dedupe case-insensitively, first spelling wins', () => {
  const p = parseFlags(['$Label1', '$label1', 'Work', '__proto__']);
  assert.deepEqual(p.keywords, ['$Label1', 'Work', '__proto__']);
  assert.deepEqual(flagList(FLAG_SEEN, p.keywords.join(' ')), ['\\Seen', '$Label1', 'Work', '__proto__']);
});

void test('too many keywords are refused', () => {
  const many = Array.from({ length: MAX_KEYWORDS_PER_MESSAGE + 1 }, (_, i) => `k${i}`);
  assert.throws(
    () => parseFlags(many),
    (e) => isStoreError(e, 'INVALID_ARGUMENT'),
  );
});

void test('add, remove and replace', () => {
  const cur = { bits: FLAG_SEEN, keywords: ['A', 'b'] };
  const added = applyFlagUpdate(cur, 'add', { bits: FLAG_DELETED, keywords: ['a', 'C'] });
  assert.deepEqual(added, { bits: FLAG_SEEN | FLAG_DELETED, keywords: ['A', 'b', 'C'] });
  const removed = applyFlagUpdate(added, 'remove', { bits: FLAG_SEEN, keywords: ['B'] });
  assert.deepEqual(removed, { bits: FLAG_DELETED, keywords: ['A', 'C'] });
  const replaced = applyFlagUpdate(removed, 'replace', { bits: 0, keywords: ['z'] });
  assert.deepEqual(replaced, { bits: 0, keywords: ['z'] });
  assert.equal(sameFlags({ bits: 1, keywords: ['a', 'B'] }, { bits: 1, keywords: ['b', 'A'] }), true);
  assert.equal(sameFlags({ bits: 1, keywords: ['a'] }, { bits: 3, keywords: ['a'] }), false);
});
