import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { fakeBlob, openFixture, seedAccount, type StoreFixture } from './store-fixture.js';

let fx: StoreFixture;
beforeEach(async () => {
  fx = await openFixture({ pollIntervalMs: 20 });
});
afterEach(async () => {
  await fx.cleanup();
});

/** Resolves with the mailbox id the next time the listener fires, or rejects after `ms`. */
function nextEvent(events: number[], ms = 3000): Promise<number> {
  const start = events.length;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      if (events.length > start) resolve(events[start]);
      else if (Date.now() - t0 > ms) reject(new Error('no change notification'));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

void test('watch fires after a local commit, outside the transaction, and stops after unwatch', async () => {
  const { store } = fx;
  const { inbox, mailbox } = await seedAccount(store);
  const sent = await mailbox('Sent');
  const events: number[] = [];
  let sawCommitted = false;
  const stop = store.watch(inbox, (id) => {
    events.push(id);
    // Called after the commit: the new message is visible to readers.
    void store.listMessages(id).then((ms) => {
      sawCommitted = ms.length > 0;
    });
  });
  const fired = nextEvent(events);
  await store.append({ blob: fakeBlob('w'), targets: [{ mailboxId: inbox }] });
  assert.equal(await fired, inbox);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(sawCommitted, true);

  const sentEvents: number[] = [];
  store.watch(sent, (id) => sentEvents.push(id));
  const count = events.length;
  const sentFired = nextEvent(sentEvents);
  await store.move(inbox, [1], sent);
  assert.equal(await sentFired, sent);
  assert.ok(events.length > count, 'the source mailbox is notified too');

  stop();
  const after = events.length;
  await store.append({ blob: fakeBlob('w2'), targets: [{ mailboxId: inbox }] });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(events.length, after);
});

void test('watch sees changes made through a second store on the same file (another process)', async () => {
  const { store } = fx;
  const { inbox } = await seedAccount(store);
  const other = await fx.openAnother();
  const events: number[] = [];
  store.watch(inbox, (id) => events.push(id));

  let fired = nextEvent(events);
  await other.append({ blob: fakeBlob('x1'), targets: [{ mailboxId: inbox }] });
  assert.equal(await fired, inbox);

  fired = nextEvent(events);
  await other.updateFlags(inbox, [1], { mode: 'add', flags: ['\\Seen'] });
  assert.equal(await fired, inbox);

  fired = nextEvent(events);
  await other.expunge(inbox, { uids: [1] });
  assert.equal(await fired, inbox);
  assert.deepEqual(
    (await store.changesSince(inbox, 0)).map((c) => c.kind),
    ['added', 'expunged'],
  );

  // The watcher's own commits are not announced twice by the poller.
  await new Promise((r) => setTimeout(r, 60));
  const before = events.length;
  await store.append({ blob: fakeBlob('x2'), targets: [{ mailboxId: inbox }] });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(events.length, before + 1);
  fired = nextEvent(events);
  await other.append({ blob: fakeBlob('x3'), targets: [{ mailboxId: inbox }] });
  await fired;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(events.length, before + 2, 'one local and one remote notification');
});

void test('a mailbox deleted by another process is announced', async () => {
  const { store } = fx;
  const { accountId } = await seedAccount(store);
  const tmp = await store.createMailbox(accountId, 'Tmp');
  const other = await fx.openAnother();
  const events: number[] = [];
  store.watch(tmp.id, (id) => events.push(id));
  const fired = nextEvent(events);
  await other.deleteMailbox(accountId, 'Tmp');
  assert.equal(await fired, tmp.id);
  assert.equal(await store.getMailboxById(tmp.id), null);
});

void test('close() finishes queued appends and stops the poller', async () => {
  const { store } = fx;
  const { inbox } = await seedAccount(store);
  store.watch(inbox, () => undefined);
  const pending = Array.from({ length: 10 }, (_, i) =>
    store.append({ blob: fakeBlob(`c${i}`), targets: [{ mailboxId: inbox }] }),
  );
  await store.close();
  const outcomes = await Promise.all(pending);
  assert.ok(outcomes.every((o) => o[0].ok));
  await assert.rejects(store.append({ blob: fakeBlob('late'), targets: [{ mailboxId: inbox }] }));
  await assert.rejects(store.listMessages(inbox));
  const reopened = await fx.openAnother();
  assert.equal((await reopened.getMailboxById(inbox))!.messages, 10, 'all on disk');
});

/** A WAL fsync the test controls: records each call, fails while `failing` is set. */
function fsyncProbe(): { calls: number; failing: boolean; fsyncWal: (file: string) => Promise<void> } {
  const probe = {
    calls: 0,
    failing: false,
    fsyncWal: async (file: string): Promise<void> => {
      probe.calls++;
      if (probe.failing) throw Object.assign(new Error(`EIO: fsync ${file}`), { code: 'EIO' });
    },
  };
  return probe;
}

void test('changes are announced only after the WAL fsync; a failed fsync announces nothing', async () => {
  const probe = fsyncProbe();
  const store = await fx.openAnother({ fsyncWal: probe.fsyncWal });
  const { inbox } = await seedAccount(store);
  const events: Array<{ id: number; fsyncs: number }> = [];
  store.watch(inbox, (id) => events.push({ id, fsyncs: probe.calls }));

  // Success: the listener runs, and only after an fsync that started after the commit.
  const before = probe.calls;
  await store.append({ blob: fakeBlob('durable'), targets: [{ mailboxId: inbox }] });
  await new Promise((r) => setImmediate(r));
  assert.equal(events.length, 1);
  assert.ok(events[0]!.fsyncs > before, 'announced after the fsync');

  // Failure: the writer gets the error, and no watcher hears of the change.
  probe.failing = true;
  await assert.rejects(store.append({ blob: fakeBlob('lost'), targets: [{ mailboxId: inbox }] }), /EIO/);
  await assert.rejects(store.updateFlags(inbox, [1], { mode: 'add', flags: ['\\Seen'] }), /EIO/);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(events.length, 1, 'nothing announced without durability');
  // A reader is not told either: changesSince waits for an fsync, which fails.
  await assert.rejects(store.changesSince(inbox, 0), /EIO/);
  probe.failing = false;
  assert.ok((await store.changesSince(inbox, 0)).length >= 1);
});

void test("the writer thread's WAL fsync: announced after it; when it fails, nothing is announced", async () => {
  // Only the thread's fsync fails here: this thread's poll (which would fsync the WAL itself
  // before announcing what it finds, and succeed) is kept out of the window.
  const store = await fx.openAnother({ pollIntervalMs: 60_000 });
  const { inbox } = await seedAccount(store);
  const events: number[] = [];
  store.watch(inbox, (id) => events.push(id));
  const before = store.stats.fsyncs;
  await store.append({ blob: fakeBlob('thread-durable'), targets: [{ mailboxId: inbox }] });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, [inbox]);
  assert.ok(store.stats.fsyncs > before, 'an fsync made it durable');

  store.faultWriterFsync(true);
  await assert.rejects(
    store.append({ blob: fakeBlob('thread-lost'), targets: [{ mailboxId: inbox }] }),
    /EIO/,
  );
  await assert.rejects(store.updateFlags(inbox, [1], { mode: 'add', flags: ['\\Seen'] }), /EIO/);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(events, [inbox], 'nothing announced without durability');
  store.faultWriterFsync(false);
  // (The failed writes may have committed: a flag they did not touch makes a change for sure.)
  await store.updateFlags(inbox, [1], { mode: 'add', flags: ['\\Flagged'] });
  await new Promise((r) => setImmediate(r));
  assert.equal(events.length, 2);
});

