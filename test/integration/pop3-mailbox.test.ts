// POP3 beside IMAP on the same mailboxes: the snapshot at login, the exclusive lease
// ([IN-USE]) while store operations of other sessions keep working, messages expunged during
// a session, a message whose bytes cannot be read, \Seen set by RETR, the three delete modes,
// and UIDLs that survive sessions and a server restart.

import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { waitUntil } from '../helpers/wait-until.js';
import { after, before, describe, it } from 'node:test';
import type { PosternConfig } from '../../src/config/types.js';
import { SQLITE_FILE_NAME } from '../../src/store/sqlite/sqlite-store.js';
import { pin } from '../../src/store/sqlite/statement-pin.js';
import { RawPop3Client, sampleMessage, startPop3Server, USERS, type Pop3TestServer } from './pop3-harness.js';

const ALICE = 'alice@example.test';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function login(server: Pop3TestServer): Promise<RawPop3Client> {
  const { client } = await RawPop3Client.open(server.ports.pop3);
  const r = await client.login(ALICE, USERS[ALICE]);
  assert.equal(r.ok, true, r.text);
  return client;
}

async function uidls(server: Pop3TestServer): Promise<string[]> {
  const client = await login(server);
  const { lines } = await client.multi('UIDL');
  await client.command('QUIT');
  await client.closed();
  return lines;
}

void describe('pop3 beside IMAP', () => {
  let server: Pop3TestServer;

  before(async () => {
    server = await startPop3Server();
    for (let i = 1; i <= 4; i++) await server.deliver(ALICE, sampleMessage(i));
  });

  after(async () => {
    await server.close();
  });

  void it('a second POP3 login gets [IN-USE] while store operations keep working; the snapshot is fixed', async () => {
    const first = await login(server);
    const second = await RawPop3Client.open(server.ports.pop3);
    const refused = await second.client.login(ALICE, USERS[ALICE]);
    assert.equal(refused.ok, false);
    assert.match(refused.text, /^\[IN-USE\] /);
    // What an IMAP session does meanwhile: deliver, flag, copy, list: none waits for POP3.
    const inbox = await server.inboxId(ALICE);
    const newUid = await server.deliver(ALICE, sampleMessage(99));
    const flagged = await server.store.updateFlags(inbox, [newUid], { mode: 'add', flags: ['\\Flagged'] });
    assert.equal(flagged.changed.length, 1);
    const account = (await server.store.getAccount(ALICE))!;
    const archive = (await server.store.getMailbox(account.id, 'Archive'))!;
    assert.equal((await server.store.copy(inbox, [newUid], archive.id)).mapping.length, 1);
    assert.equal((await server.store.listMessages(inbox)).length, 5);
    // The POP3 session still sees its login-time snapshot.
    assert.equal((await first.multi('LIST')).lines.length, 4);
    assert.equal((await first.command('RETR 5')).ok, false);
    assert.equal((await first.command('QUIT')).ok, true);
    await first.closed();
    // Once it quit, the second client can log in (in the same connection) and sees the new mail.
    const again = await second.client.login(ALICE, USERS[ALICE]);
    assert.equal(again.ok, true, again.text);
    assert.equal((await second.client.multi('LIST')).lines.length, 5);
    await second.client.command('QUIT');
    await server.store.expunge(inbox, { uids: [newUid] });
  });

  void it('a message expunged through the store during the session answers -ERR on RETR and TOP', async () => {
    const client = await login(server);
    const inbox = await server.inboxId(ALICE);
    const metas = await server.store.listMessages(inbox);
    await server.store.expunge(inbox, { uids: [metas[1].uid] });
    const r = await client.command('RETR 2');
    assert.equal(r.ok, false);
    assert.match(r.text, /removed/);
    assert.equal((await client.command('TOP 2 0')).ok, false);
    assert.ok(Buffer.isBuffer(await client.retr(1)), 'the others are still there');
    // DELE of the vanished message and QUIT: UPDATE skips it without failing.
    assert.equal((await client.command('DELE 2')).ok, true);
    assert.equal((await client.command('QUIT')).ok, true);
    assert.equal((await server.store.listMessages(inbox)).length, 3);
  });

  void it('a message whose bytes cannot be read answers -ERR before anything is sent', async () => {
    const inbox = await server.inboxId(ALICE);
    const first = (await server.store.listMessages(inbox))[0];
    // A small message: its bytes are a row of blob_content (no file), moved aside here.
    const db = pin(new Database(path.join(server.dir, SQLITE_FILE_NAME)));
    db.exec('PRAGMA busy_timeout = 5000');
    const expected = pin(db.prepare('SELECT content FROM blob_content WHERE blob_id = ?'))
      .pluck()
      .get(first.blobId) as Buffer | undefined;
    assert.ok(expected !== undefined && expected.length === first.size, 'the message is stored inline');
    const client = await login(server);
    pin(db.prepare('DELETE FROM blob_content WHERE blob_id = ?')).run(first.blobId);
    try {
      const r = await client.command('RETR 1');
      assert.equal(r.ok, false);
      assert.match(r.text, /^\[SYS\/TEMP\]/);
      assert.equal((await client.command('NOOP')).ok, true, 'the session goes on');
    } finally {
      pin(db.prepare('INSERT INTO blob_content (blob_id, content) VALUES (?, ?)')).run(
        first.blobId,
        expected,
      );
      db.close();
    }
    const body = await client.retr(1);
    assert.ok(Buffer.isBuffer(body) && body.equals(expected), 'read again once it is back');
    assert.equal((await client.command('QUIT')).ok, true);
    await client.closed();
  });

  void it('RETR sets \\Seen (TOP does not), visible to IMAP', async () => {
    const inbox = await server.inboxId(ALICE);
    const all = (await server.store.listMessages(inbox)).map((m) => m.uid);
    await server.store.updateFlags(inbox, all, { mode: 'remove', flags: ['\\Seen'] });
    const before = await server.store.listMessages(inbox);
    assert.ok(before.every((m) => !m.flags.includes('\\Seen')));
    const client = await login(server);
    assert.ok(Buffer.isBuffer(await client.retr(1)));
    assert.equal((await client.multi('TOP 2 1')).status.ok, true);
    // Set without waiting for QUIT: the session commits \Seen in batches within BATCH_DELAY_MS.
    let seen: string[] = [];
    for (let i = 0; i < 150; i++) {
      seen = (await server.store.listMessages(inbox, { uids: [before[0].uid] }))[0].flags;
      if (seen.includes('\\Seen')) break;
      await sleep(20);
    }
    assert.ok(seen.includes('\\Seen'));
    client.destroy();
    // The session has ended once its maildrop lease is free: then nothing more can change.
    await waitUntil(
      async () => {
        if (!(await server.store.acquireMailboxLock(inbox, 'test-probe', 1000))) return false;
        await server.store.releaseMailboxLock(inbox, 'test-probe');
        return true;
      },
      { what: 'the session to end and release its maildrop lease' },
    );
    const after = await server.store.listMessages(inbox);
    assert.deepEqual(
      after.map((m) => m.flags.includes('\\Seen')),
      [true, false, false],
    );
  });

  void it('UIDLs are the same in every session, after deletions and after a server restart', async () => {
    const first = await uidls(server);
    assert.equal(first.length, 3);
    const ids = first.map((l) => l.split(' ')[1]);
    assert.equal(new Set(ids).size, 3);
    assert.deepEqual(await uidls(server), first);
    await server.restart();
    assert.deepEqual(await uidls(server), first, 'after restart');
    // Delete message 1: the others keep their UIDL under new numbers.
    const client = await login(server);
    await client.command('DELE 1');
    await client.command('QUIT');
    await client.closed();
    const later = (await uidls(server)).map((l) => l.split(' ')[1]);
    assert.deepEqual(later, ids.slice(1));
  });

  void it("a crashed process's lease lapses", async () => {
    const inbox = await server.inboxId(ALICE);
    // A lease that its owner stops refreshing, as when its process is killed.
    assert.equal(await server.store.acquireMailboxLock(inbox, 'pop3:dead-process', 1500), true);
    assert.equal(await server.store.acquireMailboxLock(inbox, 'pop3:other', 1000), false, 'held');
    await sleep(1600);
    const { client } = await RawPop3Client.open(server.ports.pop3);
    const again = await client.login(ALICE, USERS[ALICE]);
    assert.equal(again.ok, true, again.text);
    await client.command('QUIT');
  });
});

