// Storage is given back: expunged mail leaves the disk once garbage collection runs, a streamed
// APPEND that fails (every way it can) leaves no file at once, and a quota bounds the disk an
// account can fill with streamed literals. Checked on the data directory itself: files and bytes
// under blobs/ and tmp/, and the SQLite rows describing blobs (blobs, blob_search,
// message_search).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { diskUsage, eventually, messageBytes, type DiskUsage } from '../helpers/disk-usage.js';
import { message, RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const USER = 'alice@example.test';
const KiB = 1024;

/** A message of about `size` bytes whose content differs by `seed` (no dedupe between them). */
function bigMessage(seed: string, size: number): Buffer {
  const head = message(`reclaim ${seed}`);
  const line = `${seed} `.repeat(Math.ceil(76 / (seed.length + 1))).slice(0, 76) + '\r\n';
  const body = line.repeat(Math.ceil((size - head.length) / line.length));
  return Buffer.from(head + body);
}

/** APPEND with LITERAL+ (`{n+}`): the bytes follow at once, streamed by the server above 64 KiB. */
async function appendPlus(c: RawImapClient, args: string, body: Buffer, tail = '\r\n'): Promise<string> {
  const t = c.tag();
  c.write(`${t} APPEND ${args} {${body.length}+}\r\n`);
  c.write(body);
  c.write(tail);
  return (await c.until(t, 20_000)).tagged;
}

void describe('IMAP storage is reclaimed', () => {
  let server: ImapTestServer;
  let c: RawImapClient;
  let start: DiskUsage;

  before(async () => {
    server = await startImapServer({ limits: { messageSize: 4 * 1024 * 1024 } });
    c = await RawImapClient.login(server.ports.imap, USER);
    start = await diskUsage(server.dir);
  });
  after(async () => {
    c.destroy();
    await server.close();
  });

  /** Zero grace and orphan age: safe here, no delivery runs while it does. */
  async function collect(): Promise<void> {
    await server.store.collectGarbage({ graceMs: 0, orphanAgeMs: 0 });
  }

  void it('APPEND + EXPUNGE cycles: the disk returns to its starting size once GC has run', async () => {
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    for (let i = 0; i < 5; i++) {
      const body = bigMessage(`cycle${i}`, 200 * KiB);
      assert.match(await appendPlus(c, 'INBOX', body), /OK \[APPENDUID/);
      assert.equal((await c.command('STORE 1:* +FLAGS.SILENT (\\Deleted)')).status, 'OK');
      assert.equal((await c.command('EXPUNGE')).status, 'OK');
    }
    const before = await diskUsage(server.dir);
    assert.equal(before.blobFiles, start.blobFiles + 5, 'expunged blobs wait for GC');
    assert.equal(before.blobRows, start.blobRows + 5);
    assert.equal(before.messageSearchRows, start.messageSearchRows, 'message_search follows messages');
    await collect();
    assert.deepEqual(await diskUsage(server.dir), start);
    assert.equal((await c.command('CLOSE')).status, 'OK');
  });

  void it('a failed streamed APPEND leaves no file, at once: every way it can fail', async () => {
    const body = (kind: string): Buffer => bigMessage(`failed-${kind}`, 150 * KiB);
    const failures: Array<{ kind: string; run: () => Promise<string>; expect: RegExp }> = [
      {
        kind: 'missing mailbox',
        run: () => appendPlus(c, 'NoSuchBox', body('box')),
        expect: /NO \[TRYCREATE\]/,
      },
      { kind: 'bad flags', run: () => appendPlus(c, 'INBOX (\\Bogus)', body('flags')), expect: / BAD / },
      {
        kind: 'bad date',
        run: () => appendPlus(c, 'INBOX "31-Feb-2026 10:00:00 +0000"', body('date')),
        expect: / BAD /,
      },
      {
        kind: 'too many arguments',
        run: () => appendPlus(c, 'INBOX', body('args'), ' extra\r\n'),
        expect: / BAD /,
      },
      {
        kind: 'parse error after the literal',
        run: () => appendPlus(c, 'INBOX', body('parse'), ' "unterminated\r\n'),
        expect: / BAD /,
      },
      {
        kind: 'NUL in a {n} literal',
        run: () => {
          const b = body('nul');
          b[b.length - 10] = 0;
          return appendPlus(c, 'INBOX', b);
        },
        expect: / (BAD|NO) /,
      },
      {
        kind: 'over quota',
        run: async () => {
          await server.store.setQuota(USER, 100 * KiB);
          try {
            return await appendPlus(c, 'INBOX', body('quota'));
          } finally {
            await server.store.setQuota(USER, 0);
          }
        },
        expect: /NO \[OVERQUOTA\]/,
      },
    ];
    for (const f of failures) {
      assert.match(await f.run(), f.expect, f.kind);
      assert.deepEqual(await diskUsage(server.dir), start, `${f.kind}: nothing left behind`);
    }
    assert.equal((await c.command('NOOP')).status, 'OK');
  });

  void it('a connection dropped mid-literal or before the command ends leaves no file', async () => {
    const body = bigMessage('dropped', 300 * KiB);
    for (const cut of [100 * KiB, body.length]) {
      const d = await RawImapClient.login(server.ports.imap, USER);
      d.write(`a1 APPEND INBOX {${body.length}+}\r\n`);
      // Half the literal, or all of it without the CRLF that ends the command.
      d.write(body.subarray(0, cut));
      await eventually(async () => assert.ok((await diskUsage(server.dir)).tmpBytes > 0, 'streaming'));
      d.destroy();
      await eventually(async () => assert.deepEqual(await diskUsage(server.dir), start), 5000);
    }
    // A synchronising literal too, dropped after the continuation.
    const d = await RawImapClient.login(server.ports.imap, USER);
    d.write(`a1 APPEND INBOX {${body.length}}\r\n`);
    assert.match(await d.response(), /^\+ /);
    d.write(body.subarray(0, 200 * KiB));
    await eventually(async () => assert.ok((await diskUsage(server.dir)).tmpBytes > 0, 'streaming'));
    d.destroy();
    await eventually(async () => assert.deepEqual(await diskUsage(server.dir), start), 5000);
    await collect();
    assert.deepEqual(await diskUsage(server.dir), start);
  });

  void it('an account with a 1 MB quota cannot grow the disk past it with streamed literals', async () => {
    const quota = 1024 * KiB;
    await server.store.setQuota(USER, quota);
    const peak = { bytes: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak.bytes = Math.max(peak.bytes, (await messageBytes(server.dir)) - start.blobBytes);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    try {
      // Four streams of 400 KiB at once: together 1.6 MiB, more than the quota. Each one's
      // announced size is held against the quota while it arrives, so at most two stream.
      const clients = await Promise.all([0, 1, 2, 3].map(() => RawImapClient.login(server.ports.imap, USER)));
      const bodies = clients.map((_, i) => bigMessage(`concurrent${i}`, 400 * KiB));
      clients.forEach((d, i) => {
        d.write(`q${i} APPEND INBOX {${bodies[i]!.length}+}\r\n`);
        d.write(bodies[i]!.subarray(0, 200 * KiB));
      });
      // Let every stream be under way before any ends.
      await eventually(async () => assert.ok((await diskUsage(server.dir)).tmpBytes >= 2 * 150 * KiB));
      clients.forEach((d, i) => {
        d.write(bodies[i]!.subarray(200 * KiB));
        d.write('\r\n');
      });
      const results = await Promise.all(clients.map((d, i) => d.until(`q${i}`, 20_000)));
      const stored = results.filter((r) => r.status === 'OK').length;
      assert.ok(stored <= 2, `${stored} of 4 stored`);
      for (const r of results.filter((x) => x.status !== 'OK')) assert.match(r.tagged, /NO \[OVERQUOTA\]/);
      for (const d of clients) d.destroy();
      // Then one after the other until the quota says no; failures leave nothing.
      for (let i = 0; i < 5; i++) {
        const r = await appendPlus(c, 'INBOX', bigMessage(`sequential${i}`, 300 * KiB));
        assert.match(r, /OK \[APPENDUID|NO \[OVERQUOTA\]/);
      }
      const account = (await server.store.getAccount(USER))!;
      assert.ok(account.usedBytes <= quota);
      await eventually(async () => assert.equal((await diskUsage(server.dir)).tmpFiles, 0));
    } finally {
      sampling = false;
      await sampler;
      await server.store.setQuota(USER, 0);
    }
    assert.ok(peak.bytes <= quota, `message data on disk peaked at ${peak.bytes} bytes (quota ${quota})`);
    const used = (await server.store.getAccount(USER))!.usedBytes;
    const now = await diskUsage(server.dir);
    assert.equal(now.blobBytes - start.blobBytes, used, 'exactly the stored messages are on disk');
  });
});
