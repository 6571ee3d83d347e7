// The no-stall battery, hostile IMAP commands: each one gets its tagged BAD (or NO) within 1 s
// and leaves its session usable, while the bystanders (fixture.ts) probe IMAP NOOP, SMTP NOOP and
// POP3 STAT on other connections and every probe answers within 100 ms. Bytes crafted to look
// like commands inside the refused ones are never executed. The line limit and the 1 MiB bound on
// one command are tested in depth in test/hostile/imap-command-bounds.test.ts.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import { answerWithin, RawImapClient, warmLiteralPaths, writeUnits } from '../integration/imap-harness.js';
import { Bystanders, sendToMx, startHostileServer, USERS, type HostileServer } from './fixture.js';

const MiB = 1024 * 1024;

/** Bytes crafted to look like commands: they must never be executed. */
const FAKE_COMMANDS = `x LOGOUT\r\ny CREATE pwned\r\nz LOGIN ${USERS.alice.address} ${USERS.alice.password}\r\n`;

/**
 * Runs `attack` again and again for at least `ms`: one run of a small attack takes a few ms, less
 * than the bystanders need for a few probes each, and every probe must land while one runs.
 */
async function repeatedFor(ms: number, attack: () => Promise<void>): Promise<number> {
  const until = performance.now() + ms;
  let runs = 0;
  do {
    await attack();
    runs++;
  } while (performance.now() < until);
  return runs;
}

async function assertUsable(c: RawImapClient): Promise<void> {
  const r = await c.command('NOOP');
  assert.equal(r.status, 'OK', r.tagged);
}

async function login(server: HostileServer, opts: { select?: boolean } = {}): Promise<RawImapClient> {
  const c = await RawImapClient.connect(server.ports.imap);
  const r = await c.command(`LOGIN ${USERS.alice.address} ${USERS.alice.password}`);
  assert.equal(r.status, 'OK', r.tagged);
  if (opts.select === true) assert.equal((await c.command('SELECT INBOX')).status, 'OK');
  return c;
}

void describe('no stall while hostile IMAP commands arrive', () => {
  let server: HostileServer;
  let bystanders: Bystanders;

  before(async () => {
    server = await startHostileServer();
    const delivered = await sendToMx(server, [Buffer.from('Subject: warm\r\n\r\nhello\r\n')]);
    assert.equal(delivered.code, 250, delivered.text);
    // What a fresh process pays once is not what the probes measure: the first SEARCH loads
    // charset tables, and the reader's literal paths run unoptimised until the JIT has seen a
    // few MB of them. So a connection that is not probed runs them first.
    const warm = await login(server, { select: true });
    assert.equal((await warm.command('SEARCH TEXT warm')).status, 'OK');
    await warmLiteralPaths(warm);
    warm.destroy();
    bystanders = await Bystanders.connect(server);
  });
  after(async () => {
    bystanders.close();
    await server.close();
  });

  /** Nothing the refused commands carried was run: no mailbox `pwned` exists. */
  async function assertNothingExecuted(): Promise<void> {
    const c = await login(server);
    const r = await c.command('LIST "" pwned');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(r.untagged, []);
    c.destroy();
  }

  // Each run on a new connection: a session ends with BYE after 20 invalid commands.
  void it('an ID with 100,000 ( gets a tagged BAD', async () => {
    const { result: runs, worstMs } = await bystanders.during(() =>
      repeatedFor(500, async () => {
        const c = await RawImapClient.connect(server.ports.imap);
        const t0 = performance.now();
        c.write(`a1 ID ${'('.repeat(100_000)}\r\n`);
        assert.match(await answerWithin(c, t0), /^a1 BAD /);
        await assertUsable(c);
        // Within the line limit, the nesting bound answers the same way.
        const t1 = performance.now();
        c.write(`a2 ID ${'('.repeat(30_000)}${')'.repeat(30_000)}\r\n`);
        assert.match(await answerWithin(c, t1), /^a2 BAD .*nested/);
        await assertUsable(c);
        c.destroy();
      }),
    );
    console.log(`100,000-paren ID, ${runs} runs: worst probe ${worstMs.toFixed(1)} ms`);
  });

  void it('a 10,000-deep SEARCH (parentheses, NOT and OR chains) gets a tagged BAD', async () => {
    const { result: runs, worstMs } = await bystanders.during(() =>
      repeatedFor(500, async () => {
        const c = await login(server, { select: true });
        for (const [tag, criteria] of [
          ['s1', `${'('.repeat(10_000)}ALL${')'.repeat(10_000)}`],
          ['s2', `${'NOT '.repeat(10_000)}ALL`],
          ['s3', `${'OR ALL '.repeat(9_000)}ALL`],
        ] as const) {
          const t0 = performance.now();
          c.write(`${tag} SEARCH ${criteria}\r\n`);
          assert.match(await answerWithin(c, t0), new RegExp(`^${tag} BAD `));
          await assertUsable(c);
        }
        c.destroy();
      }),
    );
    console.log(`10,000-deep SEARCH, ${runs} runs: worst probe ${worstMs.toFixed(1)} ms`);
  });

  void it('a 10 MB SEARCH of 10,000 literals is refused at 1 MiB, tagged, and drained ({n+} and {n})', async () => {
    const c = await login(server, { select: true });
    const literal = FAKE_COMMANDS.repeat(Math.ceil(1000 / FAKE_COMMANDS.length)).slice(0, 1000);
    const { worstMs } = await bystanders.during(async () => {
      // LITERAL+: the answer comes when the command crosses 1 MiB, long before its end.
      const unit = Buffer.from(` TEXT {1000+}\r\n${literal}`);
      c.write('a1 SEARCH ALL');
      const beforeCrossing = Math.floor(MiB / unit.length) - 10;
      await writeUnits(c, unit, beforeCrossing);
      const t0 = performance.now();
      await writeUnits(c, unit, 20);
      assert.match(await answerWithin(c, t0), /^a1 BAD \[TOOBIG\]/);
      await writeUnits(c, unit, 10_000 - beforeCrossing - 20);
      c.write('\r\n');
      await assertUsable(c);
      // Synchronizing: `+` for each literal until the next would cross 1 MiB, then NO [TOOBIG].
      c.write('a2 SEARCH ALL TEXT {1000}\r\n');
      let accepted = 0;
      for (;;) {
        const line = await c.response(1000);
        if (line.startsWith('+ ')) {
          accepted++;
          assert.ok(accepted <= 10_000);
          c.write(`${literal} TEXT {1000}\r\n`);
          continue;
        }
        assert.match(line, /^a2 NO \[TOOBIG\]/);
        break;
      }
      assert.ok(accepted > 900 && accepted < 1100, `${accepted} literals accepted`);
      await assertUsable(c);
    });
    c.destroy();
    await assertNothingExecuted();
    console.log(`10 MB SEARCH of literals: worst probe ${worstMs.toFixed(1)} ms`);
  });
});
