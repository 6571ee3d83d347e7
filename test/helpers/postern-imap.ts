// The real `postern serve` (the CLI of the same build) with its IMAP listener on a free
// loopback port, from a config file in a temp directory; users created and mail imported
// through the CLI. For the IMAP differential test and benchmark, which compare it with a
// private Dovecot (test/helpers/dovecot.ts) from outside the process, and for the IMAP crash
// test, which kills it with SIGKILL and starts it again on the same data directory.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIN_LOG_N, hashPassword } from '../../src/auth/password.js';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/app/open-store.js';
import { startDnsServer, type DnsTestServer } from './dns-server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The CLI of the same build as this file (dist/ or a private build dir). */
export const POSTERN_CLI = path.resolve(here, '../../src/cli/main.js');

export interface PosternImapOptions {
  domains: string[];
  users: Array<{ address: string; password: string }>;
  /** server.workers (default 1). */
  workers?: number;
  /** log.level (default "error"). */
  logLevel?: string;
  /** Also open the HTTP listener on a free loopback port (/healthz, /healthz/stats). */
  http?: boolean;
  /** Extra TOML appended to the file (e.g. a [limits] section). */
  extraToml?: string;
  keep?: boolean;
  readyTimeoutMs?: number;
  /**
   * Cost of the users' password hashes. 'default' is what `postern user add` stores (scrypt
   * ln=15: about 0.7 s of CPU per LOGIN on the 2-core CI machines); 'light' (the default here)
   * stores scrypt ln=10 in the same format, so that tests and benchmarks that log in hundreds
   * of times measure IMAP rather than the password hash.
   */
  passwordCost?: 'default' | 'light';
}

export interface PosternImapServer {
  /** The IMAP port, pid and process of the current `postern serve` (they change on restart). */
  readonly imapPort: number;
  /** The HTTP listener's port (0 when `http` was not asked for). */
  readonly httpPort: number;
  readonly pid: number;
  readonly child: ChildProcess;
  dir: string;
  configFile: string;
  /** Runs `postern --config FILE ...args`; rejects on a non-zero exit. */
  cli(args: string[], input?: string, timeoutMs?: number): Promise<string>;
  stderr(): string;
  /** Resolves with the exit code (or signal name) of the current process when it ends. */
  exited(): Promise<number | string>;
  /** SIGKILL: the process ends without any shutdown (a crash); resolves once it is gone. */
  kill(): Promise<void>;
  /** Starts `postern serve` again on the same config and data dir (the process must be gone). */
  restart(): Promise<void>;
  /** SIGTERM (then SIGKILL), DNS server closed, directory removed. */
  stop(): Promise<void>;
}

interface Served {
  child: ChildProcess;
  imapPort: number;
  httpPort: number;
  exited: Promise<number | string>;
  stderr(): string;
}

function runCli(configFile: string, args: string[], input: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [POSTERN_CLI, '--config', configFile, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s: string) => (out = (out + s).slice(-20_000)));
    child.stderr.on('data', (s: string) => (err = (err + s).slice(-20_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out + err);
      else reject(new Error(`postern ${args.join(' ')}: exit ${code ?? signal}: ${err}`));
    });
    child.stdin.end(input);
  });
}

/** A self-signed P-256 pair from openssl, or null when openssl is missing (Postern then makes one). */
function opensslCertificate(dir: string): Promise<{ cert: string; key: string } | null> {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  args.push('-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=mail.example.test');
  return new Promise((resolve) => {
    const child = spawn('openssl', args, { stdio: 'ignore' });
    child.once('error', () => resolve(null));
    child.once('exit', (code) => resolve(code === 0 ? { cert, key } : null));
  });
}

/**
 * scrypt ln=10, r=8, p=1 (the lowest cost auth.scrypt_log_n accepts): for benchmarks, where
 * ln=15 logins would measure the password hash.
 */
export function lightHash(password: string): Promise<string> {
  return hashPassword(password, { logN: MIN_LOG_N });
}

/**
 * Domains and users straight through the store (as `postern domain add` / `user add` do, but
 * in this process: a CLI start per user costs seconds). Equal passwords share one hash.
 */
async function createAccounts(
  configFile: string,
  domains: string[],
  users: Array<{ address: string; password: string }>,
  cost: 'default' | 'light',
): Promise<void> {
  const { store } = await openStore(await loadConfig(configFile));
  try {
    for (const d of domains) await store.createDomain(d);
    // Distinct passwords are hashed four at a time (libuv's thread pool has four threads).
    const hashes = new Map<string, string>();
    const distinct = [...new Set(users.map((u) => u.password))];
    for (let i = 0; i < distinct.length; i += 4) {
      await Promise.all(
        distinct.slice(i, i + 4).map(async (pw) => {
          hashes.set(pw, cost === 'default' ? await hashPassword(pw) : await lightHash(pw));
        }),
      );
    }
    for (const u of users) {
      await store.createAccount({ address: u.address, passwordHash: hashes.get(u.password)! });
    }
  } finally {
    await store.close();
  }
}

