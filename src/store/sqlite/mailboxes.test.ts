import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isStoreError } from '../../core/errors.js';
import { fakeBlob, openFixture, seedAccount, type StoreFixture } from './store-fixture.js';

let fx: StoreFixture;
before(async () => {
  fx = await openFixture();
});
after(async () => {
  await fx.cleanup();
});

async function names(accountId: number): Promise<string[]> {
  return (await fx.store.listMailboxes(accountId)).map((m) => m.name);
}

void test('create: names validated, INBOX case-insensitive, parents created, duplicates refused', async () => {
  const { store } = fx;
  const { accountId } = await seedAccount(store, 'create@example.org');
  await assert.rejects(store.createMailbox(accountId, 'inbox'), (e) => isStoreError(e, 'ALREADY_EXISTS'));
  await assert.rejects(store.createMailbox(accountId, 'a//b'), (e) => isStoreError(e, 'INVALID_NAME'));
  await assert.rejects(store.createMailbox(accountId, '../etc'), (e) => isStoreError(e, 'INVALID_NAME'));
  await assert.rejects(store.createMailbox(999_999, 'x'), (e) => isStoreError(e, 'NOT_FOUND'));
  const deep = await store.createMailbox(accountId, 'Projects/2024/Q1', { specialUse: '\\Archive' });
  assert.equal(deep.specialUse, '\\Archive');
  assert.deepEqual(
    (await names(accountId)).filter((n) => n.startsWith('Projects')),
    ['Projects', 'Projects/2024', 'Projects/2024/Q1'],
  );
  await store.createMailbox(accountId, 'inbox/Child');
  assert.ok((await names(accountId)).includes('INBOX/Child'));
  await store.createMailbox(accountId, 'projects');
  assert.ok((await names(accountId)).includes('projects'), 'other names are case-sensitive');
  assert.equal((await store.getMailbox(accountId, 'InBoX'))?.name, 'INBOX');
  assert.equal(await store.getMailbox(accountId, 'a//b'), null);
});

void test('delete: INBOX refused; children stay; messages released; UIDVALIDITY never reused', async () => {
  const { store } = fx;
  const { accountId, mailbox } = await seedAccount(store, 'delete@example.org');
  await assert.rejects(store.deleteMailbox(accountId, 'Inbox'), (e) =>
    isStoreError(e, 'CANNOT_DELETE_INBOX'),
  );
  await assert.rejects(store.deleteMailbox(accountId, 'Nope'), (e) => isStoreError(e, 'NOT_FOUND'));
  const first = await store.createMailbox(accountId, 'Tmp');
  await store.createMailbox(accountId, 'Tmp/Kid');
  const blob = fakeBlob('to be deleted');
  fx.blobs.remember(blob);
  await store.append({ blob, targets: [{ mailboxId: first.id }] });
  assert.equal((await store.getAccountById(accountId))!.usedBytes, blob.size);
  await store.deleteMailbox(accountId, 'Tmp');
  assert.equal(await store.getMailboxById(first.id), null);
  assert.ok((await names(accountId)).includes('Tmp/Kid'));
  assert.equal((await store.getAccountById(accountId))!.usedBytes, 0);
  await assert.rejects(store.listMessages(first.id), (e) => isStoreError(e, 'NOT_FOUND'));
  const gc = await store.collectGarbage();
  assert.ok(gc.blobsRemoved >= 1);
  assert.ok(fx.blobs.removed.some((r) => r.blobId === blob.blobId));

  const again = await store.createMailbox(accountId, 'Tmp');
  assert.notEqual(again.uidValidity, first.uidValidity);
  assert.ok(again.uidValidity > first.uidValidity);
  assert.equal(again.uidNext, 1);
  // Every mailbox ever created has its own UIDVALIDITY.
  const all = await store.listMailboxes(accountId);
  assert.equal(new Set(all.map((m) => m.uidValidity)).size, all.length);
  assert.ok((await mailbox('Sent')) > 0);
});

