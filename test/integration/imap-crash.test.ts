// kill -9 in the middle of an IMAP write workload (issue 11, "Durability unchanged"): the real
// `postern serve` runs as a child process; six sessions on three shared mailboxes APPEND
// (LITERAL+ and synchronizing, a few messages above the 64 KiB streaming threshold, and batches
// of LITERAL+ APPENDs sent back to back before any answer, whose UIDs must follow command
// order), STORE
// (+FLAGS, -FLAGS, FLAGS, .SILENT or not) and expunge (UID STORE \Deleted, then UID EXPUNGE or
// EXPUNGE). Each session touches only the messages it appended, so what the server must hold is
// exact: every command whose tagged OK arrived is applied, and a command in flight at the kill
// is either applied or not, as a whole per message. The server is killed with SIGKILL after a
// random number of acknowledged commands (three times), restarted on the same data directory,
// and checked through a fresh session: every acknowledged APPEND is there, byte for byte (found
// by its unique Message-ID), with the flags of its last acknowledged STORE; every acknowledged
// expunge is gone; no message appears that was never sent or appears twice; a UID given by
// APPENDUID (or seen stored) is never given to another message, UIDNEXT never goes back and
// UIDVALIDITY never changes. The workload is drawn from a seeded PRNG (POSTERN_CRASH_SEED).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImapRawClient, type CommandPart, type CommandResult } from '../helpers/imap-raw-client.js';
import { startPosternImap, type PosternImapServer } from '../helpers/postern-imap.js';
import { prng } from '../helpers/prng.js';

const SEED = Number(process.env.POSTERN_CRASH_SEED ?? 1211);
const CLIENTS = 6;
const MAILBOXES = ['INBOX', 'Work', 'Projects'];
const KILLS = 3;
/** Acknowledged commands in the round after the last restart (no kill). */
const FINAL_ROUND = 80;
const USER = 'crash@example.test';
const PASSWORD = 'crash-secret-1';
const FLAG_POOL = ['\\Seen', '\\Flagged', '\\Answered', '\\Draft', '$k0', '$k1', '$k2', '$k3'];
const DELETED = '\\deleted';

/** What the server holds of one message: present or not, and its flags (lower case, no \Recent). */
interface MessageState {
  present: boolean;
  flags: ReadonlySet<string>;
}

interface SentMessage {
  id: string;
  mailbox: string;
  owner: number;
  bytes: Buffer;
  /** From APPENDUID, or from the store when the APPEND was in flight at a kill. */
  uid: number | null;
  /** After the last acknowledged command. */
  state: MessageState;
  /** After the command in flight at the kill, which may or may not have been applied. */
  alt: MessageState | null;
}

const GONE: MessageState = { present: false, flags: new Set() };

function normalize(flags: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const f of flags) if (f.toLowerCase() !== '\\recent') out.add(f.toLowerCase());
  return out;
}

function show(s: MessageState | null): string {
  if (s === null) return '-';
  return s.present ? `present (${[...s.flags].sort().join(' ')})` : 'gone';
}

function sameState(a: MessageState, b: MessageState): boolean {
  if (a.present !== b.present) return false;
  if (!a.present) return true;
  return a.flags.size === b.flags.size && [...a.flags].every((f) => b.flags.has(f));
}

/** Everything the test knows the server must hold. */
class Expectations {
  readonly messages = new Map<string, SentMessage>();
  /** mailbox -> UID -> Message-ID of every UID given by APPENDUID or seen stored. */
  private readonly uids = new Map<string, Map<number, string>>();
  readonly uidNext = new Map<string, number>();
  readonly uidValidity = new Map<string, number>();
  /** Messages a command in flight at a kill changed, and how many of those changes landed. */
  inFlightAtKills = 0;
  landed = 0;
  pipelinedBatches = 0;

  giveUid(mailbox: string, uid: number, id: string, how: string): void {
    let box = this.uids.get(mailbox);
    if (box === undefined) this.uids.set(mailbox, (box = new Map()));
    const before = box.get(uid);
    assert.ok(
      before === undefined || before === id,
      `UID ${uid} of ${mailbox} given to ${id} (${how}) was already ${before}'s (seed ${SEED})`,
    );
    box.set(uid, id);
  }

  maxUid(mailbox: string): number {
    return Math.max(0, ...(this.uids.get(mailbox)?.keys() ?? []));
  }

