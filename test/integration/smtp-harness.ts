// Shared pieces of the smtp-* integration tests: the real listeners (smtp, submission,
// submissions) with the SMTP protocol over a real store in a temp dir, a DNS server on
// loopback, a few accounts, and a raw SMTP client that reads whole (multi-line) replies.

import { readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { Authenticator } from '../../src/auth/authenticator.js';
import { AuthFailureTracker } from '../../src/auth/failure-tracker.js';
import { hashPassword } from '../../src/auth/password.js';
import type { PosternConfig } from '../../src/config/types.js';
import type { Limits } from '../../src/core/limits.js';
import { createLogger } from '../../src/core/log.js';
import { smtpProtocol, type SmtpProtocolOptions } from '../../src/protocols/smtp/handler.js';
import { ListenerSet } from '../../src/server/listeners.js';
import { loadTlsMaterial } from '../../src/server/tls.js';
import type { ServerDeps } from '../../src/server/types.js';
import type { BlobStore } from '../../src/store/blob/types.js';
import { openStore } from '../../src/app/open-store.js';
import type { MailStore } from '../../src/store/types.js';
import { startDnsServer, type DnsTestRecords, type DnsTestServer } from '../helpers/dns-server.js';
import { LOOPBACK_0, LineReader, tempDir, testConfig } from './server-fixture.js';

export const PASSWORDS: Readonly<Record<string, string>> = {
  'alice@example.test': 'alice-secret-1',
  'bob@example.test': 'bob-secret-2',
};

export interface SmtpTestServer {
  dir: string;
  config: PosternConfig;
  store: MailStore;
  blobs: BlobStore;
  dns: DnsTestServer;
  ports: { smtp: number; submission: number; submissions: number };
  /** The stored bytes of every message in the INBOX of `address`, in UID order. */
  inbox(address: string): Promise<Buffer[]>;
  /** Graceful shutdown of the listeners (what SIGTERM does). */
  shutdownListeners(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface SmtpServerOptions {
  limits?: Partial<Limits>;
  smtp?: Partial<PosternConfig['smtp']>;
  auth?: Partial<PosternConfig['auth']>;
  greetingDelayMs?: number;
  /** Protocol options (timeouts); greetingDelayMs above wins. */
  protocol?: SmtpProtocolOptions;
  dnsRecords?: DnsTestRecords;
  /** Quota of bob@example.test in bytes (0: unlimited). */
  bobQuota?: number;
}

export async function startSmtpServer(opts: SmtpServerOptions = {}): Promise<SmtpTestServer> {
  const dir = await tempDir('smtp');
  const dns = await startDnsServer(opts.dnsRecords ?? {});
  const config = testConfig(dir, {
    listen: { smtp: LOOPBACK_0, submission: LOOPBACK_0, submissions: LOOPBACK_0 },
    limits: opts.limits,
    smtp: opts.smtp,
    auth: opts.auth,
  });
  config.dns = { servers: [dns.address], cacheSeconds: 60 };
  const log = createLogger(config.log);
  const [{ store, blobs }, tlsMaterial] = await Promise.all([openStore(config), loadTlsMaterial(config)]);
  await store.createDomain('example.test');
  await store.createAccount({
    address: 'alice@example.test',
    passwordHash: await hashPassword(PASSWORDS['alice@example.test']),
  });
  await store.createAccount({
    address: 'bob@example.test',
    passwordHash: await hashPassword(PASSWORDS['bob@example.test']),
    quotaBytes: opts.bobQuota ?? 0,
  });
  await store.addAlias({ source: 'sales@example.test', destination: 'alice@example.test' });
  const tracker = new AuthFailureTracker({ limits: config.limits });
  const authenticator = new Authenticator({ store, limits: config.limits, tracker });
  // What the protocol makes and must close (its verify pool: live threads keep the process up).
  const closers: Array<() => Promise<void>> = [];
  const deps: ServerDeps = {
    config,
    store,
    blobs,
    log,
    authenticator,
    tls: tlsMaterial,
    onClose: (close) => void closers.push(close),
  };
  const factory = smtpProtocol({ ...opts.protocol, greetingDelayMs: opts.greetingDelayMs ?? 0 });
  const listeners = await ListenerSet.start({
    deps,
    handlers: new Map([
      ['smtp', factory],
      ['submission', factory],
      ['submissions', factory],
    ]),
  });
  const port = (name: string): number => listeners.listening.find((l) => l.name === name)!.port;
  return {
    dir,
    config,
    store,
    blobs,
    dns,
    ports: { smtp: port('smtp'), submission: port('submission'), submissions: port('submissions') },
    async inbox(address) {
      const account = await store.getAccount(address);
      if (account === null) throw new Error(`no account ${address}`);
      const mailbox = await store.getMailbox(account.id, 'INBOX');
      const metas = await store.listMessages(mailbox!.id);
      return Promise.all(metas.map((m) => blobs.readAll(m.blobId)));
    },
    shutdownListeners(graceMs) {
      return listeners.shutdown({ graceMs });
    },
    async close() {
      await listeners.shutdown({ graceMs: 1000 });
      for (const close of closers.splice(0)) await close();
      await store.close();
      await dns.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  code: number;
  lines: string[];
  /** The text of the last line (after "250 "). */
  text: string;
}

/** A raw SMTP client: writes what the test says, reads whole replies. */
export class RawSmtpClient {
  private reader: LineReader;
  private constructor(public socket: net.Socket | tls.TLSSocket) {
    this.reader = new LineReader(socket);
  }

  static async connect(port: number, opts: { tls?: boolean; host?: string } = {}): Promise<RawSmtpClient> {
    const socket = await new Promise<net.Socket | tls.TLSSocket>((resolve, reject) => {
      const s =
        opts.tls === true
          ? tls.connect({ host: opts.host ?? '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s))
          : net.connect({ host: opts.host ?? '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    socket.on('error', () => {});
    return new RawSmtpClient(socket);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async reply(timeoutMs = 5000): Promise<Reply> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.reader.next(timeoutMs);
      lines.push(line);
      if (line.length < 4 || line[3] !== '-') break;
    }
    const last = lines[lines.length - 1];
    return { code: Number(last.slice(0, 3)), lines, text: last.slice(4) };
  }

  /** Sends one command line and returns its reply. */
  async command(line: string, timeoutMs?: number): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.reply(timeoutMs);
  }

  /** Switches to TLS after a 220 to STARTTLS. */
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

  /** Resolves when the server closed the connection. */
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

export function plainAuth(user: string, password: string, authzid = ''): string {
  return Buffer.from(`${authzid}\0${user}\0${password}`).toString('base64');
}

/** Connects, reads the banner, sends EHLO; returns the client and the EHLO reply. */
export async function ehlo(
  port: number,
  opts: { tls?: boolean } = {},
): Promise<{ client: RawSmtpClient; ehlo: Reply }> {
  const client = await RawSmtpClient.connect(port, opts);
  const banner = await client.reply();
  if (banner.code !== 220) throw new Error(`banner ${banner.lines.join('|')}`);
  const reply = await client.command('EHLO client.example.net');
  return { client, ehlo: reply };
}

/** The spool files of messages being received (InboundMessage) in <dataDir>/tmp. */
export async function spoolFiles(dataDir: string): Promise<string[]> {
  try {
    return (await readdir(path.join(dataDir, 'tmp'))).filter((f) => f.endsWith('.spool'));
  } catch {
    return []; // no tmp directory yet
  }
}

/**
 * A message of about `bytes` bytes (CRLF lines, some starting with "."), larger than the
 * 256 KiB a message may hold in memory before it goes to a spool file when `bytes` is.
 */
export function largeMessage(bytes: number, subject: string): Buffer {
  const lines = [`From: <a@remote.example>`, `To: <alice@example.test>`, `Subject: ${subject}`, ''];
  let size = lines.join('\r\n').length;
  for (let i = 0; size < bytes; i++) {
    const line = i % 50 === 0 ? `.dot line ${i}` : `line ${i} ${'x'.repeat(64)}`;
    lines.push(line);
    size += line.length + 2;
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
}

/** RFC 5321 §4.5.2: a leading "." doubled, for DATA. */
export function dotStuff(message: Buffer): Buffer {
  return Buffer.from(message.toString('latin1').replace(/^\./gm, '..'), 'latin1');
}
