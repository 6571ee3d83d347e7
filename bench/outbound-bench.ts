// Outbound benchmark (issue 12): N queued messages (default 5,000 of 5 KiB, one recipient each)
// for D recipient domains (default 50), all sent to one loopback Postfix smtp-sink, by
//   (a) Postern: the real `postern serve` (a separate process) with its default [outbound]
//       settings (concurrency 100, 20 per domain), the messages queued before it starts
//       (store.append with an outbound envelope, as an accepted submission is queued; by
//       default with no submitting account: sent as forwarded mail is, without DKIM
//       signatures, as Postfix sends them here; with --signed, as submitted by a local user,
//       so each is DKIM-signed with the domain's ed25519 and rsa-2048 keys); the domains' MX
//       records come from a loopback DNS server (every domain: MX mx.sink.test, A 127.0.0.1)
//       and [outbound] port points at the sink;
//   (b) Debian's Postfix: a private instance (own config and queue under a temp dir) with its
//       defaults (default_process_limit 100, default_destination_concurrency_limit 20). Postfix
//       cannot use our test DNS server, so transport_maps routes the D domains to
//       smtp:[127.0.0.1]:PORT: Postfix skips DNS. Its queue is filled first: the same messages
//       are submitted over SMTP to its smtpd, which puts them on hold (check_recipient_access
//       static:HOLD); then `postsuper -H ALL` and `postqueue -f` release and flush them.
// The time runs, for both, from the first message the sink accepts to the N-th (read from
// smtp-sink's -c counters); then the queue is checked empty (Postern: stopped, its store opened
// and counted; Postfix: its queue directories). Figures: messages/s, and Postern's event-loop
// lag during the run (GET /healthz/stats on its http listener, the window reset at the first
// accepted message). Every wait is bounded; everything listens on 127.0.0.1 and is stopped at
// the end, also on failure or Ctrl-C. Needs root (Postfix's master; smtp-sink -u) and the
// Debian package postfix. Usage (see bench/outbound-bench.sh):
//   node BUILD/bench/outbound-bench.js [--messages N] [--domains N] [--size BYTES]
//        [--only postern|postfix] [--signed] [--log-level L] [--json FILE] [--timeout S] [--keep]

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../src/app/open-store.js';
import { loadConfig } from '../src/config/load.js';
import { messageBlobOptions } from '../src/delivery/local.js';
import type { HealthStats } from '../src/server/http.js';
import { startDnsServer, type DnsTestRecords } from '../test/helpers/dns-server.js';
import { preparePostern, startPostern, type PosternProcess } from '../test/system/postern-process.js';
import { describeMachine, log, onCleanup, runBench, sleep } from './bench-process.js';
import { freePort, startPostfix, waitForPort, writePostfixConfig } from './postfix-instance.js';
import { fmtMs, ratio } from './sample-stats.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    domains: { type: 'string', default: '50' },
    size: { type: 'string', default: '5120' },
    only: { type: 'string', default: '' },
    'log-level': { type: 'string', default: 'info' },
    json: { type: 'string', default: '' },
    timeout: { type: 'string', default: '600' },
    keep: { type: 'boolean', default: false },
    signed: { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(values.messages);
const DOMAINS = Math.max(1, Number(values.domains));
const SIZE = Number(values.size);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const FROM = 'bench@example.test';
/** Sessions that fill Postfix's queue over SMTP. */
const FILL_SESSIONS = 10;

const recipientOf = (i: number): string => `user${i}@d${i % DOMAINS}.remote.test`;
const domainNames = (): string[] => Array.from({ length: DOMAINS }, (_, d) => `d${d}.remote.test`);

/** Message i: headers, then lines of text up to SIZE bytes (CRLF, no line starts with "."). */
function benchMessage(i: number): Buffer {
  const head =
    `From: <${FROM}>\r\nTo: <${recipientOf(i)}>\r\nSubject: outbound bench ${i}\r\n` +
    `Message-ID: <outbound-bench-${i}@example.test>\r\nDate: Mon, 07 Dec 2026 03:00:00 +0000\r\n\r\n`;
  const line = `Message ${i}: the quick brown fox jumps over the lazy dog, again and again.\r\n`;
  let body = '';
  while (head.length + body.length + line.length <= SIZE) body += line;
  return Buffer.from(head + body, 'latin1');
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  if (!values.keep) onCleanup(`rm ${dir}`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------- the sink

interface Sink {
  port: number;
  /** Messages accepted so far (smtp-sink's "mesg" counter). */
  messages(): number;
  /** performance.now() of the first accepted message, or null. */
  firstAt(): number | null;
  /** Resolves with performance.now() when `n` messages were accepted. */
  reached(n: number): Promise<number>;
  /** Called once, at the first accepted message. */
  onFirst: (() => void) | null;
}

/** Postfix's smtp-sink on a free loopback port, its counters (-c) read from its stdout. */
async function startSink(): Promise<Sink> {
  const port = await freePort();
  const child: ChildProcess = spawn('smtp-sink', ['-c', '-u', 'nobody', `127.0.0.1:${port}`, '1000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  onCleanup('smtp-sink', async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  });
  let count = 0;
  let first: number | null = null;
  let tail = '';
  const waiters: Array<{ n: number; resolve: (at: number) => void }> = [];
  const sink: Sink = {
    port,
    messages: () => count,
    firstAt: () => first,
    reached: (n) =>
      count >= n
        ? Promise.resolve(performance.now())
        : new Promise((resolve) => waiters.push({ n, resolve })),
    onFirst: null,
  };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => process.stderr.write(`smtp-sink: ${s}`));
  child.stdout!.setEncoding('latin1');
  child.stdout!.on('data', (s: string) => {
    const now = performance.now();
    tail = (tail + s).slice(-200);
    // "sess=N quit=N mesg=N\r" after each session end, QUIT and final dot.
    const all = [...tail.matchAll(/mesg=(\d+)\r/g)];
    const last = all[all.length - 1];
    if (last === undefined) return;
    const n = Number(last[1]);
    if (n <= count) return;
    count = n;
    if (first === null) {
      first = now;
      sink.onFirst?.();
    }
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (count >= waiters[i]!.n) waiters.splice(i, 1)[0]!.resolve(now);
    }
  });
  await waitForPort(port, 10_000);
  return sink;
}

/** Waits for the sink to count `n` messages, within the timeout. */
async function sinkReached(sink: Sink, n: number, what: string): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: the sink has ${sink.messages()} of ${n} messages after the timeout`)),
      TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([sink.reached(n), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- (a) Postern

interface Figure {
  seconds: number;
  rate: number;
  detail: string;
  lag?: { p50Ms: number; p99Ms: number; maxMs: number; samples: number };
}

async function posternStats(port: number, reset: boolean): Promise<HealthStats> {
  const p = reset ? '/healthz/stats/reset' : '/healthz/stats';
  const res = await fetch(`http://127.0.0.1:${port}${p}`, { method: reset ? 'POST' : 'GET' });
  if (res.status !== 200) throw new Error(`${p}: HTTP ${res.status}`);
  return (await res.json()) as HealthStats;
}

async function benchPostern(): Promise<Figure> {
  const sink = await startSink();
  const records: DnsTestRecords = { 'mx.sink.test': { A: ['127.0.0.1'] } };
  for (const d of domainNames()) records[d] = { MX: [{ exchange: 'mx.sink.test', priority: 10 }] };
  const dns = await startDnsServer(records);
  onCleanup('DNS server', () => dns.close());
  const dir = await tempDir('postern-bench-outbound-');
  const configFile = await preparePostern({
    dir,
    dnsAddress: dns.address,
    domains: ['example.test'],
    users: values.signed ? [{ address: FROM, password: 'bench-secret-1' }] : [],
    logLevel: values['log-level'],
    extraToml: `[outbound]\nport = ${sink.port}\n`,
  });
  // The http listener, for GET /healthz/stats.
  const toml = await readFile(configFile, 'utf8');
  await writeFile(configFile, toml.replace(/^http = ""$/m, 'http = "127.0.0.1:0"'));

  log(`Postern: queueing ${MESSAGES} messages`);
  const queueStarted = performance.now();
  {
    const config = await loadConfig(configFile);
    const { store, blobs } = await openStore(config);
    try {
      const opts = messageBlobOptions(config.limits);
      // With --signed, queued as the local user's submission: the worker DKIM-signs it.
      const accountId = values.signed ? ((await store.getAccount(FROM))?.id ?? null) : null;
      if (values.signed && accountId === null) throw new Error(`Postern: no account ${FROM}`);
      const one = async (i: number): Promise<void> => {
        const blob = await blobs.write(benchMessage(i), opts);
        await store.append({
          blob,
          targets: [],
          outbound: {
            mailFrom: FROM,
            recipients: [{ address: recipientOf(i), notify: null, orcpt: null }],
            envid: null,
            ret: null,
            body: '7BIT',
            smtputf8: false,
            accountId,
          },
        });
      };
      for (let start = 0; start < MESSAGES; start += 100) {
        await Promise.all(Array.from({ length: Math.min(100, MESSAGES - start) }, (_, k) => one(start + k)));
      }
      const queued = await store.countOutbound();
      if (queued !== MESSAGES) throw new Error(`Postern: ${queued} of ${MESSAGES} messages queued`);
    } finally {
      await store.close();
    }
  }
  log(
    `Postern: queued in ${((performance.now() - queueStarted) / 1000).toFixed(1)} s; starting postern serve`,
  );

  let server: PosternProcess | null = null;
  onCleanup('postern', async () => server?.stop());
  let httpPort = 0;
  let reset: Promise<unknown> = Promise.resolve();
  sink.onFirst = () => {
    // The lag window starts with the sending (not with the process's start-up).
    if (httpPort !== 0) reset = posternStats(httpPort, true);
  };
  server = await startPostern(configFile, { listeners: ['smtp', 'submission', 'http'] });
  httpPort = server.listeners.get('http') ?? 0;
  if (sink.firstAt() !== null) reset = posternStats(httpPort, true);
  const doneAt = await sinkReached(sink, MESSAGES, 'Postern');
  await reset;
  const stats = await posternStats(httpPort, false);
  const ms = doneAt - sink.firstAt()!;
  await server.stop(30_000);
  const exit = await server.exited;
  server = null;
  const { store } = await openStore(await loadConfig(configFile));
  let left: number;
  try {
    left = await store.countOutbound();
  } finally {
    await store.close();
  }
  if (left !== 0) throw new Error(`Postern: ${left} messages still queued after the sink got ${MESSAGES}`);
  await sleep(200);
  if (sink.messages() !== MESSAGES) throw new Error(`Postern: the sink got ${sink.messages()} messages`);
  const lag = stats.eventLoopDelay;
  return {
    seconds: ms / 1000,
    rate: MESSAGES / (ms / 1000),
    detail:
      `queue empty after a clean stop (exit ${exit}); [outbound] defaults; log level ${values['log-level']}; ` +
      (values.signed ? 'DKIM-signed (ed25519 and rsa-2048)' : 'not DKIM-signed'),
    lag: { p50Ms: lag.p50Ms, p99Ms: lag.p99Ms, maxMs: lag.maxMs, samples: lag.samples },
  };
}

// ---------------------------------------------------------------- (b) Postfix

/** The instance: everything it is given goes to the sink, and waits on hold until released. */
async function postfixConfig(dir: string, smtpdPort: number, sinkPort: number): Promise<string> {
  return writePostfixConfig({
    dir,
    smtpdPort,
    mainCf: [
      // No DNS: every domain goes to the sink by transport_maps.
      `transport_maps = texthash:${path.join(dir, 'postfix', 'etc')}/transport`,
      // Everything submitted waits on hold until the timed run releases it.
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      'smtpd_recipient_restrictions = check_recipient_access static:HOLD, permit_mynetworks, reject',
    ],
    tables: {
      transport: domainNames()
        .map((d) => `${d} smtp:[127.0.0.1]:${sinkPort}\n`)
        .join(''),
    },
  });
}

async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).length;
  } catch {
    return 0;
  }
}

