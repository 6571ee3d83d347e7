// IMAP ACL (RFC 4314) and the Other Users namespace over real sockets: the RFC's command
// examples replayed (with addresses for its bare user names, which Postern does not have), and
// two (then three) users sharing a folder: alice shares INBOX/Projects with bob read-only, bob
// lists and opens it but cannot change it; alice grants more, bob appends (on alice's quota)
// and changes flags that alice's session hears of; alice revokes and bob loses it; carol never
// sees anything.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { hashPassword } from '../../src/auth/password.js';
import { message, RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const CAROL = 'carol@example.test';
const CAROL_PASSWORD = 'carol-secret-3';
const SHARED_NAME = `user/${ALICE}/INBOX/Projects`;
const SHARED = `"${SHARED_NAME}"`;

async function appendTo(c: RawImapClient, mailbox: string, body: string, flags = ''): Promise<string> {
  const tag = c.tag();
  const bytes = Buffer.from(body);
  c.write(`${tag} APPEND ${mailbox} ${flags === '' ? '' : `(${flags}) `}{${bytes.length}+}\r\n`);
  c.write(Buffer.concat([bytes, Buffer.from('\r\n')]));
  return (await c.until(tag)).tagged;
}

void describe('IMAP ACL (RFC 4314) and shared folders', () => {
  let server: ImapTestServer;
  before(async () => {
    server = await startImapServer();
    await server.store.createAccount({ address: CAROL, passwordHash: await hashPassword(CAROL_PASSWORD) });
  });
  after(async () => {
    await server.close();
  });

  const carol = (): Promise<RawImapClient> =>
    RawImapClient.login(server.ports.imap, CAROL, { password: CAROL_PASSWORD });

  void it('announces ACL and RIGHTS=texk, and the Other Users namespace', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    const caps = (await c.command('CAPABILITY')).untagged[0]!;
    assert.match(caps, / ACL( |$)/);
    assert.match(caps, / RIGHTS=texk( |$)/);
    assert.deepEqual((await c.command('NAMESPACE')).untagged, [
      '* NAMESPACE (("" "/")) (("user/" "/")) (("shared/" "/"))',
    ]);
    c.destroy();
  });

  void it('RFC 4314 §3 examples on an own mailbox: SETACL, GETACL, LISTRIGHTS, MYRIGHTS, DELETEACL', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.command('CREATE INBOX/Drafts')).status, 'OK');
    // §3.1: an unknown right (the example's upper-case "Q") is BAD and changes nothing.
    assert.equal((await c.command(`SETACL INBOX/Drafts ${BOB} lrQswicda`)).status, 'BAD');
    assert.deepEqual((await c.command('GETACL INBOX/Drafts')).untagged, [
      `* ACL INBOX/Drafts ${ALICE} lrswipkxteacd`,
    ]);
    // §3.1: "lrswicda": "c" is "k" and "d" is "x t e" (§2.1.1); both come back with their members.
    assert.equal((await c.command(`SETACL INBOX/Drafts ${BOB} lrswicda`)).status, 'OK');
    assert.deepEqual((await c.command('GETACL INBOX/Drafts')).untagged, [
      `* ACL INBOX/Drafts ${ALICE} lrswipkxteacd ${BOB} lrswikxteacd`,
    ]);
    // §3.1: "+" adds, "-" removes; removing "d" removes "x", "t" and "e".
    assert.equal((await c.command(`SETACL INBOX/Drafts ${BOB} -d`)).status, 'OK');
    assert.equal((await c.command(`SETACL INBOX/Drafts anyone +l`)).status, 'OK');
    assert.deepEqual((await c.command('GETACL INBOX/Drafts')).untagged, [
      `* ACL INBOX/Drafts ${ALICE} lrswipkxteacd anyone l ${BOB} lrswikac`,
    ]);
    // §3.4: the identifier as given; nothing always granted, then each right alone.
    assert.deepEqual((await c.command(`LISTRIGHTS INBOX/Drafts Bob@Example.test`)).untagged, [
      '* LISTRIGHTS INBOX/Drafts Bob@Example.test "" l r s w i p k x t e a c d',
    ]);
    // The owner always has every right; its entry cannot change.
    assert.deepEqual((await c.command(`LISTRIGHTS INBOX/Drafts ${ALICE}`)).untagged, [
      `* LISTRIGHTS INBOX/Drafts ${ALICE} lrswipkxteacd`,
    ]);
    assert.match((await c.command(`SETACL INBOX/Drafts ${ALICE} lr`)).tagged, / NO \[CANNOT\]/);
    assert.match((await c.command(`DELETEACL INBOX/Drafts ${ALICE}`)).tagged, / NO \[CANNOT\]/);
    // §3.5
    assert.deepEqual((await c.command('MYRIGHTS INBOX')).untagged, ['* MYRIGHTS INBOX lrswipkxteacd']);
    // §3.2: DELETEACL removes the entry; negative rights are not supported.
    assert.equal((await c.command(`DELETEACL INBOX/Drafts ${BOB}`)).status, 'OK');
    assert.match((await c.command(`DELETEACL INBOX/Drafts -${BOB}`)).tagged, / NO /);
    assert.equal((await c.command(`SETACL INBOX/Drafts bob lr`)).status, 'BAD');
    assert.deepEqual((await c.command('GETACL INBOX/Drafts')).untagged, [
      `* ACL INBOX/Drafts ${ALICE} lrswipkxteacd anyone l`,
    ]);
    assert.match((await c.command('GETACL Nowhere')).tagged, / NO \[NONEXISTENT\]/);
    assert.equal((await c.command(`DELETEACL INBOX/Drafts anyone`)).status, 'OK');
    c.destroy();
  });

  void it('share read-only, then read-write, then revoke; carol sees nothing', async () => {
    const a = await RawImapClient.login(server.ports.imap, ALICE);
    const b = await RawImapClient.login(server.ports.imap, BOB);
    const c = await carol();
    assert.equal((await a.command('CREATE INBOX/Projects')).status, 'OK');
    await server.deliver(ALICE, 'INBOX/Projects', message('plan'));

    // Before any grant bob sees nothing of alice's and cannot open it.
    assert.deepEqual((await b.command('LIST "" "user/*"')).untagged, []);
    assert.match((await b.command(`SELECT ${SHARED}`)).tagged, / NO \[NONEXISTENT\]/);

    assert.equal((await a.command(`SETACL INBOX/Projects ${BOB} lr`)).status, 'OK');
    // LIST: the namespace levels as \Noselect, the mailbox above the shared one as nonexistent.
    assert.deepEqual((await b.command('LIST "" "user/*"')).untagged, [
      '* LIST (\\Noselect \\HasChildren) "/" user/alice@example.test',
      '* LIST (\\Noselect \\HasChildren) "/" user/alice@example.test/INBOX',
      '* LIST (\\HasNoChildren) "/" user/alice@example.test/INBOX/Projects',
    ]);
    assert.deepEqual(
      (await b.command('LIST "" "%"')).untagged.filter((l) => l.includes('user')),
      ['* LIST (\\Noselect \\HasChildren) "/" user'],
    );
    assert.deepEqual((await b.command(`MYRIGHTS ${SHARED}`)).untagged, [`* MYRIGHTS ${SHARED_NAME} lr`]);
    assert.match((await b.command(`GETACL ${SHARED}`)).tagged, / NO \[NOPERM\]/);
    assert.match((await b.command(`STATUS ${SHARED} (MESSAGES)`)).untagged[0]!, /MESSAGES 1\)$/);

    // SELECT without write rights is read-only (RFC 4314 §4); STORE is refused.
    const sel = await b.command(`SELECT ${SHARED}`);
    assert.match(sel.tagged, / OK \[READ-ONLY\]/);
    assert.ok(sel.untagged.includes('* OK [PERMANENTFLAGS ()] Read-only mailbox.'), sel.untagged.join('\n'));
    assert.equal((await b.command('STORE 1 +FLAGS (\\Seen)')).status, 'NO');
    assert.equal((await b.command('EXPUNGE')).status, 'NO');
    // Nothing to APPEND with (no "i").
    assert.match(await appendTo(b, SHARED, message('from bob')), / NO \[NOPERM\]/);
    // FETCH BODY[] does not set \Seen without "s".
    await b.command('FETCH 1 BODY[]');
    const flags = (await b.command('FETCH 1 FLAGS')).untagged[0]!;
    assert.match(flags, /^\* 1 FETCH \(FLAGS \(/);
    assert.doesNotMatch(flags, /\\Seen/);

    // Alice grants lrswi: a read-write open with \Seen, flags and keywords (no \Deleted: no "t").
    assert.equal((await a.command(`SETACL INBOX/Projects ${BOB} +swi`)).status, 'OK');
    const rw = await b.command(`SELECT ${SHARED}`);
    assert.match(rw.tagged, / OK \[READ-WRITE\]/);
    assert.ok(
      rw.untagged.includes(
        '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Seen \\Draft \\*)] Flags permitted.',
      ),
      rw.untagged.join('\n'),
    );
    assert.match((await b.command('STORE 1 +FLAGS (\\Deleted)')).tagged, / NO \[NOPERM\]/);

    // Bob's APPEND lands in alice's mailbox and counts on alice's quota, not bob's.
    const before = (await server.store.getAccount(ALICE))!;
    const bobBefore = (await server.store.getAccount(BOB))!;
    const body = message('from bob');
    assert.match(await appendTo(b, SHARED, body), / OK \[APPENDUID /);
    const afterAppend = (await server.store.getAccount(ALICE))!;
    assert.equal(afterAppend.usedMessages, before.usedMessages + 1);
    assert.ok(afterAppend.usedBytes >= before.usedBytes + body.length);
    assert.equal((await server.store.getAccount(BOB))!.usedBytes, bobBefore.usedBytes);

    // Alice has the mailbox open and hears of bob's APPEND and flag change (one mailbox row).
    assert.equal((await a.command('SELECT INBOX/Projects')).status, 'OK');
    assert.equal((await b.command('STORE 1 +FLAGS.SILENT (\\Seen $Reviewed)')).status, 'OK');
    const noop = await a.command('NOOP');
    assert.ok(
      noop.untagged.some((l) => /^\* 1 FETCH \(FLAGS \(.*\\Seen.*\)\)$/.test(l) && l.includes('$Reviewed')),
      noop.untagged.join('\n'),
    );
    // And the other way round, through IDLE: alice flags, bob's session is told.
    b.write('i1 IDLE\r\n');
    assert.match(await b.response(), /^\+ /);
    assert.equal((await a.command('STORE 2 +FLAGS.SILENT (\\Flagged)')).status, 'OK');
    assert.match(await b.response(2000), /^\* 2 FETCH \(FLAGS \(.*\\Flagged.*\)\)$/);
    b.write('DONE\r\n');
    assert.match((await b.until('i1')).tagged, /^i1 OK/);

    // Carol: nothing listed, nothing opened, no rights.
    assert.deepEqual(
      (await c.command('LIST "" "*"')).untagged.filter((l) => l.includes('user')),
      [],
    );
    assert.match((await c.command(`SELECT ${SHARED}`)).tagged, / NO \[NONEXISTENT\]/);
    assert.match((await c.command(`MYRIGHTS ${SHARED}`)).tagged, / NO \[NONEXISTENT\]/);
    assert.match(await appendTo(c, SHARED, message('carol')), / NO \[TRYCREATE\]/);

    // Revoke: bob's next SELECT is NO and the mailbox is gone from his LIST.
    assert.equal((await a.command(`DELETEACL INBOX/Projects ${BOB}`)).status, 'OK');
    assert.match((await b.command(`SELECT ${SHARED}`)).tagged, / NO \[NONEXISTENT\]/);
    assert.deepEqual((await b.command('LIST "" "user/*"')).untagged, []);
    // With "l" alone bob may know the mailbox exists but not open it (RFC 4314 §4: NOPERM).
    assert.equal((await a.command(`SETACL INBOX/Projects ${BOB} l`)).status, 'OK');
    assert.match((await b.command(`SELECT ${SHARED}`)).tagged, / NO \[NOPERM\]/);
    assert.match((await b.command(`STATUS ${SHARED} (MESSAGES)`)).tagged, / NO \[NOPERM\]/);
    assert.equal((await b.command('LIST "" "user/*"')).untagged.length, 3);
    for (const x of [a, b, c]) x.destroy();
  });

  void it('"anyone", COPY and CREATE need "i" and "k"; the personal "user" level is reserved', async () => {
    const a = await RawImapClient.login(server.ports.imap, ALICE);
    const b = await RawImapClient.login(server.ports.imap, BOB);
    assert.equal((await a.command('CREATE Team')).status, 'OK');
    assert.equal((await a.command('SETACL Team anyone lrik')).status, 'OK');
    const team = `"user/${ALICE}/Team"`;
    await server.deliver(BOB, 'INBOX', message('to copy'));
    assert.equal((await b.command('SELECT INBOX')).status, 'OK');
    assert.match((await b.command(`COPY 1 ${team}`)).tagged, / OK \[COPYUID /);
    assert.equal((await b.command(`CREATE "user/${ALICE}/Team/Sub"`)).status, 'OK');
    // The new mailbox is alice's and takes its superior's ACL.
    const sub = await server.store.getMailbox((await server.store.getAccount(ALICE))!.id, 'Team/Sub');
    assert.notEqual(sub, null);
    assert.deepEqual(await server.store.getAcl(sub!.id), [{ identifier: 'anyone', rights: 'lrik' }]);
    // No "x": bob cannot delete it; no "k" at alice's top level.
    assert.match((await b.command(`DELETE "user/${ALICE}/Team/Sub"`)).tagged, / NO \[NOPERM\]/);
    assert.match((await b.command(`CREATE "user/${ALICE}/Elsewhere"`)).tagged, / NO \[NOPERM\]/);
    assert.match((await b.command('CREATE user')).tagged, / NO \[CANNOT\]/);
    assert.match((await b.command('CREATE user/mine')).tagged, / NO \[CANNOT\]/);
    assert.match((await b.command('RENAME INBOX/x user/x')).tagged, / NO /);
    // MOVE out of the shared folder needs "t" and "e".
    assert.equal((await b.command(`SELECT ${team}`)).status, 'OK');
    assert.match((await b.command('MOVE 1 INBOX')).tagged, / NO \[READ-ONLY\]/);
    a.destroy();
    b.destroy();
  });

  void it('imapflow sees the Other Users namespace and lists the shared folder', async () => {
    const a = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await a.command('CREATE Shared-With-Bob')).status, 'OK');
    assert.equal((await a.command(`SETACL Shared-With-Bob ${BOB} lr`)).status, 'OK');
    a.destroy();
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
      const paths = (await client.list()).map((m) => m.path);
      assert.ok(paths.includes(`user/${ALICE}/Shared-With-Bob`), JSON.stringify(paths));
      const lock = await client.getMailboxLock(`user/${ALICE}/Shared-With-Bob`, { readOnly: true });
      lock.release();
    } finally {
      await client.logout();
    }
  });
});
