// Many sessions on one mailbox (issue 4, "Concurrency"): in one process and across processes
// (a child process opens the same data dir with openStore, as another server worker would).
// Each session's view advances only where the RFC allows: other sessions' appends, flag
// changes and expunges arrive as untagged EXISTS, FETCH and EXPUNGE; never an EXPUNGE during
// FETCH, STORE or SEARCH by sequence number (RFC 9051 §7.5.1, RFC 3501 §7.4.1); IDLE hears of
// a change from another process within a second; \Recent (rev1) goes to exactly one session;
// two sessions adding different flags to one message at once both stick.

import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  IMAP_PASSWORDS,
  message,
  RawImapClient,
  startImapServer,
  type ImapTestServer,
} from './imap-harness.js';

const ALICE = 'alice@example.test';
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'imap-store-worker.js');

interface WorkerReply {
  ok: boolean;
  uid?: number;
  uids?: number[];
  error?: string;
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

/** A child process holding the same store open (see imap-store-worker.ts). */
class StoreWorker {
  private waiting: Array<(line: string) => void> = [];
  private stderr = '';
  /** The IMAP port of a worker started with `serve`. */
  port = 0;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    lines: Interface,
  ) {
    lines.on('line', (line) => this.waiting.shift()?.(line));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (this.stderr.length < 10_000) this.stderr += s;
    });
  }

  static async start(dataDir: string, opts: { serve?: boolean } = {}): Promise<StoreWorker> {
    const args = [WORKER, dataDir, ...(opts.serve === true ? ['serve'] : [])];
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const worker = new StoreWorker(child, createInterface({ input: child.stdout }));
    const ready = await worker.next(10_000);
    assert.match(ready, /^ready( \d+)?$/, worker.stderr);
    worker.port = Number(ready.split(' ')[1] ?? 0);
    return worker;
  }

  private next(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker silent; stderr: ${this.stderr}`)), timeoutMs);
      this.waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
  }

  async request(req: Record<string, unknown>): Promise<WorkerReply> {
    const answer = this.next(10_000);
    this.child.stdin.write(`${JSON.stringify(req)}\n`);
    const reply = JSON.parse(await answer) as WorkerReply;
    assert.equal(reply.ok, true, reply.error);
    return reply;
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin.end();
    await exited;
  }
}

/** Reads responses until one matches, within `ms`; returns it and the time it took. */
async function waitFor(
  c: RawImapClient,
  re: RegExp,
  ms: number,
): Promise<{ line: string; elapsed: number; seen: string[] }> {
  const t0 = Date.now();
  const seen: string[] = [];
  for (;;) {
    const left = ms - (Date.now() - t0);
    assert.ok(left > 0, `no ${re} within ${ms} ms; saw ${JSON.stringify(seen)}`);
    const line = await c.response(left);
    seen.push(line);
    if (re.test(line)) return { line, elapsed: Date.now() - t0, seen };
  }
}

const isExpunge = (l: string): boolean => /^\* \d+ EXPUNGE$/.test(l);

void describe('IMAP concurrency', () => {
  let server: ImapTestServer;
  let child: StoreWorker;
  let accountId: number;
  let boxes = 0;

  before(async () => {
    server = await startImapServer();
    await cheapLogin(server);
    accountId = (await server.store.getAccount(ALICE))!.id;
    // One other process for every test: it holds the store open and serves IMAP on it.
    child = await StoreWorker.start(server.dir, { serve: true });
  });
  after(async () => {
    await child.close();
    await server.close();
  });

  /** A new mailbox with `count` messages; every test has its own. */
  async function mailboxWith(count: number): Promise<{ name: string; id: number }> {
    const name = `conc${++boxes}`;
    const box = await server.store.createMailbox(accountId, name);
    for (let i = 0; i < count; i++) await server.deliver(ALICE, name, message(`${name}-${i}`));
    return { name, id: box.id };
  }

  async function selected(name: string, opts: { rev2?: boolean } = {}): Promise<RawImapClient> {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    if (opts.rev2 === true) assert.equal((await c.command('ENABLE IMAP4rev2')).status, 'OK');
    const r = await c.command(`SELECT ${name}`);
    assert.equal(r.status, 'OK', r.tagged);
    return c;
  }

  void it('two sessions: appends, flag changes and expunges of one reach the other', async () => {
    const box = await mailboxWith(2);
    const a = await selected(box.name);
    const b = await selected(box.name);
    // An append (here by delivery) shows as EXISTS (and RECENT, rev1) on the next command.
    await server.deliver(ALICE, box.name, message('third'));
    const n1 = await a.command('NOOP');
    assert.ok(n1.untagged.includes('* 3 EXISTS'), JSON.stringify(n1.untagged));
    // A claimed the two older messages at SELECT and now the new one (RECENT is a count).
    assert.ok(n1.untagged.includes('* 3 RECENT'), JSON.stringify(n1.untagged));
    const n1b = await b.command('NOOP');
    assert.ok(n1b.untagged.includes('* 3 EXISTS'));
    assert.ok(n1b.untagged.includes('* 0 RECENT'), 'the new message is \\Recent in one session only');
    // B's STORE reaches A as an unsolicited FETCH with the new flags.
    assert.equal((await b.command('STORE 1 +FLAGS (\\Flagged $Important)')).status, 'OK');
    const n2 = await a.command('NOOP');
    const fetch1 = n2.untagged.find((l) => l.startsWith('* 1 FETCH'));
    assert.ok(fetch1 !== undefined, JSON.stringify(n2.untagged));
    assert.match(fetch1, /\\Flagged/);
    assert.match(fetch1, /\$Important/);
    // B's EXPUNGE reaches A as EXPUNGE; both views agree afterwards.
    assert.equal((await b.command('STORE 2 +FLAGS.SILENT (\\Deleted)')).status, 'OK');
    const ex = await b.command('EXPUNGE');
    assert.deepEqual(ex.untagged.filter(isExpunge), ['* 2 EXPUNGE']);
    const n3 = await a.command('NOOP');
    assert.deepEqual(n3.untagged.filter(isExpunge), ['* 2 EXPUNGE']);
    const fa = await a.command('FETCH 1:* (UID)');
    const fb = await b.command('FETCH 1:* (UID)');
    assert.deepEqual(fa.untagged, fb.untagged);
    assert.equal(fa.untagged.length, 2);
    a.destroy();
    b.destroy();
  });

  void it('no EXPUNGE during FETCH, STORE or SEARCH by sequence number; it comes with the next NOOP', async () => {
    const box = await mailboxWith(4);
    const a = await selected(box.name);
    const b = await selected(box.name);
    const uids = (await server.store.listMessages(box.id)).map((m) => m.uid);
    // Another session expunges message 2 while A still has it in its view.
    assert.equal((await b.command(`UID STORE ${uids[1]} +FLAGS.SILENT (\\Deleted)`)).status, 'OK');
    assert.equal((await b.command('EXPUNGE')).status, 'OK');
    const f = await a.command('FETCH 1:4 (UID FLAGS)');
    // Nothing is served for the expunged message; the command itself may be OK or NO.
    assert.match(f.status, /^(OK|NO)$/, f.tagged);
    assert.ok(!f.untagged.some((l) => l.startsWith('* 2 FETCH')), JSON.stringify(f.untagged));
    assert.deepEqual(f.untagged.filter(isExpunge), []);
    // The sequence numbers A knows are unchanged: 3 and 4 are still the 3rd and 4th messages.
    assert.ok(f.untagged.some((l) => l.startsWith(`* 4 FETCH`) && l.includes(`UID ${uids[3]}`)));
    const s = await a.command('STORE 3 +FLAGS (\\Seen)');
    assert.deepEqual(s.untagged.filter(isExpunge), []);
    assert.ok(
      s.untagged.some((l) => l.startsWith('* 3 FETCH') && l.includes('\\Seen')),
      JSON.stringify(s.untagged),
    );
    const se = await a.command('SEARCH SEEN');
    assert.deepEqual(se.untagged.filter(isExpunge), []);
    assert.ok(se.untagged.includes('* SEARCH 3'), JSON.stringify(se.untagged));
    // A later command that allows it: the EXPUNGE, with A's old number.
    const n = await a.command('NOOP');
    assert.deepEqual(n.untagged.filter(isExpunge), ['* 2 EXPUNGE']);
    assert.deepEqual((await a.command('SEARCH SEEN')).untagged, ['* SEARCH 2']);
    // UID FETCH may carry an EXPUNGE (RFC 9051 §7.5.1): each is sent exactly once either way.
    assert.equal((await b.command(`UID STORE ${uids[0]} +FLAGS.SILENT (\\Deleted)`)).status, 'OK');
    assert.equal((await b.command('EXPUNGE')).status, 'OK');
    const uf = await a.command('UID FETCH 1:* (FLAGS)');
    assert.equal(uf.status, 'OK');
    const n2 = await a.command('NOOP');
    assert.deepEqual([...uf.untagged, ...n2.untagged].filter(isExpunge), ['* 1 EXPUNGE']);
    const left = await a.command('FETCH 1:* (UID)');
    assert.deepEqual(left.untagged, [`* 1 FETCH (UID ${uids[2]})`, `* 2 FETCH (UID ${uids[3]})`]);
    a.destroy();
    b.destroy();
  });

  void it('three sessions see the same changes in the same order', async () => {
    const box = await mailboxWith(3);
    const sessions = [
      await selected(box.name),
      await selected(box.name, { rev2: true }),
      await selected(box.name),
    ];
    await server.deliver(ALICE, box.name, message('c4'));
    await server.store.updateFlags(box.id, [(await server.store.listMessages(box.id))[0]!.uid], {
      mode: 'add',
      flags: ['\\Answered'],
    });
    const uids = (await server.store.listMessages(box.id)).map((m) => m.uid);
    await server.store.expunge(box.id, { uids: [uids[1]!] });
    for (const c of sessions) {
      const r = await c.command('NOOP');
      assert.deepEqual(r.untagged.filter(isExpunge), ['* 2 EXPUNGE'], JSON.stringify(r.untagged));
      assert.ok(
        r.untagged.some((l) => /^\* [34] EXISTS$/.test(l)),
        JSON.stringify(r.untagged),
      );
      assert.ok(
        r.untagged.some((l) => /^\* 1 FETCH \(FLAGS \(.*\\Answered/.test(l)),
        JSON.stringify(r.untagged),
      );
      const f = await c.command('FETCH 1:* (UID)');
      assert.deepEqual(
        f.untagged,
        [uids[0], uids[2], uids[3]].map((u, i) => `* ${i + 1} FETCH (UID ${u})`),
      );
    }
    for (const c of sessions) c.destroy();
  });

  void it("IDLE hears of another process's append, flag change and expunge within a second", async () => {
    const box = await mailboxWith(2);
    const a = await selected(box.name);
    a.write('i1 IDLE\r\n');
    assert.match(await a.response(), /^\+ /);
    // Each wait starts when the other process's change is committed (its reply came).
    const delivered = await child.request({ op: 'deliver', mailboxId: box.id, subject: 'from-child' });
    await waitFor(a, /^\* 3 EXISTS$/, 1000);
    await child.request({
      op: 'flags',
      mailboxId: box.id,
      uids: [delivered.uid],
      mode: 'add',
      flags: ['\\Flagged'],
    });
    await waitFor(a, /^\* 3 FETCH \(FLAGS \(.*\\Flagged/, 1000);
    const first = (await server.store.listMessages(box.id))[0]!.uid;
    await child.request({ op: 'expunge', mailboxId: box.id, uids: [first] });
    await waitFor(a, /^\* 1 EXPUNGE$/, 1000);
    a.write('DONE\r\n');
    const done = await a.until('i1');
    assert.equal(done.status, 'OK');
    const f = await a.command('FETCH 1:* (UID)');
    assert.equal(f.untagged.length, 2);
    a.destroy();
  });

  void it('IDLE latency: each change from another process arrives within a second', async () => {
    const box = await mailboxWith(0);
    const a = await selected(box.name);
    a.write('i1 IDLE\r\n');
    assert.match(await a.response(), /^\+ /);
    const latencies: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const sent = Date.now();
      await child.request({ op: 'deliver', mailboxId: box.id, subject: `idle-${i}` });
      await waitFor(a, new RegExp(`^\\* ${i} EXISTS$`), 2000);
      latencies.push(Date.now() - sent);
    }
    assert.ok(Math.max(...latencies) < 1000, `latencies ${latencies.join(', ')} ms`);
    a.write('DONE\r\n');
    assert.equal((await a.until('i1')).status, 'OK');
    a.destroy();
  });

  void it('twenty sessions in IDLE all hear of one delivery by another process within a second', async () => {
    const box = await mailboxWith(1);
    const sessions = await Promise.all(Array.from({ length: 20 }, () => selected(box.name)));
    for (const c of sessions) {
      c.write('i1 IDLE\r\n');
      assert.match(await c.response(), /^\+ /);
    }
    await child.request({ op: 'deliver', mailboxId: box.id, subject: 'to-all' });
    const heard = await Promise.all(sessions.map((c) => waitFor(c, /^\* 2 EXISTS$/, 1000)));
    assert.ok(Math.max(...heard.map((h) => h.elapsed)) < 1000);
    // rev1: the new message is \Recent in exactly one of them (RECENT counts the session's own).
    const recents = await Promise.all(
      sessions.map(async (c): Promise<number> => {
        c.write('DONE\r\n');
        assert.equal((await c.until('i1')).status, 'OK');
        const f = await c.command('FETCH 2 (FLAGS)');
        c.destroy();
        return f.untagged.some((l) => l.includes('\\Recent')) ? 1 : 0;
      }),
    );
    assert.equal(
      recents.reduce((sum, r) => sum + r, 0),
      1,
    );
  });

  void it('\\Recent (rev1): three sessions, messages arriving meanwhile, each message recent in exactly one', async () => {
    const box = await mailboxWith(3);
    const sessions: RawImapClient[] = [];
    try {
      for (let round = 0; round < 3; round++) {
        sessions.push(await selected(box.name));
        for (let i = 0; i < 4; i++) {
          if (i % 2 === 0)
            await child.request({ op: 'deliver', mailboxId: box.id, subject: `r${round}-${i}` });
          else await server.deliver(ALICE, box.name, message(`r${round}-${i}`));
          // Sessions poll while messages arrive, racing for the new ones.
          await Promise.all(sessions.map((c) => c.command('NOOP')));
        }
      }
      // A session opened now, read-only, takes no \Recent (RFC 3501 §6.3.2 EXAMINE).
      const examiner = await RawImapClient.login(server.ports.imap, ALICE);
      const exr = await examiner.command(`EXAMINE ${box.name}`);
      assert.ok(exr.untagged.includes('* 0 RECENT'), JSON.stringify(exr.untagged));
      sessions.push(examiner);
      const total = (await server.store.listMessages(box.id)).length;
      assert.equal(total, 15);
      const holder = new Map<number, number>();
      for (let s = 0; s < sessions.length; s++) {
        const c = sessions[s]!;
        const f = await c.command('FETCH 1:* (UID FLAGS)');
        assert.equal(f.untagged.length, total, JSON.stringify(f.untagged));
        for (const line of f.untagged) {
          const m = /UID (\d+)/.exec(line);
          assert.ok(m !== null, line);
          if (!line.includes('\\Recent')) continue;
          const uid = Number(m[1]);
          assert.equal(
            holder.get(uid),
            undefined,
            `UID ${uid} recent in sessions ${holder.get(uid)} and ${s}`,
          );
          holder.set(uid, s);
        }
      }
      assert.equal(holder.size, total, 'every message is recent in one session');
      // SEARCH RECENT agrees with FETCH.
      for (let s = 0; s < 3; s++) {
        const r = await sessions[s]!.command('UID SEARCH RECENT');
        const mine = [...holder].filter(([, h]) => h === s).map(([u]) => u);
        assert.deepEqual(r.untagged, [`* SEARCH${mine.map((u) => ` ${u}`).join('')}`]);
      }
    } finally {
      for (const c of sessions) c.destroy();
    }
  });

  void it('two sessions adding different flags to one message at once: both stick (many rounds)', async () => {
    const box = await mailboxWith(1);
    const a = await selected(box.name);
    const b = await selected(box.name);
    const rounds = 40;
    for (let i = 0; i < rounds; i++) {
      const fa = i % 2 === 0 ? '\\Seen' : `$a${i}`;
      const fb = i % 2 === 0 ? '\\Flagged' : `$b${i}`;
      const [ra, rb] = await Promise.all([
        a.command(`STORE 1 +FLAGS (${fa})`),
        b.command(`STORE 1 +FLAGS (${fb})`),
      ]);
      assert.equal(ra.status, 'OK', ra.tagged);
      assert.equal(rb.status, 'OK', rb.tagged);
      const flags = (await server.store.listMessages(box.id))[0]!.flags;
      assert.ok(flags.includes(fa) && flags.includes(fb), `round ${i}: ${flags.join(' ')}`);
      // Each session's own FETCH shows both after a NOOP.
      const seen = await a.command('FETCH 1 (FLAGS)');
      const line = seen.untagged.find((l) => l.startsWith('* 1 FETCH'))!;
      assert.ok(line.includes(fa) && line.includes(fb), line);
      // Reset the system flags for the next round, from the other session.
      if (i % 2 === 0)
        assert.equal((await b.command('STORE 1 -FLAGS.SILENT (\\Seen \\Flagged)')).status, 'OK');
    }
    const final = (await server.store.listMessages(box.id))[0]!.flags;
    for (let i = 1; i < rounds; i += 2) {
      assert.ok(final.includes(`$a${i}`) && final.includes(`$b${i}`), `keywords of round ${i}`);
    }
    a.destroy();
    b.destroy();
  });

  void it('two server processes on one data dir: IDLE, \\Recent and flags across them', async () => {
    const box = await mailboxWith(2);
    // A on this process, B on the other server process.
    const a = await selected(box.name);
    const b = await RawImapClient.login(child.port, ALICE);
    const sb = await b.command(`SELECT ${box.name}`);
    assert.ok(sb.untagged.includes('* 2 EXISTS'), JSON.stringify(sb.untagged));
    assert.ok(sb.untagged.includes('* 0 RECENT'), 'A claimed the first two at its SELECT');
    a.write('i1 IDLE\r\n');
    assert.match(await a.response(), /^\+ /);
    const msg = message('via-other-server');
    b.write(`b1 APPEND ${box.name} {${msg.length}+}\r\n${msg}\r\n`);
    assert.equal((await b.until('b1')).status, 'OK');
    await waitFor(a, /^\* 3 EXISTS$/, 1000);
    assert.equal((await b.command('STORE 3 +FLAGS (\\Seen)')).status, 'OK');
    await waitFor(a, /^\* 3 FETCH \(FLAGS \(.*\\Seen/, 1000);
    assert.equal((await b.command('STORE 1 +FLAGS.SILENT (\\Deleted)')).status, 'OK');
    assert.equal((await b.command('EXPUNGE')).status, 'OK');
    await waitFor(a, /^\* 1 EXPUNGE$/, 1000);
    a.write('DONE\r\n');
    assert.equal((await a.until('i1')).status, 'OK');
    // \Recent across the two processes: each new message is recent in exactly one session.
    for (let i = 0; i < 6; i++) {
      await server.deliver(ALICE, box.name, message(`race-${i}`));
      await Promise.all([a.command('NOOP'), b.command('NOOP')]);
    }
    const recentIn = async (c: RawImapClient): Promise<number[]> => {
      const line = (await c.command('UID SEARCH RECENT')).untagged.find((l) => l.startsWith('* SEARCH'))!;
      return line.split(' ').slice(2).map(Number);
    };
    const ra = await recentIn(a);
    const rb = await recentIn(b);
    const all = (await server.store.listMessages(box.id)).map((m) => m.uid);
    assert.deepEqual(
      ra.filter((u) => rb.includes(u)),
      [],
      `recent in both: ${ra.join(',')} / ${rb.join(',')}`,
    );
    assert.deepEqual(
      [...ra, ...rb].sort((x, y) => x - y),
      all,
      `recent: ${ra.join(',')} / ${rb.join(',')}; all: ${all.join(',')}`,
    );
    // Flags added at once from both processes both stick.
    for (let i = 0; i < 15; i++) {
      const [x, y] = await Promise.all([
        a.command(`STORE 2 +FLAGS ($pa${i})`),
        b.command(`STORE 2 +FLAGS ($pb${i})`),
      ]);
      assert.equal(x.status, 'OK');
      assert.equal(y.status, 'OK');
    }
    const flags = (await server.store.listMessages(box.id))[1]!.flags;
    for (let i = 0; i < 15; i++) {
      assert.ok(flags.includes(`$pa${i}`) && flags.includes(`$pb${i}`), flags.join(' '));
    }
    a.destroy();
    b.destroy();
  });

  void it('the selected mailbox deleted by another session: BYE, at once in IDLE', async () => {
    const box = await mailboxWith(2);
    const idler = await selected(box.name);
    const busy = await selected(box.name);
    idler.write('i1 IDLE\r\n');
    assert.match(await idler.response(), /^\+ /);
    const other = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await other.command(`DELETE ${box.name}`)).status, 'OK');
    // RFC 2180 §3.2: the other sessions are disconnected; the idling one within a second.
    await waitFor(idler, /^\* BYE /, 1000);
    await idler.closed();
    // A session between commands: its next command completes, then BYE.
    const r = await busy.command('NOOP');
    assert.equal(r.status, 'OK');
    assert.match(await busy.response(), /^\* BYE /);
    await busy.closed();
    // The session that deleted it goes on.
    assert.equal((await other.command('NOOP')).status, 'OK');
    other.destroy();
  });

  void it("STORE .SILENT does not hide another session's earlier change to the same message", async () => {
    const box = await mailboxWith(2);
    const a = await selected(box.name);
    const b = await selected(box.name);
    assert.equal((await b.command('STORE 2 +FLAGS (\\Flagged)')).status, 'OK');
    // A has not heard of B's \Flagged yet; its silent STORE must not make it lost for A
    // (RFC 9051 §6.4.6: an external change is reported whether or not .SILENT is used).
    const s = await a.command('STORE 2 +FLAGS.SILENT (\\Answered)');
    const n = await a.command('NOOP');
    const reports = [...s.untagged, ...n.untagged].filter((l) => l.startsWith('* 2 FETCH'));
    assert.ok(
      reports.some((l) => l.includes('\\Flagged') && l.includes('\\Answered')),
      JSON.stringify([...s.untagged, ...n.untagged]),
    );
    a.destroy();
    b.destroy();
  });

  void it('a session and another process adding flags to the same messages at once: both stick', async () => {
    const box = await mailboxWith(5);
    const a = await selected(box.name);
    const uids = (await server.store.listMessages(box.id)).map((m) => m.uid);
    for (let i = 0; i < 20; i++) {
      const [r] = await Promise.all([
        a.command(`STORE 1:5 +FLAGS.SILENT ($s${i})`),
        child.request({ op: 'flags', mailboxId: box.id, uids, mode: 'add', flags: [`$w${i}`] }),
      ]);
      assert.equal(r.status, 'OK');
    }
    for (const m of await server.store.listMessages(box.id)) {
      for (let i = 0; i < 20; i++) {
        assert.ok(m.flags.includes(`$s${i}`) && m.flags.includes(`$w${i}`), `UID ${m.uid} round ${i}`);
      }
    }
    // The session hears of the other process's keywords.
    await child.request({
      op: 'flags',
      mailboxId: box.id,
      uids: [uids[4]],
      mode: 'add',
      flags: ['$final'],
    });
    const n = await a.command('NOOP');
    assert.ok(
      n.untagged.some((l) => l.startsWith('* 5 FETCH') && l.includes('$final')),
      JSON.stringify(n.untagged),
    );
    a.destroy();
  });
});
