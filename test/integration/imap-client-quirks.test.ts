// Client quirks (issue 13), each replaying the shape of a real client's traffic as raw IMAP
// lines against the real server on port 0:
// - Apple Mail's "Sent Messages" and "Deleted Messages": SELECT, APPEND, MOVE, STATUS and CREATE
//   of those names reach the \Sent and \Trash mailboxes and never make twins
//   (src/protocols/imap/special-use-alias.ts);
// - Outlook's AUTHENTICATE PLAIN with its initial response on the command line (RFC 4959
//   SASL-IR), over implicit TLS as Outlook connects;
// - Thunderbird's CONDSTORE resync: SELECT box (CONDSTORE), then UID FETCH 1:* (FLAGS)
//   (CHANGEDSINCE n) after another session's flag changes: exactly the changed messages;
// - K-9 Mail / Thunderbird for Android's QRESYNC: ENABLE QRESYNC, SELECT box (QRESYNC
//   (uidvalidity modseq known-uids)): exactly the VANISHED (EARLIER) UIDs and changed flags.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  IMAP_PASSWORDS,
  message,
  RawImapClient,
  startImapServer,
  type ImapTestServer,
} from './imap-harness.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

function codeNumber(lines: readonly string[], name: string): number {
  for (const l of lines) {
    const m = new RegExp(`\\[${name} (\\d+)\\]`).exec(l);
    if (m !== null) return Number(m[1]);
  }
  throw new Error(`no [${name}] in ${lines.join(' | ')}`);
}

/** uid -> sorted flags (\Recent left out) of the FETCH responses among `lines`. */
function fetchedFlags(lines: readonly string[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const l of lines) {
    const m =
      /^\* \d+ FETCH \(.*\bUID (\d+)\b.*\bFLAGS \(([^)]*)\)/.exec(l) ??
      /^\* \d+ FETCH \(.*\bFLAGS \(([^)]*)\).*\bUID (\d+)\b/.exec(l);
    if (m === null) continue;
    const [uid, flags] = l.indexOf('UID') < l.indexOf('FLAGS') ? [m[1]!, m[2]!] : [m[2]!, m[1]!];
    out.set(
      Number(uid),
      flags
        .split(' ')
        .filter((f) => f !== '' && f !== '\\Recent')
        .sort(),
    );
  }
  return out;
}

/** The mailbox names of a LIST answer. */
function listed(lines: readonly string[]): string[] {
  return lines
    .map((l) => /^\* LIST \([^)]*\) "\/" (.*)$/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined)
    .map((n) => (n.startsWith('"') ? n.slice(1, -1) : n))
    .sort();
}

