// The real `postern serve` as a child process (the CLI of the same build as the tests), from a
// config file in a temp directory: SMTP on a free loopback port, DNS pointed at a loopback DNS
// server the caller runs, users created through the CLI. Used by the crash test and the SMTP
// benchmark, which need a process they can kill -9 or measure from outside, and (with the
// configuration `postern init` writes: every delay and limit at its default) by
// default-config.test.ts.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The CLI of the same build as this file (dist/ or a private build dir). */
export const POSTERN_CLI = path.resolve(here, '../../src/cli/main.js');

export interface PosternSetup {
  /** Directory holding postern.toml and the data directory. */
  dir: string;
  /** "IP:PORT" of a DNS server on loopback. */
  dnsAddress: string;
  domains: string[];
  users: Array<{ address: string; password: string }>;
  /** server.workers (default 1). */
  workers?: number;
  /** log.level (default "error"). */
  logLevel?: string;
  /** Extra TOML appended to the file (e.g. a [limits] section). */
  extraToml?: string;
}

/** Writes the config file and creates the domains and users; returns the config file's path. */
export async function preparePostern(setup: PosternSetup): Promise<string> {
  const file = path.join(setup.dir, 'postern.toml');
  const toml = [
    'hostname = "mail.example.test"',
    'data_dir = "data"',
    '[listen]',
    'smtp = "127.0.0.1:0"',
    'submission = "127.0.0.1:0"',
    'submissions = ""',
    'imap = ""',
    'imaps = ""',
    'pop3 = ""',
    'pop3s = ""',
    'http = ""',
    '[server]',
    'shutdown_grace = 2',
    `workers = ${setup.workers ?? 1}`,
    '[dns]',
    `servers = ["${setup.dnsAddress}"]`,
    '[smtp]',
    'unknown_recipient_delay = 0',
    '[log]',
    `level = "${setup.logLevel ?? 'error'}"`,
    setup.extraToml ?? '',
    '',
  ].join('\n');
  await writeFile(file, toml);
  for (const domain of setup.domains) cli(file, ['domain', 'add', domain]);
  for (const user of setup.users) {
    cli(file, ['user', 'add', user.address, '--password-stdin'], `${user.password}\n`);
  }
  return file;
}

/**
 * The configuration `postern init` writes, changed only where a test must: the listeners named
 * in `listeners` on 127.0.0.1 port 0, the others disabled (their defaults are privileged ports
 * on every address), and the DNS servers (a loopback server the caller runs). Every other key
 * (delays, limits, password hashing, log level) keeps its default.
 */
export async function prepareDefaultPostern(setup: {
  dir: string;
  dnsAddress: string;
  domain: string;
  users: Array<{ address: string; password: string }>;
  listeners: string[];
}): Promise<string> {
  const init = spawnSync(process.execPath, [POSTERN_CLI, 'init', '--domain', setup.domain], {
    cwd: setup.dir,
    encoding: 'utf8',
    env: { ...process.env, POSTERN_CONFIG: '' },
    timeout: 60_000,
  });
  if (init.status !== 0) throw new Error(`postern init: exit ${init.status}: ${init.stderr}`);
  const file = path.join(setup.dir, 'postern.toml');
  let toml = await readFile(file, 'utf8');
  const replace = (re: RegExp, line: string): void => {
    if (!re.test(toml)) throw new Error(`postern.toml from init has no line ${re}`);
    toml = toml.replace(re, line);
  };
  for (const name of ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http']) {
    const address = setup.listeners.includes(name) ? '127.0.0.1:0' : '';
    replace(new RegExp(`^# ${name} = ".*"$`, 'm'), `${name} = "${address}"`);
  }
  replace(/^# servers = \[\]$/m, `servers = ["${setup.dnsAddress}"]`);
  await writeFile(file, toml);
  for (const user of setup.users) {
    cli(file, ['user', 'add', user.address, '--password-stdin'], `${user.password}\n`);
  }
  return file;
}

function cli(configFile: string, args: string[], input = ''): void {
  const r = spawnSync(process.execPath, [POSTERN_CLI, '--config', configFile, ...args], {
    encoding: 'utf8',
    input,
    timeout: 60_000,
  });
  if (r.status !== 0) {
    throw new Error(`postern ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  }
}

export interface PosternProcess {
  child: ChildProcess;
  pid: number;
  ports: { smtp: number; submission: number };
  /** Every listener the process printed, with its port. */
  listeners: Map<string, number>;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string>;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `postern serve` and resolves once it printed the listeners expected (default smtp, submission). */
export async function startPostern(
  configFile: string,
  opts: { readyTimeoutMs?: number; listeners?: string[] } = {},
): Promise<PosternProcess> {
  const expected = opts.listeners ?? ['smtp', 'submission'];
  const child = spawn(process.execPath, [POSTERN_CLI, '--config', configFile, 'serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    // Keep the tail only: a long run must not grow memory.
    err = (err + s).slice(-20_000);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const listeners = await new Promise<Map<string, number>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`postern serve not ready within ${opts.readyTimeoutMs ?? 20_000} ms: ${out} ${err}`));
    }, opts.readyTimeoutMs ?? 20_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      if (out.length < 10_000) out += s;
      const at = out.search(/^postern \S+ ready, data in /m);
      if (at < 0) return;
      const found = new Map<string, number>();
      for (const m of out.slice(at).matchAll(/^ {2}(\w+) +127\.0\.0\.1:(\d+)$/gm))
        found.set(m[1], Number(m[2]));
      if (expected.every((name) => found.has(name))) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`postern serve exited (${code}) before ready: ${out} ${err}`));
    });
  });
  const ports = { smtp: listeners.get('smtp') ?? 0, submission: listeners.get('submission') ?? 0 };
  return {
    child,
    pid: child.pid!,
    ports,
    listeners,
    exited,
    stderr: () => err,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
