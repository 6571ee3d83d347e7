// POP3 retention (issue 14; RFC 2449 §6.7 EXPIRE as a policy): messages POP3 retrieved and
// left on the server are expunged from INBOX pop3.expire_days after their first retrieval,
// with the setting per domain and per user; messages only read over IMAP stay, and so do
// downloaded messages whose flags IMAP changed afterwards unless pop3.expire_imap. The clock is
// moved by passing `now` to the retention run (what the maintenance schedule calls hourly).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expirePop3Retrieved } from '../../src/store/pop3-retention.js';
import { RawPop3Client, sampleMessage, startPop3Server, USERS, type Pop3TestServer } from './pop3-harness.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const DAY = 24 * 60 * 60 * 1000;

async function login(server: Pop3TestServer, address: string): Promise<RawPop3Client> {
  const { client } = await RawPop3Client.open(server.ports.pop3);
  const r = await client.login(address, USERS[address]!);
  assert.equal(r.ok, true, r.text);
  return client;
}

async function capaExpire(client: RawPop3Client): Promise<string | undefined> {
  const { lines } = await client.multi('CAPA');
  return lines.find((l) => l.startsWith('EXPIRE'));
}

/** RETR of each message number, then QUIT without DELE: the client leaves them on the server. */
async function download(server: Pop3TestServer, address: string, numbers: number[]): Promise<void> {
  const client = await login(server, address);
  for (const n of numbers) await client.multi(`RETR ${n}`);
  assert.equal((await client.command('QUIT')).ok, true);
  await client.closed();
}

void describe('POP3 retention (pop3.expire_days)', () => {
  let server: Pop3TestServer;

  before(async () => {
    server = await startPop3Server();
  });
  after(async () => {
    await server.close();
  });

  void it('CAPA shows the server value, USER once a domain or user has its own, and the user value after login', async () => {
    const { client } = await RawPop3Client.open(server.ports.pop3);
    assert.equal(await capaExpire(client), 'EXPIRE NEVER');
    await client.command('QUIT');
    await server.store.setPop3Expire({ domain: 'example.test' }, 3);
    await server.store.setPop3Expire({ address: BOB }, 'never');
    const again = (await RawPop3Client.open(server.ports.pop3)).client;
    assert.equal(await capaExpire(again), 'EXPIRE NEVER USER');
    await again.command('QUIT');
    const alice = await login(server, ALICE);
    assert.equal(await capaExpire(alice), 'EXPIRE 3');
    await alice.command('QUIT');
    const bob = await login(server, BOB);
    assert.equal(await capaExpire(bob), 'EXPIRE NEVER');
    await bob.command('QUIT');
    await assert.rejects(server.store.setPop3Expire({ domain: 'nowhere.test' }, 1), /not found/);
    await assert.rejects(server.store.setPop3Expire({ address: ALICE }, -2), /whole number/);
  });

  void it('downloaded messages go after the days of their first retrieval; IMAP-only and never-retrieved ones stay', async () => {
    // The domain keeps 3 days (previous test); bob never expires.
    const uids: number[] = [];
    for (let i = 1; i <= 4; i++) uids.push(await server.deliver(ALICE, sampleMessage(i)));
    for (let i = 1; i <= 2; i++) await server.deliver(BOB, sampleMessage(10 + i));
    const inbox = await server.inboxId(ALICE);
    // Message 3 is read over IMAP only (\Seen, never retrieved by POP3); message 4 not at all.
    await server.store.updateFlags(inbox, [uids[2]!], { mode: 'add', flags: ['\\Seen'] });
    const before = Date.now();
    await download(server, ALICE, [1, 2]);
    await download(server, BOB, [1, 2]);
    const seen = await server.messages(ALICE);
    assert.deepEqual(
      seen.map((m) => m.flags.includes('\\Seen')),
      [true, true, true, false],
      'RETR sets \\Seen as before',
    );

    const run = (now: number) => expirePop3Retrieved(server.store, { serverDefault: 'NEVER', now });
    // Two days on: nothing is old enough.
    assert.equal((await run(before + 2 * DAY)).expunged, 0);
    // A second download does not restart the clock (first retrieval counts).
    await download(server, ALICE, [1]);
    // Three days and a minute on: alice's two downloaded messages go, nothing else.
    const r = await run(Date.now() + 3 * DAY + 60_000);
    assert.equal(r.expunged, 2);
    assert.deepEqual(
      (await server.messages(ALICE)).map((m) => m.uid),
      [uids[2], uids[3]],
    );
    assert.equal((await server.messages(BOB)).length, 2, "bob's setting is never");
    // A POP3 session now sees two messages; once retrieved they too expire after the days.
    const client = await login(server, ALICE);
    assert.match((await client.command('STAT')).text, /^2 /);
    await client.command('QUIT');
    await client.closed();
    // Bob back to the domain's value: his go too, 3 days after their retrieval.
    await server.store.setPop3Expire({ address: BOB }, null);
    assert.equal((await run(Date.now() + 3 * DAY + 60_000)).expunged, 2);
    assert.equal((await server.messages(BOB)).length, 0);
    // The server default applies when neither domain nor user sets one.
    await server.store.setPop3Expire({ domain: 'example.test' }, null);
    assert.equal((await run(Date.now() + 1000 * DAY)).accounts, 0);
    await download(server, ALICE, [1]);
    assert.equal(
      (await expirePop3Retrieved(server.store, { serverDefault: 0, now: Date.now() + 1000 })).expunged,
      1,
    );
  });

  void it('a downloaded message IMAP changed afterwards stays, unless pop3.expire_imap', async () => {
    for (const m of await server.messages(ALICE))
      await server.store.expunge(await server.inboxId(ALICE), { uids: [m.uid] });
    const uids: number[] = [];
    for (let i = 1; i <= 3; i++) uids.push(await server.deliver(ALICE, sampleMessage(20 + i)));
    await download(server, ALICE, [1, 2, 3]);
    // An IMAP user of the same mailbox flags message 2 and answers message 3 (what IMAP STORE does).
    const inbox = await server.inboxId(ALICE);
    await server.store.updateFlags(inbox, [uids[1]!], { mode: 'add', flags: ['\\Flagged'] });
    await server.store.updateFlags(inbox, [uids[2]!], { mode: 'add', flags: ['\\Answered'] });
    // A later POP3 download of them changes nothing: they stay IMAP-touched.
    await download(server, ALICE, [1, 2, 3]);
    const run = (includeImapTouched: boolean) =>
      expirePop3Retrieved(server.store, { serverDefault: 1, now: Date.now() + 2 * DAY, includeImapTouched });
    assert.equal((await run(false)).expunged, 1);
    assert.deepEqual(
      (await server.messages(ALICE)).map((m) => m.uid),
      [uids[1], uids[2]],
      'only the message nobody touched over IMAP went',
    );
    // Opted in (pop3.expire_imap = true): they go too.
    assert.equal((await run(true)).expunged, 2);
    assert.equal((await server.messages(ALICE)).length, 0);
  });
});