async function deleteWith(mode: PosternConfig['pop3']['deleteMode']): Promise<{
  inbox: { uid: number; flags: string[] }[];
  trash: Buffer[];
  visibleAfter: number;
  deleted: Buffer;
}> {
  const server = await startPop3Server({ pop3: { deleteMode: mode } });
  try {
    for (let i = 1; i <= 3; i++) await server.deliver(ALICE, sampleMessage(i));
    const client = await login(server);
    const deleted = await client.retr(2);
    assert.ok(Buffer.isBuffer(deleted));
    assert.equal((await client.command('DELE 2')).ok, true);
    const quit = await client.command('QUIT');
    assert.equal(quit.ok, true, quit.text);
    await client.closed();
    const inbox = (await server.messages(ALICE)).map((m) => ({ uid: m.uid, flags: m.flags }));
    const trash = await Promise.all(
      (await server.messages(ALICE, 'Trash')).map((m) => server.blobs.readAll(m.blobId)),
    );
    const next = await login(server);
    const visibleAfter = (await next.multi('LIST')).lines.length;
    await next.command('QUIT');
    return { inbox, trash, visibleAfter, deleted };
  } finally {
    await server.close();
  }
}

void describe('pop3 delete modes', () => {
  void it('expunge (default) removes the message', async () => {
    const r = await deleteWith('expunge');
    assert.deepEqual(
      r.inbox.map((m) => m.uid),
      [1, 3],
    );
    assert.equal(r.trash.length, 0);
    assert.equal(r.visibleAfter, 2);
  });

  void it('trash moves it to Trash, bytes intact', async () => {
    const r = await deleteWith('trash');
    assert.deepEqual(
      r.inbox.map((m) => m.uid),
      [1, 3],
    );
    assert.equal(r.trash.length, 1);
    assert.ok(r.trash[0].equals(r.deleted));
    assert.equal(r.visibleAfter, 2);
  });

  void it('flag only sets \\Deleted; POP3 no longer shows it', async () => {
    const r = await deleteWith('flag');
    assert.deepEqual(
      r.inbox.map((m) => m.uid),
      [1, 2, 3],
    );
    assert.ok(r.inbox[1].flags.includes('\\Deleted'));
    assert.ok(!r.inbox[0].flags.includes('\\Deleted'));
    assert.equal(r.trash.length, 0);
    assert.equal(r.visibleAfter, 2);
  });
});
