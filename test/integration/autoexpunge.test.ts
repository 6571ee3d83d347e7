// Auto-expunge of Trash and Junk (issue 14): what was saved into the \Trash or \Junk mailbox
// longer ago than store.autoexpunge_trash / autoexpunge_junk goes; other mailboxes, and what
// is younger, stay. The clock is moved by passing `now` to the run the maintenance schedule makes.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { autoexpunge } from '../../src/store/autoexpunge.js';
import { sampleMessage, startPop3Server, type Pop3TestServer } from './pop3-harness.js';

const ALICE = 'alice@example.test';
const DAY_S = 24 * 60 * 60;

void describe('autoexpunge of Trash and Junk', () => {
  let server: Pop3TestServer;

  before(async () => {
    server = await startPop3Server();
  });
  after(async () => {
    await server.close();
  });

  void it('expunges by the age since the message was saved there, per mailbox, and leaves the rest', async () => {
    const { store } = server;
    const account = (await store.getAccount(ALICE))!;
    const mailboxes = await store.listMailboxes(account.id);
    const trash = mailboxes.find((m) => m.specialUse === '\\Trash')!;
    const junk = mailboxes.find((m) => m.specialUse === '\\Junk')!;
    assert.ok(trash !== undefined && junk !== undefined, 'the default mailboxes have Trash and Junk');
    const inbox = await server.inboxId(ALICE);
    const uids: number[] = [];
    for (let i = 1; i <= 5; i++) uids.push(await server.deliver(ALICE, sampleMessage(i)));
    const savedAt = Date.now();
    await store.move(inbox, [uids[0]!, uids[1]!], trash.id);
    await store.move(inbox, [uids[2]!], junk.id);
    const count = async (name: string): Promise<number> => (await server.messages(ALICE, name)).length;
    const run = (now: number, trashSeconds: number, junkSeconds: number) =>
      autoexpunge(store, { trashSeconds, junkSeconds, now });

    assert.deepEqual(await run(savedAt + 30 * DAY_S * 1000 - 60_000, 30 * DAY_S, 30 * DAY_S), {
      expunged: 0,
    });
    // Past 30 days for Trash; Junk set to never.
    assert.deepEqual(await run(Date.now() + 30 * DAY_S * 1000 + 60_000, 30 * DAY_S, 0), { expunged: 2 });
    assert.equal(await count(trash.name), 0);
    assert.equal(await count(junk.name), 1);
    assert.equal(await count('INBOX'), 2, 'other mailboxes are never touched');
    // Junk with its own age.
    assert.deepEqual(await run(Date.now() + 7 * DAY_S * 1000 + 60_000, 30 * DAY_S, 7 * DAY_S), {
      expunged: 1,
    });
    assert.equal(await count(junk.name), 0);
    // The age is the save date, not the message's: an old message moved to Trash now stays.
    await store.move(inbox, [uids[3]!], trash.id);
    assert.deepEqual(await run(Date.now() + DAY_S * 1000, 30 * DAY_S, 7 * DAY_S), { expunged: 0 });
    assert.deepEqual(await run(Date.now(), 0, 0), { expunged: 0 }, '0 and 0: nothing is looked at');
  });
});
