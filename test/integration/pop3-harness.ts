// Shared pieces of the pop3-* integration tests: the real pop3 and pop3s listeners over a real
// store in a temp dir (restartable on the same dir), accounts, messages put in with
// deliverLocal, a raw POP3 client that reads single- and multi-line responses, and a runner
// for Python's poplib.

import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { Authenticator } from '../../src/auth/authenticator.js';
import { AuthFailureTracker } from '../../src/auth/failure-tracker.js';
import { hashPassword } from '../../src/auth/password.js';
import type { PosternConfig } from '../../src/config/types.js';
import type { Limits } from '../../src/core/limits.js';
import { createLogger } from '../../src/core/log.js';
import { deliverLocal } from '../../src/delivery/local.js';
import { pop3Protocol, type Pop3ProtocolOptions } from '../../src/protocols/pop3/handler.js';
import { ListenerSet } from '../../src/server/listeners.js';
import { loadTlsMaterial } from '../../src/server/tls.js';
import type { ServerDeps } from '../../src/server/types.js';
import type { BlobStore } from '../../src/store/blob/types.js';
import { openStore } from '../../src/app/open-store.js';
import type { MailStore, MessageMeta } from '../../src/store/types.js';
import { LOOPBACK_0, LineReader, tempDir, testConfig } from './server-fixture.js';

export const USERS: Readonly<Record<string, string>> = {
  'alice@example.test': 'alice-secret-1',
  'bob@example.test': 'bob-secret-2',
};

export interface Pop3ServerOptions {
  limits?: Partial<Limits>;
  pop3?: Partial<PosternConfig['pop3']>;
  auth?: Partial<PosternConfig['auth']>;
  protocol?: Pop3ProtocolOptions;
}

export interface Pop3TestServer {
  dir: string;
  config: PosternConfig;
  store: MailStore;
  blobs: BlobStore;
  ports: { pop3: number; pop3s: number };
  /** Delivers `raw` to the INBOX of `address`; returns its UID. */
  deliver(address: string, raw: Buffer | string, flags?: string[]): Promise<number>;
  inboxId(address: string): Promise<number>;
  /** Metadata of the messages in a mailbox of `address`. */
  messages(address: string, mailbox?: string): Promise<MessageMeta[]>;
  /** Graceful shutdown of the listeners (what SIGTERM does). */
  shutdownListeners(graceMs: number): Promise<void>;
  /** Stops listeners and store, then starts them again on the same data directory (new ports). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

interface Running {
  store: MailStore;
  blobs: BlobStore;
  listeners: ListenerSet;
  ports: { pop3: number; pop3s: number };
}

async function boot(config: PosternConfig, opts: Pop3ServerOptions, fresh: boolean): Promise<Running> {
  const log = createLogger(config.log);
  const [{ store, blobs }, tlsMaterial] = await Promise.all([openStore(config), loadTlsMaterial(config)]);
  if (fresh) {
    await store.createDomain('example.test');
    for (const [address, password] of Object.entries(USERS)) {
      await store.createAccount({ address, passwordHash: await hashPassword(password) });
    }
  }
  const tracker = new AuthFailureTracker({ limits: config.limits });
  const authenticator = new Authenticator({ store, limits: config.limits, tracker });
  const deps: ServerDeps = { config, store, blobs, log, authenticator, tls: tlsMaterial };
  const factory = pop3Protocol(opts.protocol);
  const listeners = await ListenerSet.start({
    deps,
    handlers: new Map([
      ['pop3', factory],
      ['pop3s', factory],
    ]),
  });
  const port = (name: string): number => listeners.listening.find((l) => l.name === name)!.port;
  return { store, blobs, listeners, ports: { pop3: port('pop3'), pop3s: port('pop3s') } };
}

export async function startPop3Server(opts: Pop3ServerOptions = {}): Promise<Pop3TestServer> {
  const dir = await tempDir('pop3');
  const config = testConfig(dir, {
    listen: { pop3: LOOPBACK_0, pop3s: LOOPBACK_0 },
    limits: opts.limits,
    pop3: opts.pop3,
    auth: opts.auth,
  });
  let running = await boot(config, opts, true);
  const inboxId = async (address: string): Promise<number> => {
    const account = await running.store.getAccount(address);
    if (account === null) throw new Error(`no account ${address}`);
    return (await running.store.getMailbox(account.id, 'INBOX'))!.id;
  };
  const server: Pop3TestServer = {
    dir,
    config,
    get store() {
      return running.store;
    },
    get blobs() {
      return running.blobs;
    },
    get ports() {
      return running.ports;
    },
    inboxId,
    async deliver(address, raw, flags) {
      const [outcome] = await deliverLocal({
        store: running.store,
        blobs: running.blobs,
        limits: config.limits,
        source: typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw,
        targets: [{ mailboxId: await inboxId(address), flags }],
      });
      if (!outcome.ok) throw outcome.error;
      return outcome.uid;
    },
    async messages(address, mailbox = 'INBOX') {
      const account = await running.store.getAccount(address);
      const mb = await running.store.getMailbox(account!.id, mailbox);
      return running.store.listMessages(mb!.id);
    },
    shutdownListeners(graceMs) {
      return running.listeners.shutdown({ graceMs });
    },
    async restart() {
      await running.listeners.shutdown({ graceMs: 500 });
      await running.store.close();
      running = await boot(config, opts, false);
    },
    async close() {
      await running.listeners.shutdown({ graceMs: 500 });
      await running.store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** A message with CRLF line endings, some dot-leading lines, and a size of about `bodyLines` lines. */
export function sampleMessage(n: number, bodyLines = 5): Buffer {
  const lines = [
    `From: Sender ${n} <sender@example.org>`,
    'To: alice@example.test',
    `Subject: message ${n}`,
    `Message-ID: <m${n}@example.org>`,
    'Date: Fri, 27 Nov 2026 10:00:00 +0000',
    '',
  ];
  for (let i = 0; i < bodyLines; i++)
    lines.push(i % 3 === 1 ? `.dot line ${i} of ${n}` : `body line ${i} of ${n}`);
  lines.push('.', '..', 'end');
  return Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
}

export interface Pop3Response {
  ok: boolean;
  /** The status line after "+OK " / "-ERR ". */
  text: string;
}

/** A raw POP3 client: writes what the test says, reads status lines and multi-line bodies. */
export class RawPop3Client {
  private reader: LineReader;
  private constructor(public socket: net.Socket | tls.TLSSocket) {
    this.reader = new LineReader(socket);
  }