  checkValidity(mailbox: string, validity: number, where: string): void {
    const known = this.uidValidity.get(mailbox);
    assert.ok(known === undefined || known === validity, `${where}: UIDVALIDITY of ${mailbox} changed`);
    this.uidValidity.set(mailbox, validity);
  }
}

/** A round of the workload: it ends when `killAfter` (or `quota`) commands were acknowledged. */
interface Round {
  number: number;
  killAfter: number | null;
  quota: number;
  acks: number;
  stop: boolean;
  killed: boolean;
  inFlightAtKill: number;
}

function expectOk(r: CommandResult, what: string): CommandResult {
  assert.equal(r.status, 'OK', `${what}: ${r.tagged}`);
  return r;
}

function messageBytes(id: string, rnd: () => number): Buffer {
  const big = rnd() < 0.05;
  const target = big ? 70_000 + Math.floor(rnd() * 80_000) : 200 + Math.floor(rnd() * 6000);
  const lines: string[] = [
    `From: Crash <crash@example.test>`,
    `To: Crash <crash@example.test>`,
    `Subject: ${id}`,
    `Date: Fri, 11 Dec 2026 10:00:00 +0000`,
    `Message-ID: <${id}@crash.example.test>`,
    `X-Crash-Id: ${id}`,
    '',
  ];
  let size = 0;
  const line = 'The quick brown fox jumps over the lazy dog 0123456789 '.repeat(2);
  while (size < target) {
    const start = Math.floor(rnd() * 40);
    const piece = line.slice(start, start + 20 + Math.floor(rnd() * 50));
    lines.push(piece);
    size += piece.length + 2;
  }
  return Buffer.from(lines.join('\r\n') + '\r\n', 'latin1');
}

