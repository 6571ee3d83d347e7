// IMAP benchmark (issue 4), Postern and Debian's Dovecot in one run, same messages, same
// client code, 127.0.0.1 only:
//   (a) a mailbox of N messages (default 100,000; 2-8 KiB, some multipart, bench/imap-messages.ts),
//       loaded into Postern with `postern import` of an mbox and into Dovecot by writing its
//       Maildir files directly; then SELECT, UID FETCH 1:* (UID FLAGS), SEARCH SUBJECT <word>
//       and SEARCH BODY <word>, each timed on the wire (command sent -> tagged OK) over several
//       rounds: the first round is reported as "cold" (the first access after loading; page
//       cache warm), the median of the others as "warm";
//   (b) C concurrent clients (default 20) looping login, select, fetch, store, append, expunge,
//       logout on one shared mailbox for D seconds: commands per second;
//   (c) K connections (default 5,000) logged in, INBOX selected, in IDLE: memory held per idle
//       connection = (memory with them - memory before) / K. Postern: its process tree; Dovecot:
//       every process under its master (an imap process per connection). Both RSS and PSS
//       (/proc/PID/smaps_rollup) are summed; PSS counts shared pages once, so it is the fair one.
// With `--scenario sort` (issue 13) only the big mailbox is loaded, and the phases are instead
//   (s) SORT (ARRIVAL/DATE/SUBJECT/FROM) and THREAD=REFERENCES over it and
//   (q) a QRESYNC SELECT after another session's 1,000 flag changes and 100 expunges
//       (bench/imap-sort-scenario.ts).
// Prints each figure for both and the ratio. Every loop is bounded by count or time. Needs
// root (Dovecot's mail processes run as nobody) and Debian's dovecot-imapd. Usage (see
// bench/imap-bench.sh):
//   node BUILD/bench/imap-bench.js [--scenario standard|sort] [--messages N] [--rounds N]
//        [--clients N] [--duration S] [--idle N] [--only postern|dovecot] [--skip a,b,c|s,q]
//        [--json FILE] [--keep]

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, log, onCleanup, runBench, runPhases, sleep } from './bench-process.js';
import { fmtMs, median, ratio } from './sample-stats.js';
import {
  QRESYNC_KEY,
  SORT_COMMANDS,
  benchQresync,
  benchSortThread,
  type TimedFigures,
} from './imap-sort-scenario.js';
import { descendants, startDovecot, type DovecotInstance } from '../test/helpers/dovecot.js';
import { ImapRawClient } from '../test/helpers/imap-raw-client.js';
import { startPosternImap, type PosternImapServer } from '../test/helpers/postern-imap.js';
import {
  BODY_WORD,
  SUBJECT_WORD,
  benchMessage,
  bodyWordCount,
  mboxDate,
  subjectWordCount,
} from './imap-messages.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'standard' },
    messages: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '20' },
    duration: { type: 'string', default: '20' },
    idle: { type: 'string', default: '5000' },
    only: { type: 'string', default: '' },
    skip: { type: 'string', default: '' },
    json: { type: 'string', default: '' },
    workers: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    'password-cost': { type: 'string', default: 'light' },
  },
});
const MESSAGES = Number(values.messages);
const ROUNDS = Math.max(2, Number(values.rounds));
const CLIENTS = Number(values.clients);
const DURATION_S = Number(values.duration);
const IDLE = Number(values.idle);
const SKIP = new Set(values.skip.split(',').filter((s) => s !== ''));
if (values.scenario !== 'standard' && values.scenario !== 'sort') {
  throw new Error(`--scenario: standard or sort, not ${values.scenario}`);
}
/** Issue 13's scenario: the big mailbox alone, SORT/THREAD and QRESYNC instead of (a)-(c). */
const SORT_SCENARIO = values.scenario === 'sort';
const MIX_MESSAGES = 2000;
const IDLE_MESSAGES = 10;
const PASSWORD = 'bench-secret-1';
const USERS = {
  big: 'bench@example.test',
  mix: 'mix@example.test',
  idle: 'idle@example.test',
};

type ServerName = 'postern' | 'dovecot';
interface Target {
  name: ServerName;
  port: number;
  /** Root PIDs whose process trees hold the server's memory. */
  pids(): Promise<number[]>;
}

// ---------------------------------------------------------------- loading

