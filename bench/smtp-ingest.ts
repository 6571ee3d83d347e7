// SMTP ingest benchmark (issue 3): Postfix's smtp-source sends the same burst (default 10,000
// messages of 4 KiB over 20 sessions, one recipient each) to
//   (a) Postern: the real `postern serve` from a temp config, delivering into a local user's
//       INBOX; a 250 is only sent once the message is durably stored, so the time is the time
//       smtp-source takes, then the store is opened and counted to prove it;
//   (b) Debian's Postfix (private instance, own config and queue under a temp dir) delivering
//       through LMTP into Debian's Dovecot (private instance, passwd-file user, Maildir, fsync
//       defaults): the time runs until the queue is empty and all messages are in the Maildir.
// Prints both rates and their ratio. Everything listens on 127.0.0.1; every wait is bounded;
// Postfix, Dovecot and Postern are stopped and the temp dirs removed at the end, also on
// failure or Ctrl-C. Needs root (Postfix's master) and the Debian packages postfix,
// dovecot-core, dovecot-lmtpd. Usage (see bench/smtp-bench.sh):
//   node dist/bench/smtp-ingest.js [--messages N] [--sessions N] [--size BYTES]
//        [--only postern|reference] [--workers N] [--keep]

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { openStore } from '../src/app/open-store.js';
import { onCleanup, runBench, sleep } from './bench-process.js';
import { freePort, startPostfix, waitForPort, writePostfixConfig } from './postfix-instance.js';
import { startDnsServer } from '../test/helpers/dns-server.js';
import { preparePostern, startPostern, type PosternProcess } from '../test/system/postern-process.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    sessions: { type: 'string', default: '20' },
    size: { type: 'string', default: '4096' },
    only: { type: 'string', default: '' },
    workers: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '900' },
  },
});
const MESSAGES = Number(values.messages);
const SESSIONS = Number(values.sessions);
const SIZE = Number(values.size);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const FROM = 'bench@x.test';
const TO = 'user@example.test';

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  if (!values.keep) {
    onCleanup(`rm ${dir}`, () => rm(dir, { recursive: true, force: true }));
  }
  return dir;
}

