// The Notifier over a real store (a second store handle on the same file plays another process).
// The session around it is a stand-in that records untagged responses and reports the socket's
// unsent bytes: an integration test cannot make a real socket hold a megabyte unsent without
// the kernel's buffers filling first, which takes far more traffic than a test should send.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { fakeBlob, openFixture, seedAccount, type StoreFixture } from '../../store/sqlite/store-fixture.js';
import type { Account } from '../../store/types.js';
import { ResponseEncoder, type ImapData } from '../../wire/imap/encoder.js';
import type { ImapSessionContext } from './context.js';
import { Notifier, OVERFLOW_BYTES } from './notifier.js';
import type { NotifyRequest } from './notify-request.js';

let fx: StoreFixture;
beforeEach(async () => {
  fx = await openFixture({ pollIntervalMs: 20 });
});
afterEach(async () => {
  await fx.cleanup();
});

interface Stand {
  ctx: ImapSessionContext;
  lines: string[];
  conn: { pendingBytes: number };
}

function session(account: Account, store: StoreFixture['store']): Stand {
  const lines: string[] = [];
  const conn = { pendingBytes: 0 };
  const ctx = {
    state: { kind: 'authenticated', account },
    env: { store },
    conn,
    enabled: new Set<string>(),
    utf8: false,
    untagged: (...data: ImapData[]) => {
      lines.push(
        new ResponseEncoder()
          .untagged(...data)
          .take()
          .toString('latin1')
          .trimEnd(),
      );
    },
  } as unknown as ImapSessionContext;
  return { ctx, lines, conn };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

void test("STATUS of another process's change; NOTIFICATIONOVERFLOW ends NOTIFY once the client falls behind", async () => {
  const { store } = fx;
  const seeded = await seedAccount(store);
  const account = (await store.getAccount('alice@example.org'))!;
  const other = await fx.openAnother();
  const sent = await seeded.mailbox('Sent');
  const s = session(account, store);
  const request: NotifyRequest = {
    status: false,
    groups: [
      { filter: { kind: 'personal' }, events: new Set(['MessageNew', 'MessageExpunge']), fetchItems: null },
    ],
  };
  let woken = 0;
  const notifier = new Notifier(s.ctx, request, () => woken++);
  await notifier.start({ status: false });
  assert.deepEqual(s.lines, []);

  await other.append({ blob: fakeBlob('n1'), targets: [{ mailboxId: sent }] });
  await until(() => notifier.pending);
  assert.ok(woken > 0, 'the session is woken');
  await notifier.deliver('between');
  assert.match(s.lines.join('\n'), /^\* STATUS Sent \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)$/);

  // The client stops reading: past OVERFLOW_BYTES unsent, one NOTIFICATIONOVERFLOW and no more.
  s.conn.pendingBytes = OVERFLOW_BYTES + 1;
  s.lines.length = 0;
  await other.append({ blob: fakeBlob('n2'), targets: [{ mailboxId: sent }] });
  await until(() => notifier.pending);
  await notifier.deliver('between');
  assert.deepEqual(s.lines, ['* OK [NOTIFICATIONOVERFLOW] Too many notifications, NOTIFY is off']);
  s.conn.pendingBytes = 0;
  await other.append({ blob: fakeBlob('n3'), targets: [{ mailboxId: sent }] });
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(notifier.pending, false, 'NOTIFY is off after the overflow (RFC 5465 §5.8)');
  await notifier.deliver('between');
  assert.equal(s.lines.length, 1);
});

