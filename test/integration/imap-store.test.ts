// STORE and UID STORE over real sockets: every form (+FLAGS, -FLAGS, FLAGS, each .SILENT),
// keywords including `__proto__`, refused flags, read-only mailboxes, and two sessions changing
// one message at the same time (both changes stick; each session hears of the other's).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { message, RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';

void describe('IMAP STORE', () => {
  let server: ImapTestServer;
  let boxes = 0;

  /** A new mailbox with `n` messages (UIDs 1..n), no flags. */
  async function mailbox(n: number): Promise<string> {
    const name = `S${++boxes}`;
    const account = (await server.store.getAccount(ALICE))!;
    await server.store.createMailbox(account.id, name);
    for (let i = 1; i <= n; i++) await server.deliver(ALICE, name, message(`m${i}`));
    return name;
  }

  async function open(box: string, opts: { examine?: boolean; rev2?: boolean } = {}): Promise<RawImapClient> {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    if (opts.rev2 === true) assert.equal((await c.command('ENABLE IMAP4rev2')).status, 'OK');
    const r = await c.command(`${opts.examine === true ? 'EXAMINE' : 'SELECT'} ${box}`);
    assert.equal(r.status, 'OK', r.tagged);
    return c;
  }

  async function storedFlags(box: string): Promise<string[][]> {
    const metas = await server.store.listMessages(await server.mailboxId(ALICE, box));
    return metas.map((m) => m.flags);
  }

  before(async () => {
    server = await startImapServer();
  });
  after(async () => {
    await server.close();
  });

  void it('+FLAGS, -FLAGS, FLAGS and their .SILENT forms', async () => {
    const box = await mailbox(3);
    const c = await open(box, { rev2: true });
    let r = await c.command('STORE 1:2 +FLAGS (\\Seen \\Flagged)');
    assert.equal(r.status, 'OK');
    assert.deepEqual(r.untagged, [
      '* 1 FETCH (FLAGS (\\Seen \\Flagged))',
      '* 2 FETCH (FLAGS (\\Seen \\Flagged))',
    ]);
    r = await c.command('STORE 2 -FLAGS (\\Flagged)');
    assert.deepEqual(r.untagged, ['* 2 FETCH (FLAGS (\\Seen))']);
    r = await c.command('STORE 3 FLAGS (\\Answered $Label1)');
    // A keyword new to the mailbox: FLAGS and PERMANENTFLAGS again, as Dovecot does, before
    // the FETCH that shows it.
    assert.deepEqual(r.untagged, [
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 \\*)] Flags permitted.',
      '* 3 FETCH (FLAGS (\\Answered $Label1))',
    ]);
    // Without parentheses: a single flag (RFC 9051 §9 store-att-flags).
    r = await c.command('STORE 3 +FLAGS \\Draft');
    assert.deepEqual(r.untagged, ['* 3 FETCH (FLAGS (\\Answered \\Draft $Label1))']);
    // No change: no FETCH.
    r = await c.command('STORE 1 +FLAGS (\\Seen)');
    assert.equal(r.status, 'OK');
    assert.deepEqual(r.untagged, []);
    for (const cmd of [
      'STORE 1 +FLAGS.SILENT (\\Deleted)',
      'STORE 1 -FLAGS.SILENT (\\Seen)',
      'STORE 2 FLAGS.SILENT ()',
    ]) {
      r = await c.command(cmd);
      assert.equal(r.status, 'OK', cmd);
      assert.deepEqual(r.untagged, [], cmd);
    }
    // The session's own silent changes do not come back on NOOP.
    assert.deepEqual((await c.command('NOOP')).untagged, []);
    assert.deepEqual(await storedFlags(box), [
      ['\\Flagged', '\\Deleted'],
      [],
      ['\\Answered', '\\Draft', '$Label1'],
    ]);
    const f = await c.command('FETCH 1:3 FLAGS');
    assert.deepEqual(f.untagged, [
      '* 1 FETCH (FLAGS (\\Flagged \\Deleted))',
      '* 2 FETCH (FLAGS ())',
      '* 3 FETCH (FLAGS (\\Answered \\Draft $Label1))',
    ]);
    c.destroy();
  });

  void it('UID STORE carries UID; rev1 shows \\Recent; __proto__ is a keyword like any other', async () => {
    const box = await mailbox(3);
    const c = await open(box);
    let r = await c.command('UID STORE 2:3 +FLAGS (__proto__ constructor)');
    assert.deepEqual(r.untagged, [
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft __proto__ constructor)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft __proto__ constructor \\*)] Flags permitted.',
      '* 2 FETCH (UID 2 FLAGS (__proto__ constructor \\Recent))',
      '* 3 FETCH (UID 3 FLAGS (__proto__ constructor \\Recent))',
    ]);
    r = await c.command('UID STORE 3 -FLAGS (__PROTO__)');
    assert.deepEqual(r.untagged, ['* 3 FETCH (UID 3 FLAGS (constructor \\Recent))']);
    r = await c.command('UID STORE 99 +FLAGS (\\Seen)');
    assert.equal(r.status, 'OK');
    assert.deepEqual(r.untagged, []);
    r = await c.command('UID STORE 1:* FLAGS.SILENT (x)');
    assert.deepEqual(r.untagged, [
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft __proto__ constructor x)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft __proto__ constructor x \\*)] Flags permitted.',
    ]);
    assert.deepEqual(await storedFlags(box), [['x'], ['x'], ['x']]);
    c.destroy();
  });

  void it('a keyword spelled NIL is a keyword (an atom), announced in FLAGS first', async () => {
    const box = await mailbox(1);
    const c = await open(box);
    const r = await c.command('STORE 1 +FLAGS NIL');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(r.untagged, [
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft NIL)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft NIL \\*)] Flags permitted.',
      '* 1 FETCH (FLAGS (NIL \\Recent))',
    ]);
    assert.deepEqual(await storedFlags(box), [['NIL']]);
    c.destroy();
  });

  void it('refuses \\Recent, unknown system flags, bad syntax and numbers beyond EXISTS (BAD)', async () => {
    const box = await mailbox(2);
    const c = await open(box);
    for (const cmd of [
      'STORE 1 +FLAGS (\\Recent)',
      'STORE 1 +FLAGS (\\Foo)',
      'STORE 1 +FLAGS (\\*)',
      'STORE 1 +FLAGS (a*b)',
      'STORE 1 XFLAGS (\\Seen)',
      'STORE 1 +FLAGS',
      'STORE 3 +FLAGS (\\Seen)',
      'STORE 0 +FLAGS (\\Seen)',
      'STORE x +FLAGS (\\Seen)',
    ]) {
      const r = await c.command(cmd);
      assert.equal(r.status, 'BAD', `${cmd}: ${r.tagged}`);
    }
    assert.deepEqual(await storedFlags(box), [[], []]);
    assert.equal(
      (await c.command('STORE 2 +FLAGS (\\seen)')).untagged[0],
      '* 2 FETCH (FLAGS (\\Seen \\Recent))',
    );
    c.destroy();
  });

  void it('read-only (EXAMINE): NO, nothing changes', async () => {
    const box = await mailbox(1);
    const c = await open(box, { examine: true });
    const r = await c.command('STORE 1 +FLAGS (\\Deleted)');
    assert.equal(r.status, 'NO', r.tagged);
    assert.equal((await c.command('UID STORE 1 FLAGS (\\Seen)')).status, 'NO');
    assert.deepEqual(await storedFlags(box), [[]]);
    c.destroy();
  });

  void it('two sessions adding different flags to one message: both stick, each is told', async () => {
    const box = await mailbox(2);
    const a = await open(box, { rev2: true });
    const b = await open(box, { rev2: true });
    // Sent at the same time, many rounds, each session its own keywords.
    const rounds = 20;
    const tagsA: string[] = [];
    const tagsB: string[] = [];
    for (let i = 0; i < rounds; i++) {
      const ta = a.tag();
      const tb = b.tag();
      tagsA.push(ta);
      tagsB.push(tb);
      a.write(`${ta} STORE 1 +FLAGS.SILENT (a${i})\r\n`);
      b.write(`${tb} STORE 1 +FLAGS.SILENT (b${i})\r\n`);
    }
    for (const t of tagsA) assert.equal((await a.until(t)).status, 'OK');
    for (const t of tagsB) assert.equal((await b.until(t)).status, 'OK');
    const [flags] = await storedFlags(box);
    const want = [
      ...Array.from({ length: rounds }, (_, i) => `a${i}`),
      ...Array.from({ length: rounds }, (_, i) => `b${i}`),
    ];
    assert.deepEqual([...flags!].sort(), want.sort());

    // Both sessions learn the final flags of message 1 (silent stores raced with the other's).
    const noopA = (await a.command('NOOP')).untagged.join('\n');
    const noopB = (await b.command('NOOP')).untagged.join('\n');
    for (const [name, text] of [
      ['A', noopA],
      ['B', noopB],
    ] as const) {
      const all = /^\* 1 FETCH \(FLAGS \(([^)]*)\)\)$/m.exec(text);
      // A session that saw every change itself may get nothing; then its FETCH must agree.
      const seen =
        all !== null
          ? all[1]!
          : /FLAGS \(([^)]*)\)/.exec(
              (await (name === 'A' ? a : b).command('FETCH 1 FLAGS')).untagged[0]!,
            )![1]!;
      assert.deepEqual(seen.split(' ').sort(), want.sort(), `session ${name}`);
    }

    // A plain STORE by A reaches B as an unsolicited FETCH on its next NOOP, and not A again.
    const r = await a.command('STORE 2 +FLAGS (\\Flagged)');
    assert.deepEqual(r.untagged, ['* 2 FETCH (FLAGS (\\Flagged))']);
    await b.command('STORE 2 +FLAGS (\\Answered)');
    assert.deepEqual((await a.command('NOOP')).untagged, ['* 2 FETCH (FLAGS (\\Answered \\Flagged))']);
    assert.deepEqual((await a.command('NOOP')).untagged, []);
    assert.deepEqual((await b.command('NOOP')).untagged, []);
    a.destroy();
    b.destroy();
  });

  void it(".SILENT does not hide another session's earlier change to the same message", async () => {
    const box = await mailbox(2);
    const a = await open(box, { rev2: true });
    const b = await open(box, { rev2: true });
    assert.deepEqual((await b.command('STORE 2 +FLAGS (\\Flagged)')).untagged, [
      '* 2 FETCH (FLAGS (\\Flagged))',
    ]);
    // A has not synced since B's change.
    const r = await a.command('STORE 2 +FLAGS.SILENT (\\Answered)');
    assert.equal(r.status, 'OK');
    const noop = await a.command('NOOP');
    const all = [...r.untagged, ...noop.untagged];
    assert.deepEqual(all, ['* 2 FETCH (FLAGS (\\Answered \\Flagged))']);
    a.destroy();
    b.destroy();
  });

  void it("another session's new keyword: FLAGS names it before any FETCH shows it", async () => {
    const box = await mailbox(3);
    const a = await open(box, { rev2: true });
    const b = await open(box, { rev2: true });
    const flags = (kws: string): string[] => [
      `* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft ${kws})`,
      `* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft ${kws} \\*)] Flags permitted.`,
    ];
    assert.equal((await b.command('STORE 1 +FLAGS.SILENT ($Work)')).status, 'OK');
    // Told by the sync after NOOP (RFC 9051 §7.3.5: the client records the new FLAGS).
    assert.deepEqual((await a.command('NOOP')).untagged, [...flags('$Work'), '* 1 FETCH (FLAGS ($Work))']);
    // In IDLE.
    a.write('i1 IDLE\r\n');
    assert.match(await a.response(), /^\+ /);
    assert.equal((await b.command('STORE 2 +FLAGS.SILENT ($Home)')).status, 'OK');
    assert.deepEqual(
      [await a.response(), await a.response(), await a.response()],
      [...flags('$Home $Work'), '* 2 FETCH (FLAGS ($Home))'],
    );
    a.write('DONE\r\n');
    assert.equal((await a.until('i1')).status, 'OK');
    // By a FETCH that reads a keyword set after the last sync, on both FETCH paths; and by a
    // STORE that shows it (the message's full flags).
    assert.equal((await b.command('STORE 3 +FLAGS.SILENT ($Late)')).status, 'OK');
    // (The sync after a FETCH may repeat what the FETCH showed: the other session's change.)
    const read = await a.command('FETCH 3 (FLAGS)');
    const late = '* 3 FETCH (FLAGS ($Late))';
    assert.deepEqual(read.untagged.slice(0, 3), [...flags('$Home $Late $Work'), late]);
    assert.deepEqual(read.untagged.slice(3), read.untagged.length > 3 ? [late] : []);
    assert.equal((await b.command('STORE 3 +FLAGS.SILENT ($Later)')).status, 'OK');
    const full = await a.command('FETCH 3 (FLAGS RFC822.SIZE)');
    assert.deepEqual(full.untagged.slice(0, 2), flags('$Home $Late $Later $Work'));
    assert.match(full.untagged[2] ?? '', /^\* 3 FETCH \(FLAGS \(\$Late \$Later\) RFC822\.SIZE \d+\)$/);
    assert.ok(full.untagged.slice(3).every((l) => l === '* 3 FETCH (FLAGS ($Late $Later))'));
    assert.equal((await b.command('STORE 1 +FLAGS.SILENT ($Last)')).status, 'OK');
    const st = await a.command('STORE 1 +FLAGS (\\Seen)');
    assert.deepEqual(st.untagged, [
      ...flags('$Home $Last $Late $Later $Work'),
      '* 1 FETCH (FLAGS (\\Seen $Work $Last))',
    ]);
    a.destroy();
    b.destroy();
  });

  void it('STORE over 4,096 messages in batches; the other session gets every change', async () => {
    const box = await mailbox(1);
    const id = await server.mailboxId(ALICE, box);
    for (let i = 0; i < 12; i++)
      await server.store.copy(
        id,
        (await server.store.listMessages(id)).map((m) => m.uid),
        id,
      );
    const n = 4096;
    const a = await open(box, { rev2: true });
    const b = await open(box, { rev2: true });
    const r = await a.command('STORE 1:* +FLAGS (\\Seen)', 20_000);
    assert.equal(r.status, 'OK');
    assert.equal(r.untagged.length, n);
    assert.equal(r.untagged[n - 1], `* ${n} FETCH (FLAGS (\\Seen))`);
    const noop = await b.command('NOOP', 20_000);
    assert.equal(noop.untagged.length, n);
    assert.deepEqual((await a.command('NOOP')).untagged, []);
    assert.ok((await storedFlags(box)).every((f) => f.length === 1 && f[0] === '\\Seen'));
    a.destroy();
    b.destroy();
  });
});
