import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, test } from 'node:test';
import { isStoreError } from '../../core/errors.js';
import type { AppendOutcome } from '../types.js';
import { fakeBlob, openFixture, seedAccount, type StoreFixture } from './store-fixture.js';

let fx: StoreFixture;
beforeEach(async () => {
  fx = await openFixture();
});
afterEach(async () => {
  await fx.cleanup();
});

function okUid(o: AppendOutcome): number {
  assert.ok(o.ok, `append failed: ${o.ok ? '' : o.error.message}`);
  return o.uid;
}

void test('append stores a message with uid, modseq, flags, counters, usedBytes and a change row', async () => {
  const { store } = fx;
  const { accountId, inbox } = await seedAccount(store);
  const blob = fakeBlob('Subject: hi\r\n\r\nhello\r\n');
  const date = new Date('2024-05-01T10:00:00Z');
  const [o] = await store.append({
    blob,
    targets: [{ mailboxId: inbox, flags: ['\\seen', 'Work'], internalDate: date }],
  });
  assert.ok(o.ok);
  assert.equal(o.uid, 1);
  const mb = (await store.getMailboxById(inbox))!;
  assert.equal(o.uidValidity, mb.uidValidity);
  assert.equal(o.modseq, mb.highestModseq);
  assert.equal(mb.uidNext, 2);
  assert.equal(mb.messages, 1);
  assert.equal(mb.unseen, 0);
  assert.equal(mb.size, blob.size);
  assert.equal((await store.getAccountById(accountId))!.usedBytes, blob.size);
  const savedBefore = Date.now();
  const [m] = await store.listMessages(inbox);
  // RFC 8514: saved now, whatever the internal date.
  assert.ok(m !== undefined && Math.abs(m.saveDate.getTime() - savedBefore) < 60_000, String(m?.saveDate));
  assert.deepEqual(m, {
    mailboxId: inbox,
    uid: 1,
    modseq: o.modseq,
    flags: ['\\Seen', 'Work'],
    internalDate: date,
    size: blob.size,
    blobId: blob.blobId,
    saveDate: m.saveDate,
  });
  assert.deepEqual(await store.getMime(blob.blobId), blob.mime);
  assert.deepEqual(await store.changesSince(inbox, 0), [
    { kind: 'added', modseq: o.modseq, uid: 1, flags: ['\\Seen', 'Work'] },
  ]);
  await assert.rejects(store.getMime('0'.repeat(64)), (e) => isStoreError(e, 'NOT_FOUND'));
});

void test('group commit: 100 concurrent appends share few transactions, UIDs unique and dense', async () => {
  const { store } = fx;
  const { inbox, mailbox } = await seedAccount(store);
  const sent = await mailbox('Sent');
  const before = { ...store.stats };
  const outcomes = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      store.append({ blob: fakeBlob(`message ${i}`), targets: [{ mailboxId: i % 2 === 0 ? inbox : sent }] }),
    ),
  );
  const commits = store.stats.commits - before.commits;
  assert.ok(commits >= 1 && commits <= 3, `100 appends took ${commits} commits`);
  assert.equal(store.stats.appendRequests - before.appendRequests, 100);
  const inboxUids = outcomes.filter((_, i) => i % 2 === 0).map((o) => okUid(o[0]));
  assert.deepEqual(
    inboxUids,
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
  assert.equal((await store.getMailboxById(sent))!.messages, 50);
  const modseqs = (await store.changesSince(inbox, 0)).map((c) => c.modseq);
  assert.deepEqual(
    modseqs,
    [...modseqs].sort((a, b) => a - b),
  );
  assert.equal(new Set(modseqs).size, 50, 'each message gets its own modseq');
});

