// Small IMAP extensions of issue 13, each replaying its RFC's example over a real socket:
// LITERAL+ without LITERAL- (RFC 7888 §5), WITHIN (RFC 5032: SEARCH YOUNGER/OLDER), PREVIEW
// (RFC 8970: FETCH PREVIEW and PREVIEW (LAZY)), SAVEDATE (RFC 8514: FETCH SAVEDATE, SEARCH
// SAVEDBEFORE/SAVEDON/SAVEDSINCE/SAVEDATESUPPORTED, a new save date on COPY) and OBJECTID
// (RFC 8474: MAILBOXID at CREATE, SELECT, STATUS and LIST-STATUS, kept by RENAME and never
// reused; EMAILID kept by COPY and MOVE; THREADID NIL; SEARCH EMAILID/THREADID).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { message, RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';
const DAY = 86_400_000;

/** `d-Mon-yyyy` of a time, in UTC (SEARCH dates are compared by UTC day here). */
function searchDate(ms: number): string {
  const d = new Date(ms);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${d.getUTCDate()}-${months[d.getUTCMonth()]}-${d.getUTCFullYear()}`;
}

/** The milliseconds of an IMAP date-time `"07-Dec-2026 05:12:00 +0000"`. */
function dateTime(text: string): number {
  const m = /"(\d\d)-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"/.exec(text);
  assert.ok(m !== null, text);
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(
    m[2]!,
  );
  const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  const offset = (Number(m[8]) * 60 + Number(m[9])) * 60_000 * (m[7] === '+' ? 1 : -1);
  return utc - offset;
}

void describe('IMAP LITERAL+, WITHIN, PREVIEW, SAVEDATE, OBJECTID', () => {
  let server: ImapTestServer;
  let c: RawImapClient;

  before(async () => {
    server = await startImapServer();
    const now = Date.now();
    // Internal dates: 10 days, 5 days, 2 days and 1 hour ago.
    await server.deliver(ALICE, 'INBOX', message('ten days', 'Ten days old.\r\n'), {
      date: new Date(now - 10 * DAY),
    });
    await server.deliver(ALICE, 'INBOX', message('five days', 'Five days old.\r\n'), {
      date: new Date(now - 5 * DAY),
    });
    await server.deliver(ALICE, 'INBOX', message('two days', 'Two days old.\r\n'), {
      date: new Date(now - 2 * DAY),
      flags: ['\\Seen'],
    });
    await server.deliver(
      ALICE,
      'INBOX',
      message('fresh', 'Gr\u00fc\u00dfe aus K\u00f6ln,\r\n\r\n  the   fresh   one.\r\n'),
      { date: new Date(now - 3_600_000) },
    );
    c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
  });
  after(async () => {
    c.destroy();
    await server.close();
  });

  void it('RFC 7888 §5: LITERAL+ is announced and LITERAL- is not; a 5,000-byte {n+} is accepted', async () => {
    const caps = await c.command('CAPABILITY');
    const list = caps.untagged[0]!.split(' ');
    assert.ok(list.includes('LITERAL+'), caps.untagged[0]);
    assert.ok(!list.includes('LITERAL-'), 'both may not be announced');
    // Above LITERAL-'s 4096 bytes: LITERAL+ semantics, so no TOOBIG.
    c.write(`l1 SEARCH TEXT {5000+}\r\n${'z'.repeat(5000)}\r\n`);
    const r = await c.until('l1');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(r.untagged, ['* SEARCH']);
  });

  void it('RFC 5032: SEARCH YOUNGER / OLDER by internal date, with other keys and in UID SEARCH', async () => {
    const caps = await c.command('CAPABILITY');
    assert.ok(caps.untagged[0]!.split(' ').includes('WITHIN'));
    // The RFC's example: unseen messages of the last three days.
    let r = await c.command('SEARCH UNSEEN YOUNGER 259200');
    assert.deepEqual(r.untagged, ['* SEARCH 4']);
    r = await c.command('SEARCH YOUNGER 259200');
    assert.deepEqual(r.untagged, ['* SEARCH 3 4']);
    r = await c.command('SEARCH OLDER 259200');
    assert.deepEqual(r.untagged, ['* SEARCH 1 2']);
    r = await c.command('UID SEARCH OLDER 86400 YOUNGER 604800');
    assert.deepEqual(r.untagged, ['* SEARCH 2 3']);
    r = await c.command('SEARCH NOT OLDER 3600000');
    assert.deepEqual(r.untagged, ['* SEARCH 1 2 3 4']);
    // nz-number: 0 and non-numbers are BAD.
    assert.equal((await c.command('SEARCH YOUNGER 0')).status, 'BAD');
    assert.equal((await c.command('SEARCH OLDER soon')).status, 'BAD');
  });

  void it('RFC 8970: FETCH PREVIEW and PREVIEW (LAZY), the text collapsed and at most 256 characters', async () => {
    const caps = await c.command('CAPABILITY');
    assert.ok(caps.untagged[0]!.split(' ').includes('PREVIEW'));
    let r = await c.command('FETCH 1 (RFC822.SIZE PREVIEW)');
    assert.equal(r.status, 'OK', r.tagged);
    assert.match(r.untagged[0]!, /^\* 1 FETCH \(RFC822\.SIZE \d+ PREVIEW "Ten days old\."\)$/);
    r = await c.command('FETCH 1:4 (PREVIEW (LAZY))');
    assert.equal(r.status, 'OK', r.tagged);
    assert.equal(r.untagged.length, 4);
    // 8-bit text goes as a literal in IMAP4rev1 without UTF8=ACCEPT.
    const fresh = r.untagged[3]!;
    const m = /^\* 4 FETCH \(PREVIEW \{(\d+)\}\r\n([^]*)\)$/.exec(fresh);
    assert.ok(m !== null, fresh);
    const text = Buffer.from(m[2]!, 'latin1').toString('utf8');
    assert.equal(text, 'Gr\u00fc\u00dfe aus K\u00f6ln, the fresh one.');
    assert.equal(Number(m[1]), Buffer.byteLength(text));
    r = await c.command('UID FETCH 2 PREVIEW (LAZY)');
    assert.match(r.untagged[0]!, /^\* 2 FETCH \(UID 2 PREVIEW "Five days old\."\)$/);
    assert.equal((await c.command('FETCH 1 (PREVIEW (EAGER))')).status, 'BAD');
    // A long text part is cut well under RFC 8970's 256 characters.
    const uid = await server.deliver(ALICE, 'INBOX', message('long', `${'word '.repeat(400)}\r\n`));
    assert.ok((await c.command('NOOP')).untagged.includes('* 5 EXISTS'));
    r = await c.command(`UID FETCH ${uid} PREVIEW`);
    const long = /PREVIEW "([^"]*)"/.exec(r.untagged.at(-1)!);
    assert.ok(long !== null, r.untagged.join('\n'));
    assert.ok(long[1]!.length > 100 && long[1]!.length <= 256, `${long[1]!.length} characters`);
  });

  void it('RFC 8514: SAVEDATE is when the message was saved into this mailbox; COPY saves anew', async () => {
    const caps = await c.command('CAPABILITY');
    assert.ok(caps.untagged[0]!.split(' ').includes('SAVEDATE'));
    const before = Date.now();
    let r = await c.command('FETCH 1 (INTERNALDATE SAVEDATE)');
    assert.equal(r.status, 'OK', r.tagged);
    const m = /INTERNALDATE ("[^"]+") SAVEDATE ("[^"]+")/.exec(r.untagged[0]!);
    assert.ok(m !== null, r.untagged[0]);
    // Delivered in before(): internal date ten days back, saved just now.
    assert.ok(before - dateTime(m[1]!) > 9 * DAY);
    assert.ok(Math.abs(before - dateTime(m[2]!)) < 120_000, r.untagged[0]);
    const today = searchDate(before);
    r = await c.command(`SEARCH SAVEDON ${today}`);
    assert.equal(r.untagged[0], '* SEARCH 1 2 3 4 5');
    r = await c.command(`SEARCH SAVEDBEFORE ${today}`);
    assert.equal(r.untagged[0], '* SEARCH');
    r = await c.command(
      `SEARCH SAVEDSINCE ${searchDate(before - 3 * DAY)} SINCE ${searchDate(before - 3 * DAY)}`,
    );
    assert.equal(r.untagged[0], '* SEARCH 3 4 5');
    r = await c.command('SEARCH SAVEDATESUPPORTED');
    assert.equal(r.untagged[0], '* SEARCH 1 2 3 4 5');
    // A copy is saved into the target when copied: a later save date than the original's.
    const account = (await server.store.getAccount(ALICE))!;
    await server.store.createMailbox(account.id, 'Saved');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await c.command('UID COPY 1 Saved')).status, 'OK');
    const copy = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await copy.command('EXAMINE Saved')).status, 'OK');
    r = await copy.command('FETCH 1 (INTERNALDATE SAVEDATE)');
    const cm = /INTERNALDATE ("[^"]+") SAVEDATE ("[^"]+")/.exec(r.untagged[0]!);
    assert.ok(cm !== null, r.untagged[0]);
    assert.equal(cm[1], m[1], 'COPY keeps the internal date');
    assert.ok(dateTime(cm[2]!) > dateTime(m[2]!), `${cm[2]} after ${m[2]}`);
    copy.destroy();
    assert.equal((await c.command('SEARCH SAVEDON 32-Jan-2026')).status, 'BAD');
  });

  void it('RFC 8474: MAILBOXID at CREATE, SELECT, STATUS and LIST, kept by RENAME, not reused after DELETE', async () => {
    const caps = await c.command('CAPABILITY');
    assert.ok(caps.untagged[0]!.split(' ').includes('OBJECTID'));
    const objectId = /^[A-Za-z0-9_-]{1,255}$/;
    const idIn = (text: string): string => {
      const m = /MAILBOXID \(([^)]*)\)/.exec(text);
      assert.ok(m !== null, text);
      assert.match(m[1]!, objectId);
      return m[1]!;
    };
    const foo = idIn((await c.command('CREATE foo')).tagged);
    const bar = idIn((await c.command('CREATE bar')).tagged);
    assert.notEqual(foo, bar);
    assert.match((await c.command('CREATE foo')).tagged, /^A\d+ NO /);
    assert.equal((await c.command('RENAME foo renamed')).status, 'OK');
    let r = await c.command('STATUS renamed (MAILBOXID MESSAGES)');
    assert.equal(idIn(r.untagged[0]!), foo, 'RENAME keeps the MAILBOXID');
    assert.equal((await c.command('DELETE bar')).status, 'OK');
    const bar2 = idIn((await c.command('CREATE bar')).tagged);
    assert.notEqual(bar2, bar, 'a deleted mailbox id is not reused');
    r = await c.command('LIST "" "renamed" RETURN (STATUS (MAILBOXID))');
    assert.equal(idIn(r.untagged.find((l) => l.startsWith('* STATUS'))!), foo);
    const other = await RawImapClient.login(server.ports.imap, ALICE);
    r = await other.command('EXAMINE renamed');
    assert.equal(r.status, 'OK', r.tagged);
    assert.equal(idIn(r.untagged.find((l) => l.includes('MAILBOXID'))!), foo);
    other.destroy();
  });

  void it('RFC 8474: EMAILID survives COPY and MOVE, THREADID is NIL, SEARCH EMAILID/THREADID', async () => {
    let r = await c.command('UID FETCH 1:2 (EMAILID THREADID)');
    assert.equal(r.status, 'OK', r.tagged);
    const ids = r.untagged.map((l) => {
      const m = /EMAILID \(([A-Za-z0-9_-]{1,255})\) THREADID NIL/.exec(l);
      assert.ok(m !== null, l);
      return m[1]!;
    });
    assert.notEqual(ids[0], ids[1]);
    assert.equal((await c.command('UID COPY 1 renamed')).status, 'OK');
    assert.equal((await c.command('UID MOVE 2 renamed')).status, 'OK');
    const other = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await other.command('EXAMINE renamed')).status, 'OK');
    r = await other.command('FETCH 1:* (EMAILID)');
    assert.deepEqual(
      r.untagged.map((l) => /EMAILID \(([^)]*)\)/.exec(l)?.[1]),
      [ids[0], ids[1]],
      'the copy and the moved message keep their EMAILID',
    );
    r = await other.command(`SEARCH EMAILID ${ids[1]}`);
    assert.equal(r.untagged[0], '* SEARCH 2');
    r = await other.command('SEARCH EMAILID Mnosuchid');
    assert.equal(r.untagged[0], '* SEARCH');
    r = await other.command('SEARCH THREADID T1');
    assert.equal(r.untagged[0], '* SEARCH');
    assert.equal((await other.command('SEARCH EMAILID bad!id')).status, 'BAD');
    other.destroy();
  });
});