function need(command: string): void {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} not found: install the Debian packages (see .ci/run)`);
}

/** Runs smtp-source with the benchmark's parameters; resolves with the elapsed milliseconds. */
async function smtpSource(port: number): Promise<number> {
  const args = ['-s', String(SESSIONS), '-l', String(SIZE), '-m', String(MESSAGES)];
  args.push('-f', FROM, '-t', TO, `127.0.0.1:${port}`);
  const started = performance.now();
  const child = spawn('smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
  const code = await new Promise<number | string>((resolve) => {
    child.once('exit', (c, sig) => resolve(c ?? sig ?? 'unknown'));
  });
  clearTimeout(timer);
  const elapsed = performance.now() - started;
  if (code !== 0) throw new Error(`smtp-source exited with ${code}: ${stderr}`);
  if (stderr.trim() !== '') process.stderr.write(`smtp-source said: ${stderr}\n`);
  return elapsed;
}

interface Figure {
  seconds: number;
  rate: number;
  detail: string;
}

async function benchPostern(): Promise<Figure> {
  const dir = await tempDir('postern-bench-smtp-');
  const dns = await startDnsServer({ 'x.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } });
  onCleanup('DNS server', () => dns.close());
  const configFile = await preparePostern({
    dir,
    dnsAddress: dns.address,
    domains: ['example.test'],
    users: [{ address: TO, password: 'bench-secret-1' }],
    workers: Number(values.workers),
    logLevel: 'warn',
  });
  let server: PosternProcess | null = await startPostern(configFile);
  onCleanup('postern', async () => server?.stop());
  const ms = await smtpSource(server.ports.smtp);
  await server.stop();
  server = null;
  // Every 250 means stored: count what the store holds.
  const { store } = await openStore(await loadConfig(configFile));
  let stored: number;
  try {
    const account = await store.getAccount(TO);
    const inbox = await store.getMailbox(account!.id, 'INBOX');
    stored = (await store.listMessages(inbox!.id)).length;
  } finally {
    await store.close();
  }
  if (stored !== MESSAGES) throw new Error(`Postern stored ${stored} of ${MESSAGES} messages`);
  return {
    seconds: ms / 1000,
    rate: MESSAGES / (ms / 1000),
    detail: `${stored} messages in the INBOX (workers = ${values.workers})`,
  };
}

async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).length;
  } catch {
    return 0;
  }
}

async function dovecotConfig(dir: string, lmtpPort: number): Promise<string> {
  const d = path.join(dir, 'dovecot');
  const mail = path.join(dir, 'mail');
  await mkdir(d, { recursive: true });
  await mkdir(mail, { recursive: true });
  // Mail is owned by nobody: Dovecot refuses to deliver as root.
  await chown(mail, 65534, 65534);
  await writeFile(path.join(d, 'users'), `${TO}:{PLAIN}bench-secret-1:65534:65534::${mail}/user\n`);
  const conf = path.join(d, 'dovecot.conf');
  await writeFile(
    conf,
    [
      `base_dir = ${d}/run`,
      `state_dir = ${d}/state`,
      `log_path = ${d}/dovecot.log`,
      `info_log_path = ${d}/dovecot.log`,
      'protocols = lmtp',
      'listen = 127.0.0.1',
      'ssl = no',
      'first_valid_uid = 100',
      'mail_location = maildir:~/Maildir',
      'passdb {',
      '  driver = passwd-file',
      `  args = scheme=PLAIN username_format=%u ${d}/users`,
      '}',
      'userdb {',
      '  driver = passwd-file',
      `  args = username_format=%u ${d}/users`,
      '}',
      'service lmtp {',
      '  inet_listener lmtp {',
      '    address = 127.0.0.1',
      `    port = ${lmtpPort}`,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  return conf;
}

/** The reference MTA: Postfix hands every message for the one mailbox to Dovecot's LMTP. */
async function postfixConfig(dir: string, smtpPort: number, lmtpPort: number): Promise<string> {
  const etc = path.join(dir, 'postfix', 'etc');
  return writePostfixConfig({
    dir,
    smtpdPort: smtpPort,
    mainCf: [
      'disable_dns_lookups = yes',
      'lmtp_host_lookup = native',
      'virtual_mailbox_domains = example.test',
      `virtual_mailbox_maps = texthash:${etc}/vmailbox`,
      `virtual_transport = lmtp:inet:127.0.0.1:${lmtpPort}`,
    ],
    tables: { vmailbox: `${TO} ok\n` },
  });
}

async function benchReference(): Promise<Figure> {
  need('postfix');
  need('dovecot');
  if (process.getuid?.() !== 0) throw new Error('the Postfix reference stack needs root');
  const dir = await tempDir('postern-bench-ref-');
  await chmod(dir, 0o755);
  const [smtpPort, lmtpPort] = [await freePort(), await freePort()];

  const dovecotConf = await dovecotConfig(dir, lmtpPort);
  const dovecot: ChildProcess = spawn('dovecot', ['-F', '-c', dovecotConf], { stdio: 'ignore' });
  const dovecotExit = new Promise<void>((resolve) => dovecot.once('exit', () => resolve()));
  onCleanup('dovecot', async () => {
    if (dovecot.exitCode !== null || dovecot.signalCode !== null) return;
    dovecot.kill('SIGTERM');
    const t = setTimeout(() => dovecot.kill('SIGKILL'), 5000);
    await dovecotExit;
    clearTimeout(t);
  });
  await waitForPort(lmtpPort, 10_000);

  const etc = await postfixConfig(dir, smtpPort, lmtpPort);
  await startPostfix(etc, smtpPort);

  const maildir = path.join(dir, 'mail', 'user', 'Maildir');
  const queue = path.join(dir, 'postfix', 'queue');
  const queued = async (): Promise<number> => {
    const dirs = ['maildrop', 'incoming', 'active', 'deferred', 'hold'];
    const counts = await Promise.all(dirs.map((d) => countFiles(path.join(queue, d))));
    return counts.reduce((a, b) => a + b, 0);
  };
  const delivered = async (): Promise<number> =>
    (await countFiles(path.join(maildir, 'new'))) + (await countFiles(path.join(maildir, 'cur')));

  const started = performance.now();
  const acceptMs = await smtpSource(smtpPort);
  const deadline = Date.now() + TIMEOUT_MS;
  let inMailbox = 0;
  let inQueue = 0;
  for (;;) {
    [inMailbox, inQueue] = [await delivered(), await queued()];
    if (inMailbox >= MESSAGES && inQueue === 0) break;
    if (Date.now() > deadline) {
      throw new Error(`Postfix/Dovecot: ${inMailbox} delivered, ${inQueue} queued after the timeout`);
    }
    await sleep(50);
  }
  const ms = performance.now() - started;
  if (inMailbox !== MESSAGES) throw new Error(`Dovecot has ${inMailbox} messages, expected ${MESSAGES}`);
  return {
    seconds: ms / 1000,
    rate: MESSAGES / (ms / 1000),
    detail:
      `${inMailbox} messages in the Maildir, queue empty; smtp-source itself ended after ` +
      `${(acceptMs / 1000).toFixed(2)} s (${Math.round(MESSAGES / (acceptMs / 1000))} msg/s into the Postfix queue)`,
  };
}

function describe(): string {
  const cpus = os.cpus();
  return (
    `${new Date().toISOString()}, ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.release()}, ` +
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`
  );
}

async function main(): Promise<void> {
  need('smtp-source');
  process.stdout.write(`SMTP ingest: ${MESSAGES} messages of ${SIZE} bytes, ${SESSIONS} sessions\n`);
  process.stdout.write(`${describe()}\n`);
  let postern: Figure | null = null;
  let reference: Figure | null = null;
  if (values.only !== 'reference') {
    postern = await benchPostern();
    process.stdout.write(
      `Postern:          ${postern.rate.toFixed(0)} msg/s (${postern.seconds.toFixed(2)} s; ${postern.detail})\n`,
    );
  }
  if (values.only !== 'postern') {
    reference = await benchReference();
    process.stdout.write(
      `Postfix+Dovecot:  ${reference.rate.toFixed(0)} msg/s (${reference.seconds.toFixed(2)} s; ${reference.detail})\n`,
    );
  }
  process.stdout.write(`load average at the end: ${os.loadavg()[0].toFixed(1)}\n`);
  if (postern !== null && reference !== null) {
    process.stdout.write(`ratio Postern / Postfix+Dovecot: ${(postern.rate / reference.rate).toFixed(2)}\n`);
  }
}

await runBench('smtp bench', main);