void test('a failing request never fails its batch-mates; allOrNothing rolls back only itself', async () => {
  const { store } = fx;
  const { inbox, mailbox } = await seedAccount(store);
  const junk = await mailbox('Junk');
  const blobA = fakeBlob('A');
  const blobB = fakeBlob('B');
  const [a, b, c, d] = await Promise.all([
    store.append({ blob: blobA, targets: [{ mailboxId: inbox }, { mailboxId: 999_999 }] }),
    store.append({
      blob: blobB,
      targets: [{ mailboxId: inbox }, { mailboxId: 999_999 }],
      allOrNothing: true,
    }),
    store.append({
      blob: fakeBlob('C'),
      targets: [{ mailboxId: junk, flags: ['bad flag'] }, { mailboxId: junk }],
    }),
    store.append({ blob: fakeBlob('D'), targets: [{ mailboxId: junk }] }),
  ]);
  assert.ok(a[0].ok);
  assert.ok(!a[1].ok && isStoreError(a[1].error, 'NOT_FOUND'));
  assert.equal(b.length, 2);
  assert.ok(b.every((o) => !o.ok));
  assert.ok(!b[1].ok && isStoreError(b[1].error, 'NOT_FOUND'));
  assert.ok(!c[0].ok && isStoreError(c[0].error, 'INVALID_ARGUMENT'));
  assert.ok(c[1].ok && d[0].ok);
  const inboxMsgs = await store.listMessages(inbox);
  assert.deepEqual(
    inboxMsgs.map((m) => m.blobId),
    [blobA.blobId],
  );
  assert.equal((await store.getMailboxById(inbox))!.uidNext, 2, 'the rolled-back request used no UID');
  // The blob of the rolled-back request is left collectable.
  const gc = await store.collectGarbage();
  assert.equal(gc.blobsRemoved, 1);
  assert.deepEqual(
    fx.blobs.removed.map((r) => r.blobId),
    [blobB.blobId],
  );
  await assert.rejects(
    store.append({ blob: { ...blobA, blobId: 'nothex' }, targets: [{ mailboxId: inbox }] }),
  );
  await assert.rejects(store.append({ blob: blobA, targets: [] }), (e) =>
    isStoreError(e, 'INVALID_ARGUMENT'),
  );
});

void test('quota: an append or copy that would go over quota gets OVER_QUOTA, others still land', async () => {
  const { store } = fx;
  const { accountId, inbox, mailbox } = await seedAccount(store, 'q@example.org', 100);
  const other = await seedAccount(store, 'big@example.org', 0);
  const blob60 = fakeBlob('x'.repeat(60));
  const results = await Promise.all([
    store.append({ blob: blob60, targets: [{ mailboxId: inbox }, { mailboxId: other.inbox }] }),
    store.append({ blob: fakeBlob('y'.repeat(60)), targets: [{ mailboxId: inbox }] }),
  ]);
  assert.ok(results[0][0].ok && results[0][1].ok);
  assert.ok(
    !results[1][0].ok && isStoreError(results[1][0].error, 'OVER_QUOTA'),
    'checked inside the commit',
  );
  assert.equal((await store.getAccountById(accountId))!.usedBytes, 60);
  const archive = await mailbox('Archive');
  await assert.rejects(store.copy(inbox, [1], archive), (e) => isStoreError(e, 'OVER_QUOTA'));
  // A move inside the account does not change its usage, so it is allowed.
  const moved = await store.move(inbox, [1], archive);
  assert.deepEqual(moved.mapping, [[1, 1]]);
  assert.equal((await store.getAccountById(accountId))!.usedBytes, 60);
  await store.setQuota('q@example.org', 0);
  await store.copy(archive, [1], inbox);
  assert.equal((await store.getAccountById(accountId))!.usedBytes, 120);
});

void test('updateFlags: one modseq per call, change rows only for real changes, counters, UNCHANGEDSINCE', async () => {
  const { store } = fx;
  const { inbox } = await seedAccount(store);
  for (let i = 0; i < 3; i++)
    await store.append({ blob: fakeBlob(`m${i}`), targets: [{ mailboxId: inbox }] });
  const start = (await store.getMailboxById(inbox))!.highestModseq;
  assert.equal((await store.getMailboxById(inbox))!.unseen, 3);

  const r1 = await store.updateFlags(inbox, [1, 2, 2, 99], { mode: 'add', flags: ['\\SEEN', '$Label'] });
  assert.deepEqual(r1.modified, []);
  assert.deepEqual(
    r1.changed.map((c) => [c.uid, c.modseq, c.flags]),
    [
      [1, start + 1, ['\\Seen', '$Label']],
      [2, start + 1, ['\\Seen', '$Label']],
    ],
  );
  let mb = (await store.getMailboxById(inbox))!;
  assert.equal(mb.highestModseq, start + 1);
  assert.equal(mb.unseen, 1);

  const noop = await store.updateFlags(inbox, [1], { mode: 'add', flags: ['\\Seen'] });
  assert.deepEqual(noop.changed, []);
  assert.equal((await store.getMailboxById(inbox))!.highestModseq, start + 1, 'no change, no modseq');

  // CONDSTORE: uid 3 is unchanged since it was appended; uids 1 and 2 changed at start+1.
  const cond = await store.updateFlags(inbox, [1, 2, 3], {
    mode: 'add',
    flags: ['\\Deleted'],
    unchangedSince: start,
  });
  assert.deepEqual(cond.modified, [1, 2]);
  assert.deepEqual(
    cond.changed.map((c) => c.uid),
    [3],
  );
  mb = (await store.getMailboxById(inbox))!;
  assert.equal(mb.deleted, 1);

  const repl = await store.updateFlags(inbox, [1], { mode: 'replace', flags: ['\\Recent', 'Other'] });
  assert.deepEqual(repl.changed[0].flags, ['Other']);
  assert.equal((await store.getMailboxById(inbox))!.unseen, 2);
  await assert.rejects(store.updateFlags(inbox, [1], { mode: 'add', flags: ['bad"kw'] }), (e) =>
    isStoreError(e, 'INVALID_ARGUMENT'),
  );
  await assert.rejects(store.updateFlags(424242, [1], { mode: 'add', flags: ['x'] }), (e) =>
    isStoreError(e, 'NOT_FOUND'),
  );

  // The log keeps the latest flags of each message, in modseq order.
  const changes = await store.changesSince(inbox, start);
  assert.deepEqual(
    changes.map((c) => [c.kind, c.uid]),
    [
      ['flags', 2],
      ['flags', 3],
      ['flags', 1],
    ],
  );
  assert.deepEqual(await store.changesSince(inbox, (await store.getMailboxById(inbox))!.highestModseq), []);
});

