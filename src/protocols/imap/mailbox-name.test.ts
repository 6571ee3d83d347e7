import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noSuchMailbox } from './mailbox-name.js';

void test('a missing mailbox is NONEXISTENT; a name the store can never hold is CANNOT, saying why', () => {
  const missing = noSuchMailbox('Nope');
  assert.deepEqual([missing.code?.name, missing.message], ['NONEXISTENT', 'Mailbox does not exist']);
  for (const [name, text] of [
    ['', 'Empty mailbox name'],
    ['/Leading', 'Empty level in mailbox name'],
    ['a/..', '"." or ".." level in mailbox name'],
    ['x*', 'Wildcard in mailbox name'],
    ['x'.repeat(1001), 'Mailbox name too long'],
    // The store's rule refuses control characters too (CREATE says CANNOT for them as well).
    ['a\u0001b', 'Control character in mailbox name'],
  ]) {
    const no = noSuchMailbox(name);
    assert.deepEqual([no.code?.name, no.message], ['CANNOT', text], JSON.stringify(name.slice(0, 20)));
  }
});
