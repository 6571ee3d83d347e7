import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError } from '../../core/errors.js';
import { isInferiorOf, normalizeMailboxName, parentNames } from './mailbox-name.js';

void test('INBOX is case-insensitive, also as a first level; other names keep their case', () => {
  assert.equal(normalizeMailboxName('inbox'), 'INBOX');
  assert.equal(normalizeMailboxName('InBoX/Sub'), 'INBOX/Sub');
  assert.equal(normalizeMailboxName('Work/inbox'), 'Work/inbox');
  assert.equal(normalizeMailboxName('Entwürfe'), 'Entwürfe');
});

void test('invalid names are refused with INVALID_NAME', () => {
  const bad = [
    '',
    '/a',
    'a/',
    'a//b',
    '..',
    'a/../b',
    'a/.',
    'a*',
    'a%',
    'a\u0000b',
    'a\nb',
    'x'.repeat(1001),
  ];
  bad.push(Array.from({ length: 33 }, () => 'a').join('/'));
  bad.push('a\ud800');
  for (const name of bad) {
    assert.throws(
      () => normalizeMailboxName(name),
      (e) => isStoreError(e, 'INVALID_NAME'),
      JSON.stringify(name.slice(0, 20)),
    );
  }
});

void test('parents and inferiors', () => {
  assert.deepEqual(parentNames('a/b/c'), ['a', 'a/b']);
  assert.deepEqual(parentNames('a'), []);
  assert.equal(isInferiorOf('a/b', 'a'), true);
  assert.equal(isInferiorOf('ab', 'a'), false);
  assert.equal(isInferiorOf('a', 'a'), false);
});
