// Decompression bombs over IMAP COMPRESS=DEFLATE (RFC 4978 §6: the receiver must bound what it
// inflates): a few hundred KB of DEFLATE that expand to 200 MiB, sent as one overlong line and
// as the bytes of a LITERAL+ over the literal limit. The inflated bytes meet the same bounds as
// plain ones: each gets its tagged BAD within 1 s, the rest is drained as it is inflated, never
// executed, the session stays usable, the server's memory does not grow with the inflated
// size (the inflater is held back by the session's backpressure), and the bystanders (IMAP NOOP,
// SMTP NOOP, POP3 STAT on their own connections) answer every probe within 100 ms.

import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { answerWithin, RawImapClient } from '../integration/imap-harness.js';
import { Bystanders, sendToMx, startHostileServer, USERS, type HostileServer } from './fixture.js';

const MiB = 1024 * 1024;
const BOMB_SIZE = 200 * MiB;

/** Bytes crafted to look like commands: they must never be executed. */
const FAKE_COMMANDS = `x LOGOUT\r\ny CREATE pwned\r\nz LOGIN ${USERS.alice.address} ${USERS.alice.password}\r\n`;

/** `size` bytes of `pattern`, as a fresh raw DEFLATE stream ending in a sync flush (no final block). */
function bomb(pattern: string, size: number): Buffer {
  const unit = Buffer.from(pattern.repeat(Math.ceil(MiB / pattern.length))).subarray(0, MiB);
  const deflate = zlib.deflateRawSync(Buffer.concat(Array.from({ length: size / MiB }, () => unit)), {
    level: 9,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return deflate;
}

/** Samples the process's RSS every 20 ms while `work` runs; returns the largest growth seen. */
async function rssGrowthDuring(work: () => Promise<void>): Promise<number> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss) - base;
}

void describe('decompression bombs over COMPRESS=DEFLATE', () => {
  let server: HostileServer;
  let bystanders: Bystanders;
  let lineBomb: Buffer;
  let literalBomb: Buffer;

  before(async () => {
    server = await startHostileServer();
    const delivered = await sendToMx(server, [Buffer.from('Subject: warm\r\n\r\nhello\r\n')]);
    assert.equal(delivered.code, 250, delivered.text);
    lineBomb = bomb('A', BOMB_SIZE);
    literalBomb = bomb(FAKE_COMMANDS, BOMB_SIZE);
    // What a fresh process pays once (zlib's first use, the reader's discard path) is not what
    // the probes measure: a connection that is not probed runs a small bomb first.
    const warm = await login(server);
    warm.write('w1 NOOP ');
    await warm.writePrecompressed(bomb('A', 8 * MiB));
    warm.write('\r\n');
    assert.match((await warm.until('w1', 10_000)).tagged, /^w1 BAD/);
    warm.destroy();
    bystanders = await Bystanders.connect(server);
  });
  after(async () => {
    bystanders.close();
    await server.close();
  });

  async function login(s: HostileServer): Promise<RawImapClient> {
    const c = await RawImapClient.connect(s.ports.imap);
    const r = await c.command(`LOGIN ${USERS.alice.address} ${USERS.alice.password}`);
    assert.equal(r.status, 'OK', r.tagged);
    assert.equal((await c.compress()).status, 'OK');
    return c;
  }

  async function assertUsable(c: RawImapClient): Promise<void> {
    const r = await c.command('NOOP', 10_000);
    assert.equal(r.status, 'OK', r.tagged);
  }

  async function assertNothingExecuted(): Promise<void> {
    const c = await login(server);
    const r = await c.command('LIST "" pwned');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(r.untagged, []);
    c.destroy();
  }

  void it(`a line inflating to ${BOMB_SIZE / MiB} MiB gets its tagged BAD at once and is discarded`, async () => {
    assert.ok(lineBomb.length < BOMB_SIZE / 500, `the bomb is ${lineBomb.length} bytes`);
    const c = await login(server);
    let growth = 0;
    const { worstMs } = await bystanders.during(async () => {
      growth = await rssGrowthDuring(async () => {
        const t0 = performance.now();
        c.write('b1 NOOP ');
        const answer = answerWithin(c, t0, 2000);
        await c.writePrecompressed(lineBomb);
        assert.match(await answer, /^b1 BAD .*too long/i);
        c.write('\r\n');
        await assertUsable(c);
      });
    });
    console.log(
      `line bomb: ${lineBomb.length} bytes -> ${BOMB_SIZE / MiB} MiB; RSS +${(growth / MiB).toFixed(1)} MiB; worst probe ${worstMs.toFixed(0)} ms`,
    );
    assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    c.destroy();
  });

  void it(`a LITERAL+ inflating to ${BOMB_SIZE / MiB} MiB is refused with BAD [TOOBIG], drained, never executed`, async () => {
    const c = await login(server);
    let growth = 0;
    const { worstMs } = await bystanders.during(async () => {
      growth = await rssGrowthDuring(async () => {
        const t0 = performance.now();
        c.write(`b2 SEARCH TEXT {${BOMB_SIZE}+}\r\n`);
        assert.match(await answerWithin(c, t0), /^b2 BAD \[TOOBIG\]/);
        await c.writePrecompressed(literalBomb);
        c.write('\r\n');
        await assertUsable(c);
      });
    });
    console.log(
      `literal bomb: ${literalBomb.length} bytes -> ${BOMB_SIZE / MiB} MiB; RSS +${(growth / MiB).toFixed(1)} MiB; worst probe ${worstMs.toFixed(0)} ms`,
    );
    assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    c.destroy();
    await assertNothingExecuted();
  });
});
