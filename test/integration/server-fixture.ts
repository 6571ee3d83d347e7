// Shared pieces of the server-* integration tests: a configuration built by hand, a tiny
// line-based test protocol (not in the registry), and a line reader for client sockets.

import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { ListenAddress, ListenerName, PosternConfig } from '../../src/config/types.js';
import { DEFAULT_AUTH, DEFAULT_OUTBOUND, DEFAULT_WEB } from '../../src/config/schema.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/core/limits.js';
import type { ConnectionHandler, ProtocolFactory } from '../../src/server/types.js';

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `postern-${prefix}-`));
}

export function testConfig(
  dataDir: string,
  opts: {
    listen?: Partial<Record<ListenerName, ListenAddress | null>>;
    limits?: Partial<Limits>;
    server?: Partial<PosternConfig['server']>;
    /** Default: no scheduled garbage collection (tests run it themselves). */
    store?: Partial<PosternConfig['store']>;
    smtp?: Partial<PosternConfig['smtp']>;
    pop3?: Partial<PosternConfig['pop3']>;
    auth?: Partial<PosternConfig['auth']>;
    web?: Partial<PosternConfig['web']>;
    outbound?: Partial<PosternConfig['outbound']>;
    level?: PosternConfig['log']['level'];
  } = {},
): PosternConfig {
  return {
    configPath: null,
    hostname: 'mail.example.test',
    dataDir,
    listen: {
      smtp: null,
      submission: null,
      submissions: null,
      imap: null,
      imaps: null,
      pop3: null,
      pop3s: null,
      http: null,
      https: null,
      ...opts.listen,
    },
    tls: { cert: null, key: null },
    store: {
      backend: 'sqlite',
      gcInterval: 0,
      gcGrace: 600,
      gcOrphanAge: 3600,
      changeLogRetention: 2592000,
      autoexpungeTrash: 2592000,
      autoexpungeJunk: 2592000,
      // Off unless a test asks: quota tests count the messages they put in a mailbox, and a
      // warning would be one more (test/integration/quota-warnings.test.ts turns them on).
      quotaWarnings: [],
      ...opts.store,
    },
    server: { workers: 1, shutdownGrace: 5, ...opts.server },
    dns: { servers: [], cacheSeconds: 300 },
    smtp: {
      bareLineEndings: 'reject',
      maxUnknownRecipients: 5,
      unknownRecipientDelay: 0,
      greetingDelay: 0,
      forbidUnauthPipelining: ['smtp'],
      maxHops: 50,
      dmarcReject: 'reject',
      dmarcQuarantine: 'quarantine',
      dmarcExempt: [],
      senderLoginExemptDomains: [],
      ...opts.smtp,
    },
    pop3: {
      deleteMode: 'expunge',
      apop: false,
      loginDelay: 0,
      expire: 'NEVER',
      expireImap: false,
      ...opts.pop3,
    },
    outbound: { ...DEFAULT_OUTBOUND, ...opts.outbound },
    auth: { ...DEFAULT_AUTH, ...opts.auth },
    web: { ...DEFAULT_WEB, ...opts.web },
    log: {
      level:
        opts.level ?? (process.env.POSTERN_TEST_LOG as PosternConfig['log']['level'] | undefined) ?? 'fatal',
    },
    limits: { ...DEFAULT_LIMITS, authFailureDelay: 0, ...opts.limits },
  };
}

export const LOOPBACK_0: ListenAddress = { host: '127.0.0.1', port: 0 };

/**
 * A line protocol for tests: greets with "HELLO secure=<bool>", then
 *   ECHO <text>      -> <text>
 *   SLOW <ms>        -> DONE after <ms>, counted as a command in flight
 *   STARTTLS <ms>    -> waits <ms> with input paused, then "READY" and the TLS handshake, then "SECURE"
 *   QUIT             -> BYE and close
 * Like a real session it drops its own buffered input when STARTTLS begins.
 */
export function lineTestProtocol(opts: { idleTimeout?: number } = {}): ProtocolFactory {
  return () => {
    const handler: ConnectionHandler = (conn) => {
      let buffer = '';
      let stopped = false;
      conn.write(`HELLO secure=${conn.secure}\r\n`);
      conn.onShutdown(() => {
        conn.write('BYE shutting down\r\n');
      });
      conn.onIdleTimeout(() => {
        conn.write('BYE idle\r\n');
      });
      const handle = (line: string): void => {
        const space = line.indexOf(' ');
        const verb = space < 0 ? line : line.slice(0, space);
        const arg = space < 0 ? '' : line.slice(space + 1);
        if (verb === 'ECHO') conn.write(`${arg}\r\n`);
        else if (verb === 'SLOW') {
          const release = conn.beginCommand();
          const timer = setTimeout(() => {
            conn.write('DONE\r\n');
            release();
          }, Number(arg));
          conn.onClose(() => clearTimeout(timer));
        } else if (verb === 'STARTTLS') {
          stopped = true;
          buffer = '';
          conn.pause();
          setTimeout(
            () => {
              conn.startTls({ response: 'READY\r\n' }).then(
                () => {
                  stopped = false;
                  conn.write('SECURE\r\n');
                },
                () => undefined,
              );
            },
            Number(arg || '0'),
          );
        } else if (verb === 'QUIT') conn.end('BYE\r\n');
        else conn.write(`ERR ${verb}\r\n`);
      };
      conn.onData((chunk) => {
        buffer += chunk.toString('latin1');
        for (let i = buffer.indexOf('\n'); i >= 0 && !stopped; i = buffer.indexOf('\n')) {
          const line = buffer.slice(0, i).replace(/\r$/, '');
          buffer = buffer.slice(i + 1);
          handle(line);
        }
      });
    };
    handler.refusal = (reason) => `BUSY ${reason}\r\n`;
    if (opts.idleTimeout !== undefined) handler.idleTimeout = opts.idleTimeout;
    return handler;
  };
}

/** Reads CRLF lines from a client stream; `next` fails after a timeout or at end of stream. */
export class LineReader {
  private buffer = '';
  private readonly lines: string[] = [];
  private waiter: { resolve: (line: string) => void; reject: (err: Error) => void } | null = null;
  private ended = false;
  readonly all: string[] = [];

  private readonly onData = (chunk: Buffer): void => {
    this.buffer += chunk.toString('latin1');
    for (let i = this.buffer.indexOf('\r\n'); i >= 0; i = this.buffer.indexOf('\r\n')) {
      const line = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      this.all.push(line);
      if (this.waiter !== null) {
        const w = this.waiter;
        this.waiter = null;
        w.resolve(line);
      } else this.lines.push(line);
    }
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(new Error('stream ended'));
    }
  };

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
  }

  next(timeoutMs = 3000): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(new Error('stream ended'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no line within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Stops reading from the stream (before handing the socket to TLS). */
  detach(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
  }
}

/** Resolves when the stream closes; rejects after a timeout. */
export function closed(stream: Duplex, timeoutMs = 3000): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not closed within ${timeoutMs} ms`)), timeoutMs);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    stream.resume();
  });
}