void describe('IMAP client quirks', () => {
  let server: ImapTestServer;
  let boxes = 0;
  before(async () => {
    server = await startImapServer();
  });
  after(async () => {
    await server.close();
  });

  async function mailbox(n: number): Promise<string> {
    const name = `R${++boxes}`;
    const account = (await server.store.getAccount(ALICE))!;
    await server.store.createMailbox(account.id, name);
    for (let i = 1; i <= n; i++) await server.deliver(ALICE, name, message(`m${i}`));
    return name;
  }

  void describe('Apple Mail: "Sent Messages" and "Deleted Messages"', () => {
    const DEFAULTS = ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash'];

    void it('SELECT, APPEND, STATUS, MOVE and CREATE of its names reach \\Sent and \\Trash; LIST never shows twins', async () => {
      const c = await RawImapClient.connect(server.ports.imap);
      // Apple Mail's opening: ID, login, then the folder list.
      assert.equal(
        (
          await c.command(
            'ID ("name" "Mac OS X Mail" "version" "16.0 (3774.600.62)" "os" "Mac OS X" "os-version" "14.5 (23F79)" "vendor" "Apple Inc.")',
          )
        ).status,
        'OK',
      );
      assert.equal((await c.command(`LOGIN ${ALICE} ${IMAP_PASSWORDS[ALICE]}`)).status, 'OK');
      assert.deepEqual(listed((await c.command('LIST "" "*"')).untagged), DEFAULTS);

      // It creates its folders when it does not trust what it found: no second sent or trash.
      const cs = await c.command('CREATE "Sent Messages"');
      assert.match(cs.tagged, /^A\d+ NO \[ALREADYEXISTS\]/);
      assert.match((await c.command('CREATE "Deleted Messages"')).tagged, /^A\d+ NO \[ALREADYEXISTS\]/);

      // SELECT "Sent Messages" opens \Sent itself: same UIDVALIDITY and MAILBOXID.
      const viaAlias = await c.command('SELECT "Sent Messages"');
      assert.equal(viaAlias.status, 'OK', viaAlias.tagged);
      const sent = await c.command('SELECT Sent');
      assert.equal(codeNumber(viaAlias.untagged, 'UIDVALIDITY'), codeNumber(sent.untagged, 'UIDVALIDITY'));
      const mailboxId = (lines: string[]) => lines.find((l) => l.includes('[MAILBOXID'));
      assert.equal(mailboxId(viaAlias.untagged), mailboxId(sent.untagged));
      await c.command('UNSELECT');

      // It saves what it sent with APPEND "Sent Messages" (\Seen) {n}.
      const msg = message('sent by Apple Mail');
      c.write(`A90 APPEND "Sent Messages" (\\Seen) {${Buffer.byteLength(msg)}}\r\n`);
      assert.match(await c.response(), /^\+/);
      c.write(`${msg}\r\n`);
      const ap = await c.until('A90');
      assert.match(ap.tagged, /^A90 OK \[APPENDUID \d+ 1\]/);
      assert.deepEqual((await c.command('STATUS Sent (MESSAGES)')).untagged, ['* STATUS Sent (MESSAGES 1)']);
      // STATUS of the alias answers under the name asked, with \Sent's numbers.
      assert.deepEqual((await c.command('STATUS "Sent Messages" (MESSAGES)')).untagged, [
        '* STATUS "Sent Messages" (MESSAGES 1)',
      ]);

      // Deleting a message: UID MOVE to "Deleted Messages" lands in \Trash.
      await server.deliver(ALICE, 'INBOX', message('to be deleted'));
      await c.command('SELECT INBOX');
      const mv = await c.command('UID MOVE 1:* "Deleted Messages"');
      assert.equal(mv.status, 'OK', mv.tagged);
      assert.deepEqual((await c.command('STATUS Trash (MESSAGES)')).untagged, [
        '* STATUS Trash (MESSAGES 1)',
      ]);
      assert.equal(
        (await c.command('UID COPY 1:* "Deleted Messages"')).status,
        'OK',
        'nothing left to copy is OK too',
      );

      // Subscribing the alias subscribes the real mailbox; LSUB and LIST show no twin.
      assert.equal((await c.command('SUBSCRIBE "Deleted Messages"')).status, 'OK');
      assert.ok(!(await c.command('LSUB "" "*"')).untagged.some((l) => l.includes('Messages')));
      assert.deepEqual(listed((await c.command('LIST "" "*"')).untagged), DEFAULTS);
      // DELETE and RENAME act on real names only: the alias is not a mailbox to delete.
      assert.match((await c.command('DELETE "Deleted Messages"')).tagged, /^A\d+ NO \[NONEXISTENT\]/);
      assert.match((await c.command('RENAME "Sent Messages" Other')).tagged, /^A\d+ NO/);
      assert.deepEqual(listed((await c.command('LIST "" "*"')).untagged), DEFAULTS);
      c.destroy();
    });

    void it('a real mailbox of that name wins; the alias follows \\Sent when it is renamed; no \\Sent, no alias', async () => {
      const bob = (await server.store.getAccount(BOB))!;
      await server.store.createMailbox(bob.id, 'Sent Messages');
      const c = await RawImapClient.login(server.ports.imap, BOB);
      const real = await c.command('SELECT "Sent Messages"');
      const sent = await c.command('SELECT Sent');
      assert.notEqual(codeNumber(real.untagged, 'UIDVALIDITY'), codeNumber(sent.untagged, 'UIDVALIDITY'));
      await c.command('UNSELECT');

      // \Trash renamed: "Deleted Messages" still finds it by its attribute.
      assert.equal((await c.command('RENAME Trash Bin')).status, 'OK');
      await server.deliver(BOB, 'Bin', message('in the bin'));
      assert.deepEqual((await c.command('STATUS "Deleted Messages" (MESSAGES)')).untagged, [
        '* STATUS "Deleted Messages" (MESSAGES 1)',
      ]);
      // No mailbox has \Trash any more: the name is free, and CREATE makes a plain mailbox.
      assert.equal((await c.command('DELETE Bin')).status, 'OK');
      assert.match((await c.command('SELECT "Deleted Messages"')).tagged, /^A\d+ NO \[NONEXISTENT\]/);
      assert.equal((await c.command('CREATE "Deleted Messages"')).status, 'OK');
      assert.ok(listed((await c.command('LIST "" "*"')).untagged).includes('Deleted Messages'));
      c.destroy();
    });
  });

  void describe("Outlook's AUTHENTICATE PLAIN with an initial response", () => {
    void it('one line, no continuation, over implicit TLS; a wrong password fails the same way', async () => {
      const c = await RawImapClient.connect(server.ports.imaps, { tls: true });
      const caps = await c.command('CAPABILITY');
      assert.ok(caps.untagged[0]!.split(' ').includes('SASL-IR'));
      assert.ok(caps.untagged[0]!.split(' ').includes('AUTH=PLAIN'));
      const bad = Buffer.from(`\0${ALICE}\0wrong-password`).toString('base64');
      const r1 = await c.command(`AUTHENTICATE PLAIN ${bad}`);
      assert.match(r1.tagged, /^A\d+ NO \[AUTHENTICATIONFAILED\]/);
      assert.deepEqual(r1.untagged, [], 'no continuation request');
      // Outlook's form: empty authzid, authcid, password, in the command line.
      const ir = Buffer.from(`\0${ALICE}\0${IMAP_PASSWORDS[ALICE]}`).toString('base64');
      const r2 = await c.command(`AUTHENTICATE PLAIN ${ir}`);
      assert.match(r2.tagged, /^A\d+ OK \[CAPABILITY [^\]]*IMAP4rev1/);
      assert.deepEqual(r2.untagged, [], 'no continuation request');
      // Then its usual next steps work: NAMESPACE and SELECT.
      assert.equal((await c.command('NAMESPACE')).status, 'OK');
      assert.equal((await c.command('SELECT INBOX')).status, 'OK');
      c.destroy();

      // With authzid equal to the user (some Outlook builds send it): accepted too.
      const d = await RawImapClient.connect(server.ports.imaps, { tls: true });
      const withAuthz = Buffer.from(`${ALICE}\0${ALICE}\0${IMAP_PASSWORDS[ALICE]}`).toString('base64');
      const r3 = await d.command(`AUTHENTICATE PLAIN ${withAuthz}`);
      assert.match(r3.tagged, /^A\d+ OK/);
      assert.deepEqual(r3.untagged, []);
      d.destroy();
    });
  });

  void describe("Thunderbird's CONDSTORE resync", () => {
    void it('SELECT (CONDSTORE), then UID FETCH 1:* (FLAGS) (CHANGEDSINCE n): exactly the messages another session changed', async () => {
      const box = await mailbox(6);
      const tb = await RawImapClient.login(server.ports.imap, ALICE);
      // Thunderbird does not send ENABLE CONDSTORE: the SELECT parameter enables it.
      const first = await tb.command(`select "${box}" (CONDSTORE)`);
      assert.equal(first.status, 'OK', first.tagged);
      const modseq = codeNumber(first.untagged, 'HIGHESTMODSEQ');
      const all = await tb.command('UID fetch 1:* (FLAGS)');
      assert.equal(fetchedFlags(all.untagged).size, 6);
      await tb.command('logout');

      // Another client meanwhile: \Seen on 2, \Flagged on 4, a label keyword on 5, \Seen set
      // and removed again on 6 (changed, flags as before), and 3 expunged.
      const other = await RawImapClient.login(server.ports.imap, ALICE);
      await other.command(`SELECT ${box}`);
      await other.command('UID STORE 2 +FLAGS (\\Seen)');
      await other.command('UID STORE 4 +FLAGS (\\Flagged)');
      await other.command('UID STORE 5 +FLAGS ($label1)');
      await other.command('UID STORE 6 +FLAGS (\\Seen)');
      await other.command('UID STORE 6 -FLAGS (\\Seen)');
      await other.command('UID STORE 3 +FLAGS.SILENT (\\Deleted)');
      await other.command('EXPUNGE');
      other.destroy();

      // Thunderbird reconnects: its traffic, as sent (lower-case command names included).
      const tb2 = await RawImapClient.login(server.ports.imap, ALICE);
      const sel = await tb2.command(`select "${box}" (CONDSTORE)`);
      assert.ok(sel.untagged.includes('* 5 EXISTS'), sel.untagged.join(' | '));
      const now = codeNumber(sel.untagged, 'HIGHESTMODSEQ');
      assert.ok(now > modseq);
      const changed = await tb2.command(`UID fetch 1:* (FLAGS) (CHANGEDSINCE ${modseq})`);
      assert.equal(changed.status, 'OK', changed.tagged);
      assert.deepEqual(
        [...fetchedFlags(changed.untagged)],
        [
          [2, ['\\Seen']],
          [4, ['\\Flagged']],
          [5, ['$label1']],
          [6, []],
        ],
      );
      for (const l of changed.untagged)
        assert.match(l, /MODSEQ \(\d+\)/, 'every FETCH carries MODSEQ (RFC 7162 §3.1.4.1)');
      // Nothing changed since the new HIGHESTMODSEQ.
      assert.deepEqual((await tb2.command(`UID fetch 1:* (FLAGS) (CHANGEDSINCE ${now})`)).untagged, []);
      tb2.destroy();
    });
  });

  void describe('K-9 Mail / Thunderbird for Android QRESYNC', () => {
    void it('ENABLE QRESYNC, SELECT (QRESYNC (v m known-uids)): exactly VANISHED (EARLIER) and the changed flags', async () => {
      const box = await mailbox(6);
      const k9 = await RawImapClient.login(server.ports.imap, ALICE);
      assert.deepEqual((await k9.command('ENABLE QRESYNC')).untagged, ['* ENABLED QRESYNC']);
      const first = await k9.command(`SELECT "${box}"`);
      const validity = codeNumber(first.untagged, 'UIDVALIDITY');
      const modseq = codeNumber(first.untagged, 'HIGHESTMODSEQ');
      k9.destroy();

      const other = await RawImapClient.login(server.ports.imap, ALICE);
      await other.command(`SELECT ${box}`);
      await other.command('UID STORE 1 +FLAGS (\\Answered)');
      await other.command('UID STORE 5 +FLAGS (\\Seen \\Flagged)');
      await other.command('UID STORE 2,4 +FLAGS.SILENT (\\Deleted)');
      await other.command('UID EXPUNGE 2,4');
      other.destroy();
      await server.deliver(ALICE, box, message('new one'));

      // K-9 reconnects with what it knows: UIDVALIDITY, HIGHESTMODSEQ and its UIDs 1:6.
      const k = await RawImapClient.login(server.ports.imap, ALICE);
      assert.deepEqual((await k.command('ENABLE QRESYNC')).untagged, ['* ENABLED QRESYNC']);
      const r = await k.command(`SELECT "${box}" (QRESYNC (${validity} ${modseq} 1:6))`);
      assert.equal(r.status, 'OK', r.tagged);
      assert.deepEqual(
        r.untagged.filter((l) => l.startsWith('* VANISHED')),
        ['* VANISHED (EARLIER) 2,4'],
      );
      assert.deepEqual(
        [...fetchedFlags(r.untagged)],
        [
          [1, ['\\Answered']],
          [5, ['\\Flagged', '\\Seen']],
          [7, []],
        ],
      );
      assert.ok(r.untagged.includes('* 5 EXISTS'));
      const now = codeNumber(r.untagged, 'HIGHESTMODSEQ');
      assert.ok(now > modseq);

      // Its later sync of the open mailbox: UID FETCH with CHANGEDSINCE and VANISHED.
      const again = await k.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
      assert.equal(again.untagged[0], '* VANISHED (EARLIER) 2,4');
      assert.deepEqual(
        [...fetchedFlags(again.untagged)].map(([uid]) => uid),
        [1, 5, 7],
      );
      // Up to date: nothing more.
      assert.deepEqual(
        (await k.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${now} VANISHED)`)).untagged,
        [],
      );
      k.destroy();
    });
  });
});
