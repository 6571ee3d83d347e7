import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import Database from 'better-sqlite3';
import { indexMessage } from '../../mail/mime/indexer.js';
import { blobSortFields, emptySortFields, type SortFieldName } from '../rules/sort-fields.js';
import type { StoredBlob } from '../types.js';
import { SQLITE_FILE_NAME } from './core.js';
import { openFixture, seedAccount, type StoreFixture } from './store-fixture.js';

let fx: StoreFixture;
beforeEach(async () => {
  fx = await openFixture();
});
afterEach(async () => {
  await fx.cleanup();
});

function realBlob(text: string): StoredBlob {
  const bytes = Buffer.from(text.replace(/\n/g, '\r\n'), 'utf8');
  return {
    blobId: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    mime: indexMessage(bytes),
  };
}

const A = realBlob(
  'From: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.org>\nTo: undisclosed: ;\nCc: bob@example.net\n' +
    'Subject: Re: [list] Fwd: Budget (fwd)\nDate: Tue, 2 Jan 2024 10:00:00 +0100\n' +
    'Message-ID: <a@x>\nIn-Reply-To: <p@x>\nReferences: <r@x> <p@x>\n\nbody\n',
);
const ALL = Object.keys(emptySortFields()) as SortFieldName[];
const B = realBlob('From: carol@example.com\nSubject: plain\n\nno date, no ids\n');

/** A second connection to the store's file, as a tool or an older version would see it. */
function rawDb(): Database.Database {
  return new Database(path.join(fx.dir, SQLITE_FILE_NAME));
}

void test('the sort fields are kept at append and read back in UID order', async () => {
  const { store } = fx;
  const { inbox } = await seedAccount(store);
  for (const blob of [A, B, A]) await store.append({ blob, targets: [{ mailboxId: inbox }] });
  const rows = await store.listSortFields(inbox, [3, 1, 2, 9], ALL);
  assert.deepEqual(
    rows.map((r) => [r.uid, r.size]),
    [
      [1, A.size],
      [2, B.size],
      [3, A.size],
    ],
  );
  assert.deepEqual(rows[0]!.fields, blobSortFields(A.mime));
  assert.deepEqual(rows[1]!.fields, blobSortFields(B.mime));
  // What the fields hold (RFC 5256 §2.1, §3; RFC 5957 §3), so equal-but-wrong cannot pass.
  assert.deepEqual(rows[0]!.fields, {
    sent: Date.UTC(2024, 0, 2, 9),
    baseSubject: 'Budget',
    replyOrForward: true,
    fromMailbox: 'renee',
    toMailbox: 'undisclosed',
    ccMailbox: 'bob',
    displayFrom: 'Renée',
    displayTo: 'undisclosed',
    messageId: '<a@x>',
    inReplyTo: '<p@x>',
    references: ['<r@x>', '<p@x>'],
  });
  assert.equal(rows[1]!.fields.sent, null);
  // Only what is asked for is read; the rest reads empty.
  const [narrow] = await store.listSortFields(inbox, [1], ['sent', 'references']);
  assert.deepEqual(narrow!.fields, {
    ...emptySortFields(),
    sent: Date.UTC(2024, 0, 2, 9),
    references: ['<r@x>', '<p@x>'],
  });
  assert.deepEqual(rows[1]!.fields.references, []);
  // Copies and moves keep the per-message copy (message_sort triggers).
  const { mailbox } = await seedAccount(store, 'bob@example.org');
  const other = await mailbox('INBOX');
  await store.copy(inbox, [2], other);
  await store.move(inbox, [1], other);
  assert.deepEqual(
    (await store.listSortFields(other, [1, 2], ['fromMailbox'])).map((r) => [r.uid, r.fields.fromMailbox]),
    [
      [1, 'carol'],
      [2, 'renee'],
    ],
  );
  assert.deepEqual(
    (await store.listSortFields(inbox, [1, 2, 3], [])).map((r) => r.uid),
    [2, 3],
  );
  const db = rawDb();
  try {
    assert.equal(db.prepare('SELECT count(*) FROM blob_sort').pluck().get(), 2);
    assert.equal(db.prepare('SELECT count(*) FROM message_sort').pluck().get(), 4);
  } finally {
    db.close();
  }
});

void test('a blob from before migration 21 is read from its MIME record, then kept', async () => {
  const { store } = fx;
  const { inbox } = await seedAccount(store);
  await store.append({ blob: A, targets: [{ mailboxId: inbox }] });
  const db = rawDb();
  try {
    // As before migration 21: neither the blob's row nor the message's copy.
    db.exec('DELETE FROM blob_sort; DELETE FROM message_sort');
    const [row] = await store.listSortFields(inbox, [1], ALL);
    assert.deepEqual(row!.fields, blobSortFields(A.mime));
    // The fill is handed to the writer thread without waiting: poll for it, bounded.
    const count = db.prepare('SELECT count(*) FROM blob_sort WHERE blob_id = ?').pluck();
    for (let i = 0; i < 200 && count.get(A.blobId) === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(count.get(A.blobId), 1, 'the lazy fill kept the row');
    assert.equal(
      db.prepare('SELECT count(*) FROM message_sort').pluck().get(),
      1,
      'and its per-message copy',
    );
    assert.deepEqual((await store.listSortFields(inbox, [1], ALL))[0]!.fields, blobSortFields(A.mime));
  } finally {
    db.close();
  }
});

void test('the row goes with its blob when garbage is collected', async () => {
  const { store } = fx;
  const { inbox } = await seedAccount(store);
  await store.append({ blob: B, targets: [{ mailboxId: inbox }] });
  await store.expunge(inbox, { uids: [1] });
  assert.deepEqual(await store.listSortFields(inbox, [1], ALL), []);
  assert.equal((await store.collectGarbage({ graceMs: 0 })).blobsRemoved, 1);
  const db = rawDb();
  try {
    assert.equal(db.prepare('SELECT count(*) FROM blob_sort').pluck().get(), 0);
  } finally {
    db.close();
  }
});
