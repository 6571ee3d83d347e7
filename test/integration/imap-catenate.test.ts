// CATENATE (RFC 4469) over real sockets: the RFC's §6 example replayed (a draft rebuilt from the
// HEADER, 1.MIME and 1 sections of a stored multipart message, another whole message and TEXT
// literals, each literal after its own `+`), then the URL forms (relative and imap:// with this
// server's host and user, TEXT, nested part numbers, PARTIAL), a TEXT part streamed to a blob,
// CATENATE inside MULTIAPPEND, and the refusals: NO [BADURL url] for every URL that does not
// resolve to a message of this user, NO [TOOBIG] over limits.message_size; nothing is stored
// by a refused command. Expected bytes are cut from the stored messages here, by hand.

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { message, RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const USER = 'alice@example.test';
const BOUNDARY = '------------030308070208000400050907';

const DRAFT =
  'From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Draft with attachment\r\n' +
  `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${BOUNDARY}"\r\n\r\n` +
  `This is a multi-part message in MIME format.\r\n--${BOUNDARY}\r\n` +
  'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n' +
  'Body of the draft.\r\n' +
  `--${BOUNDARY}\r\nContent-Type: message/rfc822\r\n\r\n` +
  'From: Carol <carol@example.test>\r\nSubject: inner\r\nMIME-Version: 1.0\r\n' +
  'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n' +
  '--inner\r\nContent-Type: text/plain\r\n\r\ninner plain\r\n' +
  '--inner\r\nContent-Type: text/html\r\n\r\n<p>inner html</p>\r\n--inner--\r\n' +
  `\r\n--${BOUNDARY}--\r\n`;

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  }
  return out;
}

/** Sends `APPEND <head> CATENATE (...)`, waiting for `+` before each literal; returns the tagged line. */
async function catenate(
  c: RawImapClient,
  head: string,
  pieces: Array<string | Buffer>,
  tail = ')',
): Promise<{ tagged: string; continuations: number }> {
  const t = c.tag();
  let line = `${t} APPEND ${head}`;
  let continuations = 0;
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      line += piece;
      continue;
    }
    c.write(`${line}{${piece.length}}\r\n`);
    const r = await c.response(20_000);
    if (!r.startsWith('+')) return { tagged: r, continuations };
    continuations++;
    c.write(piece);
    line = '';
  }
  c.write(`${line}${tail}\r\n`);
  const r = await c.until(t, 20_000);
  return { tagged: r.tagged, continuations };
}

