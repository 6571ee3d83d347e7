// Hostile input against the IMAP session, one test per item of issue 4's list: literals over
// the limits (refused before `+`; a refused LITERAL+ drained, its bytes never run as commands),
// overlong lines, parenthesis and search-nesting bombs, NUL in strings, hostile mailbox names,
// prototype keys (`__proto__`, `constructor`) as keywords, header names and SEARCH HEADER names,
// and a flood of bad commands. Each test asserts the protocol answer, that the connection is
// still usable (or closed with BYE), that a bystander connection is served meanwhile, and that
// the server's memory (this process: the server runs in it) stays flat.

import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { diskUsage, eventually } from '../helpers/disk-usage.js';
import { heldBytes } from '../helpers/held-memory.js';
import {
  IMAP_PASSWORDS,
  message,
  RawImapClient,
  startImapServer,
  type ImapTestServer,
} from './imap-harness.js';

const ALICE = 'alice@example.test';
const MiB = 1024 * 1024;

/** Runs fn and asserts the JS heap plus Buffers grew by less than `bound` bytes across it. */
async function withFlatMemory(bound: number, fn: () => Promise<void>): Promise<void> {
  const before = heldBytes();
  await fn();
  // Closed connections release their buffers once their close events have run: wait for that
  // (a leak never comes back under the bound), then judge. A fixed 20 ms pause flaked in CI.
  let grown = heldBytes() - before;
  for (let waited = 0; grown >= bound && waited < 3000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    grown = heldBytes() - before;
  }
  assert.ok(grown < bound, `memory grew by ${(grown / MiB).toFixed(1)} MiB (bound ${bound / MiB} MiB)`);
}

/** Writes `total` bytes made of `pattern` repeated, with backpressure. */
async function writePattern(c: RawImapClient, total: number, pattern: string): Promise<void> {
  const unit = Buffer.from(pattern.repeat(Math.ceil(65536 / pattern.length))).subarray(0, 65536);
  let left = total;
  while (left > 0) {
    const piece = left >= unit.length ? unit : unit.subarray(0, left);
    left -= piece.length;
    if (!c.socket.write(piece)) await new Promise((resolve) => c.socket.once('drain', resolve));
  }
}

/**
 * Login cost is not what these tests measure: alice's stored hash is replaced by a cheap scrypt
 * (ln=4; the verifier honours the parameters a hash states), so the many logins stay fast.
 */
async function cheapLogin(server: ImapTestServer): Promise<void> {
  const salt = randomBytes(16);
  const hash = scryptSync(IMAP_PASSWORDS[ALICE]!, salt, 32, { N: 16, r: 8, p: 1 });
  await server.store.setPasswordHash(
    ALICE,
    `$scrypt$ln=4,r=8,p=1$${salt.toString('base64')}$${hash.toString('base64')}`,
  );
}

/** Bytes crafted to look like commands: they must never be executed. */
const FAKE_COMMANDS = 'x LOGOUT\r\ny CREATE pwned\r\nz LOGIN alice@example.test alice-secret-1\r\n';

/** Line read within the timeout, or null when none came. */
async function maybeResponse(c: RawImapClient, ms: number): Promise<string | null> {
  try {
    return await c.response(ms);
  } catch {
    return null;
  }
}

