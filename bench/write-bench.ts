// IMAP write-path benchmark (issue 11), Postern and Debian's Dovecot in one run, same client
// code, same messages, 127.0.0.1 only, one server measured at a time:
//   (a) C clients (default 20) for D seconds (default 30) on shared mailboxes: U users (default
//       4), so each INBOX is worked on by C/U clients at once. Each client loops sessions of
//       LOGIN, SELECT INBOX, FETCH 1:* (UID FLAGS), UID FETCH of 3 messages (FLAGS ENVELOPE
//       BODY.PEEK[]), UID STORE +FLAGS on 2 of them, UID STORE -FLAGS on the third, UID COPY of
//       the 2 to Work, APPEND to INBOX, SELECT Work, UID MOVE of the 2 copies back to INBOX,
//       SELECT INBOX, UID STORE +FLAGS.SILENT (\Deleted) on the appended message and the 2
//       moved ones, EXPUNGE, LOGOUT: 14 commands, 7 of them writes (imaptest's default profile
//       has 3 writes in 8 commands, and no COPY or MOVE). The messages it adds are the ones it
//       expunges (their UIDs from APPENDUID and COPYUID, RFC 4315), so mailbox sizes stay
//       stable; the sizes before and after are printed. Figures: commands/s, and mean and p99
//       latency per command (sent -> tagged completion). For Postern also its event-loop lag
//       during the run (GET /healthz/stats, reset at the start) and WAL fsyncs, SQLite commits
//       and blob fsyncs per command;
//   (b) N APPENDs (default 4,000) by C clients (default 20) into C mailboxes of one user, each
//       client sequential with synchronizing literals: wall time and messages/s;
//   (c) P APPENDs (default 20,000) pipelined by one client with non-synchronizing literals
//       (LITERAL+, RFC 7888; both servers announce it): messages/s;
//   (d) one client's sequential APPEND of a tiny message (synchronizing literal): median and
//       p99 over T appends (default 600) after a warm-up (default 200: a server that has run for
//       a while, its JIT warm), the two servers taking turns in K blocks (default 6; the first
//       server alternates) so that a drift of the machine (disk, neighbours) hits both alike;
//   (e) FETCH 1:* (FLAGS) on the mailbox (c) filled: median of R runs after a first one, the
//       servers taking turns run by run.
// Messages are bench/imap-messages.ts's (2-8 KiB, some multipart), each made unique by a first
// header field (Postern stores bytes by content: a repeated message would skip its blob write).
// Every client socket has setNoDelay(true). Postern runs as `postern serve` (a separate
// process) with its default password hashing (scrypt ln=15) and its credentials cache
// (auth.cache_ttl, on by default; the setup's logins warm it). Dovecot: a private instance,
// maildir, its default fsync behaviour (mail_fsync = optimized), {PLAIN} passwd-file, its
// high-performance login mode (--dovecot-login default: a login process per connection), imap
// processes reused with some kept ready (service_count = 0, process_min_avail; Dovecot's own
// tuning advice; --dovecot-mail-processes fork: a new imap process per login). Every
// loop is bounded by count or time. Needs root and Debian's dovecot-imapd. Usage (see
// bench/write-bench.sh):
//   node BUILD/bench/write-bench.js [--clients N] [--duration S] [--users N] [--mix-messages N]
//        [--appends N] [--pipelined N] [--tiny N] [--tiny-warmup N] [--tiny-blocks K]
//        [--fetch-runs N] [--only postern|dovecot]
//        [--skip a,b,c,d,e] [--dovecot-login shared|default] [--dovecot-mail-processes reuse|fork]
//        [--dovecot-extra 'LINE\nLINE'] [--json FILE] [--keep]

import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { HealthStats } from '../src/server/http.js';
import { startDovecot } from '../test/helpers/dovecot.js';
import { ImapRawClient, type CommandPart, type CommandResult } from '../test/helpers/imap-raw-client.js';
import { startPosternImap, type PosternImapServer } from '../test/helpers/postern-imap.js';
import { describeMachine, log, onCleanup, runBench, runPhases } from './bench-process.js';
import { benchMessage } from './imap-messages.js';
import { fmtMs, mean, median, percentile, ratio } from './sample-stats.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '20' },
    duration: { type: 'string', default: '30' },
    users: { type: 'string', default: '4' },
    'mix-messages': { type: 'string', default: '200' },
    appends: { type: 'string', default: '4000' },
    pipelined: { type: 'string', default: '20000' },
    tiny: { type: 'string', default: '600' },
    'tiny-warmup': { type: 'string', default: '200' },
    'tiny-blocks': { type: 'string', default: '6' },
    'fetch-runs': { type: 'string', default: '7' },
    only: { type: 'string', default: '' },
    skip: { type: 'string', default: '' },
    json: { type: 'string', default: '' },
    'dovecot-login': { type: 'string', default: 'shared' },
    'dovecot-extra': { type: 'string', default: '' },
    'dovecot-mail-processes': { type: 'string', default: 'reuse' },
    keep: { type: 'boolean', default: false },
  },
});
const CLIENTS = Number(values.clients);
const DURATION_S = Number(values.duration);
const USER_COUNT = Math.max(1, Number(values.users));
const MIX_MESSAGES = Math.max(10, Number(values['mix-messages']));
const APPENDS = Number(values.appends);
const PIPELINED = Number(values.pipelined);
const TINY = Math.max(1, Number(values.tiny));
const TINY_WARMUP = Number(values['tiny-warmup']);
const TINY_BLOCKS = Math.max(1, Math.min(TINY, Number(values['tiny-blocks'])));
const FETCH_RUNS = Math.max(2, Number(values['fetch-runs']));
const DOVECOT_SHARED_LOGIN = values['dovecot-login'] !== 'default';
const SKIP = new Set(values.skip.split(',').filter((s) => s !== ''));
const PASSWORD = 'write-bench-secret-1';
const MIX_USERS = Array.from({ length: USER_COUNT }, (_, i) => `mix${i}@example.test`);
const LOAD_USER = 'load@example.test';
const loadMailbox = (k: number): string => `Load${String(k + 1).padStart(2, '0')}`;
/** Generous bound for one command; a server slower than this has failed the run. */
const COMMAND_TIMEOUT_MS = 120_000;