/**
 * Node options for the server process, from POSTERN_SERVE_NODE_ARGS (space-separated), for
 * profiling a benchmark: e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (NODE_OPTIONS refuses those).
 */
const SERVE_NODE_ARGS = (process.env.POSTERN_SERVE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

/** Starts `postern serve` on `configFile` and resolves once its IMAP listener is up. */
async function serve(configFile: string, readyTimeoutMs: number, wanted: string[]): Promise<Served> {
  const started = spawn(
    process.execPath,
    [...SERVE_NODE_ARGS, POSTERN_CLI, '--config', configFile, 'serve'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  started.stderr.setEncoding('utf8');
  started.stderr.on('data', (s: string) => (err = (err + s).slice(-20_000)));
  const exited = new Promise<number | string>((resolve) => {
    started.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const ready = new Promise<Map<string, number>>((resolve, reject) => {
    const timer = setTimeout(() => {
      started.kill('SIGKILL');
      reject(
        new Error(
          `postern serve: no ${wanted.join(' and ')} listener within ${readyTimeoutMs} ms: ${out} ${err}`,
        ),
      );
    }, readyTimeoutMs);
    started.stdout.setEncoding('utf8');
    started.stdout.on('data', (s: string) => {
      if (out.length < 10_000) out += s;
      const found = new Map<string, number>();
      for (const m of out.matchAll(/^ +(imap|http) +127\.0\.0\.1:(\d+)$/gm)) found.set(m[1], Number(m[2]));
      if (wanted.every((name) => found.has(name))) {
        clearTimeout(timer);
        resolve(found);
      } else if (/not started: .*\b(imap|http)\b/.test(out)) {
        clearTimeout(timer);
        reject(new Error(`postern serve did not start a listener: ${out}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`postern serve exited (${code}) before ready: ${out} ${err}`));
    });
  });
  let ports: Map<string, number>;
  try {
    ports = await ready;
  } catch (e) {
    if (started.exitCode === null && started.signalCode === null) started.kill('SIGKILL');
    throw e;
  }
  return {
    child: started,
    imapPort: ports.get('imap')!,
    httpPort: ports.get('http') ?? 0,
    exited,
    stderr: () => err,
  };
}

/** Writes the config, creates domains and users, starts `postern serve`, waits for IMAP. */
export async function startPosternImap(opts: PosternImapOptions): Promise<PosternImapServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-imap-'));
  let dns: DnsTestServer | null = null;
  try {
    dns = await startDnsServer({});
    const configFile = path.join(dir, 'postern.toml');
    // A certificate made by openssl in a few milliseconds: without one, the first start
    // generates its self-signed pair, which takes seconds on slow machines.
    const tls = await opensslCertificate(dir);
    const toml = [
      'hostname = "mail.example.test"',
      'data_dir = "data"',
      '[listen]',
      'smtp = ""',
      'submission = ""',
      'submissions = ""',
      'imap = "127.0.0.1:0"',
      'imaps = ""',
      'pop3 = ""',
      'pop3s = ""',
      `http = "${opts.http === true ? '127.0.0.1:0' : ''}"`,
      '[tls]',
      ...(tls === null ? [] : [`cert = "${tls.cert}"`, `key = "${tls.key}"`]),
      '[server]',
      'shutdown_grace = 2',
      `workers = ${opts.workers ?? 1}`,
      '[dns]',
      `servers = ["${dns.address}"]`,
      '[log]',
      `level = "${opts.logLevel ?? 'error'}"`,
      opts.extraToml ?? '',
      '',
    ].join('\n');
    await writeFile(configFile, toml);
    await createAccounts(configFile, opts.domains, opts.users, opts.passwordCost ?? 'light');
    const wanted = opts.http === true ? ['imap', 'http'] : ['imap'];
    let current = await serve(configFile, opts.readyTimeoutMs ?? 20_000, wanted);
    const dnsServer = dns;
    const running = (): boolean => current.child.exitCode === null && current.child.signalCode === null;
    return {
      get imapPort() {
        return current.imapPort;
      },
      get httpPort() {
        return current.httpPort;
      },
      get pid() {
        return current.child.pid!;
      },
      get child() {
        return current.child;
      },
      dir,
      configFile,
      cli: (args, input = '', timeoutMs = 600_000) => runCli(configFile, args, input, timeoutMs),
      stderr: () => current.stderr(),
      exited: () => current.exited,
      async kill() {
        if (running()) current.child.kill('SIGKILL');
        await current.exited;
      },
      async restart() {
        if (running()) throw new Error('postern serve is still running');
        current = await serve(configFile, opts.readyTimeoutMs ?? 20_000, wanted);
      },
      async stop() {
        if (running()) {
          current.child.kill('SIGTERM');
          const timer = setTimeout(() => current.child.kill('SIGKILL'), 5000);
          await current.exited;
          clearTimeout(timer);
        }
        await dnsServer.close();
        if (opts.keep !== true) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (dns !== null) await dns.close();
    if (opts.keep !== true) await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