void test('flag changes reach only groups with FlagChange; INBOXES names INBOX only', async () => {
  const { store } = fx;
  const seeded = await seedAccount(store);
  const account = (await store.getAccount('alice@example.org'))!;
  const sent = await seeded.mailbox('Sent');
  await store.append({ blob: fakeBlob('f1'), targets: [{ mailboxId: sent }] });
  await store.append({ blob: fakeBlob('f2'), targets: [{ mailboxId: seeded.inbox }] });
  const s = session(account, store);
  // NOTIFY SET STATUS (inboxes (MessageNew MessageExpunge FlagChange)) (mailboxes Sent (MessageNew MessageExpunge))
  const request: NotifyRequest = {
    status: true,
    groups: [
      {
        filter: { kind: 'inboxes' },
        events: new Set(['MessageNew', 'MessageExpunge', 'FlagChange']),
        fetchItems: null,
      },
      {
        filter: { kind: 'mailboxes', names: ['Sent'] },
        events: new Set(['MessageNew', 'MessageExpunge']),
        fetchItems: null,
      },
    ],
  };
  const notifier = new Notifier(s.ctx, request, () => undefined);
  await notifier.start({ status: true });
  assert.equal(s.lines.length, 2, s.lines.join('\n'));
  assert.match(s.lines[0]!, /^\* STATUS INBOX \(MESSAGES 1 UIDNEXT 2 /);
  assert.match(s.lines[1]!, /^\* STATUS Sent \(MESSAGES 1 UIDNEXT 2 /);
  s.lines.length = 0;

  await store.updateFlags(sent, [1], { mode: 'add', flags: ['\\Seen'] });
  await until(() => notifier.pending);
  await notifier.deliver('between');
  assert.deepEqual(s.lines, [], 'Sent has no FlagChange');
  await store.updateFlags(seeded.inbox, [1], { mode: 'add', flags: ['\\Seen'] });
  await until(() => notifier.pending);
  await notifier.deliver('between');
  assert.equal(s.lines.length, 1);
  assert.match(s.lines[0]!, /^\* STATUS INBOX \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 0\)$/);
  notifier.stop();
});

void test('metadata changes from another process: METADATA with entry names only, per filter (RFC 5465 §5.7)', async () => {
  const { store } = fx;
  const seeded = await seedAccount(store);
  const account = (await store.getAccount('alice@example.org'))!;
  const other = await fx.openAnother();
  const sent = await seeded.mailbox('Sent');
  const s = session(account, store);
  // NOTIFY SET (mailboxes Sent (MailboxMetadataChange)) (inboxes (ServerMetadataChange))
  const request: NotifyRequest = {
    status: false,
    groups: [
      {
        filter: { kind: 'mailboxes', names: ['Sent'] },
        events: new Set(['MailboxMetadataChange']),
        fetchItems: null,
      },
      { filter: { kind: 'inboxes' }, events: new Set(['ServerMetadataChange']), fetchItems: null },
    ],
  };
  await store.setMetadata(
    { accountId: account.id, mailboxId: sent },
    [{ name: '/private/old', value: Buffer.from('x') }],
    {
      maxEntries: 100,
    },
  );
  const notifier = new Notifier(s.ctx, request, () => undefined);
  await notifier.start({ status: false });
  const set = async (mailboxId: number | null, name: string, value: string | null): Promise<void> => {
    const r = await other.setMetadata(
      { accountId: account.id, mailboxId },
      [{ name, value: value === null ? null : Buffer.from(value) }],
      { maxEntries: 100 },
    );
    assert.deepEqual(r, { ok: true });
  };

  await set(sent, '/private/comment', 'hello');
  await until(() => notifier.pending);
  await notifier.deliver('between');
  assert.deepEqual(s.lines, ['* METADATA Sent /private/comment']);
  s.lines.length = 0;
  // A removal and a change together; the entry set before NOTIFY is known, so only these two.
  const r = await other.setMetadata(
    { accountId: account.id, mailboxId: sent },
    [
      { name: '/private/old', value: null },
      { name: '/shared/comment', value: Buffer.from('v') },
    ],
    { maxEntries: 100 },
  );
  assert.deepEqual(r, { ok: true });
  await until(() => notifier.pending);
  await notifier.deliver('between');
  assert.deepEqual(s.lines, ['* METADATA Sent /private/old /shared/comment']);
  s.lines.length = 0;
  // The server level: mailbox "" (RFC 5464 §4.4.2).
  await set(null, '/shared/vendor/x', 'y');
  await until(() => notifier.pending);
  await notifier.deliver('between');
  assert.deepEqual(s.lines, ['* METADATA "" /shared/vendor/x']);
  s.lines.length = 0;
  // INBOX's own entries: no group gives INBOX MailboxMetadataChange.
  await set(seeded.inbox, '/private/comment', 'in');
  await until(() => notifier.pending);
  await notifier.deliver('between');
  assert.deepEqual(s.lines, []);
  // Setting a value it already has changes nothing and wakes nobody.
  await set(sent, '/private/comment', 'hello');
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(notifier.pending, false, 'an unchanged value logs no event');
  notifier.stop();
});
