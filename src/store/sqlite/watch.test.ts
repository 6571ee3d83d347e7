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