void test('updateFlags is atomic per message with another process writing the same message', async () => {
  const { store, dir } = fx;
  const { inbox } = await seedAccount(store);
  await store.append({ blob: fakeBlob('m'), targets: [{ mailboxId: inbox }] });
  const n = 40;
  // A real second process on the same file, adding its own keywords while this one adds others.
  const storeUrl = new URL('./sqlite-store.js', import.meta.url).href;
  const fixtureUrl = new URL('./store-fixture.js', import.meta.url).href;
  const script = `
    const { openSqliteStore } = await import(${JSON.stringify(storeUrl)});
    const { RecordingBlobStore } = await import(${JSON.stringify(fixtureUrl)});
    const s = await openSqliteStore({ dataDir: process.argv[1], blobs: new RecordingBlobStore() });
    process.stdout.write('ready\\n');
    for (let i = 0; i < ${n}; i++) {
      await s.updateFlags(${inbox}, [1], { mode: 'add', flags: ['child' + i] });
      await new Promise((r) => setImmediate(r));
    }
    await s.close();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.on('exit', () => reject(new Error('child exited early')));
  });
  for (let i = 0; i < n; i++) {
    await store.updateFlags(inbox, [1], { mode: 'add', flags: [`parent${i}`] });
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(await exited, 0);
  const [m] = await store.listMessages(inbox);
  const expected = Array.from({ length: n }, (_, i) => [`child${i}`, `parent${i}`]).flat();
  assert.deepEqual([...m.flags].sort(), expected.sort(), 'no add was lost');
  const mb = (await store.getMailboxById(inbox))!;
  assert.equal(m.modseq, mb.highestModseq);
  assert.equal(
    (await store.changesSince(inbox, 0)).filter((c) => c.kind === 'flags').length,
    1,
    'latest flags kept',
  );
});

void test('expunge: \\Deleted only by default, explicit UIDs, blob refcounts released', async () => {
  const { store, blobs } = fx;
  const { accountId, inbox } = await seedAccount(store);
  const shared = fakeBlob('shared');
  blobs.remember(shared);
  for (let i = 0; i < 4; i++) await store.append({ blob: shared, targets: [{ mailboxId: inbox }] });
  await store.updateFlags(inbox, [2, 3], { mode: 'add', flags: ['\\Deleted'] });
  assert.deepEqual(await store.expunge(inbox, { uids: [1, 3], onlyDeleted: true }), [3]);
  assert.deepEqual(await store.expunge(inbox), [2]);
  const mb = (await store.getMailboxById(inbox))!;
  assert.equal(mb.messages, 2);
  assert.equal(mb.deleted, 0);
  assert.equal(mb.size, 2 * shared.size);
  assert.deepEqual(
    (await store.changesSince(inbox, 0)).filter((c) => c.kind === 'expunged').map((c) => c.uid),
    [3, 2],
  );
  assert.equal((await store.collectGarbage()).blobsRemoved, 0, 'still referenced twice');
  assert.deepEqual(await store.expunge(inbox, { uids: [1, 4, 77] }), [1, 4]);
  assert.equal((await store.getAccountById(accountId))!.usedBytes, 0);
  const gc = await store.collectGarbage();
  assert.deepEqual(gc, {
    blobsRemoved: 1,
    bytesFreed: shared.size,
    orphanFilesRemoved: 0,
    orphanBytesFreed: 0,
    changeRowsPruned: 0,
  });
  assert.deepEqual(blobs.removed, [{ blobId: shared.blobId, graceMs: 0 }]);
  assert.deepEqual(await store.collectGarbage(), {
    blobsRemoved: 0,
    bytesFreed: 0,
    orphanFilesRemoved: 0,
    orphanBytesFreed: 0,
    changeRowsPruned: 0,
  });
});

void test('collectGarbage honours the grace period', async () => {
  const other = await fx.openAnother({ gcGraceMs: 60_000 });
  const { inbox } = await seedAccount(other);
  await other.append({ blob: fakeBlob('g'), targets: [{ mailboxId: inbox }] });
  await other.expunge(inbox, { uids: [1] });
  assert.equal((await other.collectGarbage()).blobsRemoved, 0, 'too recent');
  assert.equal((await fx.store.collectGarbage()).blobsRemoved, 1, 'grace 0');
});

void test('copy and move keep flags and internal date, take new UIDs, log in both mailboxes', async () => {
  const { store } = fx;
  const { inbox, mailbox } = await seedAccount(store);
  const archive = await mailbox('Archive');
  const date = new Date('2020-01-02T03:04:05Z');
  for (let i = 0; i < 3; i++) {
    await store.append({
      blob: fakeBlob(`c${i}`),
      targets: [{ mailboxId: inbox, flags: ['\\Flagged', 'k'], internalDate: date }],
    });
  }
  await store.append({ blob: fakeBlob('pre'), targets: [{ mailboxId: archive }] });
  const archiveBox = (await store.getMailboxById(archive))!;

  const copied = await store.copy(inbox, [3, 1, 42], archive);
  assert.equal(copied.uidValidity, archiveBox.uidValidity);
  assert.deepEqual(copied.mapping, [
    [1, 2],
    [3, 3],
  ]);
  const inArchive = await store.listMessages(archive, { uids: [2, 3] });
  assert.deepEqual(
    inArchive.map((m) => [m.uid, m.flags, m.internalDate.getTime()]),
    [
      [2, ['\\Flagged', 'k'], date.getTime()],
      [3, ['\\Flagged', 'k'], date.getTime()],
    ],
  );
  assert.equal((await store.listMessages(inbox)).length, 3, 'copy leaves the source');

  const moved = await store.move(inbox, [2, 3], archive);
  assert.deepEqual(moved.mapping, [
    [2, 4],
    [3, 5],
  ]);
  assert.deepEqual(
    (await store.listMessages(inbox)).map((m) => m.uid),
    [1],
  );
  const inboxLog = await store.changesSince(inbox, 0);
  assert.deepEqual(
    inboxLog.filter((c) => c.kind === 'expunged').map((c) => c.uid),
    [2, 3],
  );
  const archiveLog = await store.changesSince(archive, archiveBox.highestModseq);
  assert.deepEqual(
    archiveLog.map((c) => [c.kind, c.uid]),
    [
      ['added', 2],
      ['added', 3],
      ['added', 4],
      ['added', 5],
    ],
  );
  const a = (await store.getMailboxById(archive))!;
  assert.equal(a.messages, 5);
  assert.equal(a.unseen, 5);
  assert.deepEqual(await store.copy(inbox, [99], archive), { uidValidity: a.uidValidity, mapping: [] });
  await assert.rejects(store.copy(inbox, [1], 777_777), (e) => isStoreError(e, 'NOT_FOUND'));
});

void test('claimRecent gives each new message to exactly one caller', async () => {
  const { store } = fx;
  const { inbox } = await seedAccount(store);
  await store.append({ blob: fakeBlob('r1'), targets: [{ mailboxId: inbox }] });
  await store.append({ blob: fakeBlob('r2'), targets: [{ mailboxId: inbox }] });
  const other = await fx.openAnother();
  const [a, b] = await Promise.all([store.claimRecent(inbox), other.claimRecent(inbox)]);
  assert.deepEqual([...a, ...b].sort(), [1, 2]);
  assert.ok(a.length === 0 || b.length === 0);
  assert.deepEqual(await store.claimRecent(inbox), []);
  await store.append({ blob: fakeBlob('r3'), targets: [{ mailboxId: inbox }] });
  assert.deepEqual(await other.claimRecent(inbox), [3]);
});

void test('listMessages filters by uids and minUid; 100,000 messages list quickly', async () => {
  const { store } = fx;
  const { inbox } = await seedAccount(store);
  // 100 appends, then copies of the whole mailbox onto itself: 100 * 2^10 = 102,400 messages.
  await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      store.append({
        blob: fakeBlob(`bulk ${i}`),
        targets: [{ mailboxId: inbox, flags: i % 4 === 0 ? ['\\Seen', 'x'] : [] }],
      }),
    ),
  );
  for (let round = 0; round < 10; round++) {
    const uids = (await store.listMessages(inbox)).map((m) => m.uid);
    await store.copy(inbox, uids, inbox);
  }
  const n = 102_400;
  const t0 = performance.now();
  const all = await store.listMessages(inbox);
  const ms = performance.now() - t0;
  assert.equal(all.length, n);
  assert.equal(all[n - 1].uid, n);
  assert.deepEqual(all[0].flags, ['\\Seen', 'x']);
  assert.deepEqual(all[n - 100].flags, ['\\Seen', 'x'], 'copies keep flags');
  assert.ok(ms < 3000, `listMessages of ${n} took ${ms.toFixed(0)} ms`);
  assert.deepEqual(
    (await store.listMessages(inbox, { uids: [5, 1, 5, 99_999, 200_000] })).map((m) => m.uid),
    [1, 5, 99_999],
  );
  const some = Array.from({ length: 100 }, (_, i) => 1000 + i * 7);
  assert.deepEqual(
    (await store.listMessages(inbox, { uids: some })).map((m) => m.uid),
    some,
  );
  assert.equal((await store.listMessages(inbox, { minUid: n - 9 })).length, 10);
  const mb = (await store.getMailboxById(inbox))!;
  assert.equal(mb.messages, n);
  assert.equal(mb.unseen, (n * 3) / 4);
});

void test('appendAll (MULTIAPPEND): one transaction, all or none; message-count quota kept with usedBytes', async () => {
  const { store } = fx;
  const { accountId, inbox, mailbox } = await seedAccount(store, 'q@example.org');
  const archive = await mailbox('Archive');
  const req = (text: string, mailboxId = inbox) => ({ blob: fakeBlob(text), targets: [{ mailboxId }] });
  const outcomes = await store.appendAll([req('a1'), req('a2', archive), req('a3')]);
  assert.deepEqual(
    outcomes.map(([o]) => okUid(o!)),
    [1, 1, 2],
  );
  let account = (await store.getAccountById(accountId))!;
  assert.equal(account.usedMessages, 3);
  assert.equal(account.usedBytes, 6);
  // The third of this batch goes over the message count: nothing of it is stored.
  await store.setMessageQuota('q@example.org', 5);
  const inboxBefore = (await store.getMailboxById(inbox))!;
  const refused = await store.appendAll([req('b1'), req('b2', archive), req('b3')]);
  for (const [o] of refused) assert.ok(!o!.ok && isStoreError(o.error, 'OVER_QUOTA'));
  const inboxAfter = (await store.getMailboxById(inbox))!;
  assert.equal(inboxAfter.messages, inboxBefore.messages);
  assert.equal(inboxAfter.uidNext, inboxBefore.uidNext, 'UIDs not used up');
  assert.equal(inboxAfter.highestModseq, inboxBefore.highestModseq);
  account = (await store.getAccountById(accountId))!;
  assert.equal(account.usedMessages, 3);
  assert.equal(account.quotaMessages, 5);
  // So does a batch naming a deleted mailbox.
  const gone = (await store.createMailbox(accountId, 'Gone')).id;
  await store.deleteMailbox(accountId, 'Gone');
  const missing = await store.appendAll([req('c1'), req('c2', gone)]);
  for (const [o] of missing) assert.ok(!o!.ok && isStoreError(o.error, 'NOT_FOUND'));
  assert.equal((await store.getMailboxById(inbox))!.messages, inboxBefore.messages);
  // COPY counts messages too; expunge and mailbox deletion give them back.
  await store.setMessageQuota('q@example.org', 4);
  await assert.rejects(store.copy(inbox, [1, 2], archive), (e) => isStoreError(e, 'OVER_QUOTA'));
  await store.copy(inbox, [1], archive);
  assert.equal((await store.getAccountById(accountId))!.usedMessages, 4);
  await store.expunge(inbox, { uids: [1] });
  assert.equal((await store.getAccountById(accountId))!.usedMessages, 3);
  await store.deleteMailbox(accountId, 'Archive');
  account = (await store.getAccountById(accountId))!;
  assert.equal(account.usedMessages, 1);
  assert.equal(account.usedBytes, 2);
  await assert.rejects(store.setMessageQuota('q@example.org', -1), (e) =>
    isStoreError(e, 'INVALID_ARGUMENT'),
  );
});
