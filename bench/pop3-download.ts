// POP3 download benchmark (issue 5): N concurrent clients (default 20), each logging in as its
// own user and downloading a mailbox of M messages (default 1,000): USER/PASS, STAT, RETR of
// every message one at a time (as fetchmail and getmail do), QUIT without DELE. In one run,
// against
//   (a) Postern: the real `postern serve` from a temp config (pop3 on 127.0.0.1), its users'
//       INBOXes filled through src/delivery/local.ts before it starts;
//   (b) Debian's Dovecot: a private instance (test/helpers/dovecot.ts: passwd-file users,
//       Maildir) whose INBOX Maildirs are filled directly with the same bytes.
// Every message received is un-stuffed and compared byte for byte with what was put in.
// The clients log in, then wait for each other at a start line, then download together: the
// download phase is measured from the start line, without logins in it (logins overlapping
// the downloads ate the cores the downloads were timed on). Whole sessions, logins included,
// are measured too ("with logins"). Postern's users get scrypt with ln=10 (the IMAP benchmark's
// light cost; `postern user add` uses ln=15, ~0.1-0.5 s of CPU a login), Dovecot's a plaintext
// passwd-file.
// Each server first gets one untimed UIDL pass per user (Dovecot builds its index on first
// access; Postern's is built at delivery). Prints messages/s of each (over the download phase
// from the first RETR to the last message, and over whole sessions including login) and the
// ratio. Everything listens on 127.0.0.1; every wait is bounded; both servers are stopped and
// the temp dirs removed at the end. Needs root (Dovecot's mail processes run as nobody) and the
// Debian packages dovecot-core and dovecot-pop3d. Usage (see bench/pop3-bench.sh):
//   node dist/bench/pop3-download.js [--clients N] [--messages M] [--workers N]
//        [--rounds N] [--only postern|dovecot] [--keep] [--attach PORT [--attach-pid PID]]

import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { deliverLocal } from '../src/delivery/local.js';
import { openStore } from '../src/app/open-store.js';
import { descendants, freeLoopbackPort, startDovecot } from '../test/helpers/dovecot.js';
import { lightHash } from '../test/helpers/postern-imap.js';
import { readFile } from 'node:fs/promises';
import { cleanUp, describeMachine, onCleanup, runBench } from './bench-process.js';
import { startPostern } from '../test/system/postern-process.js';
import { prng } from '../test/helpers/prng.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '20' },
    messages: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '1' },
    only: { type: 'string', default: '' },
    keep: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '600' },
    rounds: { type: 'string', default: '2' },
    attach: { type: 'string', default: '' },
    'attach-pid': { type: 'string', default: '' },
  },
});
const CLIENTS = Number(values.clients);
const MESSAGES = Number(values.messages);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const ROUNDS = Number(values.rounds);

// ---------------------------------------------------------------- the mailboxes

/** Body sizes like a real mailbox: mostly 2-8 KB, some 10-60 KB, a few 100-300 KB. */
function bodySize(rand: () => number): number {
  const r = rand();
  if (r < 0.75) return 2000 + Math.floor(rand() * 6000);
  if (r < 0.97) return 10_000 + Math.floor(rand() * 50_000);
  return 100_000 + Math.floor(rand() * 200_000);
}

/** Message `i` of `user`: unique bytes (no blob is shared between users), CRLF, some dot lines. */
function message(user: string, i: number, rand: () => number): Buffer {
  const head =
    `Return-Path: <sender${i % 50}@example.org>\r\n` +
    `From: Sender ${i % 50} <sender${i % 50}@example.org>\r\n` +
    `To: ${user}\r\n` +
    `Subject: benchmark message ${i} for ${user}\r\n` +
    `Message-ID: <${i}.${user}@bench.example>\r\n` +
    'Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n' +
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n';
  const size = bodySize(rand);
  const lines: string[] = [];
  let n = 0;
  for (let l = 0; n < size; l++) {
    const line =
      l % 17 === 5
        ? `.${'-'.repeat(20)} quoted ${l}`
        : `${l} lorem ipsum dolor sit amet ${'x'.repeat(30 + (l % 40))}`;
    lines.push(line);
    n += line.length + 2;
  }
  return Buffer.from(head + lines.join('\r\n') + '\r\n', 'latin1');
}

interface User {
  address: string;
  password: string;
  messages: Buffer[];
}

