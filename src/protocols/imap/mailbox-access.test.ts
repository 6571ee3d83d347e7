import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  flagRight,
  otherUsersName,
  parentName,
  publicName,
  reservedName,
  splitName,
} from './mailbox-access.js';

void test('names split into the personal and Other Users namespaces', () => {
  assert.deepEqual(splitName('INBOX/Projects'), { kind: 'personal', name: 'INBOX/Projects' });
  // Mailbox names are case-sensitive: only "user" itself is the namespace.
  assert.deepEqual(splitName('User/x'), { kind: 'personal', name: 'User/x' });
  assert.deepEqual(splitName('users'), { kind: 'personal', name: 'users' });
  assert.deepEqual(splitName('user'), { kind: 'otherLevel', owner: null });
  assert.deepEqual(splitName('user/Alice@Example.org'), { kind: 'otherLevel', owner: 'Alice@Example.org' });
  assert.deepEqual(splitName('user/Alice@Example.org/inbox/Projects'), {
    kind: 'other',
    owner: 'alice@example.org',
    name: 'INBOX/Projects',
  });
  assert.deepEqual(splitName('user/a@b/Inboxes'), { kind: 'other', owner: 'a@b', name: 'Inboxes' });
  assert.equal(otherUsersName('a@b', 'INBOX/x'), 'user/a@b/INBOX/x');
  assert.equal(parentName('a/b/c'), 'a/b');
  assert.equal(parentName('a'), null);
});

void test('names split into the shared namespace: "shared" and "shared/<name>", case-sensitive', () => {
  assert.deepEqual(splitName('shared'), { kind: 'publicLevel' });
  assert.deepEqual(splitName('shared/Support/2027'), { kind: 'public', name: 'Support/2027' });
  // No INBOX folding here: a public folder is never anyone's INBOX.
  assert.deepEqual(splitName('shared/inbox'), { kind: 'public', name: 'inbox' });
  assert.deepEqual(splitName('Shared/x'), { kind: 'personal', name: 'Shared/x' });
  assert.deepEqual(splitName('shared-docs'), { kind: 'personal', name: 'shared-docs' });
  assert.deepEqual(splitName('user/shared/x'), { kind: 'other', owner: 'shared', name: 'x' });
  assert.equal(publicName('Support'), 'shared/Support');
  assert.equal(reservedName('shared')?.code?.name, 'CANNOT');
  assert.equal(reservedName('shared/mine')?.code?.name, 'CANNOT');
  assert.equal(reservedName('Shared'), null);
});

void test('the "user" level is reserved; flags map to their RFC 4314 rights', () => {
  assert.equal(reservedName('Archive'), null);
  assert.equal(reservedName('user')?.code?.name, 'CANNOT');
  assert.equal(reservedName('user/mine')?.code?.name, 'CANNOT');
  assert.deepEqual(['\\Seen', '\\Deleted', '\\Flagged', '\\Answered', '$Label'].map(flagRight), [
    's',
    't',
    'w',
    'w',
    'w',
  ]);
});
