// The conformance defects issue 13 lists, each replayed over real sockets (defects 1, 2 and 7
// have their tests beside the code they concern: imap-mailbox-names, imap-store, imap-search):
// 3. a keyword new to the mailbox reaches other sessions in FLAGS before any FETCH shows it,
//    whichever command made it (STORE, APPEND with flags, COPY);
// 4. an empty body part is `{0}` in BODY[n] and BINARY[n];
// 5. a partial BINARY of a quoted-printable part is cut from the decoded octets;
// 6. ENVELOPE groups: a start (NIL NIL "name" NIL), the members, an end (NIL NIL NIL NIL);
// 8. LIST (SUBSCRIBED RECURSIVEMATCH) gives CHILDINFO for a parent whose subscribed child matches.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';

const QP_TEXT =
  'This is a line with trailing spaces   \r\nand a soft=\r\n break and =3D equals and more text to make it ' +
  'longer than one hundred octets in total for the partial test.';
/** The quoted-printable part decoded (RFC 2045 §6.7: a soft break joins the lines). */
const QP_DECODED =
  'This is a line with trailing spaces   \r\nand a soft break and = equals and more text to make it ' +
  'longer than one hundred octets in total for the partial test.';

const GROUPS_MESSAGE =
  'From: a@b.org\r\nTo: group: g1@d1.org, g2@d2.org;, group2: ;\r\nCc: group: ;, "foo": ;\r\n' +
  'Subject: g\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n' +
  '--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
  `${QP_TEXT}\r\n--XX\r\nContent-Type: text/plain\r\n\r\n\r\n--XX--\r\n`;

void describe('IMAP conformance defects (issue 13)', () => {
  let server: ImapTestServer;
  let boxes = 0;

  before(async () => {
    server = await startImapServer();
  });
  after(async () => {
    await server.close();
  });

  async function mailbox(): Promise<string> {
    const name = `C${++boxes}`;
    const account = (await server.store.getAccount(ALICE))!;
    await server.store.createMailbox(account.id, name);
    return name;
  }

  void it('3: a new keyword is announced in FLAGS before a FETCH shows it, after STORE, APPEND and COPY', async () => {
    const box = await mailbox();
    const other = await mailbox();
    await server.deliver(ALICE, box, GROUPS_MESSAGE);
    const a = await RawImapClient.login(server.ports.imap, ALICE);
    const b = await RawImapClient.login(server.ports.imap, ALICE);
    await a.command(`SELECT ${box}`);
    /** Keywords b has been told of in FLAGS (lower case), from its SELECT on. */
    const announced = new Set<string>();
    /** Checks b's lines in order: every keyword a FETCH shows was in an earlier FLAGS line. */
    const check = (lines: readonly string[]): void => {
      for (const l of lines) {
        const flags = /^\* FLAGS \((.*)\)$/.exec(l);
        // A FLAGS response names the mailbox's whole set (RFC 9051 §7.3.5): it replaces the last.
        if (flags !== null) {
          announced.clear();
          for (const f of flags[1]!.split(' ')) announced.add(f.toLowerCase());
        }
        const fetch = /FETCH \(.*FLAGS \(([^)]*)\)/.exec(l);
        if (fetch === null) continue;
        for (const f of fetch[1]!.split(' ').filter((x) => x !== '' && !x.startsWith('\\'))) {
          assert.ok(announced.has(f.toLowerCase()), `${f} shown before FLAGS: ${lines.join(' | ')}`);
        }
      }
    };
    check((await b.command(`SELECT ${box}`)).untagged);
    /** b's NOOP then FETCH of every message's flags, checked. */
    const seen = async (): Promise<string[]> => {
      const lines = [
        ...(await b.command('NOOP')).untagged,
        ...(await b.command('FETCH 1:* (FLAGS)')).untagged,
      ];
      check(lines);
      return lines;
    };
    await a.command('STORE 1 +FLAGS ($hello $world)');
    assert.ok((await seen()).some((l) => l.includes('$hello $world')));
    const appended = 'Subject: x\r\n\r\nx\r\n';
    const r = await a.command(`APPEND ${box} ($appended) {${appended.length}+}\r\n${appended}`);
    assert.equal(r.status, 'OK', r.tagged);
    assert.ok((await seen()).some((l) => /^\* FLAGS .*\$appended/.test(l)));
    // COPY into another mailbox selected by b, with a keyword new there.
    check((await b.command(`SELECT ${other}`)).untagged);
    await a.command('STORE 1 +FLAGS ($copied)');
    await a.command(`COPY 1 ${other}`);
    assert.ok((await seen()).some((l) => /^\* FLAGS .*\$copied/.test(l)));
    a.destroy();
    b.destroy();
  });

  void it('4, 5, 6: {0} for an empty part, partial BINARY from the decoded octets, ENVELOPE groups', async () => {
    const box = await mailbox();
    await server.deliver(ALICE, box, GROUPS_MESSAGE);
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    await c.command(`SELECT ${box}`);
    const body = await c.command('FETCH 1 (BODY.PEEK[2] BINARY.PEEK[2])');
    assert.match(body.untagged.join('\n'), /BODY\[2\] \{0\}/);
    assert.match(body.untagged.join('\n'), /BINARY\[2\] \{0\}/);
    const whole = await c.command('FETCH 1 (BINARY.PEEK[1])');
    assert.ok(whole.untagged.join('\n').includes(QP_DECODED), whole.untagged.join('\n'));
    const part = await c.command('FETCH 1 (BINARY.PEEK[1]<40.100>)');
    const text = part.untagged.join('\n');
    assert.match(text, /BINARY\[1\]<40> \{100\}/);
    assert.ok(text.includes(QP_DECODED.slice(40, 140)), text);
    const env = await c.command('FETCH 1 (ENVELOPE)');
    assert.ok(
      env.untagged[0]!.includes(
        '((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")(NIL NIL NIL NIL)' +
          '(NIL NIL "group2" NIL)(NIL NIL NIL NIL)) ' +
          '((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "foo" NIL)(NIL NIL NIL NIL))',
      ),
      env.untagged[0],
    );
    c.destroy();
  });

  void it('8: CHILDINFO for a parent whose subscribed child matches (RFC 5258 §3.5)', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    await c.command('CREATE a/test2/test1');
    await c.command('SUBSCRIBE a/test2/test1');
    const r = await c.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" (a/test2 a/test2/test1)');
    assert.deepEqual(r.untagged, [
      '* LIST (\\HasChildren) "/" a/test2 (CHILDINFO ("SUBSCRIBED"))',
      '* LIST (\\HasNoChildren \\Subscribed) "/" a/test2/test1',
    ]);
    c.destroy();
  });
});
