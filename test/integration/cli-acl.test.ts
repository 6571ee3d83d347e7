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

void test('public folders: mailbox create/delete --public, share/acl/unshare --public, quota on .shared@', async (t) => {
  const dir = await tempDir(t);
  ok(postern(dir, ['init', '--domain', 'example.test']));
  ok(postern(dir, ['user', 'add', 'a@example.test', '--password', 'first-pass']));
  // The hidden owner's address is no address a user can have.
  assert.match(
    fails(postern(dir, ['user', 'add', '.shared@example.test', '--password', 'first-pass'])),
    /not a valid address/,
  );
  assert.match(
    fails(postern(dir, ['mailbox', 'acl', '--public', 'example.test', 'Support'])),
    /no public folders/,
  );
  assert.match(
    fails(postern(dir, ['mailbox', 'create', '--public', 'nowhere.test', 'Support'])),
    /no such domain/,
  );
  assert.equal(
    ok(postern(dir, ['mailbox', 'create', '--public', 'example.test', 'Support'])),
    'created Support (public folders of example.test)\n',
  );
  assert.match(
    fails(postern(dir, ['mailbox', 'create', '--public', 'example.test', 'Support'])),
    /already has/,
  );
  ok(postern(dir, ['mailbox', 'create', '--public', 'example.test', 'Support/2027']));
  assert.equal(
    ok(postern(dir, ['mailbox', 'share', '--public', 'example.test', 'Support', 'anyone', 'lr'])),
    'anyone on public folders of example.test Support: lr\n',
  );
  ok(
    postern(dir, ['mailbox', 'share', '--public', 'example.test', 'Support', 'a@example.test', 'lrswipkxte']),
  );
  const status = JSON.parse(
    ok(postern(dir, ['mailbox', 'status', '--public', 'example.test', '--json'])),
  ) as Array<{
    name: string;
  }>;
  assert.deepEqual(
    status.map((m) => m.name),
    ['Support', 'Support/2027'],
  );
  // No owner row: the hidden owner is not shown.
  assert.deepEqual(
    JSON.parse(ok(postern(dir, ['mailbox', 'acl', '--public', 'example.test', 'Support', '--json']))),
    [
      { identifier: 'a@example.test', rights: 'lrswipkxtecd' },
      { identifier: 'anyone', rights: 'lr' },
    ],
  );
  assert.match(
    fails(postern(dir, ['mailbox', 'share', '--public', 'example.test', 'INBOX', 'anyone', 'lr'])),
    /no such mailbox/,
  );
  assert.equal(
    ok(postern(dir, ['mailbox', 'unshare', '--public', 'example.test', 'Support', 'anyone'])),
    'anyone on public folders of example.test Support: removed\n',
  );
  assert.equal(
    ok(postern(dir, ['user', 'quota', '.shared@example.test', '100M'])),
    'quota of .shared@example.test: 100 MB\n',
  );
  // user list names the hidden owner for what it is.
  assert.match(ok(postern(dir, ['user', 'list'])), /^\.shared@example\.test +0 B +100 MB +public folders$/m);
  const listed = JSON.parse(ok(postern(dir, ['user', 'list', '--json']))) as Array<Record<string, unknown>>;
  assert.equal(listed.find((u) => u.address === '.shared@example.test')?.publicFolders, true);
  assert.equal(listed.find((u) => u.address === 'a@example.test')?.publicFolders, undefined);
  assert.equal(
    ok(postern(dir, ['mailbox', 'delete', '--public', 'example.test', 'Support'])),
    'deleted Support (public folders of example.test)\n',
  );
  assert.match(
    fails(postern(dir, ['mailbox', 'acl', '--public', 'example.test', 'Support/2027'])),
    /no such mailbox/,
  );
  // The domain goes only once its public folders have gone with their owner.
  assert.match(
    fails(postern(dir, ['domain', 'del', 'example.test'])),
    /still has 2 user\(s\), one of them \.shared@example\.test with the public folders/,
  );
  ok(postern(dir, ['user', 'del', '.shared@example.test']));
  assert.match(
    fails(postern(dir, ['mailbox', 'acl', '--public', 'example.test', 'Support'])),
    /no public folders/,
  );
  // A user's own mailboxes: the same commands without --public.
  assert.equal(
    ok(postern(dir, ['mailbox', 'create', 'a@example.test', 'Projects'])),
    'created Projects (a@example.test)\n',
  );
  assert.equal(
    ok(postern(dir, ['mailbox', 'delete', 'a@example.test', 'Projects'])),
    'deleted Projects (a@example.test)\n',
  );
});
