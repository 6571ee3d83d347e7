// The no-stall battery's shared fixture: one server runtime (runServer, as `postern serve` runs
// it) with the smtp, imap and pop3 listeners in a temp dir, its DNS pointed at a loopback DNS
// server, two users with mailboxes, an SMTP sender for attack messages, and the bystanders:
// while an attack runs, IMAP NOOP, SMTP NOOP and POP3 STAT are sent over and over on their own
// connections, and EVERY probe must be answered within 100 ms (not a percentile).

import { rm } from 'node:fs/promises';
import net from 'node:net';
import { hashPassword } from '../../src/auth/password.js';
import type { PosternConfig } from '../../src/config/types.js';
import type { Limits } from '../../src/core/limits.js';
import { runServer, type ListenerInfo } from '../../src/app/server.js';
import { openStore } from '../../src/app/open-store.js';
import { startDnsServer, type DnsTestRecords, type DnsTestServer } from '../helpers/dns-server.js';
import { LOOPBACK_0, LineReader, tempDir, testConfig } from '../integration/server-fixture.js';

export const PROBE_LIMIT_MS = 100;

export const USERS = {
  /** Receives the attacks; the IMAP bystander has its INBOX selected. */
  alice: { address: 'alice@example.test', password: 'alice-secret-1' },
  /** The POP3 bystander's maildrop. */
  bob: { address: 'bob@example.test', password: 'bob-secret-2' },
} as const;

export interface HostileServer {
  dir: string;
  config: PosternConfig;
  dns: DnsTestServer;
  /** `submission` only when HostileServerOptions.submission was set. */
  ports: { smtp: number; imap: number; pop3: number; submission?: number };
  close(): Promise<void>;
}

export interface HostileServerOptions {
  limits?: Partial<Limits>;
  dnsRecords?: DnsTestRecords;
  /** Accounts besides USERS (all in example.test). */
  accounts?: ReadonlyArray<{ address: string; password: string }>;
  /** The scrypt cost of every account's hash (and the server's); default: the server default. */
  scryptLogN?: number;
  /** Also listen for submission (SMTP AUTH) on port 0. */
  submission?: boolean;
}

