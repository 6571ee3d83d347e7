// IMAP mailbox commands over real sockets: SELECT/EXAMINE (both revisions), CLOSE, UNSELECT,
// CHECK, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (with LIST-EXTENDED, SPECIAL-USE and
// LIST-STATUS), LSUB, NAMESPACE, STATUS; two sessions racing a DELETE/RENAME of a selected mailbox.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { message, RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

/** The names in `* LIST` responses, in order. */
function listed(untagged: string[]): string[] {
  return untagged
    .filter((l) => l.startsWith('* LIST '))
    .map((l) => l.replace(/^\* LIST \([^)]*\) "\/" /, ''));
}

void describe('IMAP mailbox commands', () => {
  let server: ImapTestServer;
  before(async () => {
    server = await startImapServer();
  });
  after(async () => {
    await server.close();
  });

  void it('SELECT (IMAP4rev1): FLAGS, PERMANENTFLAGS, EXISTS, RECENT, UNSEEN, UIDVALIDITY, UIDNEXT, READ-WRITE', async () => {
    await server.deliver(BOB, 'INBOX', message('one'), { flags: ['\\Seen', '$Label1'] });
    await server.deliver(BOB, 'INBOX', message('two'));
    await server.deliver(BOB, 'INBOX', message('three'));
    const c = await RawImapClient.login(server.ports.imap, BOB);
    const r = await c.command('SELECT INBOX');
    const validity = (await server.store.getMailbox((await server.store.getAccount(BOB))!.id, 'INBOX'))!
      .uidValidity;
    assert.deepEqual(r.untagged, [
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 \\*)] Flags permitted.',
      '* 3 EXISTS',
      '* 3 RECENT',
      '* OK [UNSEEN 2] First unseen.',
      `* OK [UIDVALIDITY ${validity}] UIDs valid`,
      '* OK [UIDNEXT 4] Predicted next UID',
      // RFC 8474 §4.1; 'F' and the UIDVALIDITY of a mailbox never renamed.
      `* OK [MAILBOXID (F${validity})] Mailbox id`,
    ]);
    assert.equal(r.tagged.replace(/^A\d+ /, ''), 'OK [READ-WRITE] Select completed');
    assert.equal((await c.command('CHECK')).status, 'OK');
    // \Recent went to the first session only.
    const d = await RawImapClient.login(server.ports.imap, BOB);
    assert.ok((await d.command('SELECT INBOX')).untagged.includes('* 0 RECENT'));
    // EXAMINE: no permanent flags, READ-ONLY.
    const e = await d.command('EXAMINE INBOX');
    assert.ok(e.untagged.includes('* OK [PERMANENTFLAGS ()] Read-only mailbox.'));
    assert.match(e.tagged, / OK \[READ-ONLY\] Examine completed$/);
    c.destroy();
    d.destroy();
  });

  void it('a failed SELECT leaves the session unselected; IMAP4rev2 has no RECENT/UNSEEN and sends CLOSED', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    const no = await c.command('SELECT Nowhere');
    assert.match(no.tagged, / NO \[NONEXISTENT\]/);
    assert.deepEqual(no.untagged, ['* OK [CLOSED] Previous mailbox closed.']);
    assert.equal((await c.command('CHECK')).status, 'BAD');
    assert.equal((await c.command('ENABLE IMAP4rev2')).status, 'OK');
    const r = await c.command('SELECT inbox');
    assert.equal(r.status, 'OK');
    assert.ok(!r.untagged.some((l) => / RECENT$/.test(l) || l.includes('[UNSEEN')), r.untagged.join('\n'));
    // RFC 9051 §6.3.2: a LIST response with the (canonical) name and its attributes.
    assert.ok(r.untagged.includes('* LIST (\\HasNoChildren) "/" INBOX'), r.untagged.join('\n'));
    const again = await c.command('EXAMINE Sent');
    assert.equal(again.untagged[0], '* OK [CLOSED] Previous mailbox closed.');
    assert.ok(again.untagged.includes('* LIST (\\HasNoChildren \\Sent) "/" Sent'));
    // Select parameters (RFC 7162): CONDSTORE is known, anything else is BAD.
    assert.equal((await c.command('SELECT INBOX (CONDSTORE)')).status, 'OK');
    assert.equal((await c.command('SELECT INBOX (NOSUCH)')).status, 'BAD');
    c.destroy();
  });

  void it('CLOSE expunges \\Deleted only when read-write; UNSELECT never does', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.command('CREATE Closing')).status, 'OK');
    await server.deliver(ALICE, 'Closing', message('keep'));
    await server.deliver(ALICE, 'Closing', message('drop'), { flags: ['\\Deleted'] });
    const count = async (): Promise<string> =>
      (await c.command('STATUS Closing (MESSAGES DELETED)')).untagged[0]!;
    await c.command('EXAMINE Closing');
    const closeRo = await c.command('CLOSE');
    assert.deepEqual(closeRo.untagged, []);
    assert.equal(await count(), '* STATUS Closing (MESSAGES 2 DELETED 1)');
    await c.command('SELECT Closing');
    assert.equal((await c.command('UNSELECT')).status, 'OK');
    assert.equal(await count(), '* STATUS Closing (MESSAGES 2 DELETED 1)');
    assert.equal((await c.command('UNSELECT')).status, 'BAD');
    await c.command('SELECT Closing');
    const close = await c.command('CLOSE');
    assert.equal(close.status, 'OK');
    assert.deepEqual(close.untagged, [], 'CLOSE expunges silently');
    assert.equal(await count(), '* STATUS Closing (MESSAGES 1 DELETED 0)');
    assert.equal((await c.command('CLOSE')).status, 'BAD');
    c.destroy();
  });

  void it('CREATE makes superiors, drops a trailing delimiter, refuses existing names and INBOX', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.command('CREATE Projects/2026/Q4')).status, 'OK');
    assert.equal((await c.command('CREATE Archive2/')).status, 'OK');
    assert.match((await c.command('CREATE Projects/2026')).tagged, / NO \[ALREADYEXISTS\]/);
    assert.match((await c.command('CREATE inbox')).tagged, / NO \[ALREADYEXISTS\]/);
    const r = await c.command('LIST "" "Projects*"');
    assert.deepEqual(r.untagged, [
      '* LIST (\\HasChildren) "/" Projects',
      '* LIST (\\HasChildren) "/" Projects/2026',
      '* LIST (\\HasNoChildren) "/" Projects/2026/Q4',
    ]);
    assert.deepEqual((await c.command('LIST "" Archive2')).untagged, [
      '* LIST (\\HasNoChildren) "/" Archive2',
    ]);
    // RFC 6154 §3 CREATE-SPECIAL-USE.
    assert.equal((await c.command('CREATE Everything (USE (\\All))')).status, 'OK');
    assert.deepEqual((await c.command('LIST "" Everything')).untagged, [
      '* LIST (\\HasNoChildren \\All) "/" Everything',
    ]);
    assert.match((await c.command('CREATE Odd (USE (\\Bogus))')).tagged, / NO \[USEATTR\]/);
    c.destroy();
  });

  void it('DELETE: INBOX refused, inferiors keep a \\Noselect level, the selected mailbox is closed', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    await c.command('CREATE Tree/Leaf');
    await server.deliver(ALICE, 'Tree', message('in tree'));
    assert.match((await c.command('DELETE INBOX')).tagged, / NO /);
    assert.match((await c.command('DELETE NoSuchBox')).tagged, / NO \[NONEXISTENT\]/);
    assert.equal((await c.command('DELETE Tree')).status, 'OK');
    assert.deepEqual((await c.command('LIST "" Tree*')).untagged, [
      '* LIST (\\Noselect \\HasChildren) "/" Tree',
      '* LIST (\\HasNoChildren) "/" Tree/Leaf',
    ]);
    assert.match((await c.command('SELECT Tree')).tagged, / NO \[NONEXISTENT\]/);
    // Deleting the \Noselect level with inferiors is an error (RFC 9051 §6.3.5).
    assert.match((await c.command('DELETE Tree')).tagged, / NO Mailbox has children/);
    assert.equal((await c.command('SELECT Tree/Leaf')).status, 'OK');
    const del = await c.command('DELETE Tree/Leaf');
    assert.equal(del.status, 'OK');
    assert.deepEqual(del.untagged, ['* OK [CLOSED] Mailbox deleted.']);
    assert.equal((await c.command('CHECK')).status, 'BAD', 'no longer selected');
    assert.deepEqual((await c.command('LIST "" Tree*')).untagged, []);
    assert.equal((await c.command('NOOP')).status, 'OK');
    c.destroy();
  });

  void it('RENAME moves inferiors and subscriptions; INBOX keeps existing and gives its messages away', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    await c.command('CREATE Old/Child/Grandchild');
    await c.command('SUBSCRIBE Old/Child');
    assert.equal((await c.command('RENAME Old New/Place')).status, 'OK');
    assert.deepEqual(
      listed((await c.command('LIST "" "*"')).untagged).filter((n) => /^(Old|New)/.test(n)),
      ['New', 'New/Place', 'New/Place/Child', 'New/Place/Child/Grandchild'],
    );
    assert.deepEqual((await c.command('LSUB "" New*')).untagged, ['* LSUB () "/" New/Place/Child']);
    assert.match((await c.command('RENAME New/Place Sent')).tagged, / NO \[ALREADYEXISTS\]/);
    assert.match((await c.command('RENAME Missing Other')).tagged, / NO \[NONEXISTENT\]/);
    assert.match((await c.command('RENAME New New/Inside')).tagged, / NO /);

    const bob = await RawImapClient.login(server.ports.imap, BOB);
    const before = (await bob.command('STATUS INBOX (MESSAGES)')).untagged[0];
    assert.match(before!, /MESSAGES [1-9]/);
    assert.equal((await bob.command('RENAME INBOX "Old Inbox"')).status, 'OK');
    assert.equal((await bob.command('STATUS INBOX (MESSAGES)')).untagged[0], '* STATUS INBOX (MESSAGES 0)');
    assert.equal(
      (await bob.command('STATUS "Old Inbox" (MESSAGES)')).untagged[0],
      before!.replace('INBOX', '"Old Inbox"'),
    );
    c.destroy();
    bob.destroy();
  });

  void it('SUBSCRIBE, UNSUBSCRIBE, LSUB (rev1 only), LIST (SUBSCRIBED RECURSIVEMATCH) and RETURN options', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    await c.command('CREATE Lists/A');
    await c.command('CREATE Lists/B');
    assert.equal((await c.command('SUBSCRIBE Lists/A')).status, 'OK');
    assert.match((await c.command('SUBSCRIBE Lists/Nope')).tagged, / NO \[NONEXISTENT\]/);
    assert.deepEqual((await c.command('LSUB "" Lists/*')).untagged, ['* LSUB () "/" Lists/A']);
    assert.deepEqual((await c.command('LSUB "" Lists%')).untagged, ['* LSUB (\\Noselect) "/" Lists']);
    assert.deepEqual((await c.command('LSUB "" Sent')).untagged, ['* LSUB (\\Sent) "/" Sent']);
    assert.deepEqual((await c.command('LIST (SUBSCRIBED) "" "Lists*"')).untagged, [
      '* LIST (\\HasNoChildren \\Subscribed) "/" Lists/A',
    ]);
    assert.deepEqual((await c.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" "Lists%"')).untagged, [
      '* LIST (\\HasChildren) "/" Lists (CHILDINFO ("SUBSCRIBED"))',
    ]);
    assert.equal((await c.command('LIST (RECURSIVEMATCH) "" "*"')).status, 'BAD');
    assert.equal((await c.command('LIST (BOGUS) "" "*"')).status, 'BAD');
    const ret = await c.command('LIST "" "Lists/*" RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES UIDNEXT))');
    assert.deepEqual(ret.untagged, [
      '* LIST (\\HasNoChildren \\Subscribed) "/" Lists/A',
      '* STATUS Lists/A (MESSAGES 0 UIDNEXT 1)',
      '* LIST (\\HasNoChildren) "/" Lists/B',
      '* STATUS Lists/B (MESSAGES 0 UIDNEXT 1)',
    ]);
    // Several patterns (RFC 5258 §3), "%" stops at the delimiter, the reference is a prefix.
    assert.deepEqual(listed((await c.command('LIST "" (Lists/A Drafts)')).untagged), ['Drafts', 'Lists/A']);
    assert.deepEqual(listed((await c.command('LIST "" Lists%')).untagged), ['Lists']);
    assert.deepEqual(listed((await c.command('LIST Lists/ %')).untagged), ['Lists/A', 'Lists/B']);
    assert.equal((await c.command('UNSUBSCRIBE Lists/A')).status, 'OK');
    assert.deepEqual((await c.command('LSUB "" Lists/*')).untagged, []);
    // A subscription outlives its mailbox (RFC 9051 §6.3.7) and is listed \NonExistent.
    await c.command('SUBSCRIBE Lists/B');
    await c.command('DELETE Lists/B');
    assert.deepEqual((await c.command('LIST (SUBSCRIBED) "" Lists/B')).untagged, [
      '* LIST (\\NonExistent \\Subscribed) "/" Lists/B',
    ]);
    assert.deepEqual((await c.command('LSUB "" Lists/B')).untagged, ['* LSUB () "/" Lists/B']);
    await c.command('ENABLE IMAP4rev2');
    assert.equal((await c.command('LSUB "" *')).status, 'BAD');
    c.destroy();
  });

  void it('LIST "" "" gives the delimiter; INBOX matches in any case; special-use; NAMESPACE', async () => {
    const c = await RawImapClient.login(server.ports.imap, BOB);
    assert.deepEqual((await c.command('LIST "" ""')).untagged, ['* LIST (\\Noselect) "/" ""']);
    assert.deepEqual((await c.command('LIST "" iNbOx')).untagged, ['* LIST (\\HasNoChildren) "/" INBOX']);
    const all = listed((await c.command('LIST "" *')).untagged);
    assert.equal(all[0], 'INBOX');
    assert.ok(all.includes('Sent') && all.includes('Trash'));
    const special = await c.command('LIST (SPECIAL-USE) "" *');
    assert.deepEqual(special.untagged, [
      '* LIST (\\HasNoChildren \\Archive) "/" Archive',
      '* LIST (\\HasNoChildren \\Drafts) "/" Drafts',
      '* LIST (\\HasNoChildren \\Junk) "/" Junk',
      '* LIST (\\HasNoChildren \\Sent) "/" Sent',
      '* LIST (\\HasNoChildren \\Trash) "/" Trash',
    ]);
    assert.deepEqual((await c.command('NAMESPACE')).untagged, [
      '* NAMESPACE (("" "/")) (("user/" "/")) (("shared/" "/"))',
    ]);
    // Modified UTF-7 names both ways.
    assert.equal((await c.command('CREATE "Entw&APw-rfe"')).status, 'OK');
    assert.deepEqual((await c.command('LIST "" Entw*')).untagged, [
      '* LIST (\\HasNoChildren) "/" Entw&APw-rfe',
    ]);
    assert.ok((await server.store.getMailbox((await server.store.getAccount(BOB))!.id, 'Entwürfe')) !== null);
    // After UTF8=ACCEPT (RFC 6855 §3): UTF-8 both ways, in quoted strings.
    await c.command('ENABLE UTF8=ACCEPT');
    const utf8 = Buffer.from('"Entwürfe"').toString('latin1');
    assert.deepEqual((await c.command('LIST "" Entw*')).untagged, [`* LIST (\\HasNoChildren) "/" ${utf8}`]);
    const tag = c.tag();
    c.write(Buffer.from(`${tag} STATUS "Entwürfe" (MESSAGES)\r\n`, 'utf8'));
    assert.deepEqual((await c.until(tag)).untagged, [`* STATUS ${utf8} (MESSAGES 0)`]);
    c.destroy();
  });

  void it('STATUS: every item; RECENT (unclaimed, or claimed by the session) only in rev1; the selected mailbox; unknown items and mailboxes', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    await c.command('CREATE Stat');
    await server.deliver(ALICE, 'Stat', message('s1'), { flags: ['\\Seen'] });
    await server.deliver(ALICE, 'Stat', message('s2'), { flags: ['\\Deleted'] });
    const mb = (await server.store.getMailbox((await server.store.getAccount(ALICE))!.id, 'Stat'))!;
    const r = await c.command('STATUS Stat (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT)');
    assert.deepEqual(r.untagged, [
      `* STATUS Stat (MESSAGES 2 UIDNEXT 3 UIDVALIDITY ${mb.uidValidity} UNSEEN 1 DELETED 1 SIZE ${mb.size} RECENT 2)`,
    ]);
    assert.ok(mb.size > 100);
    await c.command('SELECT Stat');
    assert.equal(
      (await c.command('STATUS Stat (RECENT MESSAGES)')).untagged[0],
      '* STATUS Stat (RECENT 2 MESSAGES 2)',
    );
    assert.equal((await c.command('STATUS Stat (BOGUS)')).status, 'BAD');
    assert.equal((await c.command('STATUS Stat ()')).status, 'BAD');
    assert.match((await c.command('STATUS Nope (MESSAGES)')).tagged, / NO \[NONEXISTENT\]/);
    await c.command('UNSELECT');
    await c.command('ENABLE IMAP4rev2');
    assert.equal((await c.command('STATUS Stat (RECENT)')).status, 'BAD');
    assert.equal((await c.command('STATUS Stat (SIZE)')).untagged[0], `* STATUS Stat (SIZE ${mb.size})`);
    c.destroy();
  });

  void it('another session deletes the selected mailbox: BYE after the next command, nothing crashes', async () => {
    const a = await RawImapClient.login(server.ports.imap, ALICE);
    const b = await RawImapClient.login(server.ports.imap, ALICE);
    await a.command('CREATE Doomed');
    await server.deliver(ALICE, 'Doomed', message('doomed'));
    assert.equal((await b.command('SELECT Doomed')).status, 'OK');
    assert.equal((await a.command('DELETE Doomed')).status, 'OK');
    const r = await b.command('NOOP');
    assert.equal(r.status, 'OK');
    assert.equal(await b.response(), '* BYE Selected mailbox was deleted, have to disconnect.');
    await b.closed();
    // The server goes on serving everyone else.
    assert.equal((await a.command('NOOP')).status, 'OK');
    // The same while in IDLE: the BYE comes at once, without waiting for DONE.
    await a.command('CREATE Doomed2');
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.command('SELECT Doomed2')).status, 'OK');
    c.write('I1 IDLE\r\n');
    assert.match(await c.response(), /^\+ /);
    assert.equal((await a.command('DELETE Doomed2')).status, 'OK');
    assert.equal(await c.response(2000), '* BYE Selected mailbox was deleted, have to disconnect.');
    await c.closed();
    a.destroy();
  });

  void it('another session renames the selected mailbox: the view goes on', async () => {
    const a = await RawImapClient.login(server.ports.imap, ALICE);
    const b = await RawImapClient.login(server.ports.imap, ALICE);
    await a.command('CREATE Moving');
    await server.deliver(ALICE, 'Moving', message('moving'));
    assert.equal((await b.command('SELECT Moving')).status, 'OK');
    assert.equal((await a.command('RENAME Moving Moved')).status, 'OK');
    assert.equal((await b.command('NOOP')).status, 'OK');
    await server.deliver(ALICE, 'Moved', message('after rename'));
    const r = await b.command('NOOP');
    assert.ok(r.untagged.includes('* 2 EXISTS'), r.untagged.join('\n'));
    assert.equal((await b.command('CLOSE')).status, 'OK');
    a.destroy();
    b.destroy();
  });

  void it('imapflow: list, create, rename, delete, status', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: server.ports.imap,
      secure: false,
      auth: { user: BOB, pass: 'bob-secret-2' },
      tls: { rejectUnauthorized: false },
      logger: false,
    });
    await client.connect();
    try {
      await client.mailboxCreate(['Flow', 'Inner']);
      await client.mailboxRename('Flow/Inner', 'Flow/Renamed');
      const boxes = await client.list();
      const paths = boxes.map((b) => b.path);
      assert.ok(paths.includes('Flow/Renamed') && !paths.includes('Flow/Inner'), paths.join(','));
      assert.equal(boxes.find((b) => b.path === 'Sent')?.specialUse, '\\Sent');
      await client.mailboxCreate('FlowStat');
      await server.deliver(BOB, 'FlowStat', message('flow'));
      const st = await client.status('FlowStat', { messages: true, uidNext: true });
      assert.ok(st !== false);
      assert.deepEqual([st.messages, st.uidNext], [1, 2]);
      await client.mailboxDelete('Flow/Renamed');
      const lock = await client.getMailboxLock('INBOX');
      try {
        assert.equal(typeof client.mailbox === 'object' && client.mailbox.path, 'INBOX');
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  });
});
