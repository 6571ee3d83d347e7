// `postern mailbox acl/share/unshare`: the administrator's view of a mailbox's RFC 4314 ACL,
// the same rows IMAP SETACL writes (a share given here is what the grantee's LIST then shows).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fails, ok, postern, tempDir } from './cli-harness.js';

void test('mailbox share, acl and unshare: replace, add, remove, refuse the owner and bad rights', async (t) => {
  const dir = await tempDir(t);
  ok(postern(dir, ['init', '--domain', 'example.test']));
  ok(postern(dir, ['user', 'add', 'a@example.test', '--password', 'first-pass']));
  ok(postern(dir, ['user', 'add', 'b@example.test', '--password', 'second-pass']));
  assert.equal(
    ok(postern(dir, ['mailbox', 'share', 'a@example.test', 'INBOX', 'B@example.test', 'lr'])),
    'b@example.test on a@example.test INBOX: lr\n',
  );
  // "c" is "k" and "d" is "x t e" (RFC 4314 §2.1.1); both are shown with their members.
  assert.equal(
    ok(postern(dir, ['mailbox', 'share', 'a@example.test', 'INBOX', 'b@example.test', '+swd'])),
    'b@example.test on a@example.test INBOX: lrswxted\n',
  );
  ok(postern(dir, ['mailbox', 'share', 'a@example.test', 'INBOX', 'anyone', 'l']));
  const acl = JSON.parse(ok(postern(dir, ['mailbox', 'acl', 'a@example.test', 'INBOX', '--json']))) as Array<{
    identifier: string;
    rights: string;
  }>;
  assert.deepEqual(acl, [
    { identifier: 'a@example.test', rights: 'lrswipkxteacd' },
    { identifier: 'anyone', rights: 'l' },
    { identifier: 'b@example.test', rights: 'lrswxted' },
  ]);
  assert.match(
    fails(postern(dir, ['mailbox', 'share', 'a@example.test', 'INBOX', 'b@example.test', 'lrQ'])),
    /invalid rights/,
  );
  assert.match(
    fails(postern(dir, ['mailbox', 'share', 'a@example.test', 'INBOX', 'a@example.test', 'l'])),
    /owner/,
  );
  assert.match(
    fails(postern(dir, ['mailbox', 'share', 'a@example.test', 'Nowhere', 'anyone', 'l'])),
    /no such mailbox/,
  );
  assert.equal(
    ok(postern(dir, ['mailbox', 'unshare', 'a@example.test', 'INBOX', 'b@example.test'])),
    'b@example.test on a@example.test INBOX: removed\n',
  );
  assert.equal(
    ok(postern(dir, ['mailbox', 'share', 'a@example.test', 'INBOX', 'anyone', '--', '-l'])),
    'anyone on a@example.test INBOX: no rights\n',
  );
  assert.match(
    ok(postern(dir, ['mailbox', 'acl', 'a@example.test', 'INBOX'])),
    /^IDENTIFIER\s+RIGHTS\na@example\.test\s+lrswipkxteacd\n$/,
  );
});