type ServerName = 'postern' | 'dovecot';
interface Target {
  name: ServerName;
  port: number;
  /** Postern's HTTP listener (GET /healthz/stats), 0 for Dovecot. */
  httpPort: number;
  /** Per mix user: UIDs up to this one are the seeded messages, which no session expunges. */
  seededMaxUid: Map<string, number>;
}

// ---------------------------------------------------------------- client side

async function connect(t: Target, user?: string): Promise<ImapRawClient> {
  const c = await ImapRawClient.connect(t.port, { timeoutMs: 60_000 });
  // Nagle's algorithm on a request/response protocol adds tens of milliseconds per round trip.
  c.socket.setNoDelay(true);
  if (user !== undefined) await must(c, `LOGIN ${user} ${PASSWORD}`);
  return c;
}

async function must(c: ImapRawClient, parts: CommandPart | CommandPart[]): Promise<CommandResult> {
  const r = await c.command(parts, { timeoutMs: COMMAND_TIMEOUT_MS });
  if (r.status !== 'OK') throw new Error(`${describe(parts)}: ${r.tagged}`);
  return r;
}

function describe(parts: CommandPart | CommandPart[]): string {
  const list = Array.isArray(parts) ? parts : [parts];
  return list.map((p) => (typeof p === 'string' ? p : `{${p.literal.length}}`)).join('');
}

/** Expands a UID set of numbers and ranges ("4,7:9"). */
function uidList(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number);
    const hi = b === undefined ? a : b;
    for (let u = Math.min(a, hi); u <= Math.max(a, hi) && out.length < 10_000; u++) out.push(u);
  }
  return out;
}

/** The destination UIDs of a COPYUID response code in the command's lines or tagged line. */
function copyUids(r: CommandResult): number[] {
  for (const line of [r.tagged, ...r.lines]) {
    const m = /\[COPYUID \d+ \S+ ([\d:,]+)\]/i.exec(line);
    if (m !== null) return uidList(m[1]);
  }
  return [];
}

function appendUid(r: CommandResult): number | null {
  const m = /\[APPENDUID \d+ (\d+)\]/i.exec(r.tagged);
  return m === null ? null : Number(m[1]);
}

// ---------------------------------------------------------------- messages

/** Distinct realistic messages, CRLF; a unique first field is added per use. */
const POOL = Array.from({ length: 500 }, (_, i) =>
  Buffer.from(benchMessage(i, LOAD_USER).lf.replace(/\n/g, '\r\n')),
);

function message(key: string, i: number): Buffer {
  return Buffer.concat([Buffer.from(`X-Bench-Seq: ${key}.${i}\r\n`), POOL[i % POOL.length]]);
}

function tinyMessage(i: number): Buffer {
  return Buffer.from(
    `From: <sent@example.test>\r\nTo: <${LOAD_USER}>\r\nSubject: tiny ${i}\r\n` +
      `Message-ID: <tiny.${i}@bench.example.test>\r\n\r\nA short note, number ${i}.\r\n`,
  );
}

/**
 * APPENDs `count` messages to `mailbox` on one connection, pipelined: every command is written
 * with a non-synchronizing literal (RFC 7888) without waiting for the previous one's reply,
 * respecting the socket's backpressure. Resolves with the milliseconds from the first byte
 * written to the last tagged reply, and the replies that were not OK.
 */