function makeUsers(): User[] {
  const rand = prng(5);
  return Array.from({ length: CLIENTS }, (_, u) => {
    const address = `user${u}@example.test`;
    return {
      address,
      password: `secret-${u}-${createHash('sha256').update(String(u)).digest('hex').slice(0, 8)}`,
      messages: Array.from({ length: MESSAGES }, (_, i) => message(address, i + 1, rand)),
    };
  });
}

// ---------------------------------------------------------------- the client

interface ClientResult {
  messages: number;
  bytes: number;
  sessionStart: number;
  downloadStart: number;
  end: number;
}

/** One POP3 client: reads lines and multi-line bodies from a socket, in order. */
class Pop3BenchClient {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter: (() => void) | null = null;
  private ended = false;

  constructor(private readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.buffered += c.length;
      this.wakeUp();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wakeUp();
    });
    socket.on('error', () => undefined);
  }

  private wakeUp(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private take(n: number): Buffer {
    const all = this.joined();
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  private async more(): Promise<void> {
    if (this.ended) throw new Error('connection closed');
    await new Promise<void>((resolve) => (this.waiter = resolve));
  }

  async line(): Promise<string> {
    for (let from = 0; ;) {
      const all = this.joined();
      const lf = all.indexOf(0x0a, from);
      if (lf >= 0)
        return this.take(lf + 1)
          .toString('latin1')
          .trimEnd();
      from = Math.max(0, all.length - 1);
      await this.more();
    }
  }

  /** A multi-line body up to ".CRLF", un-stuffed (RFC 1939 §3). */
  async body(): Promise<Buffer> {
    const END = Buffer.from('\r\n.\r\n');
    for (let from = 0; ;) {
      const all = this.joined();
      if (all.length >= 3 && all[0] === 0x2e && all[1] === 0x0d && all[2] === 0x0a) {
        this.take(3);
        return Buffer.alloc(0);
      }
      const end = all.indexOf(END, from);
      if (end >= 0) return unstuff(this.take(end + 5).subarray(0, end + 2));
      from = Math.max(0, all.length - 4);
      await this.more();
    }
  }

  async command(text: string): Promise<string> {
    this.socket.write(`${text}\r\n`);
    const reply = await this.line();
    if (!reply.startsWith('+OK')) throw new Error(`${text.split(' ')[0]}: ${reply}`);
    return reply;
  }
}

function unstuff(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  let pos = data[0] === 0x2e ? 1 : 0;
  if (pos === 1) start = 1;
  for (;;) {
    const i = data.indexOf('\r\n.', pos);
    if (i < 0) break;
    parts.push(data.subarray(start, i + 2));
    start = i + 3;
    pos = i + 3;
  }
  parts.push(data.subarray(start));
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** Where the clients wait for each other after login; the download phase starts when all are there. */
class StartLine {
  private arrived = 0;
  private open!: () => void;
  private failed!: (err: unknown) => void;
  private readonly gate = new Promise<void>((resolve, reject) => {
    this.open = resolve;
    this.failed = reject;
  });

  /** `onAll` runs (once) when the last client arrives, before any client is released. */
  constructor(
    private readonly clients: number,
    private readonly onAll: () => Promise<void>,
  ) {
    this.gate.catch(() => undefined);
  }

  arrive(): Promise<void> {
    if (++this.arrived === this.clients) this.onAll().then(this.open, this.failed);
    return this.gate;
  }

  /** A client failed before arriving: nobody waits for it. */
  fail(err: unknown): void {
    this.failed(err);
  }
}

async function download(port: number, user: User, startLine: StartLine): Promise<ClientResult> {
  const sessionStart = performance.now();
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  const client = new Pop3BenchClient(socket);
  try {
    const greeting = await client.line();
    if (!greeting.startsWith('+OK')) throw new Error(`greeting: ${greeting}`);
    await client.command(`USER ${user.address}`);
    await client.command(`PASS ${user.password}`);
    const stat = (await client.command('STAT')).split(' ');
    const count = Number(stat[1]);
    if (count !== user.messages.length) throw new Error(`${user.address}: STAT says ${count} messages`);
    await startLine.arrive();
    const downloadStart = performance.now();
    let bytes = 0;
    for (let i = 1; i <= count; i++) {
      await client.command(`RETR ${i}`);
      const body = await client.body();
      if (!body.equals(user.messages[i - 1]))
        throw new Error(
          `${user.address}: message ${i} differs: ${body.length} vs ${user.messages[i - 1].length} ${JSON.stringify(body.subarray(0, 80).toString())}`,
        );
      bytes += body.length;
    }
    const end = performance.now();
    await client.command('QUIT');
    return { messages: count, bytes, sessionStart, downloadStart, end };
  } finally {
    socket.destroy();
  }
}

/** UIDL once per user, untimed (Dovecot indexes a Maildir on first access). */
async function warmUp(port: number, user: User): Promise<void> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  const client = new Pop3BenchClient(socket);
  try {
    await client.line();
    await client.command(`USER ${user.address}`);
    await client.command(`PASS ${user.password}`);
    await client.command('UIDL');
    await client.body();
    await client.command('QUIT');
  } finally {
    socket.destroy();
  }
}

interface Figures {
  /**
   * CPU time of the server's processes (and the children they reaped) per message over the
   * download phase (from the start line to the last QUIT), ms.
   */
  cpuMsPerMessage: number;
  /** The same over whole sessions, logins included. */
  sessionCpuMsPerMessage: number;
  rate: number;
  sessionRate: number;
  seconds: number;
  megabytes: number;
}

/** User + system CPU seconds of a process tree, counting reaped children (Linux /proc). */
async function treeCpuSeconds(rootPid: number): Promise<number> {
  let ticks = 0;
  for (const pid of await descendants(rootPid)) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14-17 (utime stime cutime cstime) are 11-14 after the state field.
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // ended meanwhile: its time went to its parent's cutime/cstime
    }
  }
  return ticks / 100; // USER_HZ
}