void test("another process's change is announced only after this process's fsync of the WAL", async () => {
  const probe = fsyncProbe();
  const reader = await fx.openAnother({ fsyncWal: probe.fsyncWal });
  const { inbox } = await seedAccount(fx.store);
  const events: number[] = [];
  reader.watch(inbox, (id) => events.push(id));

  probe.failing = true;
  const calls = probe.calls;
  await fx.store.append({ blob: fakeBlob('elsewhere-1'), targets: [{ mailboxId: inbox }] });
  // The poll (every 20 ms) sees the commit and tries to fsync: await that, then check silence.
  const t0 = Date.now();
  while (probe.calls === calls && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 5));
  assert.ok(probe.calls > calls, 'the reader fsynced before announcing');
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(events, [], 'not announced when the fsync failed');

  probe.failing = false;
  const fired = nextEvent(events);
  await fx.store.append({ blob: fakeBlob('elsewhere-2'), targets: [{ mailboxId: inbox }] });
  assert.equal(await fired, inbox);
});

void test('watchAccount hears of every mailbox of one account, in this and another process, and of no other', async () => {
  const { store } = fx;
  const alice = await seedAccount(store);
  const bob = await seedAccount(store, 'bob@example.org');
  const other = await fx.openAnother();
  const batches: number[][] = [];
  const stop = store.watchAccount(alice.accountId, (ids) => batches.push([...ids]));
  /** Waits for a batch naming `id`, then returns every id heard since `from`. */
  const heard = async (id: number, from: number): Promise<number[]> => {
    const t0 = Date.now();
    for (;;) {
      const ids = batches.slice(from).flat();
      if (ids.includes(id)) return ids;
      if (Date.now() - t0 > 3000)
        throw new Error(`no notification for mailbox ${id}: ${JSON.stringify(batches)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  // A delivery by another process, to a mailbox other than INBOX.
  const sent = await alice.mailbox('Sent');
  let from = batches.length;
  await other.append({ blob: fakeBlob('acc1'), targets: [{ mailboxId: sent }] });
  assert.deepEqual(await heard(sent, from), [sent]);

  // Bob's changes (here and elsewhere) are not alice's.
  from = batches.length;
  await other.append({ blob: fakeBlob('acc2'), targets: [{ mailboxId: bob.inbox }] });
  await store.append({ blob: fakeBlob('acc3'), targets: [{ mailboxId: bob.inbox }] });
  // Then a change of alice's, so the wait has an end: nothing of bob's came before it.
  await other.updateFlags(sent, [1], { mode: 'add', flags: ['\\Seen'] });
  assert.deepEqual(await heard(sent, from), [sent]);

  // A mailbox created, renamed and deleted by another process; a subscription change.
  from = batches.length;
  const created = await other.createMailbox(alice.accountId, 'Projects');
  await heard(created.id, from);
  from = batches.length;
  await other.renameMailbox(alice.accountId, 'Projects', 'Archive2');
  await heard(created.id, from);
  from = batches.length;
  await other.deleteMailbox(alice.accountId, 'Archive2');
  await heard(created.id, from);
  from = batches.length;
  await other.subscribe(alice.accountId, 'Nowhere');
  assert.deepEqual(await heard(alice.inbox, from), [alice.inbox], 'a subscription to no mailbox: INBOX');
  from = batches.length;
  await other.subscribe(alice.accountId, 'Sent');
  await other.unsubscribe(alice.accountId, 'Sent');
  await heard(sent, from);
  // Subscriptions leave changesSince alone (mailbox-event rows are never returned).
  assert.deepEqual(
    (await store.changesSince(sent, 0)).map((c) => c.kind),
    ['added', 'flags'],
  );

  stop();
  from = batches.length;
  await other.append({ blob: fakeBlob('acc4'), targets: [{ mailboxId: sent }] });
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(batches.length, from, 'nothing after unwatch');
});

void test("account watches hear another process's SETMETADATA: the mailbox, or INBOX for the server level", async () => {
  const { store } = fx;
  const { accountId, inbox, mailbox } = await seedAccount(store);
  const sent = await mailbox('Sent');
  const other = await fx.openAnother();
  const batches: number[][] = [];
  const stop = store.watchAccount(accountId, (ids) => batches.push([...ids]));
  const set = async (mailboxId: number | null, value: string | null, maxEntries = 10): Promise<unknown> =>
    other.setMetadata(
      { accountId, mailboxId },
      [{ name: '/private/comment', value: value === null ? null : Buffer.from(value) }],
      { maxEntries },
    );
  const next = async (): Promise<number[]> => {
    const t0 = Date.now();
    while (batches.length === 0) {
      if (Date.now() - t0 > 3000) throw new Error('no account notification');
      await new Promise((r) => setTimeout(r, 5));
    }
    return batches.shift()!;
  };
  const quiet = async (): Promise<void> => {
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(batches, [], 'no change row, no notification');
  };

  assert.deepEqual(await set(sent, 'a'), { ok: true });
  assert.deepEqual(await next(), [sent]);
  assert.deepEqual(await set(null, 'b'), { ok: true });
  assert.deepEqual(await next(), [inbox], 'server-level changes are logged on INBOX');
  // The same value again, removing what is not there, and a refused set change nothing.
  assert.deepEqual(await set(sent, 'a'), { ok: true });
  assert.deepEqual(await set(inbox, null), { ok: true });
  await quiet();
  assert.deepEqual(await set(inbox, 'c', 2), { ok: false, reason: 'too-many' });
  await quiet();
  assert.deepEqual(await set(sent, null), { ok: true });
  assert.deepEqual(await next(), [sent]);
  stop();
});
