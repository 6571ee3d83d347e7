// FETCH and UID FETCH over real sockets against exact expected bytes for fixed messages
// (imap-fetch-fixtures.ts). The expected answers were checked against Debian's Dovecot 2.3 with
// the same messages; where Postern differs (BODYSTRUCTURE case and line counts come from the MIME
// module, the FLAGS order, the tagged text) the test says so or checks only what both agree on.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ATTACHMENT_BYTES, FIXTURES } from './imap-fetch-fixtures.js';
import { RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';

/** The untagged lines of a response, joined with "\n" (literals inline, latin1). */
const lines = (r: { untagged: string[] }): string => r.untagged.join('\n');

void describe('IMAP FETCH', () => {
  let server: ImapTestServer;
  let boxes = 0;

  /** A new mailbox holding the five fixtures (UIDs 1..5) plus `extra` messages; returns its name. */
  async function fixtureMailbox(extra: Array<string | Buffer> = []): Promise<string> {
    const name = `F${++boxes}`;
    const account = (await server.store.getAccount(ALICE))!;
    await server.store.createMailbox(account.id, name);
    for (const f of FIXTURES) await server.deliver(ALICE, name, f.bytes, { date: f.date });
    for (const m of extra) await server.deliver(ALICE, name, m, { date: new Date('2026-11-27T08:09:10Z') });
    return name;
  }

  async function selected(
    box: string,
    opts: { examine?: boolean; rev2?: boolean } = {},
  ): Promise<RawImapClient> {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    if (opts.rev2 === true) assert.equal((await c.command('ENABLE IMAP4rev2')).status, 'OK');
    const r = await c.command(`${opts.examine === true ? 'EXAMINE' : 'SELECT'} ${box}`);
    assert.equal(r.status, 'OK', r.tagged);
    return c;
  }

  before(async () => {
    server = await startImapServer();
  });
  after(async () => {
    await server.close();
  });

  void it('FLAGS, INTERNALDATE, RFC822.SIZE, UID (rev1 shows \\Recent; rev2 does not)', async () => {
    const box = await fixtureMailbox();
    const c = await selected(box);
    const r = await c.command('FETCH 1:5 (FLAGS INTERNALDATE RFC822.SIZE UID)');
    assert.equal(r.status, 'OK');
    assert.equal(
      lines(r),
      [
        '* 1 FETCH (FLAGS (\\Recent) INTERNALDATE "26-Nov-2026 10:00:05 +0000" RFC822.SIZE 203 UID 1)',
        '* 2 FETCH (FLAGS (\\Recent) INTERNALDATE "26-Nov-2026 10:00:06 +0000" RFC822.SIZE 402 UID 2)',
        '* 3 FETCH (FLAGS (\\Recent) INTERNALDATE "26-Nov-2026 10:00:07 +0000" RFC822.SIZE 511 UID 3)',
        '* 4 FETCH (FLAGS (\\Recent) INTERNALDATE "26-Nov-2026 10:00:08 +0000" RFC822.SIZE 684 UID 4)',
        '* 5 FETCH (FLAGS (\\Recent) INTERNALDATE "05-Nov-2026 10:00:09 +0000" RFC822.SIZE 374 UID 5)',
      ].join('\n'),
    );
    const fast = await c.command('FETCH 2 FAST');
    assert.equal(
      lines(fast),
      '* 2 FETCH (FLAGS (\\Recent) INTERNALDATE "26-Nov-2026 10:00:06 +0000" RFC822.SIZE 402)',
    );
    c.destroy();
    const d = await selected(box, { rev2: true });
    assert.equal(lines(await d.command('FETCH 1 FLAGS')), '* 1 FETCH (FLAGS ())');
    d.destroy();
  });

  void it('ENVELOPE: addresses, groups of recipients, 8-bit and encoded words kept raw', async () => {
    const box = await fixtureMailbox();
    const c = await selected(box);
    const r = await c.command('FETCH 2,5 ENVELOPE');
    assert.equal(
      lines(r),
      '* 2 FETCH (ENVELOPE ("Thu, 26 Nov 2026 11:00:00 +0100" "Alternative" (("Alice" NIL "alice" "example.test")) ' +
        '(("Alice" NIL "alice" "example.test")) (("Alice" NIL "alice" "example.test")) ' +
        '(("Bob" NIL "bob" "example.test")(NIL NIL "carol" "example.test")) NIL NIL NIL "<alt@example.test>"))\n' +
        // 8-bit header text goes as a literal to a client that did not enable UTF8=ACCEPT.
        '* 5 FETCH (ENVELOPE ("Thu, 26 Nov 2026 14:00:00 +0000" {36}\r\n' +
        Buffer.from('=?utf-8?b?R3LDvMOfZQ==?= und Grüße').toString('latin1') +
        ' (("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.test")) (("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.test"))' +
        ' (("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.test")) (({4}\r\n' +
        Buffer.from('Zoë').toString('latin1') +
        ' NIL "zoe" "example.test")) NIL NIL NIL "<eight@example.test>"))',
    );
    c.destroy();
  });

  void it('BODY and BODYSTRUCTURE', async () => {
    const box = await fixtureMailbox();
    const c = await selected(box);
    const simple = await c.command('FETCH 1 (BODY BODYSTRUCTURE)');
    // Dovecot sends the same with lower-case type names (both are case-insensitive strings).
    assert.equal(
      lines(simple).toLowerCase(),
      '* 1 fetch (body ("text" "plain" ("charset" "us-ascii") nil nil "7bit" 26 2) ' +
        'bodystructure ("text" "plain" ("charset" "us-ascii") nil nil "7bit" 26 2 nil nil nil nil))',
    );
    const mixed = lines(await c.command('FETCH 3 BODYSTRUCTURE')).toLowerCase();
    assert.match(
      mixed,
      /^\* 3 fetch \(bodystructure \(\("text" "plain" \("charset" "utf-8"\) nil nil "7bit" 13 \d+ nil nil nil nil\)/,
    );
    assert.ok(
      mixed.endsWith(
        '("application" "octet-stream" ("name" "data.bin") nil nil "base64" 32 nil ("attachment" ("filename" "data.bin")) nil nil)' +
          ' "mixed" ("boundary" "b2") nil nil nil))',
      ),
      mixed,
    );
    const nested = lines(await c.command('FETCH 4 BODY')).toLowerCase();
    assert.ok(
      nested.includes(
        '("message" "rfc822" nil nil nil "7bit" 349 ("wed, 25 nov 2026 09:00:00 +0000" "inner" (("carol" nil "carol" "example.test"))',
      ),
      nested,
    );
    assert.ok(nested.endsWith('"alternative") 17) "mixed"))'), nested);
    c.destroy();
  });

  void it('BODY[HEADER], HEADER.FIELDS (case-insensitive, every occurrence, folded), .NOT, TEXT, partial', async () => {
    const dup =
      'Received: from a by b; Thu, 26 Nov 2026 10:00:00 +0000\r\n' +
      'Subject: Dup\r\n' +
      'received: from c\r\n' +
      '  by d; Thu, 26 Nov 2026 10:00:01 +0000\r\n' +
      '__proto__: yes\r\n' +
      '\r\n' +
      'Body.\r\n';
    const box = await fixtureMailbox([dup]);
    const c = await selected(box);
    const h = await c.command('FETCH 1 BODY.PEEK[HEADER]');
    assert.equal(
      lines(h),
      '* 1 FETCH (BODY[HEADER] {177}\r\nFrom: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\n' +
        'Subject: Simple\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <simple@example.test>\r\n' +
        'X-Folded: one\r\n  two\r\n\r\n)',
    );
    const f = await c.command('FETCH 1 (BODY.PEEK[HEADER.FIELDS (subject x-folded NOPE)])');
    assert.equal(
      lines(f),
      '* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT X-FOLDED NOPE)] {41}\r\nSubject: Simple\r\nX-Folded: one\r\n  two\r\n\r\n)',
    );
    const n = await c.command('FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Subject X-FOLDED)]');
    assert.equal(
      lines(n),
      '* 1 FETCH (BODY[HEADER.FIELDS.NOT (SUBJECT X-FOLDED)] {138}\r\nFrom: Alice <alice@example.test>\r\n' +
        'To: Bob <bob@example.test>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <simple@example.test>\r\n\r\n)',
    );
    const every = await c.command('FETCH 6 (BODY.PEEK[HEADER.FIELDS (RECEIVED __proto__)])');
    const want =
      'Received: from a by b; Thu, 26 Nov 2026 10:00:00 +0000\r\nreceived: from c\r\n' +
      '  by d; Thu, 26 Nov 2026 10:00:01 +0000\r\n__proto__: yes\r\n\r\n';
    assert.equal(
      lines(every),
      `* 6 FETCH (BODY[HEADER.FIELDS (RECEIVED __PROTO__)] {${want.length}}\r\n${want})`,
    );
    const none = await c.command('FETCH 6 BODY.PEEK[HEADER.FIELDS (X-None)]');
    assert.equal(lines(none), '* 6 FETCH (BODY[HEADER.FIELDS (X-NONE)] {2}\r\n\r\n)');
    const t = await c.command('FETCH 2 (BODY.PEEK[TEXT]<5.10> BODY.PEEK[HEADER.FIELDS (subject)]<5.4>)');
    assert.equal(
      lines(t),
      '* 2 FETCH (BODY[TEXT]<5> {10}\r\nble.\r\n--b1 BODY[HEADER.FIELDS (SUBJECT)]<5> {4}\r\nct: )',
    );
    const past = await c.command('FETCH 1 BODY.PEEK[]<500.10>');
    assert.equal(lines(past), '* 1 FETCH (BODY[]<500> {0}\r\n)');
    c.destroy();
  });

  void it('numbered parts, MIME, nested message/rfc822, missing parts', async () => {
    const box = await fixtureMailbox();
    const c = await selected(box);
    const alt = await c.command(
      'FETCH 2 (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] BODY.PEEK[3] BODY.PEEK[1.HEADER])',
    );
    assert.equal(
      lines(alt),
      '* 2 FETCH (BODY[1] {11}\r\nPlain text. BODY[1.MIME] {46}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n' +
        ' BODY[2] {17}\r\n<p>HTML text.</p> BODY[3] {0}\r\n BODY[1.HEADER] {0}\r\n)',
    );
    const nested = await c.command(
      'FETCH 4 (BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1] BODY.PEEK[2.2.MIME] BODY.PEEK[2.MIME])',
    );
    assert.equal(
      lines(nested),
      '* 4 FETCH (BODY[2.HEADER] {231}\r\nFrom: Carol <carol@example.test>\r\nTo: Alice <alice@example.test>\r\n' +
        'Subject: Inner\r\nDate: Wed, 25 Nov 2026 09:00:00 +0000\r\nMessage-ID: <inner@example.test>\r\n' +
        'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="inner"\r\n\r\n' +
        ' BODY[2.TEXT] {118}\r\n--inner\r\nContent-Type: text/plain\r\n\r\nInner plain.\r\n--inner\r\n' +
        'Content-Type: text/html\r\n\r\n<b>Inner html.</b>\r\n--inner--\r\n' +
        ' BODY[2.1] {12}\r\nInner plain. BODY[2.2.MIME] {27}\r\nContent-Type: text/html\r\n\r\n' +
        ' BODY[2.MIME] {32}\r\nContent-Type: message/rfc822\r\n\r\n)',
    );
    // A non-multipart message: its body is part 1, whose MIME header is the message header.
    const one = await c.command('FETCH 1 (BODY.PEEK[1] BODY.PEEK[1.TEXT])');
    assert.equal(
      lines(one),
      '* 1 FETCH (BODY[1] {26}\r\nHello Bob.\r\nSecond line.\r\n BODY[1.TEXT] {0}\r\n)',
    );
    c.destroy();
  });

  void it('RFC822, RFC822.HEADER, RFC822.TEXT and BODY[] set \\Seen and show FLAGS; PEEK and EXAMINE do not', async () => {
    const box = await fixtureMailbox();
    const c = await selected(box);
    const header = await c.command('FETCH 1 RFC822.HEADER');
    assert.match(lines(header), /^\* 1 FETCH \(RFC822.HEADER \{177\}\r\nFrom: Alice/);
    assert.equal(lines(await c.command('FETCH 1 FLAGS')), '* 1 FETCH (FLAGS (\\Recent))');
    const full = await c.command('FETCH 1 RFC822');
    assert.equal(
      lines(full),
      `* 1 FETCH (FLAGS (\\Seen \\Recent) RFC822 {203}\r\n${FIXTURES[0]!.bytes.toString('latin1')})`,
    );
    // Already seen: no FLAGS added.
    assert.equal(lines(await c.command('FETCH 1 RFC822.SIZE')), '* 1 FETCH (RFC822.SIZE 203)');
    const text = await c.command('FETCH 1:2 (RFC822.SIZE RFC822.TEXT)');
    assert.equal(
      lines(text).split('\n')[0],
      '* 1 FETCH (RFC822.SIZE 203 RFC822.TEXT {26}\r',
      'message 1 was seen already: no FLAGS',
    );
    assert.match(
      lines(text),
      /\* 2 FETCH \(RFC822.SIZE 402 FLAGS \(\\Seen \\Recent\) RFC822.TEXT \{154\}\r\nPreamble/,
    );
    const uid = await c.command('UID FETCH 3 BODY[1]');
    assert.equal(lines(uid), '* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent) BODY[1] {13}\r\nSee attached.)');
    // The session's own \Seen changes are not repeated by the next NOOP.
    assert.deepEqual((await c.command('NOOP')).untagged, []);
    c.destroy();

    const e = await selected(box, { examine: true });
    const peek = await e.command('FETCH 4 (BODY[1] FLAGS)');
    assert.equal(lines(peek), '* 4 FETCH (FLAGS () BODY[1] {16}\r\nForwarded below.)');
    e.destroy();
    const metas = await server.store.listMessages(await server.mailboxId(ALICE, box));
    assert.deepEqual(
      metas.map((m) => m.flags),
      [['\\Seen'], ['\\Seen'], ['\\Seen'], [], []],
    );
  });

  void it('BINARY, BINARY.PEEK, BINARY.SIZE: base64 to literal8, quoted-printable decoded, unknown CTE', async () => {
    const unknown =
      'Subject: x-uuencode\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n';
    const box = await fixtureMailbox([unknown]);
    const c = await selected(box);
    const b64 = await c.command('FETCH 3 (BINARY.PEEK[2] BINARY.SIZE[2])');
    assert.equal(
      lines(b64),
      `* 3 FETCH (BINARY[2] ~{22}\r\n${ATTACHMENT_BYTES.toString('latin1')} BINARY.SIZE[2] 22)`,
    );
    const qp = await c.command('FETCH 5 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[1]<2.4>)');
    const decoded = Buffer.from('Grüße aus Köln, a long line that is soft-broken.\r\n').toString('latin1');
    assert.equal(
      lines(qp),
      `* 5 FETCH (BINARY[1] {53}\r\n${decoded} BINARY.SIZE[1] 53 BINARY[1]<2> {4}\r\n${decoded.slice(2, 6)})`,
    );
    const whole = await c.command('FETCH 1 (BINARY.PEEK[] BINARY.SIZE[9])');
    assert.equal(
      lines(whole),
      `* 1 FETCH (BINARY[] {203}\r\n${FIXTURES[0]!.bytes.toString('latin1')} BINARY.SIZE[9] 0)`,
    );
    const bad = await c.command('FETCH 6 BINARY.PEEK[1]');
    assert.match(bad.tagged, / NO \[UNKNOWN-CTE\]/);
    // Non-PEEK BINARY sets \Seen.
    const seen = await c.command('FETCH 2 BINARY[1]');
    assert.equal(lines(seen), '* 2 FETCH (FLAGS (\\Seen \\Recent) BINARY[1] {11}\r\nPlain text.)');
    c.destroy();
  });

  void it('UID FETCH always has UID; errors: beyond EXISTS, bad syntax, unknown items', async () => {
    const box = await fixtureMailbox();
    const c = await selected(box);
    assert.equal(
      lines(await c.command('UID FETCH 2:3 FLAGS')),
      '* 2 FETCH (UID 2 FLAGS (\\Recent))\n* 3 FETCH (UID 3 FLAGS (\\Recent))',
    );
    const none = await c.command('UID FETCH 99 FLAGS');
    assert.equal(none.status, 'OK');
    assert.deepEqual(none.untagged, []);
    assert.equal(
      lines(await c.command('UID FETCH 4:* RFC822.SIZE')),
      '* 4 FETCH (UID 4 RFC822.SIZE 684)\n* 5 FETCH (UID 5 RFC822.SIZE 374)',
    );
    assert.equal((await c.command('FETCH 6 FLAGS')).status, 'BAD');
    assert.equal((await c.command('FETCH 0 FLAGS')).status, 'BAD');
    assert.equal((await c.command('FETCH 1 (FLAGS BOGUS)')).status, 'BAD');
    assert.equal((await c.command('FETCH 1 BODY[1.FOO]')).status, 'BAD');
    assert.equal((await c.command('FETCH 1')).status, 'BAD');
    assert.equal((await c.command('FETCH 1 (FLAGS) (VANISHED)')).status, 'BAD');
    // Still usable.
    assert.equal(lines(await c.command('FETCH 1 UID')), '* 1 FETCH (UID 1)');
    c.destroy();
  });

  void it('messages expunged by another session: no data, NO [EXPUNGEISSUED], EXPUNGE on NOOP', async () => {
    const box = await fixtureMailbox();
    const c = await selected(box);
    const id = await server.mailboxId(ALICE, box);
    assert.deepEqual(await server.store.expunge(id, { uids: [2] }), [2]);
    const r = await c.command('FETCH 1:3 UID');
    assert.equal(lines(r), '* 1 FETCH (UID 1)\n* 3 FETCH (UID 3)');
    assert.match(r.tagged, / NO \[EXPUNGEISSUED\]/);
    // The view now knows: still no data for 2, and no EXPUNGE during FETCH by sequence number.
    const again = await c.command('FETCH 2 UID');
    assert.deepEqual(again.untagged, []);
    assert.match(again.tagged, / NO \[EXPUNGEISSUED\]/);
    assert.deepEqual((await c.command('NOOP')).untagged, ['* 2 EXPUNGE']);
    assert.equal(lines(await c.command('FETCH 2 UID')), '* 2 FETCH (UID 3)');
    c.destroy();
  });

  void it('a large message is streamed exactly, whole and partial', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++)
      body[i] = i % 78 === 76 ? 0x0d : i % 78 === 77 ? 0x0a : 0x41 + (i % 26);
    const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), body]);
    const box = await fixtureMailbox([big]);
    const c = await selected(box);
    const r = await c.command('FETCH 6 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT]<1000.200000>)', 20_000);
    assert.equal(r.status, 'OK');
    const expected =
      `* 6 FETCH (RFC822.SIZE ${big.length} BODY[] {${big.length}}\r\n${big.toString('latin1')}` +
      ` BODY[TEXT]<1000> {200000}\r\n${body.subarray(1000, 201000).toString('latin1')})`;
    assert.equal(r.untagged.length, 1);
    assert.ok(r.untagged[0] === expected, 'streamed bytes differ');
    c.destroy();
  });
});
