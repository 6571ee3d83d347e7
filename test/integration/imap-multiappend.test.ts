// MULTIAPPEND (RFC 3502) over real sockets: the RFC's example exchange replayed (two messages,
// the second with its own flags and date, each literal after its own `+`), one APPENDUID with a
// UID set (RFC 4315 §3), and atomicity: a batch whose third message goes over the quota, or
// whose second message is malformed, stores nothing, leaves no file behind (blobs/, tmp/), and
// a second session on the mailbox hears no EXISTS. Buffered and streamed literals, synchronising
// and LITERAL+, and pipelined batches keeping UID order.

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { message, RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const USER = 'alice@example.test';

interface Part {
  /** What comes before the literal: "" or "(\Seen) "date" " (the space before is added). */
  prefix: string;
  body: Buffer;
}

/**
 * `APPEND box part1 part2 ...`: with sync literals, waits for each `+` (a refusal instead of
 * `+` ends the command: the tagged answer is returned); with LITERAL+ sends everything at once.
 */
async function multiAppend(
  c: RawImapClient,
  box: string,
  parts: Part[],
  opts: { sync: boolean },
): Promise<{ tagged: string; untagged: string[]; continuations: number }> {
  const t = c.tag();
  let line = `${t} APPEND ${box}`;
  let continuations = 0;
  for (const p of parts) {
    line += `${p.prefix === '' ? '' : ' ' + p.prefix} {${p.body.length}${opts.sync ? '' : '+'}}\r\n`;
    c.write(line);
    if (opts.sync) {
      const r = await c.response(20_000);
      if (!r.startsWith('+')) return { tagged: r, untagged: [], continuations };
      continuations++;
    }
    c.write(p.body);
    line = '';
  }
  c.write('\r\n');
  const r = await c.until(t, 20_000);
  return { tagged: r.tagged, untagged: r.untagged, continuations };
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  }
  return out.sort();
}