/** Reads whole SMTP replies (a multi-line reply as its last line's code). */
class Replies {
  private buffer = '';
  private codes: number[] = [];
  private waiter: ((code: number) => void) | null = null;
  private closed = false;
  constructor(socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => {
      this.buffer += s;
      for (let i = this.buffer.indexOf('\r\n'); i >= 0; i = this.buffer.indexOf('\r\n')) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        if (line[3] === '-') continue;
        this.push(Number(line.slice(0, 3)));
      }
    });
    socket.on('close', () => {
      this.closed = true;
      this.push(0);
    });
  }
  private push(code: number): void {
    const w = this.waiter;
    this.waiter = null;
    if (w !== null) w(code);
    else this.codes.push(code);
  }
  next(): Promise<number> {
    const code = this.codes.shift();
    if (code !== undefined) return Promise.resolve(code);
    if (this.closed) return Promise.resolve(0);
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

/** Submits the messages over SMTP (FILL_SESSIONS sessions, one transaction at a time each). */
async function submitAll(port: number): Promise<void> {
  let nextIndex = 0;
  const session = async (): Promise<void> => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const replies = new Replies(socket);
    const expect = async (want: number, what: string): Promise<void> => {
      const code = await replies.next();
      if (code !== want) throw new Error(`Postfix smtpd: ${what}: ${code}, expected ${want}`);
    };
    await expect(220, 'greeting');
    socket.write('EHLO bench.example.test\r\n');
    await expect(250, 'EHLO');
    for (let i = nextIndex++; i < MESSAGES; i = nextIndex++) {
      socket.write(`MAIL FROM:<${FROM}>\r\n`);
      await expect(250, 'MAIL');
      socket.write(`RCPT TO:<${recipientOf(i)}>\r\n`);
      await expect(250, 'RCPT');
      socket.write('DATA\r\n');
      await expect(354, 'DATA');
      socket.write(benchMessage(i));
      socket.write('.\r\n');
      await expect(250, 'end of data');
    }
    socket.write('QUIT\r\n');
    await replies.next();
    socket.destroy();
  };
  await Promise.all(Array.from({ length: FILL_SESSIONS }, () => session()));
}

