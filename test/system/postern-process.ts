// The real `postern serve` as a child process (the CLI of the same build as the tests), from a
// config file in a temp directory: SMTP on a free loopback port, DNS pointed at a loopback DNS
// server the caller runs, users created through the CLI. Used by the crash test and the SMTP
// benchmark, which need a process they can kill -9 or measure from outside.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
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
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string>;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `postern serve` and resolves once it printed its listeners. */
export async function startPostern(
  configFile: string,
  opts: { readyTimeoutMs?: number } = {},
): Promise<PosternProcess> {
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
  const ports = await new Promise<PosternProcess['ports']>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`postern serve not ready within ${opts.readyTimeoutMs ?? 20_000} ms: ${out} ${err}`));
    }, opts.readyTimeoutMs ?? 20_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      if (out.length < 10_000) out += s;
      const smtp = /^ +smtp +127\.0\.0\.1:(\d+)$/m.exec(out);
      const submission = /^ +submission +127\.0\.0\.1:(\d+)$/m.exec(out);
      if (smtp !== null && submission !== null) {
        clearTimeout(timer);
        resolve({ smtp: Number(smtp[1]), submission: Number(submission[1]) });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`postern serve exited (${code}) before ready: ${out} ${err}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    ports,
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