export async function startHostileServer(opts: HostileServerOptions = {}): Promise<HostileServer> {
  const dir = await tempDir('hostile');
  const dns = await startDnsServer(opts.dnsRecords ?? {});
  const config = testConfig(dir, {
    listen: {
      smtp: LOOPBACK_0,
      imap: LOOPBACK_0,
      pop3: LOOPBACK_0,
      ...(opts.submission === true ? { submission: LOOPBACK_0 } : {}),
    },
    limits: opts.limits,
    ...(opts.scryptLogN !== undefined ? { auth: { scryptLogN: opts.scryptLogN } } : {}),
  });
  config.dns = { servers: [dns.address], cacheSeconds: 60 };
  {
    const { store } = await openStore(config);
    await store.createDomain('example.test');
    for (const user of [...Object.values(USERS), ...(opts.accounts ?? [])]) {
      const passwordHash = await hashPassword(
        user.password,
        opts.scryptLogN !== undefined ? { logN: opts.scryptLogN } : undefined,
      );
      await store.createAccount({ address: user.address, passwordHash });
    }
    await store.close();
  }
  const abort = new AbortController();
  let ready!: (listeners: ListenerInfo[]) => void;
  const started = new Promise<ListenerInfo[]>((resolve) => (ready = resolve));
  const running = runServer(config, {
    signal: abort.signal,
    handleSignals: false,
    onReady: (info) => ready(info.listeners),
  });
  const listeners = await Promise.race([
    started,
    running.then(() => {
      throw new Error('the server stopped before it was ready');
    }),
  ]);
  const port = (name: string): number => {
    const found = listeners.find((l) => l.name === name);
    if (found === undefined) throw new Error(`no ${name} listener`);
    return found.port;
  };
  return {
    dir,
    config,
    dns,
    ports: {
      smtp: port('smtp'),
      imap: port('imap'),
      pop3: port('pop3'),
      ...(opts.submission === true ? { submission: port('submission') } : {}),
    },
    async close() {
      abort.abort();
      await running;
      await dns.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A line client over one socket. */
export class LineClient {
  private constructor(
    readonly socket: net.Socket,
    private readonly reader: LineReader,
  ) {}

  static async connect(port: number): Promise<LineClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    return new LineClient(socket, new LineReader(socket));
  }

  line(timeoutMs = 10_000): Promise<string> {
    return this.reader.next(timeoutMs);
  }

  /** Sends `command` and reads lines until `done` accepts one; returns that line. */
  async send(command: string, done: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    this.socket.write(`${command}\r\n`);
    for (;;) {
      const line = await this.line(timeoutMs);
      if (done(line)) return line;
    }
  }

  /** Writes with backpressure. */
  async write(data: Buffer | string): Promise<void> {
    if (!this.socket.write(data)) await new Promise((resolve) => this.socket.once('drain', resolve));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** An SMTP reply's final line: "250 ..." (not a "250-" continuation). */
const smtpFinal = (line: string): boolean => /^\d{3}( |$)/.test(line);

export interface Probe {
  protocol: 'imap' | 'smtp' | 'pop3';
  ms: number;
  at: number;
}

/** One logged-in connection per protocol, probing in a loop while an attack runs. */
export class Bystanders {
  readonly probes: Probe[] = [];
  private running = false;
  private loops: Array<Promise<void>> = [];
  private readonly failures: Error[] = [];

  private constructor(
    private readonly imap: LineClient,
    private readonly smtp: LineClient,
    private readonly pop3: LineClient,
  ) {}

  static async connect(server: HostileServer): Promise<Bystanders> {
    const imap = await LineClient.connect(server.ports.imap);
    await imap.line();
    const tagged = (tag: string) => (line: string) => line.startsWith(`${tag} `);
    const login = await imap.send(`a LOGIN ${USERS.alice.address} ${USERS.alice.password}`, tagged('a'));
    if (!login.startsWith('a OK')) throw new Error(`IMAP login: ${login}`);
    const select = await imap.send('b SELECT INBOX', tagged('b'));
    if (!select.startsWith('b OK')) throw new Error(`IMAP SELECT: ${select}`);

    const smtp = await LineClient.connect(server.ports.smtp);
    if (!(await smtp.line()).startsWith('220')) throw new Error('SMTP banner');
    await smtp.send('EHLO bystander.example.test', smtpFinal);

    const pop3 = await LineClient.connect(server.ports.pop3);
    await pop3.line();
    const ok = (line: string): boolean => line.startsWith('+OK') || line.startsWith('-ERR');
    await pop3.send(`USER ${USERS.bob.address}`, ok);
    const pass = await pop3.send(`PASS ${USERS.bob.password}`, ok);
    if (!pass.startsWith('+OK')) throw new Error(`POP3 login: ${pass}`);
    return new Bystanders(imap, smtp, pop3);
  }

  /** Starts probing on all three connections (each: a probe, 10 ms pause, the next). */
  start(): void {
    this.running = true;
    let tag = 0;
    this.loops = [
      this.loop(
        'imap',
        () => {
          const t = `p${++tag}`;
          return this.imap.send(`${t} NOOP`, (l) => l.startsWith(`${t} `));
        },
        (l) => l.includes(' OK'),
      ),
      this.loop(
        'smtp',
        () => this.smtp.send('NOOP', smtpFinal),
        (l) => l.startsWith('250'),
      ),
      this.loop(
        'pop3',
        () => this.pop3.send('STAT', (l) => l.startsWith('+OK') || l.startsWith('-ERR')),
        (l) => l.startsWith('+OK'),
      ),
    ];
  }

  private async loop(
    protocol: Probe['protocol'],
    probe: () => Promise<string>,
    good: (line: string) => boolean,
  ): Promise<void> {
    while (this.running) {
      const t0 = performance.now();
      try {
        const line = await probe();
        if (!good(line)) throw new Error(`${protocol} probe answered ${line}`);
      } catch (err) {
        this.failures.push(err as Error);
        return;
      }
      this.probes.push({ protocol, ms: performance.now() - t0, at: Date.now() });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Runs `attack` while probing; then checks every probe: answered, within PROBE_LIMIT_MS, and
   * at least `minProbes` per protocol (so the check cannot pass without probing).
   */
  async during<T>(
    attack: () => Promise<T>,
    opts: { minProbes?: number } = {},
  ): Promise<{ result: T; worstMs: number }> {
    this.probes.length = 0;
    const began = Date.now();
    this.start();
    let result: T;
    try {
      result = await attack();
    } finally {
      this.running = false;
      await Promise.all(this.loops);
    }
    if (this.failures.length > 0) throw this.failures[0]!;
    const late = this.probes.filter((p) => p.ms >= PROBE_LIMIT_MS);
    const worstMs = Math.max(...this.probes.map((p) => p.ms));
    if (late.length > 0) {
      const shown = late
        .slice(0, 5)
        .map((p) => `${p.protocol} ${p.ms.toFixed(0)} ms at +${p.at - began} ms`)
        .join(', ');
      throw new Error(
        `${late.length} of ${this.probes.length} probes over ${PROBE_LIMIT_MS} ms (attack lasted ${Date.now() - began} ms): ${shown}`,
      );
    }
    const min = opts.minProbes ?? 3;
    for (const protocol of ['imap', 'smtp', 'pop3'] as const) {
      const taken = this.probes.filter((p) => p.protocol === protocol);
      if (taken.length < min) throw new Error(`only ${taken.length} ${protocol} probes during the attack`);
    }
    return { result, worstMs };
  }

  close(): void {
    this.imap.destroy();
    this.smtp.destroy();
    this.pop3.destroy();
  }
}

/**
 * Sends one message to the MX (alice as the recipient), the body streamed from `body` with
 * backpressure (it must already be dot-stuffed; the final dot is added); returns the reply to
 * the end of data, or the earlier refusal.
 */
export async function sendToMx(
  server: HostileServer,
  body: AsyncIterable<Buffer> | Iterable<Buffer>,
  opts: { timeoutMs?: number; onDataSent?: () => void } = {},
): Promise<{ code: number; text: string; usable: boolean }> {
  const c = await LineClient.connect(server.ports.smtp);
  try {
    await c.line();
    await c.send('EHLO attacker.example.net', smtpFinal);
    const mail = await c.send('MAIL FROM:<sender@attacker.test>', smtpFinal);
    if (!mail.startsWith('250')) return reply(mail);
    const rcpt = await c.send(`RCPT TO:<${USERS.alice.address}>`, smtpFinal);
    if (!rcpt.startsWith('250')) return reply(rcpt);
    const data = await c.send('DATA', smtpFinal);
    if (!data.startsWith('354')) return reply(data);
    // The server may refuse early (and close): stop writing then, and read its reply.
    let refused = false;
    const early = c.line(opts.timeoutMs ?? 120_000).then((line) => {
      refused = true;
      return line;
    });
    for await (const chunk of body) {
      if (refused || c.socket.destroyed) break;
      await c.write(chunk);
    }
    if (!refused) c.socket.write('\r\n.\r\n');
    opts.onDataSent?.();
    const final = reply(await early);
    // The session is back in step after the message: a NOOP on it is answered.
    let usable = false;
    try {
      usable = (await c.send('NOOP', smtpFinal, 5000)).startsWith('250');
    } catch {
      usable = false; // closed by the server
    }
    return { ...final, usable };
  } finally {
    c.destroy();
  }
}

function reply(line: string): { code: number; text: string; usable: boolean } {
  return { code: Number(line.slice(0, 3)), text: line.slice(4), usable: false };
}
