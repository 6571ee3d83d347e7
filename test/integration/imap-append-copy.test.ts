// APPEND, EXPUNGE, UID EXPUNGE, COPY, MOVE and their UID forms over real sockets, checked against
// what the store then holds: flags, internal dates, byte-exact blobs (incl. a 1 MiB literal
// streamed to the blob store, synchronising and LITERAL+), APPENDUID / COPYUID, TRYCREATE,
// OVERQUOTA, TOOBIG, EXPUNGE response order, MOVE's untagged COPYUID before its EXPUNGEs.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { message, RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const USER = 'alice@example.test';

/** Sends an APPEND whose literal waits for the continuation (`{n}`). */
async function appendSync(
  c: RawImapClient,
  args: string,
  body: Buffer,
): Promise<{ cont: string; tagged: string; untagged: string[] }> {
  const t = c.tag();
  c.write(`${t} APPEND ${args} {${body.length}}\r\n`);
  const cont = await c.response();
  if (!cont.startsWith('+')) return { cont, tagged: cont, untagged: [] };
  c.write(body);
  c.write('\r\n');
  const r = await c.until(t, 20_000);
  return { cont, tagged: r.tagged, untagged: r.untagged };
}

void describe('IMAP APPEND', () => {
  let server: ImapTestServer;
  let c: RawImapClient;
  before(async () => {
    server = await startImapServer({ limits: { messageSize: 2 * 1024 * 1024 } });
    c = await RawImapClient.login(server.ports.imap, USER);
  });
  after(async () => {
    c.destroy();
    await server.close();
  });

  async function stored(mailbox: string, uid: number) {
    const box = await server.mailboxId(USER, mailbox);
    const [meta] = await server.store.listMessages(box, { uids: [uid] });
    assert.ok(meta !== undefined, `uid ${uid} not in ${mailbox}`);
    return { meta, bytes: await server.blobs.readAll(meta.blobId) };
  }

  void it('stores flags, internal date and the exact bytes; answers APPENDUID', async () => {
    const body = Buffer.from(message('Appended'));
    const r = await appendSync(c, 'Drafts (\\Seen \\draft $Label) " 5-Mar-2026 14:07:09 +0100"', body);
    assert.equal(r.cont, '+ Ready for literal data');
    const m = /OK \[APPENDUID (\d+) (\d+)\]/.exec(r.tagged);
    assert.ok(m, r.tagged);
    const box = await server.store.getMailbox((await server.store.getAccount(USER))!.id, 'Drafts');
    assert.equal(Number(m[1]), box!.uidValidity);
    const { meta, bytes } = await stored('Drafts', Number(m[2]));
    assert.deepEqual(bytes, body);
    assert.deepEqual([...meta.flags].sort(), ['$Label', '\\Draft', '\\Seen']);
    assert.equal(meta.internalDate.toISOString(), '2026-03-05T13:07:09.000Z');
  });

  void it('LITERAL+ and literal8 forms, no flags or date', async () => {
    const body = Buffer.from(message('Plus'));
    const t = c.tag();
    c.write(`${t} APPEND Drafts {${body.length}+}\r\n`);
    c.write(body);
    c.write('\r\n');
    const r = await c.until(t);
    assert.equal(r.untagged.length, 0, 'no continuation for LITERAL+');
    const uid = Number(/APPENDUID \d+ (\d+)/.exec(r.tagged)![1]);
    assert.deepEqual((await stored('Drafts', uid)).bytes, body);
    assert.deepEqual((await stored('Drafts', uid)).meta.flags, []);

    const binary = Buffer.concat([
      Buffer.from('Subject: bin\r\nContent-Transfer-Encoding: binary\r\n\r\n'),
      Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a]),
    ]);
    const u = c.tag();
    c.write(`${u} APPEND Drafts ~{${binary.length}+}\r\n`);
    c.write(binary);
    c.write('\r\n');
    const r8 = await c.until(u);
    assert.equal(r8.status, 'OK', r8.tagged);
    const uid8 = Number(/APPENDUID \d+ (\d+)/.exec(r8.tagged)![1]);
    assert.deepEqual((await stored('Drafts', uid8)).bytes, binary);
  });

  void it('RFC 6855 UTF8 (~{n}) data item', async () => {
    const body = Buffer.from('Subject: Grüße\r\nFrom: jörg@example.test\r\n\r\nHallo.\r\n');
    const t = c.tag();
    c.write(`${t} APPEND Drafts UTF8 (~{${body.length}+}\r\n`);
    c.write(body);
    c.write(')\r\n');
    const r = await c.until(t);
    assert.match(r.tagged, /OK \[APPENDUID/);
    const uid = Number(/APPENDUID \d+ (\d+)/.exec(r.tagged)![1]);
    assert.deepEqual((await stored('Drafts', uid)).bytes, body);
    assert.equal((await c.command('APPEND Drafts UTF8 (x)')).status, 'BAD');
  });

  void it('a 1 MiB literal is streamed to the blob store byte-exact ({n} and {n+})', async () => {
    let text = 'Subject: big\r\n\r\n';
    for (let i = 0; text.length < 1024 * 1024; i++) text += `line ${i} ${'abcdefghij'.repeat(6)}\r\n`;
    const body = Buffer.from(text).subarray(0, 1024 * 1024);
    const r = await appendSync(c, 'INBOX', body);
    assert.match(r.tagged, /OK \[APPENDUID/);
    const uid = Number(/APPENDUID \d+ (\d+)/.exec(r.tagged)![1]);
    const s = await stored('INBOX', uid);
    assert.equal(s.meta.size, 1024 * 1024);
    assert.ok(s.bytes.equals(body));

    const t = c.tag();
    c.write(`${t} APPEND INBOX (\\Flagged) {${body.length}+}\r\n`);
    c.write(body);
    c.write('\r\n');
    const r2 = await c.until(t, 20_000);
    const uid2 = Number(/APPENDUID \d+ (\d+)/.exec(r2.tagged)![1]);
    const s2 = await stored('INBOX', uid2);
    assert.ok(s2.bytes.equals(body));
    assert.equal(s2.meta.blobId, s.meta.blobId, 'same content, same blob');
  });

  void it('TRYCREATE, OVERQUOTA, TOOBIG, zero length, bad flags and dates', async () => {
    const body = Buffer.from(message('x'));
    assert.match((await appendSync(c, 'NoSuchBox', body)).tagged, /NO \[TRYCREATE\]/);
    await server.store.setQuota(USER, 1);
    assert.match((await appendSync(c, 'INBOX', body)).tagged, /NO \[OVERQUOTA\]/);
    await server.store.setQuota(USER, 0);
    // Checked before the continuation: the literal is never sent.
    const t = c.tag();
    c.write(`${t} APPEND INBOX {${3 * 1024 * 1024}}\r\n`);
    assert.match((await c.until(t)).tagged, /NO \[TOOBIG\]/);
    assert.match((await appendSync(c, 'INBOX', Buffer.alloc(0))).tagged, / NO /);
    assert.match((await appendSync(c, 'INBOX (\\Recent)', body)).tagged, / BAD /);
    assert.match((await appendSync(c, 'INBOX (\\Bogus)', body)).tagged, / BAD /);
    assert.match((await appendSync(c, 'INBOX "31-Feb-2026 10:00:00 +0000"', body)).tagged, / BAD /);
    assert.equal((await c.command('NOOP')).status, 'OK');
  });

  void it('APPEND to the selected mailbox reports EXISTS (and RECENT in IMAP4rev1)', async () => {
    const d = await RawImapClient.login(server.ports.imap, USER);
    const sel = await d.command('SELECT Trash');
    assert.ok(sel.untagged.includes('* 0 EXISTS'));
    const r = await appendSync(d, 'Trash', Buffer.from(message('to self')));
    assert.match(r.tagged, /OK \[APPENDUID/);
    assert.ok(r.untagged.includes('* 1 EXISTS'), JSON.stringify(r.untagged));
    assert.ok(r.untagged.includes('* 1 RECENT'), JSON.stringify(r.untagged));
    d.destroy();
  });
});

void describe('IMAP EXPUNGE, COPY, MOVE', () => {
  let server: ImapTestServer;
  before(async () => {
    server = await startImapServer();
  });
  after(async () => {
    await server.close();
  });

  /** A mailbox with n messages; returns its id. */
  async function fill(mailbox: string, n: number): Promise<number> {
    const account = (await server.store.getAccount(USER))!;
    if ((await server.store.getMailbox(account.id, mailbox)) === null)
      await server.store.createMailbox(account.id, mailbox);
    for (let i = 1; i <= n; i++) await server.deliver(USER, mailbox, message(`${mailbox} ${i}`));
    return server.mailboxId(USER, mailbox);
  }

  void it('EXPUNGE removes \\Deleted messages with valid, ascending EXPUNGE responses; read-only is NO', async () => {
    const box = await fill('Exp', 5);
    await server.store.updateFlags(box, [2, 4, 5], { mode: 'add', flags: ['\\Deleted'] });
    const c = await RawImapClient.login(server.ports.imap, USER);
    const ro = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await ro.command('EXAMINE Exp')).status, 'OK');
    assert.match((await ro.command('EXPUNGE')).tagged, / NO /);
    assert.equal((await c.command('SELECT Exp')).status, 'OK');
    const r = await c.command('EXPUNGE');
    assert.equal(r.status, 'OK');
    assert.deepEqual(
      r.untagged.filter((l) => l.endsWith('EXPUNGE')),
      ['* 2 EXPUNGE', '* 3 EXPUNGE', '* 3 EXPUNGE'],
    );
    assert.deepEqual(
      (await server.store.listMessages(box)).map((m) => m.uid),
      [1, 3],
    );
    // The read-only session learns of it on its next command.
    const n = await ro.command('NOOP');
    assert.deepEqual(
      n.untagged.filter((l) => l.endsWith('EXPUNGE')),
      ['* 2 EXPUNGE', '* 3 EXPUNGE', '* 3 EXPUNGE'],
    );
    // Nothing deleted: nothing happens.
    assert.deepEqual((await c.command('EXPUNGE')).untagged, []);
    c.destroy();
    ro.destroy();
  });

  void it('UID EXPUNGE only removes the given UIDs that are \\Deleted', async () => {
    const box = await fill('UidExp', 4);
    await server.store.updateFlags(box, [1, 2, 3], { mode: 'add', flags: ['\\Deleted'] });
    const c = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await c.command('SELECT UidExp')).status, 'OK');
    const r = await c.command('UID EXPUNGE 2:4');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(
      r.untagged.filter((l) => l.endsWith('EXPUNGE')),
      ['* 2 EXPUNGE', '* 2 EXPUNGE'],
    );
    assert.deepEqual(
      (await server.store.listMessages(box)).map((m) => m.uid),
      [1, 4],
    );
    assert.equal((await c.command('UID EXPUNGE 1:x')).status, 'BAD');
    c.destroy();
  });

  void it('COPY answers COPYUID, keeps flags, works to the same mailbox; TRYCREATE', async () => {
    const src = await fill('CopySrc', 3);
    await server.store.updateFlags(src, [2], { mode: 'add', flags: ['\\Flagged', 'kw1'] });
    const dst = await fill('CopyDst', 2);
    const dstBox = (await server.store.getMailboxById(dst))!;
    const c = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await c.command('SELECT CopySrc')).status, 'OK');
    const r = await c.command('COPY 2:3 CopyDst');
    assert.equal(r.tagged.split(' ').slice(1, 6).join(' '), `OK [COPYUID ${dstBox.uidValidity} 2:3 3:4]`);
    const copied = await server.store.listMessages(dst, { uids: [3, 4] });
    assert.deepEqual(copied[0]!.flags.slice().sort(), ['\\Flagged', 'kw1']);
    assert.equal((await server.store.listMessages(src)).length, 3, 'COPY leaves the source');
    const u = await c.command('UID COPY 1 CopyDst');
    assert.match(u.tagged, new RegExp(`OK \\[COPYUID ${dstBox.uidValidity} 1 5\\]`));
    const same = await c.command('COPY 1 CopySrc');
    assert.match(same.tagged, /OK \[COPYUID \d+ 1 4\]/);
    assert.ok(same.untagged.includes('* 4 EXISTS'), JSON.stringify(same.untagged));
    assert.match((await c.command('COPY 1 Nowhere')).tagged, /NO \[TRYCREATE\]/);
    assert.equal((await c.command('COPY 99 CopyDst')).status, 'BAD');
    c.destroy();
  });

  void it('MOVE sends * OK [COPYUID] before its EXPUNGEs; UID MOVE; same mailbox; read-only NO', async () => {
    await fill('MoveSrc', 4);
    const dst = await fill('MoveDst', 1);
    const dstBox = (await server.store.getMailboxById(dst))!;
    const c = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await c.command('SELECT MoveSrc')).status, 'OK');
    const r = await c.command('MOVE 2:3 MoveDst');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(r.untagged, [
      `* OK [COPYUID ${dstBox.uidValidity} 2:3 2:3] Moved`,
      '* 2 EXPUNGE',
      '* 2 EXPUNGE',
    ]);
    assert.deepEqual(
      (await server.store.listMessages(dst)).map((m) => m.uid),
      [1, 2, 3],
    );
    const u = await c.command('UID MOVE 4 MoveDst');
    assert.deepEqual(u.untagged, [`* OK [COPYUID ${dstBox.uidValidity} 4 4] Moved`, '* 2 EXPUNGE']);
    const self = await c.command('MOVE 1 MoveSrc');
    assert.deepEqual(self.untagged.slice(0, 2), [
      '* OK [COPYUID ' +
        String((await server.store.getMailboxById(await server.mailboxId(USER, 'MoveSrc')))!.uidValidity) +
        ' 1 5] Moved',
      '* 1 EXPUNGE',
    ]);
    assert.ok(self.untagged.includes('* 1 EXISTS'), JSON.stringify(self.untagged));
    const ro = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await ro.command('EXAMINE MoveDst')).status, 'OK');
    assert.match((await ro.command('MOVE 1 MoveSrc')).tagged, / NO /);
    assert.match((await c.command('MOVE 1 Nowhere')).tagged, /NO \[TRYCREATE\]/);
    c.destroy();
    ro.destroy();
  });

  void it('over quota: COPY is NO [OVERQUOTA] with nothing copied; MOVE within the account still works', async () => {
    await fill('QSrc', 2);
    const dst = await fill('QDst', 0);
    const c = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await c.command('SELECT QSrc')).status, 'OK');
    const account = (await server.store.getAccount(USER))!;
    await server.store.setQuota(USER, account.usedBytes + 10);
    assert.match((await c.command('COPY 1:2 QDst')).tagged, /NO \[OVERQUOTA\]/);
    assert.equal((await server.store.listMessages(dst)).length, 0);
    // A move within the account does not grow it (the store's rule): allowed.
    assert.equal((await c.command('MOVE 1 QDst')).status, 'OK');
    await server.store.setQuota(USER, 0);
    c.destroy();
  });
});

