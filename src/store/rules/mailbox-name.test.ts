import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError } from '../../core/errors.js';
import {
  checkMailboxDeletable,
  checkMailboxRename,
  isInferiorOf,
  mailboxNameProblem,
  normalizeMailboxName,
  parentNames,
} from './mailbox-name.js';

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

void test('mailboxNameProblem names the first problem, in the words IMAP shows (capitalised)', () => {
  assert.equal(mailboxNameProblem('Work/2026'), null);
  assert.equal(mailboxNameProblem(''), 'empty mailbox name');
  assert.equal(mailboxNameProblem('a//b'), 'empty level in mailbox name');
  assert.equal(mailboxNameProblem('a/..'), '"." or ".." level in mailbox name');
  assert.equal(mailboxNameProblem('x%'), 'wildcard in mailbox name');
  assert.equal(mailboxNameProblem('a\u0001b'), 'control character in mailbox name');
  assert.equal(mailboxNameProblem('x'.repeat(1001)), 'mailbox name too long');
  assert.equal(
    mailboxNameProblem(Array.from({ length: 33 }, () => 'a').join('/')),
    'mailbox hierarchy too deep',
  );
  // normalizeMailboxName refuses exactly what mailboxNameProblem names, with that text.
  for (const name of ['a//b', 'x%', '']) {
    assert.throws(
      () => normalizeMailboxName(name),
      (e) => isStoreError(e, 'INVALID_NAME') && (e as Error).message === mailboxNameProblem(name),
    );
  }
});

void test('rename into itself and deleting INBOX are refused', () => {
  assert.throws(
    () => checkMailboxRename('a', 'a/b'),
    (e) => isStoreError(e, 'INVALID_NAME'),
  );
  checkMailboxRename('INBOX', 'INBOX/old'); // INBOX's messages move; the name stays
  checkMailboxRename('a', 'ab');
  assert.throws(
    () => checkMailboxDeletable('INBOX'),
    (e) => isStoreError(e, 'CANNOT_DELETE_INBOX'),
  );
  checkMailboxDeletable('INBOX/sub');
});