async function clientRound(
  index: number,
  round: Round,
  server: PosternImapServer,
  expect: Expectations,
  inFlight: Set<number>,
): Promise<void> {
  const rnd = prng(SEED * 1009 + round.number * 101 + index);
  const mailbox = MAILBOXES[index % MAILBOXES.length]!;
  let c: ImapRawClient | null = null;
  /** The messages that commands in flight change, each with its state once they are applied. */
  const pending = new Map<SentMessage, MessageState>();
  let made = 0;

  /** Counts one acknowledged command; the kill comes after the round's number of them. */
  const acked = (): void => {
    round.acks++;
    if (round.killAfter !== null && !round.killed && round.acks >= round.killAfter) {
      round.killed = true;
      round.stop = true;
      round.inFlightAtKill = inFlight.size;
      server.child.kill('SIGKILL');
    } else if (round.acks >= round.quota) round.stop = true;
  };

  /** Sends a write command changing `messages`; on its OK, their state becomes `after`. */
  const write = async (
    parts: CommandPart | CommandPart[],
    messages: SentMessage[],
    after: (s: MessageState) => MessageState,
    onOk: (r: CommandResult) => void = () => {},
  ): Promise<void> => {
    for (const m of messages) pending.set(m, after(m.state));
    inFlight.add(index);
    const r = await c!.command(parts, { timeoutMs: 30_000 });
    inFlight.delete(index);
    expectOk(r, `client ${index}`);
    for (const m of messages) {
      m.state = pending.get(m)!;
      pending.delete(m);
    }
    onOk(r);
    acked();
  };

  const newMessage = (): SentMessage => {
    const id = `r${round.number}c${index}n${made++}s${SEED}`;
    const bytes = messageBytes(id, rnd);
    const m: SentMessage = { id, mailbox, owner: index, bytes, uid: null, state: GONE, alt: null };
    expect.messages.set(id, m);
    return m;
  };

  /** The APPENDUID of an acknowledged APPEND of `m`: its UID from now on. */
  const appended = (m: SentMessage, tagged: string): void => {
    const a = /\[APPENDUID (\d+) (\d+)\]/i.exec(tagged);
    assert.ok(a !== null, `client ${index}: APPEND without APPENDUID: ${tagged}`);
    expect.checkValidity(mailbox, Number(a[1]), 'APPENDUID');
    m.uid = Number(a[2]);
    expect.giveUid(mailbox, m.uid, m.id, 'APPENDUID');
  };

  /**
   * APPENDs sent back to back with LITERAL+ (RFC 7888), before any answer: the server answers
   * them in command order, with ascending UIDs. Those answered before a kill are acknowledged.
   */
  const pipelinedAppends = async (n: number): Promise<void> => {
    const batch = Array.from({ length: n }, () => ({ m: newMessage(), flags: randomFlags(rnd), tag: '' }));
    batch.forEach((b, k) => {
      b.tag = `${b.m.id}t${k}`;
      pending.set(b.m, { present: true, flags: normalize(b.flags) });
    });
    /** Takes the tagged answers among `lines`. */
    const take = (lines: string[]): void => {
      for (const b of batch) {
        const line = lines.find((l) => l.startsWith(`${b.tag} `));
        if (line === undefined || !pending.has(b.m)) continue;
        assert.match(line, /^\S+ OK /, `client ${index}: ${line}`);
        b.m.state = pending.get(b.m)!;
        pending.delete(b.m);
        appended(b.m, line);
        acked();
      }
    };
    const literal = (b: (typeof batch)[number]): string =>
      `${b.tag} APPEND ${mailbox} (${b.flags.join(' ')}) {${b.m.bytes.length}+}\r\n`;
    expect.pipelinedBatches++;
    inFlight.add(index);
    c!.write(
      Buffer.concat(
        batch.slice(0, -1).flatMap((b) => [Buffer.from(literal(b)), b.m.bytes, Buffer.from('\r\n')]),
      ),
    );
    const last = batch[batch.length - 1]!;
    let r: CommandResult;
    try {
      r = await c!.command(
        [`APPEND ${mailbox} (${last.flags.join(' ')}) `, { literal: last.m.bytes, nonSync: true }],
        {
          tag: last.tag,
          timeoutMs: 30_000,
        },
      );
    } catch (err) {
      // The answers that arrived before the connection died.
      take(c!.takeUnsolicited());
      throw err;
    }
    inFlight.delete(index);
    take([...r.lines, r.tagged]);
    const uids = batch.map((b) => b.m.uid);
    assert.ok(
      uids.every((u, k) => u !== null && (k === 0 || u > uids[k - 1]!)),
      `client ${index}: pipelined APPENDs got UIDs ${uids.join(',')}, not one each in command order`,
    );
  };

  try {
    c = await ImapRawClient.connect(server.imapPort, { timeoutMs: 10_000 });
    expectOk(await c.command(`LOGIN ${USER} ${PASSWORD}`), 'LOGIN');
    expectOk(await c.command(`SELECT ${mailbox}`), 'SELECT');
    while (!round.stop) {
      const mine = [...expect.messages.values()].filter(
        (m) => m.owner === index && m.state.present && m.uid !== null,
      );
      const live = mine.filter((m) => !m.state.flags.has(DELETED));
      const pick = (from: SentMessage[], max: number): SentMessage[] => {
        const chosen = new Set<SentMessage>();
        const n = Math.min(from.length, 1 + Math.floor(rnd() * max));
        while (chosen.size < n) chosen.add(from[Math.floor(rnd() * from.length)]!);
        return [...chosen].sort((a, b) => a.uid! - b.uid!);
      };
      const r = rnd();
      if (r < 0.1 && index % 2 === 0) {
        await pipelinedAppends(2 + Math.floor(rnd() * 5));
      } else if (r < 0.4 || live.length < 3) {
        const m = newMessage();
        const flags = randomFlags(rnd);
        const literal = { literal: m.bytes, nonSync: rnd() < 0.7 };
        await write(
          [`APPEND ${mailbox} (${flags.join(' ')}) `, literal],
          [m],
          () => ({ present: true, flags: normalize(flags) }),
          (res) => appended(m, res.tagged),
        );
      } else if (r < 0.78) {
        const targets = pick(live, 3);
        const mode = (['+', '-', ''] as const)[Math.floor(rnd() * 3)]!;
        const flags = randomFlags(rnd);
        const change = normalize(flags);
        const silent = rnd() < 0.5 ? '.SILENT' : '';
        await write(
          `UID STORE ${targets.map((m) => m.uid).join(',')} ${mode}FLAGS${silent} (${flags.join(' ')})`,
          targets,
          (s) => {
            const next = new Set(mode === '' ? [] : s.flags);
            for (const f of change) if (mode === '-') next.delete(f);
            for (const f of change) if (mode !== '-') next.add(f);
            return { present: s.present, flags: next };
          },
        );
      } else {
        const targets = pick(mine, 2);
        const set = targets.map((m) => m.uid).join(',');
        await write(`UID STORE ${set} +FLAGS.SILENT (\\Deleted)`, targets, (s) => ({
          present: s.present,
          flags: new Set([...s.flags, DELETED]),
        }));
        // UID EXPUNGE removes only these; EXPUNGE also other sessions' \Deleted messages here,
        // which their expectations allow (a \Deleted message may be gone).
        const command = rnd() < 0.7 ? `UID EXPUNGE ${set}` : 'EXPUNGE';
        await write(command, targets, (s) => (s.flags.has(DELETED) ? GONE : s));
      }
    }
  } catch (err) {
    if (!round.killed) {
      round.stop = true;
      throw err;
    }
    // The connection died with the server: what was in flight may or may not have landed.
    for (const [m, after] of pending) m.alt = after;
  } finally {
    inFlight.delete(index);
    c?.socket.destroy();
  }
}

