// Bounds on one IMAP command (issue 10): every refused command gets its tagged answer within
// 1 s, even while the rest of an overlong line (or a 10 MB command) is still arriving, and the
// rest is discarded without being held or executed; input with no tag to answer ends the
// session with BYE. The line limit is 64 KiB (an RFC 2971 ID of 30 pairs of 1,024-octet values
// and UID sets of thousands of ranges fit), and one non-APPEND command holds at most 1 MiB.
// Every test probes a bystander connection while the attack runs: each NOOP within 100 ms.
// The 100,000-paren ID, the 10,000-deep SEARCH and the 10 MB SEARCH of literals run in the
// no-stall battery (test/hostile/imap-commands.test.ts), with IMAP, SMTP and POP3 probed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { heldBytes } from '../helpers/held-memory.js';
import {
  answerWithin,
  message,
  RawImapClient,
  startImapServer,
  warmLiteralPaths,
  type ImapTestServer,
} from '../integration/imap-harness.js';

const ALICE = 'alice@example.test';
const KiB = 1024;
const MiB = 1024 * 1024;

/** Bytes crafted to look like commands: they must never be executed. */
const FAKE_COMMANDS = 'x LOGOUT\r\ny CREATE pwned\r\nz LOGIN alice@example.test alice-secret-1\r\n';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `total` bytes of `pattern` repeated, with backpressure. */
async function writePattern(c: RawImapClient, total: number, pattern: string): Promise<void> {
  const unit = Buffer.from(pattern.repeat(Math.ceil(MiB / pattern.length))).subarray(0, MiB);
  let left = total;
  while (left > 0) {
    const piece = left >= unit.length ? unit : unit.subarray(0, left);
    left -= piece.length;
    if (!c.socket.write(piece)) await new Promise((resolve) => c.socket.once('drain', resolve));
  }
}