void describe('IMAP MULTIAPPEND', () => {
  let server: ImapTestServer;
  let c: RawImapClient;
  before(async () => {
    server = await startImapServer({ limits: { messageSize: 4 * 1024 * 1024 } });
    c = await RawImapClient.login(server.ports.imap, USER);
  });
  after(async () => {
    c.destroy();
    await server.close();
  });

  async function contents(box: string) {
    const id = await server.mailboxId(USER, box);
    const metas = await server.store.listMessages(id);
    return Promise.all(metas.map(async (m) => ({ meta: m, bytes: await server.blobs.readAll(m.blobId) })));
  }

  void it('RFC 3502 §6 example: two messages, one APPENDUID with both UIDs', async () => {
    assert.match((await c.command('CAPABILITY')).untagged[0]!, / MULTIAPPEND /);
    assert.equal((await c.command('CREATE saved-messages')).status, 'OK');
    const first = Buffer.from(
      message('afternoon meeting', 'Hello Joe, do you think we can meet at 3:30?\r\n'),
    );
    const second = Buffer.from(
      message('afternoon meeting 2', 'Hello Joe, could we change that to 4:00pm?\r\n'),
    );
    const r = await multiAppend(
      c,
      'saved-messages',
      [
        { prefix: '(\\Seen)', body: first },
        { prefix: '(\\Seen) " 7-Feb-1994 22:43:04 -0800"', body: second },
      ],
      { sync: true },
    );
    assert.equal(r.continuations, 2);
    const m = /^A\d+ OK \[APPENDUID (\d+) (\d+):(\d+)\]/.exec(r.tagged);
    assert.ok(m, r.tagged);
    const box = await server.store.getMailbox((await server.store.getAccount(USER))!.id, 'saved-messages');
    assert.equal(Number(m[1]), box!.uidValidity);
    const stored = await contents('saved-messages');
    assert.deepEqual(
      stored.map((s) => s.meta.uid),
      [Number(m[2]), Number(m[3])],
    );
    assert.ok(stored[0]!.bytes.equals(first));
    assert.ok(stored[1]!.bytes.equals(second));
    assert.deepEqual(stored[0]!.meta.flags, ['\\Seen']);
    assert.equal(stored[1]!.meta.internalDate.toISOString(), '1994-02-08T06:43:04.000Z');
  });

  void it('a batch whose third message goes over the quota stores nothing; another session sees no EXISTS', async () => {
    const watcher = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await watcher.command('SELECT INBOX')).status, 'OK');
    const before = (await contents('INBOX')).length;
    const account = (await server.store.getAccount(USER))!;
    // Buffered literals (small): refused at the commit, for the message count.
    await server.store.setMessageQuota(USER, account.usedMessages + 2);
    const small = [1, 2, 3].map((i) => ({ prefix: '', body: Buffer.from(message(`small ${i}`)) }));
    for (const sync of [true, false]) {
      const r = await multiAppend(c, 'INBOX', small, { sync });
      assert.match(r.tagged, /^A\d+ NO \[OVERQUOTA\]/, `sync=${sync}`);
    }
    await server.store.setMessageQuota(USER, 0);
    // Streamed literals (100 KiB each) against the storage quota: the third does not fit.
    const big = [1, 2, 3].map((i) => ({
      prefix: '(\\Flagged)',
      body: Buffer.from(message(`big ${i}`, `${'x'.repeat(78)}\r\n`.repeat(1300))),
    }));
    await server.store.setQuota(USER, account.usedBytes + big[0]!.body.length * 2 + 1000);
    const blobsBefore = await filesUnder(path.join(server.dir, 'blobs'));
    // {n}: the third literal is refused before its `+` (its bytes never come).
    const sync = await multiAppend(c, 'INBOX', big, { sync: true });
    assert.equal(sync.continuations, 2);
    assert.match(sync.tagged, /^A\d+ NO \[OVERQUOTA\]/);
    // {n+}: all the bytes come; the command fails as a whole.
    const plus = await multiAppend(c, 'INBOX', big, { sync: false });
    assert.match(plus.tagged, /^A\d+ NO \[OVERQUOTA\]/);
    await server.store.setQuota(USER, 0);
    assert.equal((await contents('INBOX')).length, before, 'nothing stored');
    assert.deepEqual(await filesUnder(path.join(server.dir, 'blobs')), blobsBefore, 'no blob file left');
    assert.deepEqual(await filesUnder(path.join(server.dir, 'tmp')), [], 'no temp file left');
    const noop = await watcher.command('NOOP');
    assert.equal(noop.status, 'OK');
    assert.ok(!noop.untagged.some((u) => / EXISTS$/.test(u)), JSON.stringify(noop.untagged));
    // The same batch fits once the quota is lifted: all three, with consecutive UIDs.
    const ok = await multiAppend(c, 'INBOX', big, { sync: false });
    const m = /OK \[APPENDUID \d+ (\d+):(\d+)\]/.exec(ok.tagged);
    assert.ok(m, ok.tagged);
    assert.equal(Number(m[2]) - Number(m[1]), 2);
    const after = await contents('INBOX');
    assert.equal(after.length, before + 3);
    assert.ok(after.at(-1)!.bytes.equals(big[2]!.body));
    assert.deepEqual(after.at(-1)!.meta.flags, ['\\Flagged']);
    const seen = await watcher.command('NOOP');
    assert.ok(seen.untagged.includes(`* ${before + 3} EXISTS`), JSON.stringify(seen.untagged));
    watcher.destroy();
  });

  void it('a malformed later message (flags, date, NUL) or a missing mailbox stores nothing', async () => {
    const before = (await contents('INBOX')).length;
    const good = { prefix: '', body: Buffer.from(message('good')) };
    const cases: Array<[Part, RegExp]> = [
      [{ prefix: '(\\Recent)', body: Buffer.from(message('bad flag')) }, / BAD /],
      [{ prefix: '"31-Feb-2026 10:00:00 +0000"', body: Buffer.from(message('bad date')) }, / BAD /],
      [{ prefix: '', body: Buffer.from(message('nul', 'a\0b\r\n')) }, / BAD /],
    ];
    for (const [bad, expect] of cases) {
      const r = await multiAppend(c, 'INBOX', [good, bad, good], { sync: false });
      assert.match(r.tagged, expect, bad.prefix);
    }
    const missing = await multiAppend(c, 'NoSuchBox', [good, good], { sync: false });
    assert.match(missing.tagged, /NO \[TRYCREATE\]/);
    assert.equal((await contents('INBOX')).length, before);
    assert.equal((await c.command('NOOP')).status, 'OK', 'the session goes on');
  });

  void it('at most 64 streamed messages in one APPEND: NO [LIMIT], nothing stored, no temp file', async () => {
    const before = (await contents('INBOX')).length;
    const big = { prefix: '', body: Buffer.from(message('many', `${'m'.repeat(78)}\r\n`.repeat(900))) };
    const r = await multiAppend(
      c,
      'INBOX',
      Array.from({ length: 65 }, () => big),
      { sync: false },
    );
    assert.match(r.tagged, /^A\d+ NO \[LIMIT\]/);
    assert.equal((await contents('INBOX')).length, before);
    assert.deepEqual(await filesUnder(path.join(server.dir, 'tmp')), []);
    const ok = await multiAppend(
      c,
      'INBOX',
      Array.from({ length: 64 }, () => big),
      { sync: false },
    );
    assert.match(ok.tagged, /OK \[APPENDUID \d+ \d+:\d+\]/);
    assert.equal((await contents('INBOX')).length, before + 64);
  });

  void it('pipelined batches keep command order in their UIDs', async () => {
    const t1 = c.tag();
    const t2 = c.tag();
    const body = (s: string): Buffer => Buffer.from(message(s));
    const parts = (s: string): string =>
      [1, 2].map((i) => ` {${body(`${s}${i}`).length}+}\r\n${body(`${s}${i}`).toString('latin1')}`).join('');
    c.write(`${t1} APPEND Archive${parts('p')}\r\n${t2} APPEND Archive${parts('q')}\r\n`);
    const r1 = await c.until(t1, 20_000);
    const r2 = await c.until(t2, 20_000);
    const m1 = /APPENDUID \d+ (\d+):(\d+)/.exec(r1.tagged);
    const m2 = /APPENDUID \d+ (\d+):(\d+)/.exec(r2.tagged);
    assert.ok(m1 && m2, `${r1.tagged} / ${r2.tagged}`);
    assert.equal(Number(m2[1]), Number(m1[2]) + 1);
    const subjects = (await contents('Archive')).map((s) => /Subject: (\S+)/.exec(s.bytes.toString())![1]);
    assert.deepEqual(subjects.slice(-4), ['p1', 'p2', 'q1', 'q2']);
  });
});