async function measure(name: string, port: number, users: User[], pid: number): Promise<Figures> {
  const cpuBefore = await treeCpuSeconds(pid);
  const timer = setTimeout(() => {
    process.stderr.write(`${name}: no result within ${TIMEOUT_MS / 1000} s\n`);
    void cleanUp().finally(() => process.exit(2));
  }, TIMEOUT_MS);
  try {
    let cpuAtStart = NaN;
    const startLine = new StartLine(users.length, async () => {
      cpuAtStart = await treeCpuSeconds(pid);
    });
    const results = await Promise.all(
      users.map((u) =>
        download(port, u, startLine).catch((err: unknown) => {
          startLine.fail(err);
          throw err;
        }),
      ),
    );
    const messages = results.reduce((n, r) => n + r.messages, 0);
    const bytes = results.reduce((n, r) => n + r.bytes, 0);
    const first = Math.min(...results.map((r) => r.downloadStart));
    const firstSession = Math.min(...results.map((r) => r.sessionStart));
    const last = Math.max(...results.map((r) => r.end));
    const seconds = (last - first) / 1000;
    const cpuAtEnd = await treeCpuSeconds(pid);
    return {
      cpuMsPerMessage: ((cpuAtEnd - cpuAtStart) * 1000) / messages,
      sessionCpuMsPerMessage: ((cpuAtEnd - cpuBefore) * 1000) / messages,
      rate: messages / seconds,
      sessionRate: messages / ((last - firstSession) / 1000),
      seconds,
      megabytes: bytes / 1e6,
    };
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- the servers

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  if (!values.keep) onCleanup(`rm ${dir}`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Running {
  name: string;
  port: number;
  /** Root of the server's process tree. */
  pid: number;
  stop(): Promise<void>;
}

async function startPosternServer(users: User[]): Promise<Running> {
  const dir = await tempDir('postern-pop3-bench-');
  const pop3Port = await freeLoopbackPort();
  const configFile = path.join(dir, 'postern.toml');
  await writeFile(
    configFile,
    [
      'hostname = "mail.example.test"',
      'data_dir = "data"',
      '[listen]',
      'smtp = "127.0.0.1:0"',
      'submission = "127.0.0.1:0"',
      'submissions = ""',
      'imap = ""',
      'imaps = ""',
      `pop3 = "127.0.0.1:${pop3Port}"`,
      'pop3s = ""',
      'http = ""',
      '[server]',
      'shutdown_grace = 2',
      `workers = ${Number(values.workers)}`,
      '[dns]',
      'servers = ["127.0.0.1:9"]',
      '[log]',
      'level = "warn"',
      '[limits]',
      `connections_per_ip = ${CLIENTS + 50}`,
      '',
    ].join('\n'),
  );
  await mkdir(path.join(dir, 'data'), { recursive: true });
  const config = await loadConfig(configFile);
  const { store, blobs } = await openStore(config);
  try {
    await store.createDomain('example.test');
    // One user's messages in order (UIDs follow message numbers); the users in parallel, so
    // their appends share group commits.
    await Promise.all(
      users.map(async (u) => {
        const account = await store.createAccount({
          address: u.address,
          passwordHash: await lightHash(u.password),
        });
        const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
        for (const m of u.messages) {
          await deliverLocal({
            store,
            blobs,
            limits: config.limits,
            source: m,
            targets: [{ mailboxId: inbox.id }],
          });
        }
      }),
    );
  } finally {
    await store.close();
  }
  const server = await startPostern(configFile);
  onCleanup('stop postern', () => server.stop());
  return { name: 'postern', port: pop3Port, pid: server.pid, stop: () => server.stop() };
}

async function startDovecotServer(users: User[]): Promise<Running> {
  const dovecot = await startDovecot({
    users: users.map((u) => ({ user: u.address, password: u.password })),
    imap: false,
    pop3: true,
    serviceLimits: { connections: CLIENTS + 10 },
    authPenalty: false,
    keep: values.keep,
  });
  onCleanup('stop dovecot', () => dovecot.stop());
  for (const u of users) {
    const cur = path.join(dovecot.maildir(u.address), 'cur');
    // Maildir names sort in delivery order; ":2," = no flags yet (RETR sets S like Postern's \Seen).
    for (let i = 0; i < u.messages.length; i++) {
      await writeFile(path.join(cur, `${1_700_000_000 + i}.M${i}P1.bench:2,`), u.messages[i]);
    }
    await dovecot.ownMail(u.address);
  }
  return { name: 'dovecot', port: dovecot.pop3Port, pid: dovecot.pid, stop: () => dovecot.stop() };
}

function show(name: string, f: Figures): void {
  process.stdout.write(
    `${name.padEnd(13)} ${f.rate.toFixed(0).padStart(7)} msg/s download (${f.seconds.toFixed(2)} s, ${(f.megabytes / f.seconds).toFixed(1)} MB/s), ` +
      `${f.sessionRate.toFixed(0)} msg/s with logins, ${f.cpuMsPerMessage.toFixed(3)} ms server CPU/msg ` +
      `(${f.sessionCpuMsPerMessage.toFixed(3)} with logins)\n`,
  );
}

async function main(): Promise<void> {
  process.stdout.write(
    `POP3 download: ${CLIENTS} clients x ${MESSAGES} messages, RETR one at a time, no DELE\n`,
  );
  process.stdout.write(`${describeMachine()}\n`);
  const users = makeUsers();
  const total = users.reduce((n, u) => n + u.messages.reduce((m, b) => m + b.length, 0), 0);
  process.stdout.write(`mailboxes: ${(total / 1e6).toFixed(1)} MB in ${CLIENTS * MESSAGES} messages\n`);
  const servers: Running[] = [];
  if (values.attach !== '') {
    // A server already running with these users (e.g. a kept Postern under a profiler).
    servers.push({
      name: 'attached',
      port: Number(values.attach),
      // CPU figures are the attached server's when its process id is given, else our own.
      pid: values['attach-pid'] === '' ? process.pid : Number(values['attach-pid']),
      stop: async () => undefined,
    });
  } else if (values.only !== 'dovecot') servers.push(await startPosternServer(users));
  if (values.only !== 'postern' && values.attach === '') servers.push(await startDovecotServer(users));
  for (const server of servers) for (const u of users) await warmUp(server.port, u);
  // Rounds alternate between the servers, so that a change in the machine's load between two
  // measurements hits both; the best round of each is compared.
  const best = new Map<string, Figures>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const server of servers) {
      const f = await measure(server.name, server.port, users, server.pid);
      show(`${server.name} #${round}`, f);
      const prev = best.get(server.name);
      if (prev === undefined || f.rate > prev.rate) best.set(server.name, f);
    }
  }
  for (const server of servers) await server.stop();
  for (const [name, f] of best) show(`best ${name}`, f);
  const postern = best.get('postern');
  const dovecot = best.get('dovecot');
  if (postern !== undefined && dovecot !== undefined) {
    process.stdout.write(`ratio Postern / Dovecot: ${(postern.rate / dovecot.rate).toFixed(2)} (download), `);
    process.stdout.write(`${(postern.sessionRate / dovecot.sessionRate).toFixed(2)} (with logins)\n`);
  }
  process.stdout.write(`load average at the end: ${os.loadavg()[0].toFixed(1)}\n`);
}

await runBench('pop3 bench', main);