/** Writes messages [0, count) as an mbox (Postern) and as Dovecot Maildir files. */
async function writeMessages(
  count: number,
  to: string,
  mboxPath: string | null,
  maildir: string | null,
): Promise<void> {
  const mbox = mboxPath === null ? null : createWriteStream(mboxPath);
  const now = Math.floor(Date.now() / 1000);
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const m = benchMessage(i, to);
    if (mbox !== null) {
      const ok = mbox.write(`From bench@example.org ${mboxDate(m.date)}\n${m.lf}\n`);
      if (!ok) await once(mbox, 'drain');
    }
    if (maildir !== null) {
      // Maildir file name with S= (size) and W= (CRLF size) so Dovecot need not stat or read.
      const size = Buffer.byteLength(m.lf);
      const name = `${now}.M${i}P1.bench,S=${size},W=${m.crlfSize}:2,`;
      pending.push(writeFile(path.join(maildir, 'cur', name), m.lf));
      if (pending.length >= 64) await Promise.all(pending.splice(0));
    }
  }
  await Promise.all(pending);
  if (mbox !== null) {
    mbox.end();
    await once(mbox, 'finish');
  }
}

// ---------------------------------------------------------------- (a) big mailbox

interface BigFigures {
  cold: Record<string, number>;
  warm: Record<string, number>;
}

const BIG_COMMANDS: Array<{ key: string; text: string; check: (lines: string[]) => string | null }> = [
  {
    key: 'SELECT',
    text: 'SELECT INBOX',
    check: (lines) =>
      lines.some((l) => l === `* ${MESSAGES} EXISTS`)
        ? null
        : `no "* ${MESSAGES} EXISTS": ${lines.join(' | ')}`,
  },
  {
    key: 'UID FETCH 1:* (UID FLAGS)',
    text: 'UID FETCH 1:* (UID FLAGS)',
    check: (lines) => (lines.length === MESSAGES ? null : `${lines.length} FETCH lines, want ${MESSAGES}`),
  },
  {
    key: `SEARCH SUBJECT ${SUBJECT_WORD}`,
    text: `SEARCH SUBJECT ${SUBJECT_WORD}`,
    check: (lines) => searchCheck(lines, subjectWordCount(MESSAGES)),
  },
  {
    key: `SEARCH BODY ${BODY_WORD}`,
    text: `SEARCH BODY ${BODY_WORD}`,
    check: (lines) => searchCheck(lines, bodyWordCount(MESSAGES)),
  },
];

function searchCheck(lines: string[], want: number): string | null {
  const line = lines.find((l) => l.startsWith('* SEARCH') || l.startsWith('* ESEARCH'));
  if (line === undefined) return `no SEARCH response: ${lines.join(' | ').slice(0, 300)}`;
  const n = line.startsWith('* SEARCH') ? line.split(' ').length - 2 : -1;
  if (n !== -1 && n !== want) return `${n} results, want ${want}`;
  return null;
}

async function benchBig(t: Target): Promise<BigFigures> {
  const samples = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const c = await ImapRawClient.connect(t.port);
    try {
      const login = await c.command(`LOGIN ${USERS.big} ${PASSWORD}`);
      if (login.status !== 'OK') throw new Error(`${t.name}: LOGIN failed: ${login.tagged}`);
      for (const cmd of BIG_COMMANDS) {
        const collect = cmd.key !== 'UID FETCH 1:* (UID FLAGS)';
        const started = performance.now();
        const r = await c.command(cmd.text, { collect, timeoutMs: 600_000 });
        const ms = performance.now() - started;
        if (r.status !== 'OK') throw new Error(`${t.name}: ${cmd.text}: ${r.tagged}`);
        const problem = cmd.check(collect ? r.lines : new Array<string>(r.count - 1).fill(''));
        if (problem !== null) throw new Error(`${t.name}: ${cmd.text}: ${problem}`);
        const list = samples.get(cmd.key) ?? [];
        list.push(ms);
        samples.set(cmd.key, list);
      }
    } finally {
      await c.close();
    }
  }
  const cold: Record<string, number> = {};
  const warm: Record<string, number> = {};
  for (const [key, list] of samples) {
    cold[key] = list[0];
    warm[key] = median(list.slice(1));
  }
  return { cold, warm };
}

