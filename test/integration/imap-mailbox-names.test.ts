// Hostile mailbox names over real sockets: "..", a leading "/", "//", NUL, CR, LF, invalid
// modified UTF-7, too deep, too long, wildcards in CREATE, prototype keys; and a LIST pattern
// built to make a backtracking matcher explode. Each gets a clear NO or BAD, creates nothing,
// and the connection stays usable.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';

void describe('IMAP hostile mailbox names', () => {
  let server: ImapTestServer;
  let c: RawImapClient;
  let namesBefore: string[];
  before(async () => {
    server = await startImapServer();
    c = await RawImapClient.login(server.ports.imap, ALICE);
    namesBefore = await names();
  });
  after(async () => {
    c.destroy();
    await server.close();
  });

  async function names(): Promise<string[]> {
    const account = await server.store.getAccount(ALICE);
    return (await server.store.listMailboxes(account!.id)).map((m) => m.name);
  }

  /** Sends a command whose arguments may hold any bytes (as literals) and reads its answer. */
  async function raw(parts: Array<string | Buffer>): Promise<{ status: string; tagged: string }> {
    const tag = c.tag();
    const bufs = parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p));
    c.write(Buffer.concat([Buffer.from(`${tag} `), ...bufs, Buffer.from('\r\n')]));
    const r = await c.until(tag);
    return { status: r.status, tagged: r.tagged };
  }

  /** A LITERAL+ argument carrying exactly these bytes. */
  const lit = (bytes: string): Buffer =>
    Buffer.concat([
      Buffer.from(`{${Buffer.byteLength(bytes, 'latin1')}+}\r\n`),
      Buffer.from(bytes, 'latin1'),
    ]);

  async function assertUsable(): Promise<void> {
    assert.equal((await c.command('NOOP')).status, 'OK');
    assert.deepEqual(await names(), namesBefore, 'no mailbox was created');
  }

  const refusedNames: Array<[string, string]> = [
    ['".." level', '"a/../b"'],
    ['".." alone', '..'],
    ['"." level', '"a/./b"'],
    ['leading "/"', '"/etc"'],
    ['"//"', '"a//b"'],
    ['only "/"', '"/"'],
    ['two trailing "/"', '"a//"'],
    ['"*" wildcard', '"a*b"'],
    ['"%" wildcard', '"a%b"'],
    ['invalid modified UTF-7 (unterminated)', '"&AAA"'],
    ['invalid modified UTF-7 (bad base64)', '"&!!!-"'],
    ['modified UTF-7 of plain ASCII', '"&AGE-"'],
    ['too long', `"${'x'.repeat(1001)}"`],
    ['too deep', `"${Array.from({ length: 40 }, () => 'd').join('/')}"`],
    ['empty', '""'],
  ];
  for (const [what, arg] of refusedNames) {
    void it(`CREATE refuses ${what}`, async () => {
      const r = await c.command(`CREATE ${arg}`);
      assert.match(r.status, /^(NO|BAD)$/, r.tagged);
      await assertUsable();
    });
  }

  void it('NUL, CR and LF inside a literal name are BAD', async () => {
    for (const bad of ['a\0b', 'a\rb', 'a\nb', 'a\r\nb']) {
      const r = await raw(['CREATE ', lit(bad)]);
      assert.equal(r.status, 'BAD', `${JSON.stringify(bad)}: ${r.tagged}`);
    }
    // A NUL in a quoted string is refused by the reader.
    assert.equal((await raw(['CREATE "a', Buffer.from([0]), 'b"'])).status, 'BAD');
    await assertUsable();
  });

  void it('hostile names are refused by RENAME, SELECT, STATUS, DELETE and SUBSCRIBE too', async () => {
    await c.command('CREATE Victim');
    namesBefore = await names();
    for (const arg of ['"a/../b"', '"/x"', '"a//b"', '"&AAA"', '"x%"']) {
      assert.match((await c.command(`RENAME Victim ${arg}`)).status, /^(NO|BAD)$/);
      assert.match((await c.command(`SELECT ${arg}`)).status, /^(NO|BAD)$/);
      assert.match((await c.command(`STATUS ${arg} (MESSAGES)`)).status, /^(NO|BAD)$/);
      assert.match((await c.command(`DELETE ${arg}`)).status, /^(NO|BAD)$/);
      assert.match((await c.command(`SUBSCRIBE ${arg}`)).status, /^(NO|BAD)$/);
    }
    assert.equal((await raw(['RENAME Victim ', lit('a\0b')])).status, 'BAD');
    // Impossible names are NO [CANNOT] (as Dovecot), not NONEXISTENT.
    for (const cmd of [
      'SELECT ""',
      'EXAMINE "/Leading"',
      'STATUS "a//b" (MESSAGES)',
      'DELETE ""',
      'SUBSCRIBE "a/.."',
    ]) {
      assert.match((await c.command(cmd)).tagged, / NO \[CANNOT\]/, cmd);
    }
    await assertUsable();
  });

  void it('prototype keys are ordinary names', async () => {
    for (const name of ['__proto__', 'constructor', 'hasOwnProperty']) {
      assert.equal((await c.command(`CREATE ${name}`)).status, 'OK');
      const st = await c.command(`STATUS ${name} (MESSAGES)`);
      assert.deepEqual(st.untagged, [`* STATUS ${name} (MESSAGES 0)`]);
      assert.deepEqual((await c.command(`LIST "" ${name}`)).untagged, [
        `* LIST (\\HasNoChildren) "/" ${name}`,
      ]);
      assert.equal((await c.command(`DELETE ${name}`)).status, 'OK');
    }
    assert.deepEqual(await names(), namesBefore);
  });

  void it('LIST patterns: invalid modified UTF-7 matches nothing, NUL is BAD, a backtracking bomb answers fast', async () => {
    const mutf7 = await c.command('LIST "" "&AAA*"');
    assert.deepEqual([mutf7.status, mutf7.untagged], ['OK', []]);
    assert.deepEqual((await c.command('LSUB "" "&AAA*"')).untagged, []);
    assert.equal((await raw(['LIST "" ', lit('a\0*')])).status, 'BAD');
    const deep = 'a/'.repeat(30) + 'a';
    assert.equal((await c.command(`CREATE "${deep}"`)).status, 'OK');
    // 2,000 alternating wildcards and a final literal that never matches: a backtracking
    // matcher would take exponential time; a second connection must stay responsive meanwhile.
    const bomb = '*%'.repeat(1000) + 'z';
    const other = await RawImapClient.login(server.ports.imap, ALICE);
    const started = Date.now();
    const tag = c.tag();
    c.write(`${tag} LIST "" "${bomb}"\r\n`);
    const noop = Date.now();
    assert.equal((await other.command('NOOP')).status, 'OK');
    assert.ok(Date.now() - noop < 500);
    const r = await c.until(tag);
    assert.equal(r.status, 'OK');
    assert.deepEqual(r.untagged, []);
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    // A pattern of literal characters and wildcards that does match the deep name.
    const r2 = await c.command(`LIST "" "${'a%/'.repeat(30)}*a"`);
    assert.deepEqual(r2.untagged, [`* LIST (\\HasNoChildren) "/" ${deep}`]);
    other.destroy();
    await c.command(`DELETE "${deep}"`);
  });
  void it('"[" is an atom character in names: a bracket name is NO when missing, and LIST and CREATE take it', async () => {
    // issue 13 defect 1: answered `BAD unterminated [` before (RFC 9051 §9: "[" is an ATOM-CHAR).
    const weird = "!#$&'+,-.0123456789:;<=>?@^_`|[}";
    const sel = await c.command(`SELECT ${weird}`);
    assert.equal(sel.status, 'NO', sel.tagged);
    const list = await c.command(`LIST "" ${weird}`);
    assert.equal(list.status, 'OK', list.tagged);
    assert.deepEqual(list.untagged, []);
    assert.equal((await c.command('CREATE a[b')).status, 'OK');
    const listed = await c.command('LIST "" a[b');
    assert.deepEqual(listed.untagged, ['* LIST (\\HasNoChildren) "/" a[b']);
    assert.equal((await c.command('SELECT a[b')).status, 'OK');
    assert.equal((await c.command('UNSELECT')).status, 'OK');
    assert.equal((await c.command('DELETE a[b')).status, 'OK');
  });
});
