// Small IMAP extensions of issue 13, each replaying its RFC's example over a real socket:
// LITERAL+ without LITERAL- (RFC 7888 §5), WITHIN (RFC 5032: SEARCH YOUNGER/OLDER), PREVIEW
// (RFC 8970: FETCH PREVIEW and PREVIEW (LAZY)).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { message, RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';
const DAY = 86_400_000;

void describe('IMAP LITERAL+, WITHIN, PREVIEW', () => {
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
});