async function appendPipelined(
  c: ImapRawClient,
  mailbox: string,
  count: number,
  make: (i: number) => { flags: string; bytes: Buffer },
): Promise<{ ms: number; failed: number; firstFailure: string }> {
  let failed = 0;
  let firstFailure = '';
  const started = performance.now();
  const reader = async (): Promise<void> => {
    for (let done = 0; done < count;) {
      const line = await c.nextLine(COMMAND_TIMEOUT_MS);
      if (line === null) throw new Error(`pipelined APPEND: no reply within ${COMMAND_TIMEOUT_MS} ms`);
      const m = /^P\d+ (\S+)/.exec(line);
      if (m === null) continue; // untagged EXISTS and the like
      done++;
      if (m[1].toUpperCase() !== 'OK') {
        failed++;
        if (firstFailure === '') firstFailure = line;
      }
    }
  };
  const writer = async (): Promise<void> => {
    for (let i = 0; i < count; i++) {
      const { flags, bytes } = make(i);
      const head = `P${i} APPEND ${mailbox}${flags === '' ? '' : ` (${flags})`} {${bytes.length}+}\r\n`;
      if (!c.socket.write(Buffer.concat([Buffer.from(head), bytes, Buffer.from('\r\n')]))) {
        await once(c.socket, 'drain');
      }
    }
  };
  await Promise.all([reader(), writer()]);
  return { ms: performance.now() - started, failed, firstFailure };
}

async function exists(c: ImapRawClient, mailbox: string): Promise<number> {
  const r = await must(c, `EXAMINE ${mailbox}`);
  const line = r.lines.find((l) => /^\* \d+ EXISTS/i.test(l));
  if (line === undefined) throw new Error(`EXAMINE ${mailbox}: no EXISTS`);
  return Number(line.split(' ')[1]);
}

// ---------------------------------------------------------------- setup (both servers, over IMAP)

async function seed(t: Target): Promise<void> {
  for (const user of MIX_USERS) {
    const c = await connect(t, user);
    try {
      await must(c, 'CREATE Work');
      await must(c, 'SELECT INBOX');
      const r = await appendPipelined(c, 'INBOX', MIX_MESSAGES, (i) => ({
        flags: i % 3 === 0 ? '\\Seen' : '',
        bytes: message(`seed-${user}`, i),
      }));
      if (r.failed > 0) throw new Error(`seeding ${user}: ${r.failed} APPENDs failed: ${r.firstFailure}`);
      const sel = await must(c, 'SELECT INBOX');
      const next = sel.lines.map((l) => /\[UIDNEXT (\d+)\]/i.exec(l)).find((m) => m !== null);
      if (next === undefined || next === null) throw new Error(`${t.name}: SELECT INBOX without UIDNEXT`);
      t.seededMaxUid.set(user, Number(next[1]) - 1);
    } finally {
      await c.close();
    }
  }
  const c = await connect(t, LOAD_USER);
  try {
    for (let k = 0; k < CLIENTS; k++) await must(c, `CREATE ${loadMailbox(k)}`);
    await must(c, 'CREATE Pipe');
    await must(c, 'CREATE Tiny');
  } finally {
    await c.close();
  }
}

async function capabilities(t: Target): Promise<string> {
  const c = await connect(t, LOAD_USER);
  try {
    const r = await must(c, 'CAPABILITY');
    return r.lines.find((l) => l.startsWith('* CAPABILITY')) ?? '';
  } finally {
    await c.close();
  }
}

// ---------------------------------------------------------------- Postern's own figures

interface ServerCost {
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  commits: number;
  walFsyncs: number;
  blobFileFsyncs: number;
  blobDirFsyncs: number;
}

async function posternStats(t: Target, reset: boolean): Promise<HealthStats> {
  const path = reset ? '/healthz/stats/reset' : '/healthz/stats';
  const res = await fetch(`http://127.0.0.1:${t.httpPort}${path}`, { method: reset ? 'POST' : 'GET' });
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
  return (await res.json()) as HealthStats;
}

/** Runs a workload; for Postern, with its lag window reset before and its counters compared. */
async function withCost<T>(t: Target, run: () => Promise<T>): Promise<{ result: T; cost?: ServerCost }> {
  if (t.httpPort === 0) return { result: await run() };
  const before = await posternStats(t, true);
  const result = await run();
  const after = await posternStats(t, false);
  const diff = (f: (s: HealthStats) => number | undefined): number => (f(after) ?? 0) - (f(before) ?? 0);
  return {
    result,
    cost: {
      lagP50Ms: after.eventLoopDelay.p50Ms,
      lagP99Ms: after.eventLoopDelay.p99Ms,
      lagMaxMs: after.eventLoopDelay.maxMs,
      commits: diff((s) => s.store?.commits),
      walFsyncs: diff((s) => s.store?.walFsyncs),
      blobFileFsyncs: diff((s) => s.blobs?.fileFsyncs),
      blobDirFsyncs: diff((s) => s.blobs?.dirFsyncs),
    },
  };
}

// ---------------------------------------------------------------- (a) mixed workload

interface MixFigures {
  commands: number;
  seconds: number;
  perSecond: number;
  sessions: number;
  failures: number;
  firstFailure: string;
  /**
   * NO [EXPUNGEISSUED] replies (RFC 9051 §7.1: another session expunged some of the messages
   * asked for): counted as done, the session goes on as a client would.
   */
  expungeIssued: number;
  /** Per command: how many, mean and p99 ms. */
  latency: Record<string, { count: number; meanMs: number; p99Ms: number }>;
  /** Messages in INBOX and Work per user, before and after (read outside the timed run). */
  sizesBefore?: Record<string, [number, number]>;
  sizesAfter?: Record<string, [number, number]>;
}

