// IMAP METADATA and METADATA-SERVER (RFC 5464) over real sockets: the RFC's examples of
// GETMETADATA (one entry, several, MAXSIZE with LONGENTRIES, DEPTH 1 and infinity) and
// SETMETADATA (a multi-line literal, NIL removing, several entries at once, the MAXSIZE and
// TOOMANY refusals) replayed against the real server; entry-name syntax (§3.2); server entries
// ("" mailbox, /shared/admin read only); binary values as literal8; entries following RENAME
// and going with DELETE; Python imaplib as a client.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runPython } from '../helpers/python.js';
import { IMAP_PASSWORDS, RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

void describe('IMAP METADATA (RFC 5464)', () => {
  let server: ImapTestServer;
  before(async () => {
    // Small limits so MAXSIZE and TOOMANY are reachable in a test.
    server = await startImapServer({ limits: { imapMetadataSize: 4096, imapMetadataEntries: 12 } });
  });
  after(async () => {
    await server.close();
  });

  async function login(user = ALICE): Promise<RawImapClient> {
    return RawImapClient.login(server.ports.imap, user);
  }

  void it('announces METADATA and METADATA-SERVER once authenticated', async () => {
    const c = await RawImapClient.connect(server.ports.imap);
    const before = await c.command('CAPABILITY');
    assert.doesNotMatch(before.untagged[0]!, /METADATA/);
    assert.equal((await c.command(`LOGIN ${ALICE} ${IMAP_PASSWORDS[ALICE]}`)).status, 'OK');
    const caps = (await c.command('CAPABILITY')).untagged[0]!.split(' ');
    assert.ok(caps.includes('METADATA') && caps.includes('METADATA-SERVER'), caps.join(' '));
    assert.ok(caps.includes('BINARY'), 'literal8 values need BINARY (RFC 5464 §5)');
    c.destroy();
  });

  void it('RFC 5464 §4.3 and §4.2 examples: SETMETADATA with a literal, NIL, several entries; GETMETADATA of one and of several', async () => {
    const c = await login();
    // §4.3: a value over two lines, sent as a literal.
    c.write('a SETMETADATA INBOX (/private/comment {33}\r\n');
    assert.match(await c.response(), /^\+ /);
    c.write('My new comment across\r\ntwo lines.)\r\n');
    assert.match((await c.until('a')).tagged, /^a OK/);
    let r = await c.command('GETMETADATA "INBOX" /private/comment');
    assert.deepEqual(r.untagged, [
      '* METADATA INBOX (/private/comment {33}\r\nMy new comment across\r\ntwo lines.)',
    ]);
    // §4.3: NIL removes the entry; a removed entry reads as NIL.
    assert.equal((await c.command('SETMETADATA INBOX (/private/comment NIL)')).status, 'OK');
    r = await c.command('GETMETADATA "INBOX" /private/comment');
    assert.deepEqual(r.untagged, ['* METADATA INBOX (/private/comment NIL)']);
    // §4.3: several entries in one command.
    r = await c.command(
      'SETMETADATA INBOX (/private/comment "My new comment" /shared/comment "This one is for you!")',
    );
    assert.equal(r.status, 'OK', r.tagged);
    // §4.2: several entries in one GETMETADATA, answered in one response, in the order asked.
    r = await c.command('GETMETADATA "INBOX" (/shared/comment /private/comment)');
    assert.deepEqual(r.untagged, [
      '* METADATA INBOX (/shared/comment "This one is for you!" /private/comment "My new comment")',
    ]);
    assert.match(r.tagged, /^A\d+ OK/);
    // §3.2: names compare without case; answers use lower case.
    r = await c.command('GETMETADATA INBOX /PRIVATE/Comment');
    assert.deepEqual(r.untagged, ['* METADATA INBOX (/private/comment "My new comment")']);
    await c.command('SETMETADATA INBOX (/private/comment NIL /shared/comment NIL)');
    c.destroy();
  });

  void it('RFC 5464 §4.2.1 MAXSIZE: longer values are left out and LONGENTRIES names the longest', async () => {
    const c = await login();
    const long = 'x'.repeat(2199);
    c.write(
      `b SETMETADATA INBOX (/shared/comment "My comment" /private/comment {${long.length}+}\r\n${long})\r\n`,
    );
    assert.match((await c.until('b')).tagged, /^b OK/);
    let r = await c.command('GETMETADATA (MAXSIZE 1024) "INBOX" "/shared/comment"');
    assert.deepEqual(r.untagged, ['* METADATA INBOX (/shared/comment "My comment")']);
    assert.match(r.tagged, /^A\d+ OK GETMETADATA/);
    r = await c.command('GETMETADATA (MAXSIZE 1024) "INBOX" (/shared/comment /private/comment)');
    assert.deepEqual(r.untagged, ['* METADATA INBOX (/shared/comment "My comment")']);
    assert.match(r.tagged, /^A\d+ OK \[METADATA LONGENTRIES 2199\]/);
    // Nothing fits: no METADATA response at all, only the code.
    r = await c.command('GETMETADATA (MAXSIZE 5) INBOX (/private/comment /shared/comment)');
    assert.deepEqual(r.untagged, []);
    assert.match(r.tagged, /^A\d+ OK \[METADATA LONGENTRIES 2199\]/);
    await c.command('SETMETADATA INBOX (/private/comment NIL /shared/comment NIL)');
    c.destroy();
  });

  void it('RFC 5464 §4.2.2 DEPTH 0, 1 and infinity', async () => {
    const c = await login();
    let r = await c.command(
      'SETMETADATA INBOX (/private/filters/values/small "SMALLER_THAN 1234" ' +
        '/private/filters/values/big "COMMENT \\"Messages bigger than 1234\\"" ' +
        '/private/filters/values/big/deeper "grandchild")',
    );
    assert.equal(r.status, 'OK', r.tagged);
    r = await c.command('GETMETADATA (DEPTH 1) "INBOX" "/private/filters/values"');
    assert.deepEqual(r.untagged, [
      '* METADATA INBOX (/private/filters/values/big "COMMENT \\"Messages bigger than 1234\\"" /private/filters/values/small "SMALLER_THAN 1234")',
    ]);
    r = await c.command('GETMETADATA (DEPTH infinity) INBOX /private/filters');
    assert.deepEqual(r.untagged, [
      '* METADATA INBOX (/private/filters/values/big "COMMENT \\"Messages bigger than 1234\\"" /private/filters/values/big/deeper "grandchild" /private/filters/values/small "SMALLER_THAN 1234")',
    ]);
    r = await c.command('GETMETADATA (DEPTH 0) INBOX /private/filters/values/small');
    assert.deepEqual(r.untagged, ['* METADATA INBOX (/private/filters/values/small "SMALLER_THAN 1234")']);
    // The bare /private prefix is a root: its descendants, no entry of its own.
    r = await c.command('GETMETADATA (DEPTH infinity MAXSIZE 17) INBOX /private');
    assert.deepEqual(r.untagged, [
      '* METADATA INBOX (/private/filters/values/big/deeper "grandchild" /private/filters/values/small "SMALLER_THAN 1234")',
    ]);
    assert.match(r.tagged, /\[METADATA LONGENTRIES 35\]/);
    for (const bad of ['(DEPTH 2)', '(DEPTH)', '(MAXSIZE -1)', '(FOO 1)', '()']) {
      assert.equal((await c.command(`GETMETADATA ${bad} INBOX /private/filters`)).status, 'BAD', bad);
    }
    await c.command(
      'SETMETADATA INBOX (/private/filters/values/small NIL /private/filters/values/big NIL /private/filters/values/big/deeper NIL)',
    );
    c.destroy();
  });

  void it('server entries: "" is the server, /shared/admin is the server\'s and read only', async () => {
    const c = await login();
    let r = await c.command('SETMETADATA "" (/shared/comment "Shared comment")');
    assert.equal(r.status, 'OK', r.tagged);
    // §4.2 example on the server.
    r = await c.command('GETMETADATA "" /shared/comment');
    assert.deepEqual(r.untagged, ['* METADATA "" (/shared/comment "Shared comment")']);
    r = await c.command('GETMETADATA "" (/shared/admin /private/nothing)');
    assert.deepEqual(r.untagged, [
      `* METADATA "" (/shared/admin "mailto:postmaster@${server.config.hostname}" /private/nothing NIL)`,
    ]);
    r = await c.command('SETMETADATA "" (/shared/admin "mailto:me@example.test")');
    assert.match(r.tagged, /^A\d+ NO \[NOPERM\]/);
    // A mailbox has no /shared/admin of its own: it may be set there.
    assert.equal((await c.command('SETMETADATA INBOX (/shared/admin "x")')).status, 'OK');
    await c.command('SETMETADATA INBOX (/shared/admin NIL)');
    // Server entries are per account: Bob does not see Alice's comment.
    const b = await login(BOB);
    r = await b.command('GETMETADATA "" /shared/comment');
    assert.deepEqual(r.untagged, ['* METADATA "" (/shared/comment NIL)']);
    b.destroy();
    await c.command('SETMETADATA "" (/shared/comment NIL)');
    c.destroy();
  });

  void it('RFC 5464 §3.2 entry names: wildcards, "//", a trailing "/", other prefixes and bare prefixes are BAD', async () => {
    const c = await login();
    for (const bad of [
      '/private/*',
      '/shared/a%',
      '/private//x',
      '/private/x/',
      '/comment',
      '/privatex',
      'private/x',
    ]) {
      assert.equal((await c.command(`SETMETADATA INBOX (${bad} "v")`)).status, 'BAD', bad);
      assert.equal((await c.command(`GETMETADATA INBOX ${bad}`)).status, 'BAD', bad);
    }
    assert.equal((await c.command('SETMETADATA INBOX (/private "v")')).status, 'BAD');
    assert.equal((await c.command('SETMETADATA INBOX (/private/x atom)')).status, 'BAD');
    assert.equal((await c.command('SETMETADATA INBOX (/private/x)')).status, 'BAD');
    assert.equal((await c.command('SETMETADATA INBOX ()')).status, 'BAD');
    assert.equal((await c.command('GETMETADATA INBOX ()')).status, 'BAD');
    // A mailbox that does not exist.
    assert.match((await c.command('GETMETADATA NoSuch /private/comment')).tagged, /NO \[NONEXISTENT\]/);
    assert.match((await c.command('SETMETADATA NoSuch (/private/comment "x")')).tagged, /NO \[NONEXISTENT\]/);
    // The session goes on.
    assert.equal((await c.command('NOOP')).status, 'OK');
    c.destroy();
  });

  void it("RFC 5464 §4.3 refusals change nothing: MAXSIZE names the limit, TOOMANY the account's entry bound", async () => {
    const c = await login();
    const big = 'y'.repeat(4097);
    c.write(`m SETMETADATA INBOX (/private/ok "fine" /private/big {${big.length}+}\r\n${big})\r\n`);
    const r1 = await c.until('m');
    assert.match(r1.tagged, /^m NO \[METADATA MAXSIZE 4096\]/);
    assert.deepEqual((await c.command('GETMETADATA INBOX /private/ok')).untagged, [
      '* METADATA INBOX (/private/ok NIL)',
    ]);
    // 12 entries per account (this server's limit): 12 fit, the 13th is refused, all or none.
    const twelve = Array.from({ length: 12 }, (_, i) => `/private/n${i} "${i}"`).join(' ');
    const r12 = await c.command(`SETMETADATA Sent (${twelve})`);
    assert.equal(r12.status, 'OK', r12.tagged);
    const r2 = await c.command('SETMETADATA Drafts (/private/one "1" /private/two "2")');
    assert.match(r2.tagged, /^A\d+ NO \[METADATA TOOMANY\]/);
    assert.deepEqual((await c.command('GETMETADATA Drafts /private/one')).untagged, [
      '* METADATA Drafts (/private/one NIL)',
    ]);
    // Replacing values does not add entries.
    assert.equal((await c.command('SETMETADATA Sent (/private/n0 "zero")')).status, 'OK');
    const clear = Array.from({ length: 12 }, (_, i) => `/private/n${i} NIL`).join(' ');
    assert.equal((await c.command(`SETMETADATA Sent (${clear})`)).status, 'OK');
    c.destroy();
  });

  void it('binary values: literal8 in, literal8 out (BINARY is announced); 8-bit values as literals', async () => {
    const c = await login();
    const value = Buffer.from([0x00, 0x01, 0xff, 0x0d, 0x0a, 0x00, 0x41]);
    c.write(
      Buffer.concat([
        Buffer.from(`l SETMETADATA INBOX (/private/vendor/test/bin ~{${value.length}+}\r\n`),
        value,
        Buffer.from(')\r\n'),
      ]),
    );
    assert.match((await c.until('l')).tagged, /^l OK/);
    const r = await c.command('GETMETADATA INBOX /private/vendor/test/bin');
    assert.deepEqual(r.untagged, [
      `* METADATA INBOX (/private/vendor/test/bin ~{7}\r\n${value.toString('latin1')})`,
    ]);
    // A NUL in a plain literal is refused by the reader (RFC 9051 §4.3).
    c.write(
      Buffer.concat([
        Buffer.from('n SETMETADATA INBOX (/private/x {2+}\r\n'),
        Buffer.from([0x41, 0x00]),
        Buffer.from(')\r\n'),
      ]),
    );
    assert.equal((await c.until('n')).status, 'BAD');
    await c.command('SETMETADATA INBOX (/private/vendor/test/bin NIL)');
    c.destroy();
  });

  void it('entries follow RENAME and go with DELETE; a new mailbox of the old name starts empty', async () => {
    const c = await login();
    assert.equal((await c.command('CREATE Projects/Old')).status, 'OK');
    assert.equal((await c.command('SETMETADATA Projects/Old (/shared/comment "keep me")')).status, 'OK');
    assert.equal((await c.command('SETMETADATA Projects (/private/comment "parent")')).status, 'OK');
    assert.equal((await c.command('RENAME Projects Work')).status, 'OK');
    assert.deepEqual((await c.command('GETMETADATA Work/Old /shared/comment')).untagged, [
      '* METADATA Work/Old (/shared/comment "keep me")',
    ]);
    assert.deepEqual((await c.command('GETMETADATA Work /private/comment')).untagged, [
      '* METADATA Work (/private/comment "parent")',
    ]);
    assert.equal((await c.command('CREATE Projects/Old')).status, 'OK');
    assert.deepEqual((await c.command('GETMETADATA Projects/Old /shared/comment')).untagged, [
      '* METADATA Projects/Old (/shared/comment NIL)',
    ]);
    assert.equal((await c.command('DELETE Work/Old')).status, 'OK');
    assert.equal((await c.command('CREATE Work/Old')).status, 'OK');
    assert.deepEqual((await c.command('GETMETADATA Work/Old /shared/comment')).untagged, [
      '* METADATA Work/Old (/shared/comment NIL)',
    ]);
    // Works in the selected state too, on the selected mailbox.
    assert.equal((await c.command('SELECT Work')).status, 'OK');
    assert.deepEqual((await c.command('GETMETADATA Work /private/comment')).untagged, [
      '* METADATA Work (/private/comment "parent")',
    ]);
    c.destroy();
  });

  void it('Python imaplib sets and reads entries (its generic command path)', async () => {
    const script = String.raw`
import imaplib, json, sys
cfg = json.loads(sys.stdin.read())
imaplib.Commands['GETMETADATA'] = ('AUTH', 'SELECTED')
imaplib.Commands['SETMETADATA'] = ('AUTH', 'SELECTED')
m = imaplib.IMAP4('127.0.0.1', cfg['port'], timeout=10)
m.login(cfg['user'], cfg['password'])
typ, data = m.capability()
out = {'caps': [c for c in data[0].decode().split() if 'METADATA' in c]}
typ, data = m._simple_command('SETMETADATA', 'INBOX', '(/private/comment "from imaplib")')
out['set'] = typ
typ, data = m._simple_command('GETMETADATA', 'INBOX', '(/private/comment /shared/comment)')
typ, data = m._untagged_response(typ, data, 'METADATA')
out['get'] = [typ, [d.decode() if isinstance(d, bytes) else [x.decode() for x in d] for d in data]]
typ, data = m._simple_command('SETMETADATA', 'INBOX', '(/private/comment NIL)')
out['unset'] = typ
m.logout()
print(json.dumps(out))
`;
    const out = JSON.parse(
      await runPython(
        script,
        JSON.stringify({ port: server.ports.imap, user: ALICE, password: IMAP_PASSWORDS[ALICE] }),
      ),
    ) as { caps: string[]; set: string; get: [string, string[]]; unset: string };
    assert.deepEqual(out.caps.sort(), ['METADATA', 'METADATA-SERVER']);
    assert.equal(out.set, 'OK');
    assert.deepEqual(out.get, ['OK', ['INBOX (/private/comment "from imaplib" /shared/comment NIL)']]);
    assert.equal(out.unset, 'OK');
  });
});