  static async connect(port: number, opts: { tls?: boolean; host?: string } = {}): Promise<RawPop3Client> {
    const socket = await new Promise<net.Socket | tls.TLSSocket>((resolve, reject) => {
      const s =
        opts.tls === true
          ? tls.connect({ host: opts.host ?? '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s))
          : net.connect({ host: opts.host ?? '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    socket.on('error', () => {});
    return new RawPop3Client(socket);
  }

  /** Connects and reads the greeting. */
  static async open(
    port: number,
    opts: { tls?: boolean; host?: string } = {},
  ): Promise<{ client: RawPop3Client; greeting: Pop3Response }> {
    const client = await RawPop3Client.connect(port, opts);
    return { client, greeting: await client.response() };
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async line(timeoutMs = 5000): Promise<string> {
    return this.reader.next(timeoutMs);
  }

  async response(timeoutMs = 5000): Promise<Pop3Response> {
    const line = await this.reader.next(timeoutMs);
    if (line.startsWith('+OK')) return { ok: true, text: line.slice(4) };
    if (line.startsWith('-ERR')) return { ok: false, text: line.slice(5) };
    throw new Error(`not a POP3 status line: ${JSON.stringify(line)}`);
  }

  /** The lines of a multi-line body, un-stuffed, without the terminating ".". */
  async body(timeoutMs = 5000): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const line = await this.reader.next(timeoutMs);
      if (line === '.') return out;
      out.push(line.startsWith('.') ? line.slice(1) : line);
    }
  }

  async command(line: string, timeoutMs?: number): Promise<Pop3Response> {
    this.write(`${line}\r\n`);
    return this.response(timeoutMs);
  }

  /** A command with a multi-line answer: the status and (when +OK) the body. */
  async multi(line: string): Promise<{ status: Pop3Response; lines: string[] }> {
    const status = await this.command(line);
    return { status, lines: status.ok ? await this.body() : [] };
  }

  /** USER + PASS; returns the PASS response. */
  async login(user: string, password: string): Promise<Pop3Response> {
    const u = await this.command(`USER ${user}`);
    if (!u.ok) return u;
    return this.command(`PASS ${password}`);
  }

  /** RETR n as the exact bytes of the message (un-stuffed, CRLF line ends). */
  async retr(n: number): Promise<Buffer | Pop3Response> {
    const { status, lines } = await this.multi(`RETR ${n}`);
    if (!status.ok) return status;
    return Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1');
  }

  /** Switches to TLS after +OK to STLS. */
  async upgrade(): Promise<void> {
    this.reader.detach();
    const plain = this.socket;
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    secure.on('error', () => {});
    this.socket = secure;
    this.reader = new LineReader(secure);
  }

  closed(timeoutMs = 5000): Promise<void> {
    const s = this.socket;
    if (s.destroyed || s.readableEnded) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connection not closed')), timeoutMs);
      s.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      s.resume();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Runs a python3 script with arguments; resolves with its stdout (rejects on a non-zero exit). */
export function runPython(script: string, args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errText = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (errText += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`python3 exited ${code}: ${errText}`));
    });
  });
}