const MIX_COMMANDS = [
  'connect (greeting)',
  'LOGIN',
  'SELECT',
  'FETCH 1:* (UID FLAGS)',
  'UID FETCH (BODY.PEEK[])',
  'UID STORE',
  'UID COPY',
  'APPEND',
  'UID MOVE',
  'EXPUNGE',
  'LOGOUT',
] as const;
type MixCommand = (typeof MIX_COMMANDS)[number];

async function mailboxSizes(t: Target): Promise<Record<string, [number, number]>> {
  const out: Record<string, [number, number]> = {};
  for (const user of MIX_USERS) {
    const c = await connect(t, user);
    try {
      out[user] = [await exists(c, 'INBOX'), await exists(c, 'Work')];
    } finally {
      await c.close();
    }
  }
  return out;
}

async function benchMix(t: Target): Promise<MixFigures> {
  const samples = new Map<MixCommand, number[]>(MIX_COMMANDS.map((k) => [k, []]));
  let commands = 0;
  let sessions = 0;
  let failures = 0;
  let firstFailure = '';
  let expungeIssued = 0;
  const deadline = performance.now() + DURATION_S * 1000;
  const started = performance.now();

  const session = async (id: number, n: number): Promise<void> => {
    const user = MIX_USERS[id % MIX_USERS.length];
    const seeded = t.seededMaxUid.get(user)!;
    const t0 = performance.now();
    const c = await connect(t);
    // Not a command, not counted in commands/s: a server that forks per connection pays here.
    samples.get('connect (greeting)')!.push(performance.now() - t0);
    const timed = async (key: MixCommand, parts: CommandPart | CommandPart[]): Promise<CommandResult> => {
      const t0 = performance.now();
      const r = await c.command(parts, {
        timeoutMs: COMMAND_TIMEOUT_MS,
        collect: key !== 'UID FETCH (BODY.PEEK[])',
      });
      samples.get(key)!.push(performance.now() - t0);
      commands++;
      if (r.status === 'NO' && /\[EXPUNGEISSUED\]/i.test(r.tagged)) expungeIssued++;
      else if (r.status !== 'OK') throw new Error(`${describe(parts)}: ${r.tagged}`);
      return r;
    };
    try {
      await timed('LOGIN', `LOGIN ${user} ${PASSWORD}`);
      await timed('SELECT', 'SELECT INBOX');
      const list = await timed('FETCH 1:* (UID FLAGS)', 'FETCH 1:* (UID FLAGS)');
      const present: number[] = [];
      for (const line of list.lines) {
        const m = /\bUID (\d+)/.exec(line);
        if (m !== null && Number(m[1]) <= seeded) present.push(Number(m[1]));
      }
      if (present.length < 3) throw new Error(`${user}: only ${present.length} seeded messages listed`);
      // Three distinct seeded messages, different for each client and session.
      const pick = (k: number): number =>
        present[(id * 7919 + n * 104_729 + k * 15_485_863) % present.length];
      const chosen = [...new Set([pick(0), pick(1), pick(2), pick(3), pick(4)])].slice(0, 3);
      while (chosen.length < 3) chosen.push(present[chosen.length]);
      const [r1, r2, r3] = chosen;
      await timed('UID FETCH (BODY.PEEK[])', `UID FETCH ${r1},${r2},${r3} (FLAGS ENVELOPE BODY.PEEK[])`);
      await timed('UID STORE', `UID STORE ${r1},${r2} +FLAGS (\\Seen \\Flagged)`);
      await timed('UID STORE', `UID STORE ${r3} -FLAGS (\\Seen \\Flagged)`);
      const copied = copyUids(await timed('UID COPY', `UID COPY ${r1},${r2} Work`));
      const appended = appendUid(
        await timed('APPEND', ['APPEND INBOX (\\Seen) ', { literal: message(`mix-${id}`, n) }]),
      );
      if (appended === null) throw new Error('APPEND without APPENDUID');
      const own = [appended];
      if (copied.length > 0) {
        await timed('SELECT', 'SELECT Work');
        own.push(...copyUids(await timed('UID MOVE', `UID MOVE ${copied.join(',')} INBOX`)));
        await timed('SELECT', 'SELECT INBOX');
      }
      // The messages this session added to INBOX go again: sizes stay stable.
      await timed('UID STORE', `UID STORE ${own.join(',')} +FLAGS.SILENT (\\Deleted)`);
      await timed('EXPUNGE', 'EXPUNGE');
      await timed('LOGOUT', 'LOGOUT');
      sessions++;
    } finally {
      c.socket.destroy();
    }
  };

  const worker = async (id: number): Promise<void> => {
    // Bounded by time and by an iteration cap.
    for (let n = 0; n < 1_000_000 && performance.now() < deadline; n++) {
      try {
        await session(id, n);
      } catch (err) {
        failures++;
        if (firstFailure === '') firstFailure = err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => worker(i)));
  const seconds = (performance.now() - started) / 1000;
  const latency: MixFigures['latency'] = {};
  for (const [key, list] of samples) {
    if (list.length > 0)
      latency[key] = { count: list.length, meanMs: mean(list), p99Ms: percentile(list, 99) };
  }
  return {
    commands,
    seconds,
    perSecond: commands / seconds,
    sessions,
    failures,
    firstFailure,
    expungeIssued,
    latency,
  };
}

// ---------------------------------------------------------------- (b) concurrent appends

interface AppendFigures {
  messages: number;
  seconds: number;
  perSecond: number;
  failures: number;
  firstFailure: string;
}

async function benchConcurrentAppends(t: Target): Promise<AppendFigures> {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(t, LOAD_USER)));
  let next = 0;
  let failures = 0;
  let firstFailure = '';
  const started = performance.now();
  try {
    await Promise.all(
      clients.map(async (c, k) => {
        for (let i = next++; i < APPENDS; i = next++) {
          const r = await c.command([`APPEND ${loadMailbox(k)} `, { literal: message('b', i) }], {
            timeoutMs: COMMAND_TIMEOUT_MS,
          });
          if (r.status !== 'OK') {
            failures++;
            if (firstFailure === '') firstFailure = r.tagged;
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { messages: APPENDS, seconds, perSecond: APPENDS / seconds, failures, firstFailure };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

// ---------------------------------------------------------------- (c) pipelined appends

interface PipelineFigures extends AppendFigures {
  /** Messages in Pipe afterwards (EXAMINE). */
  exists: number;
}

async function benchPipelined(t: Target): Promise<PipelineFigures> {
  const c = await connect(t, LOAD_USER);
  try {
    const r = await appendPipelined(c, 'Pipe', PIPELINED, (i) => ({
      // Varied flags, so that (e) reads more than empty lists.
      flags: [i % 3 === 0 ? '\\Seen' : '', i % 7 === 0 ? '\\Flagged' : ''].filter((f) => f !== '').join(' '),
      bytes: message('c', i),
    }));
    const seconds = r.ms / 1000;
    return {
      messages: PIPELINED,
      seconds,
      perSecond: PIPELINED / seconds,
      failures: r.failed,
      firstFailure: r.firstFailure,
      exists: await exists(c, 'Pipe'),
    };
  } finally {
    await c.close();
  }
}

// ---------------------------------------------------------------- (d) one client's APPEND latency

interface TinyFigures {
  appends: number;
  /** With the warm-up (what Postern's counters saw). */
  total: number;
  medianMs: number;
  p99Ms: number;
  meanMs: number;
}

/**
 * (d) for every target at once: each its own connection and warm-up, then TINY_BLOCKS blocks in
 * which the targets take turns (in alternating order), each block's appends timed one by one.
 */
async function benchTiny(targets: readonly Target[]): Promise<Map<ServerName, TinyFigures>> {
  const clients = new Map<ServerName, ImapRawClient>();
  const times = new Map<ServerName, number[]>();
  const next = new Map<ServerName, number>();
  try {
    for (const t of targets) {
      const c = await connect(t, LOAD_USER);
      clients.set(t.name, c);
      times.set(t.name, []);
      for (let i = 0; i < TINY_WARMUP; i++) await must(c, ['APPEND Tiny ', { literal: tinyMessage(i) }]);
      next.set(t.name, TINY_WARMUP);
    }
    for (let block = 0; block < TINY_BLOCKS; block++) {
      const count = Math.floor(((block + 1) * TINY) / TINY_BLOCKS) - Math.floor((block * TINY) / TINY_BLOCKS);
      const order = block % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const c = clients.get(t.name)!;
        const list = times.get(t.name)!;
        let i = next.get(t.name)!;
        for (let k = 0; k < count; k++, i++) {
          const t0 = performance.now();
          await must(c, ['APPEND Tiny ', { literal: tinyMessage(i) }]);
          list.push(performance.now() - t0);
        }
        next.set(t.name, i);
      }
    }
  } finally {
    for (const c of clients.values()) await c.close();
  }
  const out = new Map<ServerName, TinyFigures>();
  for (const [name, list] of times) {
    out.set(name, {
      appends: list.length,
      total: TINY_WARMUP + list.length,
      medianMs: median(list),
      p99Ms: percentile(list, 99),
      meanMs: mean(list),
    });
  }
  return out;
}

// ---------------------------------------------------------------- (e) FETCH 1:* FLAGS

interface FetchFigures {
  messages: number;
  firstMs: number;
  medianMs: number;
}

/**
 * (e) for every target at once: each its own session with Pipe selected, then FETCH_RUNS rounds
 * in which the targets take turns (in alternating order), one FETCH each.
 */
async function benchFetchFlags(targets: readonly Target[]): Promise<Map<ServerName, FetchFigures>> {
  const sessions = new Map<ServerName, { c: ImapRawClient; messages: number; times: number[] }>();
  try {
    for (const t of targets) {
      const c = await connect(t, LOAD_USER);
      sessions.set(t.name, { c, messages: 0, times: [] });
      const messages = await exists(c, 'Pipe');
      await must(c, 'SELECT Pipe');
      sessions.set(t.name, { c, messages, times: [] });
    }
    for (let run = 0; run < FETCH_RUNS; run++) {
      for (const t of run % 2 === 0 ? targets : [...targets].reverse()) {
        const s = sessions.get(t.name)!;
        const t0 = performance.now();
        const r = await s.c.command('FETCH 1:* (FLAGS)', { collect: false, timeoutMs: COMMAND_TIMEOUT_MS });
        s.times.push(performance.now() - t0);
        if (r.status !== 'OK') throw new Error(`${t.name}: FETCH 1:* (FLAGS): ${r.tagged}`);
        // r.count counts the tagged line too.
        if (r.count - 1 < s.messages)
          throw new Error(`${t.name}: FETCH 1:* (FLAGS): ${r.count - 1} lines for ${s.messages}`);
      }
    }
  } finally {
    for (const s of sessions.values()) await s.c.close();
  }
  const out = new Map<ServerName, FetchFigures>();
  for (const [name, s] of sessions) {
    out.set(name, { messages: s.messages, firstMs: s.times[0]!, medianMs: median(s.times.slice(1)) });
  }
  return out;
}

// ---------------------------------------------------------------- servers

async function startServers(): Promise<Target[]> {
  const users = [...MIX_USERS, LOAD_USER];
  const targets: Target[] = [];
  if (values.only !== 'dovecot') {
    log('postern: starting (scrypt ln=15 password hashes, as `postern user add` stores them)');
    const postern: PosternImapServer = await startPosternImap({
      domains: ['example.test'],
      users: users.map((address) => ({ address, password: PASSWORD })),
      logLevel: 'warn',
      keep: values.keep,
      passwordCost: 'default',
      http: true,
      extraToml: `[limits]\nconnections_per_ip = ${CLIENTS * 2 + 100}`,
    });
    onCleanup('postern', () => postern.stop());
    targets.push({
      name: 'postern',
      port: postern.imapPort,
      httpPort: postern.httpPort,
      seededMaxUid: new Map(),
    });
  }
  if (values.only !== 'postern') {
    log('dovecot: starting');
    const dovecot = await startDovecot({
      users: users.map((user) => ({ user, password: PASSWORD })),
      // Dovecot's "high-performance" login mode by default (one imap-login process serving many
      // connections, as a busy site tunes it): (a) logs in 20 times at once all the time.
      serviceLimits: {
        connections: CLIENTS * 2 + 100,
        sharedLogin: DOVECOT_SHARED_LOGIN,
        reuseMailProcesses: values['dovecot-mail-processes'] !== 'fork',
      },
      extraConfig: values['dovecot-extra'].replaceAll('\\n', '\n'),
      keep: values.keep,
    });
    onCleanup('dovecot', () => dovecot.stop());
    targets.push({ name: 'dovecot', port: dovecot.imapPort, httpPort: 0, seededMaxUid: new Map() });
  }
  for (const t of targets) {
    log(`${t.name}: seeding ${MIX_USERS.length} x ${MIX_MESSAGES} messages, creating mailboxes`);
    await seed(t);
  }
  return targets;
}

// ---------------------------------------------------------------- main

interface Results {
  capability?: string;
  mix?: MixFigures;
  appends?: AppendFigures;
  pipelined?: PipelineFigures;
  tiny?: TinyFigures;
  fetch?: FetchFigures;
  /** Postern's lag and write counts per workload (by its letter). */
  cost: Record<string, ServerCost | undefined>;
  errors: string[];
}

function costLine(name: string, c: ServerCost | undefined, per: number, unit: string): string | null {
  if (c === undefined || per === 0) return null;
  const f = (x: number): string => (x / per).toFixed(3);
  return (
    `  ${name} per ${unit}: ${f(c.walFsyncs)} WAL fsyncs, ${f(c.commits)} SQLite commits, ` +
    `${f(c.blobFileFsyncs)} blob file + ${f(c.blobDirFsyncs)} directory fsyncs; ` +
    `event-loop lag p50 ${fmtMs(c.lagP50Ms)} ms, p99 ${fmtMs(c.lagP99Ms)} ms, max ${fmtMs(c.lagMaxMs)} ms`
  );
}

async function main(): Promise<void> {
  const targets = await startServers();
  const results: Record<string, Results> = {};
  for (const t of targets) {
    results[t.name] = { errors: [], cost: {}, capability: await capabilities(t) };
  }
  /** Runs a workload; for Postern, with the lag window reset before and the counters compared. */
  const measured = async <T>(t: Target, key: string, run: () => Promise<T>): Promise<T> => {
    const { result, cost } = await withCost(t, run);
    results[t.name].cost[key] = cost;
    return result;
  };
  await runPhases(
    targets,
    [
      {
        key: 'a',
        describe: `${CLIENTS} clients, mixed workload, ${DURATION_S} s`,
        run: async (t) => {
          const sizesBefore = await mailboxSizes(t);
          const mix = await measured(t, 'a', () => benchMix(t));
          results[t.name].mix = { ...mix, sizesBefore, sizesAfter: await mailboxSizes(t) };
        },
      },
      {
        key: 'b',
        describe: `${APPENDS} APPENDs by ${CLIENTS} clients`,
        run: async (t) =>
          void (results[t.name].appends = await measured(t, 'b', () => benchConcurrentAppends(t))),
      },
      {
        key: 'c',
        describe: `${PIPELINED} pipelined APPENDs`,
        run: async (t) => void (results[t.name].pipelined = await measured(t, 'c', () => benchPipelined(t))),
      },
    ],
    { skip: SKIP, failed: (t, message) => results[t.name].errors.push(message) },
  );
  /** A workload the servers run taking turns (not one after the other): a failure is both's. */
  const together = async (key: string, label: string, run: () => Promise<void>): Promise<void> => {
    if (SKIP.has(key)) return;
    log(`(${key}) ${label}`);
    try {
      await run();
    } catch (err) {
      const message = `(${key}): ${err instanceof Error ? err.message : String(err)}`;
      for (const t of targets) results[t.name].errors.push(message);
      log(`FAILED ${message}`);
    }
  };
  await together(
    'd',
    `${TINY} sequential tiny APPENDs per server, ${TINY_BLOCKS} blocks taking turns`,
    async () => {
      // Postern's counters and lag over the whole run (Dovecot's turns included).
      const postern = targets.find((t) => t.name === 'postern');
      const run = (): Promise<Map<ServerName, TinyFigures>> => benchTiny(targets);
      const figures = postern === undefined ? await run() : await measured(postern, 'd', run);
      for (const [name, f] of figures) results[name].tiny = f;
    },
  );
  await together('e', `FETCH 1:* (FLAGS), ${FETCH_RUNS} runs per server, taking turns`, async () => {
    for (const [name, f] of await benchFetchFlags(targets)) results[name].fetch = f;
  });
  process.stdout.write(report(results) + '\n');
  if (values.json !== '') {
    await writeFile(values.json, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
  }
}

/** The lines of (a): rates, latency per command, mailbox sizes, Postern's lag and write counts. */
function mixReport(out: string[], p: Results, d: Results): void {
  const both = [
    ['Postern', p],
    ['Dovecot', d],
  ] as const;
  if (SKIP.has('a')) out.push('(a) skipped (--skip)');
  else
    out.push(
      `(a) ${CLIENTS} clients, ${MIX_USERS.length} users (${Math.ceil(CLIENTS / MIX_USERS.length)} clients per INBOX), ` +
        `${MIX_MESSAGES} seeded messages each, ${DURATION_S} s; 14 commands a session, 7 of them writes ` +
        '(connect to greeting is timed too, not counted as a command)',
    );
  out.push('| server | commands/s | commands | sessions | failed sessions | NO [EXPUNGEISSUED] |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, r] of both) {
    if (r.mix === undefined) continue;
    const m = r.mix;
    out.push(
      `| ${name} | ${m.perSecond.toFixed(0)} | ${m.commands} | ${m.sessions} | ${m.failures} | ${m.expungeIssued} |`,
    );
  }
  out.push(`ratio commands/s: ${ratio(p.mix?.perSecond, d.mix?.perSecond)}`);
  out.push(
    '| command | Postern n | Postern mean ms | Postern p99 ms | Dovecot n | Dovecot mean ms | Dovecot p99 ms | mean ratio |',
  );
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const key of MIX_COMMANDS) {
    const a = p.mix?.latency[key];
    const b = d.mix?.latency[key];
    if (a === undefined && b === undefined) continue;
    out.push(
      `| ${key} | ${a?.count ?? '-'} | ${fmtMs(a?.meanMs)} | ${fmtMs(a?.p99Ms)} | ${b?.count ?? '-'} | ` +
        `${fmtMs(b?.meanMs)} | ${fmtMs(b?.p99Ms)} | ${ratio(a?.meanMs, b?.meanMs)} |`,
    );
  }
  for (const [name, r] of both) {
    if (r.mix === undefined) continue;
    const sizes = (s: Record<string, [number, number]> | undefined): string =>
      Object.values(s ?? {})
        .map(([inbox, work]) => `${inbox}/${work}`)
        .join(' ');
    out.push(
      `  ${name} INBOX/Work sizes per user before: ${sizes(r.mix.sizesBefore)}; after: ${sizes(r.mix.sizesAfter)}`,
    );
    if (r.mix.firstFailure !== '') out.push(`  ${name} first failure: ${r.mix.firstFailure.slice(0, 300)}`);
  }
  if (p.cost.a !== undefined) {
    out.push(
      `  Postern event-loop lag during (a): p99 ${fmtMs(p.cost.a.lagP99Ms)} ms, max ${fmtMs(p.cost.a.lagMaxMs)} ms ` +
        '(GET /healthz/stats, window reset at the start of (a))',
    );
  }
  const mixCost = costLine('Postern', p.cost.a, p.mix?.commands ?? 0, 'command');
  if (mixCost !== null) out.push(mixCost);
}

function report(results: Record<string, Results>): string {
  const p: Results = results.postern ?? { errors: [], cost: {} };
  const d: Results = results.dovecot ?? { errors: [], cost: {} };
  const both = [
    ['Postern', p],
    ['Dovecot', d],
  ] as const;
  const out: string[] = [];
  out.push(`IMAP write-path benchmark, ${new Date().toISOString()}, ${describeMachine()}`);
  out.push(
    'Postern: `postern serve`, 1 process, password hashes scrypt ln=15 (the default), credentials ' +
      'cache on (auth.cache_ttl default 3600 s, warmed by the setup logins). Dovecot: maildir, ' +
      `default fsync (mail_fsync = optimized), {PLAIN} passwd-file, ${DOVECOT_SHARED_LOGIN ? 'shared imap-login (service_count = 0)' : 'default imap-login (one process per connection)'}, ` +
      `${values['dovecot-mail-processes'] !== 'fork' ? 'imap processes reused (service_count = 0, process_min_avail)' : 'an imap process forked per login'}. ` +
      'Client sockets: setNoDelay(true).',
  );
  for (const [name, r] of both) if (r.capability !== undefined) out.push(`${name} ${r.capability}`);
  out.push('Ratios are Postern / Dovecot: above 1 is Postern faster for rates, slower for times.');

  out.push('');
  if (SKIP.has('a')) out.push('(a) skipped (--skip)');
  else mixReport(out, p, d);
  const simple = (
    key: string,
    title: string,
    columns: string[],
    row: (r: Results) => { cells: string[]; firstFailure?: string } | undefined,
    ratioText: string,
    cost: string | null,
  ): void => {
    out.push('', `(${key}) ${title}`);
    if (SKIP.has(key)) {
      out.push('  skipped (--skip)');
      return;
    }
    out.push(`| server | ${columns.join(' | ')} |`, `| --- |${' ---: |'.repeat(columns.length)}`);
    for (const [name, r] of both) {
      const got = row(r);
      if (got === undefined) continue;
      out.push(`| ${name} | ${got.cells.join(' | ')} |`);
      if (got.firstFailure) out.push(`  ${name} first failure: ${got.firstFailure.slice(0, 300)}`);
    }
    out.push(ratioText);
    if (cost !== null) out.push(cost);
  };
  simple(
    'b',
    `${APPENDS} APPENDs (synchronizing literals) by ${CLIENTS} clients into ${CLIENTS} mailboxes`,
    ['seconds', 'messages/s', 'failures'],
    ({ appends: f }) =>
      f && {
        cells: [f.seconds.toFixed(2), f.perSecond.toFixed(0), String(f.failures)],
        firstFailure: f.firstFailure,
      },
    `ratio messages/s: ${ratio(p.appends?.perSecond, d.appends?.perSecond)}`,
    costLine('Postern', p.cost.b, p.appends?.messages ?? 0, 'message'),
  );
  simple(
    'c',
    `${PIPELINED} pipelined APPENDs (LITERAL+) by one client`,
    ['seconds', 'messages/s', 'failures', 'messages in mailbox'],
    ({ pipelined: f }) =>
      f && {
        cells: [f.seconds.toFixed(2), f.perSecond.toFixed(0), String(f.failures), String(f.exists)],
        firstFailure: f.firstFailure,
      },
    `ratio messages/s: ${ratio(p.pipelined?.perSecond, d.pipelined?.perSecond)}`,
    costLine('Postern', p.cost.c, p.pipelined?.messages ?? 0, 'message'),
  );
  simple(
    'd',
    `one client, sequential APPEND of a tiny message (synchronizing literal), ${TINY} after ${TINY_WARMUP} warm-up, ` +
      `the servers taking turns in ${TINY_BLOCKS} blocks`,
    ['median ms', 'p99 ms', 'mean ms'],
    ({ tiny: f }) => f && { cells: [fmtMs(f.medianMs), fmtMs(f.p99Ms), fmtMs(f.meanMs)] },
    `ratio median: ${ratio(p.tiny?.medianMs, d.tiny?.medianMs)}`,
    costLine('Postern', p.cost.d, p.tiny?.total ?? 0, 'APPEND (warm-up included)'),
  );
  simple(
    'e',
    `FETCH 1:* (FLAGS) on the mailbox (c) filled, first run and median of ${FETCH_RUNS - 1} more`,
    ['messages', 'first ms', 'median ms'],
    ({ fetch: f }) => f && { cells: [String(f.messages), fmtMs(f.firstMs), fmtMs(f.medianMs)] },
    `ratio median: ${ratio(p.fetch?.medianMs, d.fetch?.medianMs)}`,
    null,
  );
  for (const [name, r] of both) for (const e of r.errors) out.push(`${name} FAILED ${e}`);
  return out.join('\n');
}

await runBench('write-bench', main);