void describe('IMAP command bounds', () => {
  let server: ImapTestServer;
  let bystander: RawImapClient;

  before(async () => {
    server = await startImapServer();
    for (let i = 0; i < 10; i++) await server.deliver(ALICE, 'INBOX', message(`m${i}`));
    bystander = await RawImapClient.login(server.ports.imap, ALICE);
    // What a fresh process pays once is not what the probes measure: the first FETCH or SEARCH
    // loads charset tables, and the reader's literal paths run unoptimised until the JIT has
    // seen a few MB of them (measured: 40-55 ms of CPU for the first 1 MiB command of small
    // literals, 5 ms once warm). So a connection that is not probed runs them first.
    const warm = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await warm.command('SELECT INBOX')).status, 'OK');
    assert.equal((await warm.command('UID FETCH 1:* (UID FLAGS ENVELOPE)')).status, 'OK');
    assert.equal((await warm.command('SEARCH TEXT warm')).status, 'OK');
    await warmLiteralPaths(warm);
    warm.destroy();
  });
  after(async () => {
    bystander.destroy();
    await server.close();
  });

  /**
   * Runs the attack while a bystander sends NOOP after NOOP; every NOOP must answer within
   * 100 ms, and at least one is sent while the attack runs.
   */
  async function whileProbing<T>(attack: () => Promise<T>): Promise<T> {
    let done = false;
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const running = attack().finally(() => {
      done = true;
    });
    const times: number[] = [];
    const at: number[] = [];
    const start = performance.now();
    do {
      const t0 = performance.now();
      const r = await bystander.command('NOOP', 5000);
      times.push(performance.now() - t0);
      at.push(t0 - start);
      assert.equal(r.status, 'OK', r.tagged);
      if (!done) await sleep(5);
    } while (!done);
    const result = await running;
    delay.disable();
    const worst = Math.max(...times);
    assert.ok(
      worst < 100,
      `bystander NOOPs took ${times.map((t, i) => `${Math.round(t)}@${Math.round(at[i]!)}`).join(',')} ms ` +
        `(event loop delay max ${Math.round(delay.max / 1e6)} ms)`,
    );
    return result;
  }

  async function assertUsable(c: RawImapClient): Promise<void> {
    const r = await c.command('NOOP');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(r.untagged, []);
  }

  async function assertNothingExecuted(): Promise<void> {
    const account = await server.store.getAccount(ALICE);
    assert.equal(await server.store.getMailbox(account!.id, 'pwned'), null);
  }

  void it('a line over 64 KiB gets its tagged BAD at once, sent whole or slowly in pieces', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    const limit = server.config.limits.imapLineLength;
    assert.equal(limit, 64 * KiB);
    await whileProbing(async () => {
      // Whole.
      let t0 = performance.now();
      c.write(`a1 ID ("name" "${'v'.repeat(limit)}")\r\n`);
      assert.match(await answerWithin(c, t0), /^a1 BAD .*too long/i);
      await assertUsable(c);
      // In pieces, 4 KiB every 5 ms: answered once the limit is crossed, while the line goes on.
      c.write('a2 ID ("name" "');
      let sent = 15;
      while (sent < limit) {
        c.write('w'.repeat(4 * KiB));
        sent += 4 * KiB;
        await sleep(5);
      }
      t0 = performance.now();
      let writing = true;
      const more = (async () => {
        while (writing) {
          c.write('w'.repeat(4 * KiB));
          await sleep(5);
        }
      })();
      const answer = await answerWithin(c, t0);
      writing = false;
      await more;
      assert.match(answer, /^a2 BAD .*too long/i);
      // The rest of the line ends in a LITERAL+ whose bytes look like commands: drained.
      c.write(`")) {${FAKE_COMMANDS.length}+}\r\n${FAKE_COMMANDS} more\r\n`);
      await assertUsable(c);
    });
    await assertNothingExecuted();
    c.destroy();
  });

  void it('an unfinished LIST "" {30 MiB} on 3 connections is refused and memory stays flat', async () => {
    const size = 30 * MiB;
    const conns = await Promise.all([0, 1, 2].map(() => RawImapClient.login(server.ports.imap, ALICE)));
    const heldBefore = heldBytes();
    const rssBefore = process.memoryUsage().rss;
    let heldDuring = 0;
    let rssDuring = 0;
    const probed = whileProbing(async () => {
      // {n}: refused before `+`.
      for (const c of conns) {
        const t0 = performance.now();
        c.write(`s1 LIST "" {${size}}\r\n`);
        assert.match(await answerWithin(c, t0), /^s1 NO \[TOOBIG\]/);
      }
      // {n+}: refused at its header, then its bytes are dropped as they come; the command
      // stays unfinished (10 of its 30 MiB sent).
      await Promise.all(
        conns.map(async (c) => {
          const t0 = performance.now();
          c.write(`s2 LIST "" {${size}+}\r\n`);
          assert.match(await answerWithin(c, t0), /^s2 BAD \[TOOBIG\]/);
          await writePattern(c, 10 * MiB, FAKE_COMMANDS);
        }),
      );
    });
    // Measured while the three commands are still unfinished (a forced collection here would
    // stall the bystander's probes, so it comes after them; their verdict is checked below).
    const probeError = await probed.then(
      () => null,
      (err: unknown) => err,
    );
    await sleep(100);
    heldDuring = heldBytes() - heldBefore;
    rssDuring = process.memoryUsage().rss - rssBefore;
    console.log(
      `3 x LIST "" {30 MiB+}, 10 MiB sent each: heap+buffers ${(heldDuring / MiB).toFixed(1)} MiB, ` +
        `RSS ${(rssDuring / MiB).toFixed(1)} MiB`,
    );
    assert.ok(heldDuring < 8 * MiB, `heap+buffers grew by ${(heldDuring / MiB).toFixed(1)} MiB`);
    assert.ok(rssDuring < 32 * MiB, `RSS grew by ${(rssDuring / MiB).toFixed(1)} MiB`);
    if (probeError !== null) throw probeError;
    // Finishing the literal and the line: the next command is read as a command.
    for (const c of conns) {
      await writePattern(c, 20 * MiB, FAKE_COMMANDS);
      c.write('\r\n');
      await assertUsable(c);
      c.destroy();
    }
    await assertNothingExecuted();
  });

  void it('a line with no tag: BYE when it cannot be answered, * BAD when it ended cleanly', async () => {
    await whileProbing(async () => {
      // Over the limit, and no `tag SP` at its start: closed with BYE, at once.
      const a = await RawImapClient.connect(server.ports.imap);
      let t0 = performance.now();
      a.write('x'.repeat(70 * KiB));
      assert.match(await answerWithin(a, t0), /^\* BYE /);
      await a.closed();
      // A literal announced on a line without a tag: nobody to answer, nothing to frame by.
      const b = await RawImapClient.connect(server.ports.imap);
      t0 = performance.now();
      b.write('* LOGIN {5}\r\n');
      assert.match(await answerWithin(b, t0), /^\* BYE /);
      await b.closed();
      // A complete short line without a tag: `* BAD` (as Dovecot), and the session goes on.
      const d = await RawImapClient.connect(server.ports.imap);
      d.write('\r\n');
      assert.match(await d.response(1000), /^\* BAD /);
      await assertUsable(d);
      d.destroy();
    });
  });

  void it('an overlong line instead of DONE ends IDLE with a tagged BAD at once', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    await whileProbing(async () => {
      c.write('i1 IDLE\r\n');
      assert.match(await c.response(), /^\+ /);
      const t0 = performance.now();
      c.write('D'.repeat(70 * KiB));
      assert.match(await answerWithin(c, t0), /^i1 BAD /);
      c.write(`${'D'.repeat(10 * KiB)}\r\n`);
      await assertUsable(c);
    });
    c.destroy();
  });

  void it('an ID of 30 pairs of 1,024-octet values is answered OK, before and after login', async () => {
    const pairs = Array.from({ length: 30 }, (_, i) => `"field${i}" "${String(i % 10).repeat(1024)}"`);
    const id = `ID (${pairs.join(' ')})`;
    assert.ok(id.length > 30_000);
    const c = await RawImapClient.connect(server.ports.imap);
    await whileProbing(async () => {
      const r1 = await c.command(id);
      assert.equal(r1.status, 'OK', r1.tagged);
      // Before login a whole command is at most one line's worth (64 KiB), literals included.
      const big = 'p'.repeat(40_000);
      c.write(`l1 LOGIN {${big.length}+}\r\n${big} {${big.length}+}\r\n${big}\r\n`);
      assert.match((await c.until('l1')).tagged, /^l1 BAD \[TOOBIG\]/);
      assert.equal((await c.command(`LOGIN ${ALICE} alice-secret-1`)).status, 'OK');
      const r2 = await c.command(id);
      assert.equal(r2.status, 'OK', r2.tagged);
    });
    c.destroy();
  });

  void it('a UID FETCH with a set of 5,000 ranges works', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    // 1:1,3:3,...: odd UIDs, then ranges far above the mailbox's UIDs.
    const ranges = Array.from({ length: 5000 }, (_, i) => (i < 5 ? `${2 * i + 1}` : `${3 * i}:${3 * i + 1}`));
    const set = ranges.join(',');
    assert.ok(set.length > 8 * KiB);
    const r = await whileProbing(() => c.command(`UID FETCH ${set} (UID FLAGS)`));
    assert.equal(r.status, 'OK', r.tagged);
    const uids = r.untagged.map((l) => Number(/UID (\d+)/.exec(l)![1]));
    assert.deepEqual(uids, [1, 3, 5, 7, 9]);
    c.destroy();
  });
});