function randomFlags(rnd: () => number): string[] {
  return FLAG_POOL.filter(() => rnd() < 0.25);
}

/** Reads every mailbox through a fresh session and checks it against the expectations. */
async function verify(server: PosternImapServer, expect: Expectations, where: string): Promise<number> {
  const c = await ImapRawClient.connect(server.imapPort, { timeoutMs: 10_000 });
  try {
    expectOk(await c.command(`LOGIN ${USER} ${PASSWORD}`), 'LOGIN');
    expectOk(await c.command('ENABLE IMAP4rev2'), 'ENABLE');
    const stored = new Map<string, { mailbox: string; uid: number; flags: Set<string>; bytes: Buffer }>();
    for (const mailbox of MAILBOXES) {
      const status = expectOk(await c.command(`STATUS ${mailbox} (UIDNEXT UIDVALIDITY)`), 'STATUS');
      const line = status.lines.find((l) => l.startsWith('* STATUS '))!;
      const uidNext = Number(/UIDNEXT (\d+)/.exec(line)![1]);
      expect.checkValidity(mailbox, Number(/UIDVALIDITY (\d+)/.exec(line)![1]), where);
      const before = expect.uidNext.get(mailbox) ?? 0;
      assert.ok(uidNext >= before, `${where}: UIDNEXT of ${mailbox} went back from ${before} to ${uidNext}`);
      expect.uidNext.set(mailbox, uidNext);
      expectOk(await c.command(`EXAMINE ${mailbox}`), 'EXAMINE');
      const fetched = expectOk(await c.command('UID FETCH 1:* (UID FLAGS BODY.PEEK[])'), 'UID FETCH');
      for (const response of fetched.lines) {
        const m = /^\* \d+ FETCH \((.*?)BODY\[\] \{(\d+)\}\r\n/s.exec(response);
        assert.ok(m !== null, `${where}: unexpected response ${response.slice(0, 200)}`);
        const uid = Number(/UID (\d+)/.exec(m[1]!)![1]);
        const flags = normalize(
          /FLAGS \(([^)]*)\)/
            .exec(m[1]!)![1]!
            .split(' ')
            .filter((f) => f !== ''),
        );
        const bytes = Buffer.from(response.slice(m[0].length, m[0].length + Number(m[2])), 'latin1');
        const id = /^Message-ID: <([^@>]+)@crash\.example\.test>\r$/m.exec(bytes.toString('latin1'))?.[1];
        assert.ok(id !== undefined, `${where}: UID ${uid} of ${mailbox} has no Message-ID of ours`);
        assert.ok(expect.messages.has(id), `${where}: ${id} is stored but was never sent`);
        assert.ok(!stored.has(id), `${where}: ${id} is stored twice`);
        assert.ok(uid < uidNext, `${where}: UID ${uid} of ${mailbox} is not below UIDNEXT ${uidNext}`);
        stored.set(id, { mailbox, uid, flags, bytes });
      }
    }
    for (const m of expect.messages.values()) {
      const s = stored.get(m.id);
      const observed: MessageState = s === undefined ? GONE : { present: true, flags: s.flags };
      const allowed = [m.state, ...(m.alt === null ? [] : [m.alt])];
      // A \Deleted message may have been expunged by another session's EXPUNGE.
      if (allowed.some((a) => a.present && a.flags.has(DELETED))) allowed.push(GONE);
      assert.ok(
        allowed.some((a) => sameState(a, observed)),
        `${where}: ${m.id} (${m.mailbox}, UID ${m.uid ?? 'not acknowledged'}) is ${show(observed)}; ` +
          `acknowledged: ${show(m.state)}, in flight at the kill: ${show(m.alt)} (seed ${SEED})`,
      );
      if (s !== undefined) {
        assert.equal(s.mailbox, m.mailbox, `${where}: ${m.id} is in the wrong mailbox`);
        assert.ok(s.bytes.equals(m.bytes), `${where}: ${m.id} is not stored byte for byte`);
        if (m.uid !== null) assert.equal(s.uid, m.uid, `${where}: ${m.id} changed its UID`);
        else {
          // Its APPEND was in flight at the kill and landed: its UID is taken from now on.
          expect.giveUid(m.mailbox, s.uid, m.id, `stored, seen ${where}`);
          m.uid = s.uid;
        }
      }
      if (m.alt !== null) {
        expect.inFlightAtKills++;
        if (sameState(m.alt, observed) && !sameState(m.state, observed)) expect.landed++;
      }
      m.state = observed;
      m.alt = null;
    }
    for (const mailbox of MAILBOXES) {
      const next = expect.uidNext.get(mailbox)!;
      const max = expect.maxUid(mailbox);
      assert.ok(next > max, `${where}: UIDNEXT ${next} of ${mailbox} is not above UID ${max}, already given`);
    }
    return stored.size;
  } finally {
    await c.close();
  }
}