void describe('IMAP hostile input', () => {
  let server: ImapTestServer;
  /** Another logged-in connection, checked after each hostile input. */
  let bystander: RawImapClient;

  before(async () => {
    server = await startImapServer();
    await cheapLogin(server);
    const body =
      'From: a@example.test\r\n__proto__: polluted\r\nconstructor: builder\r\nSubject: proto\r\n\r\nbody\r\n';
    await server.deliver(ALICE, 'INBOX', body);
    await server.deliver(ALICE, 'INBOX', message('second'));
    bystander = await RawImapClient.login(server.ports.imap, ALICE);
  });
  after(async () => {
    bystander.destroy();
    await server.close();
  });

  /** The bystander gets its NOOP answered promptly: the hostile connection stalled nobody. */
  async function bystanderServed(maxMs = 1000): Promise<void> {
    const t0 = Date.now();
    const r = await bystander.command('NOOP', maxMs);
    assert.equal(r.status, 'OK');
    assert.ok(Date.now() - t0 < maxMs);
  }

  async function assertUsable(c: RawImapClient): Promise<void> {
    const r = await c.command('NOOP');
    assert.equal(r.status, 'OK', r.tagged);
  }

  void it('a synchronizing literal over the limit is refused before any `+`', async () => {
    const c = await RawImapClient.connect(server.ports.imap);
    // Not authenticated: LOGIN with a literal over limits.literalSize (64 MiB).
    c.write(`a1 LOGIN {${64 * MiB + 1}}\r\n`);
    const first = await c.response();
    assert.match(first, /^a1 NO \[TOOBIG\]/);
    // The line after a refused {n} is a new command, not literal data.
    await assertUsable(c);
    // A command not allowed in this state (APPEND before login): BAD, no `+` either.
    c.write('a2 APPEND INBOX {10}\r\n');
    assert.match(await c.response(), /^a2 BAD /);
    c.write('a3 XYZZY {10}\r\n');
    assert.match(await c.response(), /^a3 BAD /);
    await assertUsable(c);
    // Authenticated: APPEND over the message size limit (50 MiB) gets NO [TOOBIG] at once.
    assert.equal((await c.command(`LOGIN ${ALICE} alice-secret-1`)).status, 'OK');
    c.write(`a4 APPEND INBOX {${50 * MiB + 1}}\r\n`);
    assert.match(await c.response(), /^a4 NO \[TOOBIG\]/);
    await assertUsable(c);
    // Within the limit: `+` comes.
    c.write('a5 ID ({4}\r\n');
    assert.match(await c.response(), /^\+ /);
    c.write('name "x")\r\n');
    assert.equal((await c.until('a5')).status, 'OK');
    await assertUsable(c);
    await bystanderServed();
    c.destroy();
  });

  void it('a 64 MiB LITERAL+ over the APPEND limit is refused and drained, its bytes never executed', async () => {
    await withFlatMemory(16 * MiB, async () => {
      const c = await RawImapClient.login(server.ports.imap, ALICE);
      const size = 64 * MiB;
      c.write(`a1 APPEND INBOX {${size}+}\r\n`);
      const writing = writePattern(c, size, FAKE_COMMANDS);
      // While 64 MiB are drained, other connections are served.
      await bystanderServed(1000);
      await writing;
      // The command line goes on after its literal, to CRLF (RFC 9051 §4.3).
      c.write('\r\na2 NOOP\r\n');
      const r1 = await c.until('a1', 20_000);
      assert.match(r1.tagged, /^a1 NO \[TOOBIG\]/);
      assert.deepEqual(r1.untagged, [], 'no response to the literal bytes');
      const r2 = await c.until('a2');
      assert.deepEqual(r2.untagged, []);
      assert.equal(r2.status, 'OK');
      const account = await server.store.getAccount(ALICE);
      assert.equal(await server.store.getMailbox(account!.id, 'pwned'), null);
      assert.equal((await server.store.getMailbox(account!.id, 'INBOX'))!.messages, 2);
      c.destroy();
    });
  });

  void it('a LITERAL+ over literalSize before login is drained, its bytes never executed', async () => {
    await withFlatMemory(16 * MiB, async () => {
      const c = await RawImapClient.connect(server.ports.imap);
      const size = 64 * MiB + 1;
      c.write(`a1 LOGIN {${size}+}\r\n`);
      await writePattern(c, size, FAKE_COMMANDS);
      c.write('\r\na2 NOOP\r\na3 SELECT INBOX\r\n');
      const r1 = await c.until('a1', 20_000);
      assert.match(r1.tagged, /^a1 BAD \[TOOBIG\]/);
      assert.deepEqual(r1.untagged, []);
      assert.equal((await c.until('a2')).status, 'OK');
      // Not logged in by the smuggled LOGIN.
      assert.match((await c.until('a3')).tagged, /^a3 BAD /);
      c.destroy();
    });
    await bystanderServed();
  });

  void it('a LITERAL+ in a command refused for its state is not executed', async () => {
    const c = await RawImapClient.connect(server.ports.imap);
    // Small (buffered) and large (streamed, APPEND) literals of commands not allowed before login.
    c.write(`a1 APPEND INBOX {${FAKE_COMMANDS.length}+}\r\n${FAKE_COMMANDS}\r\n`);
    assert.match((await c.until('a1')).tagged, /^a1 BAD /);
    const big = 1 * MiB;
    c.write(`a2 APPEND INBOX {${big}+}\r\n`);
    await writePattern(c, big, FAKE_COMMANDS);
    c.write('\r\n');
    const r2 = await c.until('a2');
    assert.match(r2.tagged, /^a2 (BAD|NO) /);
    assert.deepEqual(r2.untagged, []);
    c.write(`a3 XYZZY {${FAKE_COMMANDS.length}+}\r\n${FAKE_COMMANDS}\r\n`);
    const r3 = await c.until('a3');
    assert.match(r3.tagged, /^a3 BAD /);
    assert.deepEqual(r3.untagged, []);
    // Still not authenticated, and still connected.
    assert.match((await c.command('SELECT INBOX')).tagged, / BAD /);
    await assertUsable(c);
    c.destroy();
  });

  void it('literals before login are not buffered up to the literal limit', async () => {
    // 48 MiB is under limits.literalSize (64 MiB): a server that took it would hold 48 MiB for
    // a peer that has not even logged in. A {n} must be refused before `+`, a {n+} drained.
    const c = await RawImapClient.connect(server.ports.imap);
    c.write(`a1 LOGIN {${48 * MiB}}\r\n`);
    assert.match(await c.response(), /^a1 NO \[TOOBIG\]/);
    await assertUsable(c);
    const before = heldBytes();
    const size = 48 * MiB;
    c.write(`a2 LOGIN {${size}+}\r\n`);
    await writePattern(c, size, FAKE_COMMANDS);
    // Measured while the server would still hold the literal, had it kept it: 48 MiB. Draining
    // it holds at most the reader's pause bound (256 KiB) and a socket read or two; bytes still
    // in flight sit in kernel buffers, which heldBytes() does not count. Measured: under 0.5 MiB,
    // loaded machine included, once heldBytes() stopped counting freed read chunks (issue 11).
    await new Promise((resolve) => setTimeout(resolve, 200));
    const during = heldBytes() - before;
    c.write(' x\r\n');
    const r = await c.until('a2', 10_000);
    assert.match(r.tagged, /^a2 BAD \[TOOBIG\]/);
    assert.deepEqual(r.untagged, []);
    assert.ok(during < 8 * MiB, `memory grew by ${(during / MiB).toFixed(1)} MiB while the literal came`);
    await assertUsable(c);
    c.destroy();
  });

  void it('legitimate literals still work before and after login', async () => {
    const c = await RawImapClient.connect(server.ports.imap);
    // LITERAL+ credentials before login (RFC 7888).
    c.write(`a1 LOGIN {${ALICE.length}+}\r\n${ALICE} {14+}\r\nalice-secret-1\r\n`);
    assert.equal((await c.until('a1')).status, 'OK');
    // After login a {n+} up to limits.literalSize is taken again (here 100 KB in SEARCH).
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    const needle = 'n'.repeat(100_000);
    c.write(`a2 SEARCH BODY {${needle.length}+}\r\n${needle}\r\n`);
    const r2 = await c.until('a2');
    assert.equal(r2.status, 'OK', r2.tagged);
    assert.deepEqual(r2.untagged, ['* SEARCH']);
    // And a streamed APPEND of 200 KB with LITERAL+.
    const body = `Subject: big\r\n\r\n${'b'.repeat(200_000)}\r\n`;
    c.write(`a3 APPEND Drafts {${body.length}+}\r\n${body}\r\n`);
    const r3 = await c.until('a3');
    assert.equal(r3.status, 'OK', r3.tagged);
    const account = await server.store.getAccount(ALICE);
    const drafts = await server.store.getMailbox(account!.id, 'Drafts');
    assert.equal(drafts!.messages, 1);
    assert.equal(drafts!.size, body.length);
    c.destroy();
  });

  void it('an overlong command line gets BAD and the connection stays usable', async () => {
    await withFlatMemory(8 * MiB, async () => {
      const c = await RawImapClient.connect(server.ports.imap);
      const limit = server.config.limits.imapLineLength;
      // Just under the limit: a normal answer (wrong password).
      const pad = 'p'.repeat(limit - 40);
      const near = await c.command(`LOGIN ${ALICE} ${pad}`);
      assert.equal(near.status, 'NO');
      // Over the limit, and far over it (1 MiB without a line end, then the end).
      c.write(`a1 LOGIN ${ALICE} ${'q'.repeat(limit + 10)}\r\n`);
      assert.match(await c.response(), /^a1 BAD .*too long/i);
      c.write('a2 LOGIN ');
      await writePattern(c, 1 * MiB, 'r');
      c.write('\r\n');
      assert.match(await c.response(), /^a2 BAD .*too long/i);
      // An overlong line ending in a LITERAL+ header: the literal is drained too.
      c.write(`a3 LOGIN ${'s'.repeat(limit)} {${FAKE_COMMANDS.length}+}\r\n${FAKE_COMMANDS}\r\n`);
      assert.match(await c.response(), /^a3 BAD .*too long/i);
      await assertUsable(c);
      assert.match((await c.command('SELECT INBOX')).tagged, / BAD /);
      c.destroy();
    });
    await bystanderServed();
  });

  void it('an overlong or wrong line inside IDLE or AUTHENTICATE is BAD, not a server error', async () => {
    const limit = server.config.limits.imapLineLength;
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    c.write('i1 IDLE\r\n');
    assert.match(await c.response(), /^\+ /);
    c.write(`${'D'.repeat(limit * 4)}\r\n`);
    assert.match(await c.response(), /^i1 BAD /);
    c.write('i2 IDLE\r\n');
    assert.match(await c.response(), /^\+ /);
    c.write('DONE NOW\r\n');
    assert.match(await c.response(), /^i2 BAD /);
    await assertUsable(c);
    const d = await RawImapClient.connect(server.ports.imap);
    d.write('a1 AUTHENTICATE PLAIN\r\n');
    assert.match(await d.response(), /^\+/);
    d.write(`${'A'.repeat(limit * 4)}\r\n`);
    assert.match(await d.response(), /^a1 BAD /);
    await assertUsable(d);
    assert.match((await d.command('SELECT INBOX')).tagged, / BAD /);
    c.destroy();
    d.destroy();
    await bystanderServed();
  });

  void it('parenthesis bombs: nesting and unbalanced lists get BAD', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    const r1 = await c.command(`ID ${'('.repeat(4000)}${')'.repeat(4000)}`);
    assert.equal(r1.status, 'BAD');
    const r2 = await c.command(`ID ${'('.repeat(4000)}`);
    assert.equal(r2.status, 'BAD');
    const r3 = await c.command(`ID ("a" "b"))))))`);
    assert.equal(r3.status, 'BAD');
    // Nesting carried over literals: each line opens more lists.
    c.write('a1 ID ((((((((((((((((((((({1+}\r\nx ((((((((((((((((((((((((({1+}\r\ny\r\n');
    assert.match((await c.until('a1')).tagged, /^a1 BAD /);
    await assertUsable(c);
    await bystanderServed();
    c.destroy();
  });

  void it('SEARCH nesting bombs get BAD', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    assert.equal((await c.command(`SEARCH ${'('.repeat(1000)}ALL${')'.repeat(1000)}`)).status, 'BAD');
    assert.equal((await c.command(`SEARCH ${'NOT '.repeat(1500)}ALL`)).status, 'BAD');
    assert.equal((await c.command(`SEARCH ${'OR ALL '.repeat(1000)}ALL`)).status, 'BAD');
    // A reasonable depth still works.
    const ok = await c.command(`SEARCH ${'NOT '.repeat(10)}ALL`);
    assert.equal(ok.status, 'OK', ok.tagged);
    await assertUsable(c);
    await bystanderServed();
    c.destroy();
  });

  void it('NUL inside quoted strings and literals is BAD', async () => {
    const c = await RawImapClient.connect(server.ports.imap);
    c.write(`a1 LOGIN "alice@example.test\0" "alice-secret-1"\r\n`);
    assert.match((await c.until('a1')).tagged, /^a1 BAD /);
    c.write('a2 LOGIN {19}\r\n');
    assert.match(await c.response(), /^\+ /);
    c.write('alice@example.test\0 alice-secret-1\r\n');
    assert.match((await c.until('a2')).tagged, /^a2 BAD /);
    c.write('a3 LOGIN {19+}\r\nalice@example.test\0 alice-secret-1\r\n');
    assert.match((await c.until('a3')).tagged, /^a3 BAD /);
    // Not logged in by any of them.
    assert.match((await c.command('SELECT INBOX')).tagged, / BAD /);
    assert.equal((await c.command(`LOGIN ${ALICE} alice-secret-1`)).status, 'OK');
    // NUL in a mailbox name (as a literal) and in an APPEND literal.
    c.write('a4 CREATE {4+}\r\nx\0yz\r\n');
    assert.match((await c.until('a4')).tagged, /^a4 BAD /);
    c.write('a5 APPEND INBOX {12+}\r\nSubject: \0\r\n\r\n\r\n');
    const r5 = await c.until('a5');
    assert.match(r5.tagged, /^a5 (BAD|NO) /);
    await assertUsable(c);
    const account = await server.store.getAccount(ALICE);
    assert.equal((await server.store.getMailbox(account!.id, 'INBOX'))!.messages, 2);
    c.destroy();
  });

  void it('APPEND: NUL only in literal8, streamed or not; a bad rest of line stores nothing', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    const account = await server.store.getAccount(ALICE);
    await server.store.createMailbox(account!.id, 'nul-box');
    const count = async (): Promise<number> =>
      (await server.store.getMailbox(account!.id, 'nul-box'))!.messages;
    // Small (buffered) and large (streamed to a blob) literals, each as {n+} and as ~{n+}.
    for (const size of [100, 200_000]) {
      const bytes = `Subject: nul\r\n\r\n${'b'.repeat(size)}\0\r\n`;
      c.write(`a1 APPEND nul-box {${bytes.length}+}\r\n${bytes}\r\n`);
      assert.match((await c.until('a1')).tagged, /^a1 BAD /, `{n} of ${size}`);
      c.write(`a2 APPEND nul-box ~{${bytes.length}+}\r\n${bytes}\r\n`);
      // RFC 3516 §4.4: binary content is stored, or refused with NO [UNKNOWN-CTE].
      assert.match((await c.until('a2')).tagged, /^a2 (OK|NO \[UNKNOWN-CTE\]) /, `~{n} of ${size}`);
    }
    const stored = await count();
    // A streamed literal followed by a syntax error: the blob is dropped, nothing appended.
    const big = `Subject: s\r\n\r\n${'b'.repeat(100_000)}\r\n`;
    c.write(`a3 APPEND nul-box {${big.length}+}\r\n${big} junk(\r\n`);
    assert.match((await c.until('a3')).tagged, /^a3 BAD /);
    // MULTIAPPEND (RFC 3502): two streamed messages, then a syntax error: neither is stored.
    c.write(`a4 APPEND nul-box {${big.length}+}\r\n${big} {${big.length}+}\r\n${big} junk(\r\n`);
    assert.match((await c.until('a4')).tagged, /^a4 BAD /);
    assert.equal(await count(), stored);
    await assertUsable(c);
    c.destroy();
  });

  void it('hostile mailbox names are refused and the session goes on', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    const names = [
      '..',
      'a/../b',
      '/etc',
      '/',
      'a//b',
      '"&Jjo"', // unterminated modified UTF-7
      '"&U,BTFw-&ZeVnLIqe-"', // adjacent base64 runs
      '"&ZeVnLIqe-"', // valid
      '"&AGE-"', // US-ASCII encoded in base64: invalid modified UTF-7
      '"&2D0-"', // lone high surrogate
      `"${'d/'.repeat(200)}d"`,
      `"${'L'.repeat(5000)}"`,
    ];
    const account = await server.store.getAccount(ALICE);
    const before = (await server.store.listMailboxes(account!.id)).length;
    let created = 0;
    for (const name of names) {
      const r = await c.command(`CREATE ${name}`);
      if (name === '"&ZeVnLIqe-"') {
        assert.equal(r.status, 'OK', r.tagged);
        created++;
        continue;
      }
      assert.match(r.status, /^(NO|BAD)$/, `CREATE ${name.slice(0, 40)}: ${r.tagged}`);
    }
    // CR and LF inside a literal name, NUL inside a literal name.
    for (const raw of ['a\rb', 'a\nb', 'a\r\nb', 'a\0b']) {
      c.write(`a1 CREATE {${raw.length}+}\r\n${raw}\r\n`);
      const r = await c.until('a1');
      assert.match(r.tagged, /^a1 (NO|BAD) /, JSON.stringify(raw));
    }
    // The same names as SELECT, RENAME, STATUS and APPEND targets.
    assert.match((await c.command('SELECT ../../etc')).status, /^(NO|BAD)$/);
    assert.match((await c.command('RENAME INBOX ../x')).status, /^(NO|BAD)$/);
    assert.match((await c.command('STATUS "a//b" (MESSAGES)')).status, /^(NO|BAD)$/);
    c.write('a2 APPEND "/abs" {6+}\r\nx: y\r\n\r\n');
    assert.match((await c.until('a2')).tagged, /^a2 NO /);
    assert.equal((await server.store.listMailboxes(account!.id)).length, before + created);
    await assertUsable(c);
    await bystanderServed();
    c.destroy();
  });

  void it('__proto__ and constructor as keywords, HEADER.FIELDS names and SEARCH HEADER names', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    const st = await c.command('STORE 1 +FLAGS (__proto__ constructor hasOwnProperty)');
    assert.equal(st.status, 'OK', st.tagged);
    const f = await c.command('FETCH 1:2 (FLAGS)');
    assert.match(
      f.untagged.find((l) => l.startsWith('* 1 FETCH'))!,
      /__proto__/,
    );
    assert.match(
      f.untagged.find((l) => l.startsWith('* 1 FETCH'))!,
      /constructor/,
    );
    assert.doesNotMatch(
      f.untagged.find((l) => l.startsWith('* 2 FETCH'))!,
      /__proto__|constructor/,
    );
    const kw = await c.command('SEARCH KEYWORD __proto__');
    assert.deepEqual(kw.untagged, ['* SEARCH 1']);
    assert.deepEqual((await c.command('SEARCH KEYWORD toString')).untagged, ['* SEARCH']);
    assert.deepEqual((await c.command('SEARCH UNKEYWORD constructor')).untagged, ['* SEARCH 2']);
    const hf = await c.command('FETCH 1 (BODY.PEEK[HEADER.FIELDS (__proto__ constructor toString)])');
    assert.equal(hf.status, 'OK', hf.tagged);
    assert.ok(
      hf.untagged[0]!.endsWith('\r\n__proto__: polluted\r\nconstructor: builder\r\n\r\n)'),
      JSON.stringify(hf.untagged[0]),
    );
    const hn = await c.command('FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (__proto__ constructor)])');
    assert.doesNotMatch(hn.untagged[0]!, /polluted|builder/);
    assert.match(hn.untagged[0]!, /Subject: proto/);
    assert.deepEqual((await c.command('SEARCH HEADER __proto__ polluted')).untagged, ['* SEARCH 1']);
    assert.deepEqual((await c.command('SEARCH HEADER constructor ""')).untagged, ['* SEARCH 1']);
    assert.deepEqual((await c.command('SEARCH HEADER toString ""')).untagged, ['* SEARCH']);
    assert.equal((await c.command('STORE 1 -FLAGS (__proto__ constructor hasOwnProperty)')).status, 'OK');
    const after = await c.command('FETCH 1 (FLAGS)');
    assert.doesNotMatch(after.untagged[0]!, /__proto__|constructor|hasOwnProperty/);
    // Nothing leaked into Object.prototype of the server process.
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    c.destroy();
  });

  void it('too many bad commands end the session with BYE', async () => {
    const c = await RawImapClient.connect(server.ports.imap);
    const limit = server.config.limits.badCommands;
    for (let i = 0; i < limit; i++) {
      const r = await c.command(i % 2 === 0 ? 'FROB' : 'LOGIN (');
      assert.equal(r.status, 'BAD');
      assert.deepEqual(r.untagged, []);
    }
    assert.match(await c.response(), /^\* BYE /);
    await c.closed();
    // Lines without a tag count too.
    const d = await RawImapClient.connect(server.ports.imap);
    d.write('\r\n'.repeat(limit));
    const lines: string[] = [];
    for (;;) {
      const line = await maybeResponse(d, 2000);
      if (line === null) break;
      lines.push(line);
    }
    assert.equal(lines.filter((l) => l.startsWith('* BAD')).length, limit);
    assert.match(lines[lines.length - 1]!, /^\* BYE /);
    await d.closed();
    await bystanderServed();
  });

  void it('a client that vanishes mid-literal or mid-IDLE leaves nothing behind', async () => {
    const disk = await diskUsage(server.dir);
    await withFlatMemory(8 * MiB, async () => {
      for (let i = 0; i < 6; i++) {
        const c = await RawImapClient.login(server.ports.imap, ALICE);
        if (i % 2 === 0) {
          c.write(`a1 APPEND INBOX {${MiB}+}\r\n`);
          await writePattern(c, 256 * 1024, 'z');
        } else {
          assert.equal((await c.command('SELECT INBOX')).status, 'OK');
          c.write('a2 IDLE\r\n');
          assert.match(await c.response(), /^\+ /);
        }
        c.destroy();
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
    const account = await server.store.getAccount(ALICE);
    assert.equal((await server.store.getMailbox(account!.id, 'INBOX'))!.messages, 2);
    // Nothing on disk either: no temp file in <dataDir>/tmp, no blob file or row.
    await eventually(async () => assert.deepEqual(await diskUsage(server.dir), disk));
    await bystanderServed();
  });
});
