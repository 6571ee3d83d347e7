// Shared pieces of the imap-* integration tests: the real `imap` and `imaps` listeners over a
// real store in a temp dir, two accounts, and a raw IMAP client that reads whole responses
// (a response with literals is returned as one string, literal bytes inline, latin1).

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import zlib from 'node:zlib';
import { Authenticator } from '../../src/auth/authenticator.js';
import { AuthFailureTracker } from '../../src/auth/failure-tracker.js';
import { hashPassword } from '../../src/auth/password.js';
import type { PosternConfig } from '../../src/config/types.js';
import type { Limits } from '../../src/core/limits.js';
import { createLogger } from '../../src/core/log.js';
import { deliverLocal } from '../../src/delivery/local.js';
import { createImapHandler } from '../../src/protocols/imap/handler.js';
import { ListenerSet } from '../../src/server/listeners.js';
import { loadTlsMaterial } from '../../src/server/tls.js';
import type { ServerDeps } from '../../src/server/types.js';
import type { BlobStore } from '../../src/store/blob/types.js';
import { openStore } from '../../src/app/open-store.js';
import type { MailStore } from '../../src/store/types.js';
import { LOOPBACK_0, tempDir, testConfig } from './server-fixture.js';

export const IMAP_PASSWORDS: Readonly<Record<string, string>> = {
  'alice@example.test': 'alice-secret-1',
  'bob@example.test': 'bob-secret-2',
};