void test(`kill -9 during IMAP writes: nothing acknowledged is lost, no UID is given twice (seed ${SEED})`, async (t) => {
  const server = await startPosternImap({
    domains: ['example.test'],
    users: [{ address: USER, password: PASSWORD }],
  });
  t.after(() => server.stop());
  const setup = await ImapRawClient.connect(server.imapPort);
  expectOk(await setup.command(`LOGIN ${USER} ${PASSWORD}`), 'LOGIN');
  for (const box of MAILBOXES.slice(1)) expectOk(await setup.command(`CREATE ${box}`), 'CREATE');
  await setup.close();

  const expect = new Expectations();
  const rnd = prng(SEED);
  const report: string[] = [];
  for (let n = 0; n <= KILLS; n++) {
    const last = n === KILLS;
    const round: Round = {
      number: n,
      killAfter: last ? null : 60 + Math.floor(rnd() * 120),
      quota: last ? FINAL_ROUND : Number.MAX_SAFE_INTEGER,
      acks: 0,
      stop: false,
      killed: false,
      inFlightAtKill: 0,
    };
    const inFlight = new Set<number>();
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => clientRound(i, round, server, expect, inFlight)),
    );
    if (!last) {
      assert.ok(round.killed, `round ${n}: the server was killed`);
      await server.kill();
      assert.equal(await server.exited(), 'SIGKILL', `round ${n}: the server died of the kill`);
      assert.ok(round.inFlightAtKill > 0, `round ${n}: the kill came while commands were in flight`);
    }
    const t1 = Date.now();
    if (!last) await server.restart();
    const t2 = Date.now();
    const stored = await verify(server, expect, last ? 'at the end' : `after kill ${n + 1}`);
    report.push(
      `round ${n}: ${round.acks} acknowledged in ${t1 - t0} ms` +
        (last ? '' : `, killed with ${round.inFlightAtKill} in flight, restarted in ${t2 - t1} ms`) +
        `, ${stored} stored, checked in ${Date.now() - t2} ms`,
    );
  }
  const sent = [...expect.messages.values()];
  t.diagnostic(
    `seed ${SEED}; ${report.join('; ')}; messages sent ${sent.length}, ` +
      `stored at the end ${sent.filter((m) => m.state.present).length}; pipelined APPEND batches ` +
      `${expect.pipelinedBatches}; messages changed by commands in flight at the kills ` +
      `${expect.inFlightAtKills}, of which the change landed ${expect.landed}`,
  );
  // Not vacuous: messages were expunged, and some are left with flags.
  assert.ok(
    sent.some((m) => m.uid !== null && !m.state.present),
    'some messages were expunged',
  );
  assert.ok(
    sent.some((m) => m.state.present && m.state.flags.size > 0),
    'some stored messages have flags',
  );
});