// ---------------------------------------------------------------- (b) mixed workload

interface MixFigures {
  commands: number;
  seconds: number;
  perSecond: number;
  sessions: number;
  failures: number;
  firstFailure: string;
}

function mixMessage(client: number, n: number): Buffer {
  const body = `Mixed workload message ${n} from client ${client}.\n`.repeat(60);
  return Buffer.from(
    `From: Client ${client} <c${client}@example.org>\r\nTo: ${USERS.mix}\r\nSubject: mix ${client}/${n}\r\n` +
      `Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <mix.${client}.${n}@bench.example.org>\r\n\r\n` +
      body.replace(/\n/g, '\r\n'),
  );
}

async function benchMix(t: Target): Promise<MixFigures> {
  const deadline = performance.now() + DURATION_S * 1000;
  let commands = 0;
  let sessions = 0;
  let failures = 0;
  let firstFailure = '';
  const expectOk = (what: string, r: { status: string; tagged: string }): void => {
    commands++;
    if (r.status !== 'OK') {
      failures++;
      if (firstFailure === '') firstFailure = `${what}: ${r.tagged}`;
    }
  };
  const started = performance.now();
  const worker = async (id: number): Promise<void> => {
    let n = 0;
    // Bounded by time and by a generous iteration cap.
    for (let iter = 0; iter < 1_000_000 && performance.now() < deadline; iter++) {
      let c: ImapRawClient;
      try {
        c = await ImapRawClient.connect(t.port);
      } catch (err) {
        failures++;
        if (firstFailure === '') firstFailure = `connect: ${String(err)}`;
        await sleep(100);
        continue;
      }
      try {
        expectOk('LOGIN', await c.command(`LOGIN ${USERS.mix} ${PASSWORD}`));
        expectOk('SELECT', await c.command('SELECT INBOX'));
        for (let k = 0; k < 3 && performance.now() < deadline; k++) {
          const a = 1 + ((id * 97 + iter * 31 + k * 13) % (MIX_MESSAGES - 20));
          expectOk('UID FETCH', await c.command(`UID FETCH ${a}:${a + 19} (UID FLAGS RFC822.SIZE ENVELOPE)`));
          expectOk('UID FETCH BODY', await c.command(`UID FETCH ${a + 5} (BODY.PEEK[])`));
          expectOk('UID STORE', await c.command(`UID STORE ${a}:${a + 3} +FLAGS.SILENT (\\Seen)`));
          expectOk('UID STORE', await c.command(`UID STORE ${a}:${a + 3} -FLAGS.SILENT (\\Seen)`));
          expectOk('NOOP', await c.command('NOOP'));
        }
        // The appended message carries \Deleted, so the EXPUNGE removes it again: the mailbox
        // stays the same size over the run.
        expectOk('APPEND', await c.command(['APPEND INBOX (\\Deleted) ', { literal: mixMessage(id, n++) }]));
        expectOk('EXPUNGE', await c.command('EXPUNGE'));
        expectOk('LOGOUT', await c.command('LOGOUT'));
        sessions++;
      } catch (err) {
        failures++;
        if (firstFailure === '') firstFailure = String(err);
      } finally {
        c.socket.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => worker(i)));
  const seconds = (performance.now() - started) / 1000;
  return { commands, seconds, perSecond: commands / seconds, sessions, failures, firstFailure };
}

// ---------------------------------------------------------------- (c) idle memory

interface Memory {
  rss: number;
  pss: number;
  processes: number;
}

async function memoryOf(roots: number[]): Promise<Memory> {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  for (const root of roots) {
    for (const pid of await descendants(root)) {
      let text: string;
      try {
        text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
      } catch {
        continue;
      }
      processes++;
      for (const line of text.split('\n')) {
        const m = /^(Rss|Pss):\s+(\d+) kB/.exec(line);
        if (m === null) continue;
        if (m[1] === 'Rss') rss += Number(m[2]) * 1024;
        else pss += Number(m[2]) * 1024;
      }
    }
  }
  return { rss, pss, processes };
}

interface IdleFigures {
  connections: number;
  before: Memory;
  during: Memory;
  rssPerConnection: number;
  pssPerConnection: number;
  setupSeconds: number;
  /** NOOP round trip on a fresh connection while all are idle (ms). */
  noopMs: number;
}

async function benchIdle(t: Target): Promise<IdleFigures> {
  const warm = await ImapRawClient.connect(t.port);
  await warm.command(`LOGIN ${USERS.idle} ${PASSWORD}`);
  await warm.command('SELECT INBOX');
  await warm.close();
  await sleep(1000);
  const before = await memoryOf(await t.pids());
  const clients: ImapRawClient[] = [];
  const started = performance.now();
  try {
    const batch = 50;
    for (let i = 0; i < IDLE; i += batch) {
      const n = Math.min(batch, IDLE - i);
      const opened = await Promise.all(
        Array.from({ length: n }, async () => {
          const c = await ImapRawClient.connect(t.port, { timeoutMs: 60_000 });
          clients.push(c);
          const l = await c.command(`LOGIN ${USERS.idle} ${PASSWORD}`);
          if (l.status !== 'OK') throw new Error(`${t.name}: LOGIN: ${l.tagged}`);
          const s = await c.command('SELECT INBOX');
          if (s.status !== 'OK') throw new Error(`${t.name}: SELECT: ${s.tagged}`);
          // IDLE (RFC 2177): the command stays open; wait for the "+" continuation only.
          c.write('I1 IDLE\r\n');
          const plus = await c.nextLine(30_000);
          if (plus === null || !plus.startsWith('+'))
            throw new Error(`${t.name}: IDLE: ${plus ?? 'no answer'}`);
          return c;
        }),
      );
      if (opened.length !== n) throw new Error('batch incomplete');
      if ((i / batch) % 20 === 0) log(`${t.name}: ${i + n} idle connections`);
    }
    const setupSeconds = (performance.now() - started) / 1000;
    await sleep(3000);
    const during = await memoryOf(await t.pids());
    const probe = await ImapRawClient.connect(t.port);
    await probe.command(`LOGIN ${USERS.idle} ${PASSWORD}`);
    const t0 = performance.now();
    await probe.command('NOOP');
    const noopMs = performance.now() - t0;
    await probe.close();
    return {
      connections: IDLE,
      before,
      during,
      rssPerConnection: (during.rss - before.rss) / IDLE,
      pssPerConnection: (during.pss - before.pss) / IDLE,
      setupSeconds,
      noopMs,
    };
  } finally {
    for (const c of clients) c.socket.destroy();
    await sleep(2000);
  }
}

// ---------------------------------------------------------------- main

async function setUpDovecot(work: string): Promise<Target> {
  log('dovecot: starting');
  const dovecot: DovecotInstance = await startDovecot({
    users: Object.values(USERS).map((user) => ({ user, password: PASSWORD })),
    serviceLimits: { connections: IDLE + CLIENTS * 2 + 20 },
    keep: values.keep,
  });
  onCleanup('dovecot', () => dovecot.stop());
  log(
    SORT_SCENARIO
      ? `dovecot: writing ${MESSAGES} Maildir files`
      : `dovecot: writing ${MESSAGES} + ${MIX_MESSAGES} + ${IDLE_MESSAGES} Maildir files`,
  );
  const t0 = performance.now();
  await writeMessages(MESSAGES, USERS.big, null, dovecot.maildir(USERS.big));
  if (!SORT_SCENARIO) {
    await writeMessages(MIX_MESSAGES, USERS.mix, null, dovecot.maildir(USERS.mix));
    await writeMessages(IDLE_MESSAGES, USERS.idle, null, dovecot.maildir(USERS.idle));
  }
  for (const u of Object.values(USERS)) await dovecot.ownMail(u);
  log(`dovecot: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s (${work})`);
  return { name: 'dovecot', port: dovecot.imapPort, pids: async () => [dovecot.pid] };
}

async function setUpPostern(work: string): Promise<Target> {
  log('postern: starting');
  const postern: PosternImapServer = await startPosternImap({
    domains: ['example.test'],
    users: Object.values(USERS).map((address) => ({ address, password: PASSWORD })),
    workers: Number(values.workers),
    logLevel: 'warn',
    keep: values.keep,
    passwordCost: values['password-cost'] === 'default' ? 'default' : 'light',
    // Room for the idle connections, all from 127.0.0.1.
    extraToml: `[limits]\nconnections_per_ip = ${IDLE + 200}\nconnections_total = ${IDLE + 500}`,
  });
  onCleanup('postern', () => postern.stop());
  const sets: Array<[string, number]> = SORT_SCENARIO
    ? [[USERS.big, MESSAGES]]
    : [
        [USERS.big, MESSAGES],
        [USERS.mix, MIX_MESSAGES],
        [USERS.idle, IDLE_MESSAGES],
      ];
  const t0 = performance.now();
  for (const [user, count] of sets) {
    const file = path.join(work, `${user}.mbox`);
    await writeMessages(count, user, file, null);
    const out = await postern.cli(['import', user, file]);
    log(`postern: ${out.trim().split('\n').pop() ?? ''}`);
    await rm(file, { force: true });
  }
  log(`postern: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { name: 'postern', port: postern.imapPort, pids: async () => [postern.pid] };
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'postern-imap-bench-'));
  if (!values.keep) onCleanup(`rm ${work}`, () => rm(work, { recursive: true, force: true }));
  await mkdir(work, { recursive: true });
  // Both servers are loaded at the same time (Postern's import is CPU-bound, Dovecot's
  // Maildir writing mostly I/O); measurements then run one server at a time.
  const setups: Array<Promise<Target>> = [];
  if (values.only !== 'dovecot') setups.push(setUpPostern(work));
  if (values.only !== 'postern') setups.push(setUpDovecot(work));
  const targets = await Promise.all(setups);
  if (SORT_SCENARIO) {
    await sortScenario(targets);
    return;
  }
  const results: Record<
    string,
    { big?: BigFigures; mix?: MixFigures; idle?: IdleFigures; errors: string[] }
  > = {};
  for (const t of targets) results[t.name] = { errors: [] };
  await runPhases(
    targets,
    [
      {
        key: 'a',
        describe: `${MESSAGES}-message mailbox, ${ROUNDS} rounds`,
        run: async (t) => void (results[t.name].big = await benchBig(t)),
      },
      {
        key: 'b',
        describe: `${CLIENTS} clients for ${DURATION_S} s`,
        run: async (t) => void (results[t.name].mix = await benchMix(t)),
      },
      {
        key: 'c',
        describe: `${IDLE} connections in IDLE`,
        run: async (t) => void (results[t.name].idle = await benchIdle(t)),
      },
    ],
    { skip: SKIP, failed: (t, message) => results[t.name].errors.push(message) },
  );
  // Report. Ratios are Postern / Dovecot: < 1 means Postern is faster (times) or leaner
  // (memory); for commands per second > 1 means Postern is faster.
  const p = results.postern ?? { errors: [] };
  const d = results.dovecot ?? { errors: [] };
  const out: string[] = [];
  out.push(`IMAP benchmark, ${new Date().toISOString()}, ${describeMachine()}`);
  out.push('');
  out.push(`(a) ${MESSAGES} messages, ms (first round = cold, median of ${ROUNDS - 1} others = warm)`);
  out.push('| command | Postern cold | Dovecot cold | Postern warm | Dovecot warm | warm ratio P/D |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const cmd of BIG_COMMANDS) {
    const k = cmd.key;
    out.push(
      `| ${k} | ${fmtMs(p.big?.cold[k])} | ${fmtMs(d.big?.cold[k])} | ${fmtMs(p.big?.warm[k])} | ` +
        `${fmtMs(d.big?.warm[k])} | ${ratio(p.big?.warm[k], d.big?.warm[k])} |`,
    );
  }
  out.push('');
  out.push(`(b) ${CLIENTS} clients, mixed workload, ${DURATION_S} s`);
  out.push('| server | commands/s | commands | sessions | failures |');
  out.push('| --- | ---: | ---: | ---: | ---: |');
  for (const [name, r] of [
    ['Postern', p.mix],
    ['Dovecot', d.mix],
  ] as const) {
    if (r !== undefined) {
      out.push(`| ${name} | ${r.perSecond.toFixed(0)} | ${r.commands} | ${r.sessions} | ${r.failures} |`);
      if (r.firstFailure !== '') out.push(`  ${name} first failure: ${r.firstFailure.slice(0, 300)}`);
    }
  }
  out.push(`ratio Postern/Dovecot commands/s: ${ratio(p.mix?.perSecond, d.mix?.perSecond)}`);
  out.push('');
  out.push(`(c) ${IDLE} connections in IDLE, memory per connection (KiB)`);
  out.push('| server | PSS/conn | RSS/conn | processes | setup s | NOOP ms meanwhile |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, r] of [
    ['Postern', p.idle],
    ['Dovecot', d.idle],
  ] as const) {
    if (r !== undefined) {
      out.push(
        `| ${name} | ${(r.pssPerConnection / 1024).toFixed(1)} | ${(r.rssPerConnection / 1024).toFixed(1)} | ` +
          `${r.before.processes} -> ${r.during.processes} | ${r.setupSeconds.toFixed(1)} | ${r.noopMs.toFixed(1)} |`,
      );
    }
  }
  out.push(
    `ratio Postern/Dovecot PSS per connection: ${ratio(p.idle?.pssPerConnection, d.idle?.pssPerConnection)}`,
  );
  out.push(
    `ratio Postern/Dovecot RSS per connection: ${ratio(p.idle?.rssPerConnection, d.idle?.rssPerConnection)}`,
  );
  for (const [name, r] of Object.entries(results)) {
    for (const e of r.errors) out.push(`${name} FAILED ${e}`);
  }
  out.push(
    `Postern users' password hashes: scrypt ${values['password-cost'] === 'default' ? 'ln=15 (default)' : 'ln=10 (light)'}; Dovecot: PLAIN.`,
  );
  process.stdout.write(out.join('\n') + '\n');
  if (values.json !== '') {
    await writeFile(values.json, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
  }
}

/** `--scenario sort`: phases (s) and (q) on the big mailbox, then their report. */
async function sortScenario(targets: readonly Target[]): Promise<void> {
  const results: Record<string, { timed: TimedFigures[]; errors: string[] }> = {};
  for (const t of targets) results[t.name] = { timed: [], errors: [] };
  const login = (t: Target): { port: number; user: string; password: string } => ({
    port: t.port,
    user: USERS.big,
    password: PASSWORD,
  });
  await runPhases(
    targets,
    [
      {
        key: 's',
        describe: `SORT and THREAD on ${MESSAGES} messages, ${ROUNDS} rounds`,
        run: async (t) => void results[t.name].timed.push(await benchSortThread(login(t), MESSAGES, ROUNDS)),
      },
      {
        key: 'q',
        describe: `QRESYNC SELECT after changes, ${ROUNDS} rounds`,
        run: async (t) => void results[t.name].timed.push(await benchQresync(login(t), MESSAGES, ROUNDS)),
      },
    ],
    { skip: SKIP, failed: (t, message) => results[t.name].errors.push(message) },
  );
  const pick = (name: string, k: string, which: 'cold' | 'warm'): number | undefined =>
    results[name]?.timed.find((f) => f[which][k] !== undefined)?.[which][k];
  const digest = (name: string, k: string): string | undefined =>
    results[name]?.timed.find((f) => f.digests[k] !== undefined)?.digests[k];
  const out: string[] = [];
  out.push(`IMAP benchmark, scenario sort, ${new Date().toISOString()}, ${describeMachine()}`);
  out.push('');
  out.push(`${MESSAGES} messages, ms (first round = cold, median of ${ROUNDS - 1} others = warm)`);
  out.push(
    '| command | Postern cold | Dovecot cold | Postern warm | Dovecot warm | warm ratio P/D | same answer |',
  );
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const k of [...SORT_COMMANDS.map((c) => c.key), QRESYNC_KEY]) {
    const dp = digest('postern', k);
    const dd = digest('dovecot', k);
    const same = dp === undefined || dd === undefined ? '-' : dp === dd ? 'yes' : 'no';
    out.push(
      `| ${k} | ${fmtMs(pick('postern', k, 'cold'))} | ${fmtMs(pick('dovecot', k, 'cold'))} | ` +
        `${fmtMs(pick('postern', k, 'warm'))} | ${fmtMs(pick('dovecot', k, 'warm'))} | ` +
        `${ratio(pick('postern', k, 'warm'), pick('dovecot', k, 'warm'))} | ${same} |`,
    );
  }
  for (const [name, r] of Object.entries(results)) for (const e of r.errors) out.push(`${name} FAILED ${e}`);
  process.stdout.write(out.join('\n') + '\n');
  if (values.json !== '') {
    await writeFile(values.json, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
  }
}

await runBench('imap-bench', main);