void describe('IMAP pipelined APPEND', () => {
  let server: ImapTestServer;
  before(async () => {
    server = await startImapServer();
  });
  after(async () => {
    await server.close();
  });

  void it('runs pipelined APPENDs together, answers them in order, UIDs in command order', async () => {
    const c = await RawImapClient.login(server.ports.imap, USER);
    await c.command('CREATE Pipe');
    const stats = (server.store as unknown as { stats?: { fsyncs: number } }).stats;
    const fsyncsBefore = stats?.fsyncs ?? 0;
    const N = 60;
    const parts: string[] = [];
    for (let i = 0; i < N; i++) {
      const body = message(`pipelined ${i}`);
      // One refused in the middle (no such mailbox), and a NOOP that must wait for those before it.
      const box = i === 20 ? 'NoSuchBox' : 'Pipe';
      parts.push(`p${i} APPEND ${box} {${body.length}+}\r\n${body}\r\n`);
      if (i === 40) parts.push('n1 NOOP\r\n');
    }
    c.write(parts.join(''));
    const tagged: string[] = [];
    const inOrder = (r: { untagged: string[]; tagged: string }): string => {
      // Another command's tagged response before this one would show among the untagged lines.
      assert.ok(
        r.untagged.every((l) => l.startsWith('* ')),
        `out of order before ${r.tagged}: ${r.untagged.join(' | ')}`,
      );
      return r.tagged;
    };
    for (let i = 0; i < N; i++) {
      tagged.push(inOrder(await c.until(`p${i}`, 20_000)));
      if (i === 40) tagged.push(inOrder(await c.until('n1')));
    }
    assert.match(tagged[20], /^p20 NO \[TRYCREATE\]/);
    const uids = tagged
      .filter((t) => t.startsWith('p') && !t.startsWith('p20 '))
      .map((t) => Number(/APPENDUID \d+ (\d+)/.exec(t)?.[1]));
    assert.equal(uids.length, N - 1);
    assert.deepEqual(
      uids,
      uids.map((_, i) => uids[0] + i),
      'UIDs follow the order of the commands',
    );
    assert.match(tagged[41], /^n1 OK/);
    // Each message is stored with its own subject at its UID.
    const box = await server.mailboxId(USER, 'Pipe');
    const metas = await server.store.listMessages(box);
    assert.equal(metas.length, N - 1);
    for (const [k, meta] of metas.entries()) {
      const i = k < 20 ? k : k + 1;
      const bytes = await server.blobs.readAll(meta.blobId);
      assert.equal(bytes.toString(), message(`pipelined ${i}`));
    }
    // They shared WAL fsyncs rather than taking one each.
    if (stats !== undefined) {
      const fsyncs = stats.fsyncs - fsyncsBefore;
      assert.ok(fsyncs < N / 2, `${fsyncs} WAL fsyncs for ${N} pipelined APPENDs`);
    }
    c.destroy();
  });
});