void describe('IMAP CATENATE', () => {
  let server: ImapTestServer;
  let c: RawImapClient;
  let validity: number;
  let draftUid: number;
  let otherUid: number;
  let draft: Buffer;
  let other: Buffer;

  before(async () => {
    server = await startImapServer({ limits: { messageSize: 600 * 1024 } });
    c = await RawImapClient.login(server.ports.imap, USER);
    draft = Buffer.from(DRAFT);
    other = Buffer.from(message('forwarded'));
    draftUid = await server.deliver(USER, 'Drafts', draft);
    otherUid = await server.deliver(USER, 'Drafts', other);
    const account = (await server.store.getAccount(USER))!;
    validity = (await server.store.getMailbox(account.id, 'Drafts'))!.uidValidity;
  });
  after(async () => {
    c.destroy();
    await server.close();
  });

  async function storedFrom(tagged: string, box = 'Drafts'): Promise<Buffer[]> {
    const m = /OK \[APPENDUID (\d+) ([\d:,]+)\]/.exec(tagged);
    assert.ok(m, tagged);
    const uids = m[2]!.split(',').flatMap((r) => {
      const [a, b] = r.split(':').map(Number);
      return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
    });
    const metas = await server.store.listMessages(await server.mailboxId(USER, box), { uids });
    assert.equal(metas.length, uids.length);
    return Promise.all(metas.map((meta) => server.blobs.readAll(meta.blobId)));
  }

  async function count(box = 'Drafts'): Promise<number> {
    return (await server.store.listMessages(await server.mailboxId(USER, box))).length;
  }

  /** Byte ranges cut here by hand from DRAFT, independent of the server's MIME index. */
  const text = DRAFT;
  const headerEnd = text.indexOf('\r\n\r\n') + 4;
  const part1MimeStart = text.indexOf(`--${BOUNDARY}\r\n`) + BOUNDARY.length + 4;
  const part1BodyStart = text.indexOf('\r\n\r\n', part1MimeStart) + 4;
  const part1End = text.indexOf(`\r\n--${BOUNDARY}`, part1BodyStart);

  void it('RFC 4469 §6 example: header, 1.MIME, 1, a whole message and TEXT literals', async () => {
    assert.match((await c.command('CAPABILITY')).untagged[0]!, / CATENATE /);
    const url = (rest: string): string => `"/Drafts;UIDVALIDITY=${validity}/;UID=${rest}"`;
    const sep = Buffer.from(`\r\n--${BOUNDARY}\r\n`);
    const close = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
    const r = await catenate(c, 'Drafts (\\Seen \\Draft $MDNSent) CATENATE (', [
      `URL ${url(`${draftUid}/;section=HEADER`)} TEXT `,
      sep,
      ` URL ${url(`${draftUid}/;section=1.MIME`)} URL ${url(`${draftUid}/;section=1`)} TEXT `,
      sep,
      ` URL ${url(String(otherUid))} TEXT `,
      close,
    ]);
    assert.equal(r.continuations, 3);
    const [stored] = await storedFrom(r.tagged);
    const expected = Buffer.concat([
      draft.subarray(0, headerEnd),
      sep,
      draft.subarray(part1MimeStart, part1BodyStart),
      draft.subarray(part1BodyStart, part1End),
      sep,
      other,
      close,
    ]);
    assert.equal(stored!.toString('latin1'), expected.toString('latin1'));
    // The new message is a message like any other: FETCH reads its structure.
    assert.equal((await c.command('SELECT Drafts')).status, 'OK');
    const uid = /APPENDUID \d+ (\d+)/.exec(r.tagged)![1];
    const f = await c.command(`UID FETCH ${uid} (FLAGS BODY.PEEK[1])`);
    assert.match(f.untagged[0]!, /FLAGS \(.*\\Seen/);
    assert.match(f.untagged[0]!, /Body of the draft\./);
  });

  void it('TEXT section, nested parts, PARTIAL, absolute imap:// URLs of this server and user', async () => {
    const u = `imap://alice%40example.test@mail.example.test:143/Drafts;UIDVALIDITY=${validity}/;UID=${draftUid}`;
    const r = await catenate(c, 'Drafts CATENATE (', [
      `URL "${u}/;SECTION=2.2" URL "/Drafts/;UID=${draftUid}/;SECTION=TEXT/;PARTIAL=0.44" `,
      `URL "/Drafts/;UID=${draftUid}/;SECTION=2.HEADER" URL "/Drafts/;UID=${otherUid}/;SECTION=TEXT"`,
    ]);
    const [stored] = await storedFrom(r.tagged);
    const expected =
      '<p>inner html</p>' +
      text.slice(headerEnd, headerEnd + 44) +
      'From: Carol <carol@example.test>\r\nSubject: inner\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n' +
      'Hello.\r\n';
    assert.equal(stored!.toString('latin1'), expected);
  });

  void it('a TEXT part streamed to a blob (200 KiB) is copied exactly', async () => {
    const big = Buffer.from(`${'z'.repeat(98)}\r\n`.repeat(2048));
    const blobsBefore = await filesUnder(path.join(server.dir, 'blobs'));
    const r = await catenate(c, 'Drafts CATENATE (', [
      `URL "/Drafts/;UID=${otherUid}/;SECTION=HEADER" TEXT `,
      big,
    ]);
    const [stored] = await storedFrom(r.tagged);
    const header = other.subarray(0, other.indexOf('\r\n\r\n') + 4);
    assert.ok(stored!.equals(Buffer.concat([header, big])));
    // Only the new message's blob stays: the TEXT part's own copy was discarded.
    assert.equal((await filesUnder(path.join(server.dir, 'blobs'))).length, blobsBefore.length + 1);
    assert.deepEqual(await filesUnder(path.join(server.dir, 'tmp')), []);
  });

  void it('CATENATE inside MULTIAPPEND: one APPENDUID set; a bad URL in the second stores nothing', async () => {
    const before = await count('Archive');
    const plain = Buffer.from(message('plain one'));
    const ok = await catenate(
      c,
      'Archive ',
      [plain, ` (\\Flagged) CATENATE (URL "/Drafts/;UID=${otherUid}" TEXT `, Buffer.from('\r\nPS.\r\n')],
      ')',
    );
    const stored = await storedFrom(ok.tagged, 'Archive');
    assert.equal(stored.length, 2);
    assert.ok(stored[0]!.equals(plain));
    assert.ok(stored[1]!.equals(Buffer.concat([other, Buffer.from('\r\nPS.\r\n')])));
    const bad = await catenate(c, 'Archive ', [plain, ` CATENATE (URL "/Drafts/;UID=999999"`], ')');
    assert.match(bad.tagged, /NO \[BADURL \/Drafts\/;UID=999999\]/);
    assert.equal(await count('Archive'), before + 2);
  });

  void it('NO [BADURL] for URLs that do not name a message of this user here; NO [TOOBIG]', async () => {
    const before = await count();
    const bad = [
      `/Drafts;UIDVALIDITY=${validity + 1}/;UID=${draftUid}`,
      `/Drafts/;UID=${draftUid}/;SECTION=9`,
      `/Drafts/;UID=${draftUid}/;SECTION=1.HEADER.FIELDS%20(From)`,
      `/NoSuchBox/;UID=1`,
      `/Drafts/;UID=${draftUid};URLAUTH=anonymous:internal:91354a473744909de610943775f92038`,
      `imap://bob%40example.test@mail.example.test/Drafts/;UID=${draftUid}`,
      `imap://other.example/Drafts/;UID=${draftUid}`,
      `Drafts/;UID=${draftUid}`,
    ];
    for (const url of bad) {
      const r = await catenate(c, 'Drafts CATENATE (', [`URL "${url}"`]);
      assert.match(r.tagged, /^A\d+ NO \[BADURL [^\]]+\]/, url);
    }
    // Bob's mailbox of the same name is not Alice's to read.
    const bobUid = await server.deliver('bob@example.test', 'INBOX', message('for bob only'));
    const aliceInbox = await server.store.listMessages(await server.mailboxId(USER, 'INBOX'));
    assert.ok(!aliceInbox.some((m) => m.uid === bobUid), "the UID exists only in bob's INBOX");
    const r = await catenate(c, 'Drafts CATENATE (', [`URL "/INBOX/;UID=${bobUid}"`]);
    assert.match(r.tagged, /NO \[BADURL/);
    // 600 KiB allowed: the draft 2000 times is not.
    const many = Array.from({ length: 2000 }, () => `URL "/Drafts/;UID=${draftUid}"`).join(' ');
    assert.match((await catenate(c, 'Drafts CATENATE (', [many])).tagged, /NO \[TOOBIG\]/);
    assert.match((await catenate(c, 'Drafts CATENATE (', [''])).tagged, / BAD /, 'no parts');
    assert.match((await catenate(c, 'Drafts CATENATE (', ['TEXT "quoted"'])).tagged, / BAD /);
    assert.match((await catenate(c, 'Drafts CATENATE (', ['TEXT ', Buffer.alloc(0)])).tagged, / NO /);
    assert.equal(await count(), before, 'nothing stored');
    assert.equal((await c.command('NOOP')).status, 'OK');
  });
});