export interface ImapTestServer {
  dir: string;
  config: PosternConfig;
  store: MailStore;
  blobs: BlobStore;
  ports: { imap: number; imaps: number };
  /** Stores a message in a mailbox of an account (as delivery would); returns its UID. */
  deliver(
    address: string,
    mailbox: string,
    bytes: string | Buffer,
    opts?: { flags?: string[]; date?: Date },
  ): Promise<number>;
  mailboxId(address: string, mailbox: string): Promise<number>;
  /** Graceful shutdown of the listeners (what SIGTERM does). */
  shutdownListeners(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startImapServer(
  opts: { limits?: Partial<Limits>; auth?: Partial<PosternConfig['auth']> } = {},
): Promise<ImapTestServer> {
  const dir = await tempDir('imap');
  const config = testConfig(dir, {
    listen: { imap: LOOPBACK_0, imaps: LOOPBACK_0 },
    limits: opts.limits,
    auth: opts.auth,
  });
  const log = createLogger(config.log);
  const [{ store, blobs }, tlsMaterial] = await Promise.all([openStore(config), loadTlsMaterial(config)]);
  await store.createDomain('example.test');
  for (const [address, password] of Object.entries(IMAP_PASSWORDS)) {
    await store.createAccount({ address, passwordHash: await hashPassword(password) });
  }
  const tracker = new AuthFailureTracker({ limits: config.limits });
  const authenticator = new Authenticator({ store, limits: config.limits, tracker });
  const deps: ServerDeps = { config, store, blobs, log, authenticator, tls: tlsMaterial };
  const listeners = await ListenerSet.start({
    deps,
    handlers: new Map([
      ['imap', createImapHandler],
      ['imaps', createImapHandler],
    ]),
  });
  const port = (name: string): number => listeners.listening.find((l) => l.name === name)!.port;
  const mailboxId = async (address: string, mailbox: string): Promise<number> => {
    const account = await store.getAccount(address);
    if (account === null) throw new Error(`no account ${address}`);
    const box = await store.getMailbox(account.id, mailbox);
    if (box === null) throw new Error(`no mailbox ${mailbox}`);
    return box.id;
  };
  return {
    dir,
    config,
    store,
    blobs,
    ports: { imap: port('imap'), imaps: port('imaps') },
    mailboxId,
    async deliver(address, mailbox, bytes, o = {}) {
      const [outcome] = await deliverLocal({
        store,
        blobs,
        limits: config.limits,
        source: typeof bytes === 'string' ? Buffer.from(bytes) : bytes,
        targets: [{ mailboxId: await mailboxId(address, mailbox), flags: o.flags, internalDate: o.date }],
      });
      if (!outcome!.ok) throw outcome!.error;
      return outcome!.uid;
    },
    shutdownListeners(graceMs) {
      return listeners.shutdown({ graceMs });
    },
    async close() {
      await listeners.shutdown({ graceMs: 1000 });
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ImapResponse {
  /** Untagged responses and continuations, literals inline. */
  untagged: string[];
  /** The tagged status line, e.g. "A3 OK [READ-WRITE] SELECT completed". */
  tagged: string;
  /** "OK", "NO" or "BAD". */
  status: string;
}

/** A raw IMAP client: writes what the test says, reads responses with their literals. */
export class RawImapClient {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private ended = false;
  private nextTag = 1;
  /** After compress(): what write() sends goes through this (RFC 4978 raw DEFLATE). */
  private deflate: zlib.DeflateRaw | null = null;
  /** Bytes received from the socket (compressed ones included). */
  wireBytesIn = 0;
  greeting = '';

  private constructor(public socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.wireBytesIn += chunk.length;
      this.received(chunk);
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private inflate: zlib.InflateRaw | null = null;

  private received(chunk: Buffer): void {
    if (this.inflate !== null) {
      this.inflate.write(chunk);
      return;
    }
    this.buf = Buffer.concat([this.buf, chunk]);
    this.wake();
  }

  /**
   * COMPRESS DEFLATE; after its OK everything written is compressed (flushed with Z_SYNC_FLUSH
   * after each write) and everything read is inflated. Returns the COMPRESS response.
   */
  async compress(): Promise<ImapResponse> {
    const r = await this.command('COMPRESS DEFLATE');
    if (r.status !== 'OK') return r;
    const inflate = zlib.createInflateRaw();
    inflate.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.wake();
    });
    inflate.on('error', () => this.socket.destroy());
    // The connection has ended for the reader only once the inflater gave out all it had.
    this.socket.removeAllListeners('close');
    this.socket.on('close', () => inflate.end());
    inflate.on('close', () => {
      this.ended = true;
      this.wake();
    });
    const deflate = zlib.createDeflateRaw();
    deflate.on('data', (chunk: Buffer) => this.socket.write(chunk));
    this.deflate = deflate;
    // Whatever followed the tagged OK was already compressed.
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    this.inflate = inflate;
    if (rest.length > 0) inflate.write(rest);
    return r;
  }

  /**
   * Sends bytes already compressed by a fresh raw DEFLATE stream that ended with Z_SYNC_FLUSH
   * (a decompression bomb made once, before the clock runs). A Z_FULL_FLUSH first ends what
   * this client's compressor may refer back to, so its later output needs nothing of the
   * spliced bytes' window. Written with backpressure.
   */
  async writePrecompressed(bytes: Buffer): Promise<void> {
    const deflate = this.deflate;
    if (deflate === null) throw new Error('compression is off');
    await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_FULL_FLUSH, () => resolve()));
    await new Promise((resolve) => setImmediate(resolve));
    for (let at = 0; at < bytes.length; at += 64 * 1024) {
      if (!this.socket.write(bytes.subarray(at, at + 64 * 1024)))
        await new Promise((resolve) => this.socket.once('drain', resolve));
    }
  }

  /** Writes through the compressor when it is on, with backpressure on both. */
  async writeCompressed(data: Buffer): Promise<void> {
    const deflate = this.deflate;
    if (deflate === null) throw new Error('compression is off');
    if (!deflate.write(data)) await new Promise((resolve) => deflate.once('drain', resolve));
    if (this.socket.writableNeedDrain) await new Promise((resolve) => this.socket.once('drain', resolve));
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  static async connect(port: number, opts: { tls?: boolean; host?: string } = {}): Promise<RawImapClient> {
    const socket = await new Promise<net.Socket | tls.TLSSocket>((resolve, reject) => {
      const s =
        opts.tls === true
          ? tls.connect({ host: opts.host ?? '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s))
          : net.connect({ host: opts.host ?? '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new RawImapClient(socket);
    client.greeting = await client.response();
    return client;
  }

  /** Connects and logs in. */
  /** Logs in as `user`: a harness user (IMAP_PASSWORDS) or, with `password`, one a test added. */
  static async login(
    port: number,
    user: string,
    opts: { tls?: boolean; password?: string } = {},
  ): Promise<RawImapClient> {
    const c = await RawImapClient.connect(port, { tls: opts.tls ?? false });
    const r = await c.command(`LOGIN ${user} ${opts.password ?? IMAP_PASSWORDS[user]}`);
    if (r.status !== 'OK') throw new Error(`login failed: ${r.tagged}`);
    return c;
  }

  write(data: string | Buffer): void {
    if (this.deflate !== null) {
      this.deflate.write(data);
      this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    } else this.socket.write(data);
  }

  private async waitData(deadline: number): Promise<void> {
    if (this.ended)
      throw new Error(`connection closed; buffered: ${this.buf.toString('latin1').slice(0, 200)}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timeout; buffered: ${this.buf.toString('latin1').slice(0, 200)}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One response (a line plus the literals it announces), literals inline. */
  async response(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let out = '';
    let pos = 0;
    for (;;) {
      const lf = this.buf.indexOf('\r\n', pos);
      if (lf < 0) {
        await this.waitData(deadline);
        continue;
      }
      const line = this.buf.subarray(0, lf).toString('latin1');
      const m = /~?\{(\d+)\+?\}$/.exec(line);
      if (m === null) {
        out += line;
        this.buf = this.buf.subarray(lf + 2);
        return out;
      }
      const n = Number(m[1]);
      if (this.buf.length < lf + 2 + n) {
        pos = 0;
        await this.waitData(deadline);
        continue;
      }
      out += line + '\r\n' + this.buf.subarray(lf + 2, lf + 2 + n).toString('latin1');
      this.buf = this.buf.subarray(lf + 2 + n);
      pos = 0;
    }
  }

  /** Reads responses until the tagged one for `tag`. */
  async until(tag: string, timeoutMs = 5000): Promise<ImapResponse> {
    const untagged: string[] = [];
    for (;;) {
      const r = await this.response(timeoutMs);
      if (r.startsWith(`${tag} `)) {
        return { untagged, tagged: r, status: r.slice(tag.length + 1).split(' ')[0]! };
      }
      untagged.push(r);
    }
  }

  tag(): string {
    return `A${this.nextTag++}`;
  }

  /** Sends `<tag> text` and reads until its tagged response. */
  async command(text: string, timeoutMs?: number): Promise<ImapResponse> {
    const tag = this.tag();
    this.write(`${tag} ${text}\r\n`);
    return this.until(tag, timeoutMs);
  }

  /** Switches to TLS (after the OK to STARTTLS). */
  async upgrade(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    this.buf = Buffer.alloc(0);
    this.socket = secure;
    this.attach(secure);
  }

  /** Resolves when the server closed the connection (and, compressed, all its output was read). */
  async closed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('connection not closed');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function message(subject: string, body = 'Hello.\r\n', extra = ''): string {
  return (
    `From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: ${subject}\r\n` +
    `Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\r\n${extra}\r\n${body}`
  );
}

/** Writes `unit` `count` times, with backpressure. */
export async function writeUnits(c: RawImapClient, unit: Buffer, count: number): Promise<void> {
  const batch = Buffer.concat(Array.from({ length: 64 }, () => unit));
  let left = count;
  while (left > 0) {
    const n = Math.min(64, left);
    left -= n;
    const piece = n === 64 ? batch : batch.subarray(0, n * unit.length);
    if (!c.socket.write(piece)) await new Promise((resolve) => c.socket.once('drain', resolve));
  }
}

/** Reads the next response and asserts it came within `ms` of `since` (performance.now()). */
export async function answerWithin(c: RawImapClient, since: number, ms = 1000): Promise<string> {
  const line = await c.response(ms);
  const took = performance.now() - since;
  assert.ok(took < ms, `answered after ${Math.round(took)} ms: ${line.slice(0, 80)}`);
  return line;
}

/**
 * Runs the reader's literal paths (four 1.1 MB SEARCH commands of small LITERAL+ literals, each
 * refused as too big) on a connection that is not probed: until the JIT has seen a few MB of
 * them they cost 40-55 ms of CPU per MB, which latency probes would otherwise measure.
 */
export async function warmLiteralPaths(c: RawImapClient): Promise<void> {
  const unit = Buffer.from(` TEXT {1000+}\r\n${'w'.repeat(1000)}`);
  for (let i = 0; i < 4; i++) {
    c.write('w1 SEARCH ALL');
    await writeUnits(c, unit, 1100);
    c.write('\r\n');
    const r = await c.until('w1', 10_000);
    if (!/^w1 BAD \[TOOBIG\]/.test(r.tagged)) throw new Error(`warm-up: ${r.tagged}`);
  }
}