void test('rename: children move with the parent, new UIDVALIDITY, messages and subscriptions kept', async () => {
  const { store } = fx;
  const { accountId } = await seedAccount(store, 'rename@example.org');
  const work = await store.createMailbox(accountId, 'Work');
  const sub = await store.createMailbox(accountId, 'Work/Clients');
  await store.createMailbox(accountId, 'Workshop');
  await store.subscribe(accountId, 'Work/Clients');
  await store.append({ blob: fakeBlob('w1'), targets: [{ mailboxId: sub.id }] });
  await store.createMailbox(accountId, 'Taken');
  await assert.rejects(store.renameMailbox(accountId, 'Work', 'Taken'), (e) =>
    isStoreError(e, 'ALREADY_EXISTS'),
  );
  await assert.rejects(store.renameMailbox(accountId, 'Work', 'Work/Inner'), (e) =>
    isStoreError(e, 'INVALID_NAME'),
  );
  await assert.rejects(store.renameMailbox(accountId, 'Nope', 'X'), (e) => isStoreError(e, 'NOT_FOUND'));

  await store.renameMailbox(accountId, 'Work', 'Old/Job');
  const list = await names(accountId);
  assert.ok(list.includes('Old'), 'superior created');
  assert.ok(list.includes('Old/Job') && list.includes('Old/Job/Clients'));
  assert.ok(!list.includes('Work') && !list.includes('Work/Clients'));
  assert.ok(list.includes('Workshop'), 'a sibling sharing the prefix is untouched');
  const moved = (await store.getMailboxById(sub.id))!;
  assert.equal(moved.name, 'Old/Job/Clients');
  assert.notEqual(moved.uidValidity, sub.uidValidity);
  assert.notEqual((await store.getMailboxById(work.id))!.uidValidity, work.uidValidity);
  assert.equal(moved.messages, 1);
  assert.deepEqual(
    (await store.listMessages(sub.id)).map((m) => m.uid),
    [1],
  );
  const subs = await store.listSubscriptions(accountId);
  assert.ok(subs.includes('Old/Job/Clients') && !subs.includes('Work/Clients'));

  // A child may take the name its parent gives up.
  await store.createMailbox(accountId, 'P/P');
  await store.renameMailbox(accountId, 'P', 'Q');
  await store.renameMailbox(accountId, 'Q/P', 'Q2');
  assert.ok((await names(accountId)).includes('Q2'));
});

void test('renaming INBOX moves its messages to a new mailbox and leaves INBOX empty', async () => {
  const { store } = fx;
  const { accountId, inbox } = await seedAccount(store, 'inboxrename@example.org');
  await store.createMailbox(accountId, 'INBOX/Kept');
  await store.append({ blob: fakeBlob('i1'), targets: [{ mailboxId: inbox, flags: ['\\Seen'] }] });
  await store.append({ blob: fakeBlob('i2'), targets: [{ mailboxId: inbox }] });
  const before = (await store.getMailboxById(inbox))!;
  await store.renameMailbox(accountId, 'inbox', 'Old Inbox');
  const after = (await store.getMailboxById(inbox))!;
  assert.equal(after.name, 'INBOX');
  assert.equal(after.messages, 0);
  assert.equal(after.unseen, 0);
  assert.notEqual(after.uidValidity, before.uidValidity);
  assert.ok(after.highestModseq > before.highestModseq);
  assert.deepEqual(await store.listMessages(inbox), []);
  assert.deepEqual(
    (await store.changesSince(inbox, before.highestModseq)).map((c) => [c.kind, c.uid]),
    [
      ['expunged', 1],
      ['expunged', 2],
    ],
  );
  const old = (await store.getMailbox(accountId, 'Old Inbox'))!;
  assert.equal(old.messages, 2);
  assert.equal(old.unseen, 1);
  assert.equal(old.size, before.size);
  assert.equal(old.uidNext, before.uidNext);
  assert.deepEqual(
    (await store.listMessages(old.id)).map((m) => [m.uid, m.flags]),
    [
      [1, ['\\Seen']],
      [2, []],
    ],
  );
  assert.ok((await names(accountId)).includes('INBOX/Kept'), 'inferiors of INBOX are unaffected');
  // New mail goes to the new INBOX.
  const [o] = await store.append({ blob: fakeBlob('i3'), targets: [{ mailboxId: inbox }] });
  assert.ok(o.ok && o.uidValidity === after.uidValidity);
});

void test('subscriptions are independent of existence and idempotent', async () => {
  const { store } = fx;
  const { accountId } = await seedAccount(store, 'subs@example.org');
  await store.subscribe(accountId, 'Ghost');
  await store.subscribe(accountId, 'Ghost');
  assert.ok((await store.listSubscriptions(accountId)).includes('Ghost'));
  await store.unsubscribe(accountId, 'Ghost');
  await store.unsubscribe(accountId, 'Ghost');
  assert.ok(!(await store.listSubscriptions(accountId)).includes('Ghost'));
  await store.createMailbox(accountId, 'Gone');
  await store.subscribe(accountId, 'Gone');
  await store.deleteMailbox(accountId, 'Gone');
  assert.ok(
    (await store.listSubscriptions(accountId)).includes('Gone'),
    'RFC 9051 §6.3.9: DELETE keeps subscriptions',
  );
  await assert.rejects(store.subscribe(accountId, 'bad*name'), (e) => isStoreError(e, 'INVALID_NAME'));
});