async function benchPostfix(): Promise<Figure> {
  if (process.getuid?.() !== 0) throw new Error('the private Postfix instance needs root');
  const sink = await startSink();
  const dir = await tempDir('postern-bench-postfix-');
  await chmod(dir, 0o755);
  const smtpdPort = await freePort();
  const etc = await postfixConfig(dir, smtpdPort, sink.port);
  const postfix = (...args: string[]): string => {
    const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  await startPostfix(etc, smtpdPort);

  const queue = path.join(dir, 'postfix', 'queue');
  const inQueue = async (dirs: string[]): Promise<number> =>
    (await Promise.all(dirs.map((d) => countFiles(path.join(queue, d))))).reduce((a, b) => a + b, 0);
  const ALL = ['maildrop', 'incoming', 'active', 'deferred', 'hold'];

  log(`Postfix: submitting ${MESSAGES} messages over SMTP (put on hold)`);
  const fillStarted = performance.now();
  await submitAll(smtpdPort);
  const deadline = Date.now() + TIMEOUT_MS;
  while ((await inQueue(['hold'])) < MESSAGES || (await inQueue(['maildrop', 'incoming', 'active'])) > 0) {
    if (Date.now() > deadline)
      throw new Error(`Postfix: ${await inQueue(['hold'])} messages on hold after the timeout`);
    await sleep(100);
  }
  if (sink.messages() !== 0) throw new Error('Postfix sent messages before the release');
  log(
    `Postfix: ${MESSAGES} on hold after ${((performance.now() - fillStarted) / 1000).toFixed(1)} s; releasing`,
  );

  postfix('postsuper', '-c', etc, '-H', 'ALL');
  postfix('postqueue', '-c', etc, '-f');
  const doneAt = await sinkReached(sink, MESSAGES, 'Postfix');
  const ms = doneAt - sink.firstAt()!;
  let left = await inQueue(ALL);
  while (left > 0) {
    if (Date.now() > deadline) throw new Error(`Postfix: ${left} messages still queued after the timeout`);
    await sleep(50);
    left = await inQueue(ALL);
  }
  const emptyMs = performance.now() - sink.firstAt()!;
  await sleep(200);
  if (sink.messages() !== MESSAGES) throw new Error(`Postfix: the sink got ${sink.messages()} messages`);
  return {
    seconds: ms / 1000,
    rate: MESSAGES / (ms / 1000),
    detail:
      `transport_maps to smtp:[127.0.0.1] (Postfix skips DNS); queue directories empty ` +
      `${(emptyMs / 1000).toFixed(2)} s after the first acceptance; Postfix defaults`,
  };
}

// ---------------------------------------------------------------- report

async function main(): Promise<void> {
  const header =
    `Outbound: ${MESSAGES} queued messages of ${SIZE} bytes to ${DOMAINS} recipient domains, ` +
    'one loopback smtp-sink; timed from the first message the sink accepted to the last';
  process.stdout.write(`${header}\n${new Date().toISOString()}, ${describeMachine()}\n\n`);
  const results: Record<string, Figure | { error: string }> = {};
  const run = async (name: string, f: () => Promise<Figure>): Promise<void> => {
    log(`${name}: start`);
    try {
      results[name] = await f();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      results[name] = { error: message };
      log(`${name}: FAILED ${message}`);
    }
  };
  if (values.only !== 'postfix') await run('Postern', benchPostern);
  if (values.only !== 'postern') await run('Postfix', benchPostfix);

  const out = ['| server | messages/s | seconds | detail |', '| --- | ---: | ---: | --- |'];
  for (const [name, r] of Object.entries(results)) {
    if ('error' in r) out.push(`| ${name} | - | - | FAILED: ${r.error} |`);
    else out.push(`| ${name} | ${r.rate.toFixed(0)} | ${r.seconds.toFixed(2)} | ${r.detail} |`);
  }
  const p = results.Postern;
  const f = results.Postfix;
  if (p !== undefined && f !== undefined && !('error' in p) && !('error' in f)) {
    out.push('', `ratio Postern / Postfix: ${ratio(p.rate, f.rate)}`);
  }
  if (p !== undefined && !('error' in p) && p.lag !== undefined) {
    out.push(
      '',
      `Postern event-loop lag while sending: p50 ${fmtMs(p.lag.p50Ms)} ms, p99 ${fmtMs(p.lag.p99Ms)} ms, ` +
        `max ${fmtMs(p.lag.maxMs)} ms (${p.lag.samples} samples; GET /healthz/stats, window reset at the ` +
        'first accepted message)',
    );
  }
  out.push('', `load average at the end: ${os.loadavg()[0].toFixed(1)}`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (values.json !== '') {
    await writeFile(
      values.json,
      JSON.stringify(
        { date: new Date().toISOString(), messages: MESSAGES, domains: DOMAINS, size: SIZE, results },
        null,
        2,
      ),
    );
  }
  if (Object.values(results).some((r) => 'error' in r)) process.exitCode = 1;
}

await runBench('outbound bench', main);
