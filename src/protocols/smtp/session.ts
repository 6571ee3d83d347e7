// One SMTP session per connection (RFC 5321), for the MX (port 25), submission (587, RFC 6409)
// and submissions (465, RFC 8314). Invariants:
// - inputs are handled one at a time, in order: a command's handler finishes (including any
//   store commit) before the next input is taken from the reader; PIPELINING (RFC 2920) is just
//   that, with the replies of a pipelined group queued and written together when the session
//   next waits for input (also before STARTTLS and before closing);
// - memory is bounded: the reader holds at most one line in line mode, the socket is paused
//   while the reader holds more than MAX_BUFFERED bytes, and queued replies are flushed (with
//   backpressure) past MAX_PENDING;
// - a message being received exists only in the 'data'/'chunking' states, and leaving them
//   without a commit (RSET, EHLO, STARTTLS, a cut connection) aborts it: nothing is stored;
// - a byte received before the banner is written (possible only during a greeting delay) and,
//   with policy.forbidUnauthPipelining, a byte received after an EHLO/HELO before its reply is
//   written while PIPELINING is not in force, close the session with 554 5.5.0 and are never
//   executed (RFC 5321 §4.3.1; RFC 2920 §3.1: EHLO ends a group);
// - after close() nothing more is read or written; STARTTLS forgets everything (RFC 3207 §4.2).

import { SessionAuthFailures } from '../../auth/failure-tracker.js';
import { plaintextAllowed, type PlaintextPolicy } from '../../auth/plaintext-policy.js';
import type { TLSSocket } from 'node:tls';
import { Delivery, type SmtpSessionFacts } from '../../delivery/delivery.js';
import type { Logger } from '../../core/log.js';
import { SessionInput, type SessionSource } from '../../server/session-input.js';
import type { Connection } from '../../server/types.js';
import type { Account } from '../../store/types.js';
import { parseCommand, SmtpSyntaxError } from '../../wire/smtp/command.js';
import { SmtpReader, type ReaderMode, type SmtpInput } from '../../wire/smtp/reader.js';
import { formatReply } from '../../wire/smtp/reply.js';
import { COMMANDS } from './command-table.js';
import type { ListenerPolicy, SmtpEnvironment, SmtpSessionContext } from './context.js';
import { SmtpReply } from './reply.js';
import type { Helo, SmtpState, Transaction } from './state.js';

/** Bytes the reader may hold before the socket is paused. */
const MAX_BUFFERED = 256 * 1024;
/** Bytes of queued replies before they are written without waiting for the input to run dry. */
const MAX_PENDING = 64 * 1024;

/**
 * Whether AUTH PLAIN/LOGIN may be offered and used: over TLS always; without TLS only from
 * loopback on submission when auth.plaintext_from_loopback allows it (RFC 8314 §3, RFC 4954 §4),
 * never on the MX (port 25).
 */
export function plaintextAuthAllowed(
  conn: Pick<Connection, 'secure' | 'listener' | 'remoteAddress'>,
  policy: PlaintextPolicy,
): boolean {
  if (conn.secure) return true;
  return conn.listener !== 'smtp' && plaintextAllowed(conn, policy);
}

export class SmtpSession implements SmtpSessionContext {
  state: SmtpState = { kind: 'greeted' };
  auth: Account | null = null;
  unknownRecipients = 0;
  readonly authFailures: SessionAuthFailures;
  readonly log: Logger;
  private readonly reader: SmtpReader;
  private pending: string[] = [];
  private pendingBytes = 0;
  private badCommands = 0;
  /** No more input is handled (QUIT, a 421, shutdown, or the connection is gone). */
  private finished = false;
  private readonly input: SessionInput;
  /** The session as SessionInput.next() sees it. */
  private readonly source: SessionSource<SmtpInput> = {
    read: () => this.reader.next(),
    stopped: () => this.finished,
    backlog: () => this.pendingBytes > MAX_PENDING,
    flush: () => this.flush(),
  };
  /** The banner has been written: input from now on is not early talk. */
  private bannerSent = false;
  private earlyTalker = false;
  /** An EHLO/HELO is being handled and its reply is not written yet (only when the policy forbids pipelining). */
  private awaitingHeloReply = false;
  /** Input arrived while awaitingHeloReply. */
  private pipelinedAfterHelo = false;

  constructor(
    readonly conn: Connection,
    readonly env: SmtpEnvironment,
    readonly policy: ListenerPolicy,
  ) {
    this.log = conn.log;
    this.authFailures = new SessionAuthFailures(env.config.limits.authFailuresPerSession);
    this.reader = new SmtpReader({ maxLineLength: env.config.limits.lineLength });
    this.input = new SessionInput(conn, MAX_BUFFERED, () => policy.requireAuth && this.auth === null);
  }

  get authAllowed(): boolean {
    return plaintextAuthAllowed(this.conn, { fromLoopback: this.env.config.auth.plaintextFromLoopback });
  }

  /** Takes over the connection: banner, then commands until QUIT or close. */
  start(): void {
    this.input.start((chunk) => {
      if (!this.bannerSent) this.earlyTalker = true;
      else if (this.awaitingHeloReply) this.pipelinedAfterHelo = true;
      if (this.finished) return null;
      this.reader.push(chunk);
      return this.reader.buffered;
    });
    this.conn.onIdleTimeout(() => {
      this.finished = true;
      this.writePending();
      this.conn.write(formatReply(421, '4.4.2', `${this.env.config.hostname} timeout, closing connection`));
      this.wakeUp();
    });
    this.conn.onShutdown(() => {
      this.finished = true;
      this.writePending();
      this.conn.write(formatReply(421, '4.3.2', `${this.env.config.hostname} shutting down`));
      this.wakeUp();
    });
    this.run().catch((err: unknown) => {
      this.log.error({ err }, 'smtp session failed');
      this.conn.destroy();
    });
  }

  private async run(): Promise<void> {
    try {
      await this.greet();
      while (!this.finished) {
        const input = await this.nextInput();
        if (input === null) break;
        await this.handleInput(input);
      }
    } finally {
      await this.resetTransaction();
      this.writePending();
      if (!this.conn.closed) this.conn.end();
    }
  }

  private async greet(): Promise<void> {
    if (this.policy.greetingDelayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.policy.greetingDelayMs);
        this.conn.onClose(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (this.conn.closed) {
      this.finished = true;
      return;
    }
    // The banner is written in the same turn of the event loop as the connection is handed to
    // us, before any input is read: without a greeting delay nobody is caught here.
    if (this.earlyTalker) {
      // RFC 5321 §4.3.1 allows 554 in place of 220; a client that talks first is not an MTA.
      this.log.info('client sent data before the banner');
      this.close(
        554,
        '5.5.0',
        `${this.env.config.hostname} no SMTP service here: you talked before the banner`,
      );
      return;
    }
    this.reply(220, null, `${this.env.config.hostname} ESMTP Postern`);
    this.writePending();
    this.bannerSent = true;
  }

  private async handleInput(input: SmtpInput): Promise<void> {
    switch (input.kind) {
      case 'line':
        await this.handleLine(input.line);
        return;
      case 'lineTooLong':
        this.badCommand(500, '5.5.6', 'Line too long');
        return;
      default:
        // Body input outside DATA/BDAT cannot happen: the reader is in line mode between commands.
        this.log.warn({ kind: input.kind }, 'unexpected reader input');
    }
  }

  private async handleLine(line: Buffer): Promise<void> {
    const helo = this.state.kind === 'greeted' ? null : this.state.helo;
    // RFC 6531 §3.4: UTF-8 paths in MAIL once SMTPUTF8 is offered, in RCPT once MAIL asked for it.
    const smtputf8 =
      this.state.kind === 'greeted'
        ? false
        : this.state.kind === 'ready'
          ? helo?.verb === 'EHLO'
          : this.state.tx.params.smtputf8;
    const parsed = parseCommand(line, { smtputf8 });
    if (parsed instanceof SmtpSyntaxError) {
      this.badCommand(parsed.code, parsed.enhanced, parsed.message);
      return;
    }
    const spec = COMMANDS.get(parsed.verb);
    if (spec === undefined) {
      this.badCommand(502, '5.5.1', 'Command not implemented');
      return;
    }
    if (!spec.states.includes(this.state.kind)) {
      this.badCommand(
        503,
        '5.5.1',
        this.state.kind === 'greeted' ? 'Send EHLO or HELO first' : 'Bad sequence of commands',
      );
      return;
    }
    if (this.conn.shuttingDown) {
      this.close(421, '4.3.2', `${this.env.config.hostname} shutting down`);
      return;
    }
    // RFC 2920 §3.1: EHLO and HELO end a pipelined group; before an EHLO reply has offered
    // PIPELINING (none yet, after HELO, or since STARTTLS) nothing may follow them unanswered.
    const syncCheck =
      this.policy.forbidUnauthPipelining &&
      (parsed.verb === 'EHLO' || parsed.verb === 'HELO') &&
      helo?.verb !== 'EHLO';
    const repliesBefore = this.pending.length;
    if (syncCheck) {
      this.awaitingHeloReply = true;
      this.pipelinedAfterHelo = this.reader.buffered > 0;
    }
    const release = this.conn.beginCommand();
    try {
      await spec.handle(this, parsed);
      if (syncCheck) this.answerHelo(repliesBefore);
    } catch (err) {
      if (err instanceof SmtpReply) {
        if (err.badCommand) this.badCommand(err.code, err.enhanced, err.text);
        else this.reply(err.code, err.enhanced, err.text);
      } else {
        this.log.error({ err, verb: parsed.verb }, 'smtp command failed');
        const midBody = this.reader.currentMode.kind !== 'line';
        await this.resetTransaction();
        // Inside a body we no longer know where it ends: reading on could take body text for
        // commands, so the session ends here.
        if (midBody) this.close(421, '4.3.0', `${this.env.config.hostname} local error, closing connection`);
        else this.reply(451, '4.3.0', 'Local error in processing');
      }
    } finally {
      if (syncCheck) this.awaitingHeloReply = false;
      release();
    }
  }

  /**
   * Ends the EHLO/HELO synchronisation check: writes the reply now, or, when input came before
   * it, replaces it with 554 5.5.0 and closes (what Postfix's smtpd_forbid_unauth_pipelining does).
   */
  private answerHelo(repliesBefore: number): void {
    this.awaitingHeloReply = false;
    if (!this.pipelinedAfterHelo) {
      this.writePending();
      return;
    }
    this.log.info({ buffered: this.reader.buffered }, 'client pipelined commands before the EHLO/HELO reply');
    const kept = this.pending.slice(0, repliesBefore);
    this.pending = kept;
    this.pendingBytes = kept.reduce((n, r) => n + r.length, 0);
    this.discardBufferedInput();
    this.close(554, '5.5.0', 'Error: SMTP protocol synchronization');
  }

  /** Answers a client error; past limits.badCommands the session is closed (421). */
  private badCommand(code: number, enhanced: string | null, text: string): void {
    this.badCommands++;
    this.reply(code, enhanced, text);
    if (this.badCommands >= this.env.config.limits.badCommands) {
      this.close(421, '4.7.0', `${this.env.config.hostname} too many errors, closing connection`);
    }
  }

  // ---- SmtpSessionContext ----

  reply(code: number, enhanced: string | null, text: string | readonly string[]): void {
    if (this.finished && this.conn.closed) return;
    const formatted = formatReply(code, enhanced, text);
    this.pending.push(formatted);
    this.pendingBytes += formatted.length;
  }

  challenge(base64: string): void {
    const line = `334 ${base64}\r\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
  }

  async flush(): Promise<void> {
    if (this.writePending()) return;
    await this.conn.drained();
  }

  /** Writes queued replies in one write; false when the socket asked us to wait for drain. */
  private writePending(): boolean {
    if (this.pending.length === 0) return true;
    const data = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    return this.conn.write(data);
  }

  async nextInput(): Promise<SmtpInput | null> {
    return this.input.next(this.source);
  }

  private wakeUp(): void {
    this.input.wakeUp();
  }

  setReaderMode(mode: ReaderMode): void {
    this.reader.setMode(mode);
  }

  discardBufferedInput(): void {
    this.reader.discardBuffered();
  }

  close(code: number, enhanced: string | null, text: string): void {
    this.reply(code, enhanced, text);
    this.finished = true;
    const data = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.conn.end(data);
    this.wakeUp();
  }

  async resetTransaction(): Promise<void> {
    const state = this.state;
    if (state.kind === 'greeted' || state.kind === 'ready') return;
    this.state = { kind: 'ready', helo: state.helo };
    this.setReaderMode({ kind: 'line' });
    if (state.kind === 'data' || state.kind === 'chunking') await state.delivery.abort();
  }

  startDelivery(helo: Helo, tx: Transaction): Delivery {
    const { config, store, blobs, resolver, verifier } = this.env;
    const session: SmtpSessionFacts = {
      clientIp: this.conn.remoteAddress,
      helo,
      tls: this.conn.secure,
      tlsInfo: this.tlsInfo(),
      authenticated: this.auth !== null,
    };
    const delivery = Delivery.start(
      {
        store,
        blobs,
        limits: config.limits,
        dataDir: config.dataDir,
        hostname: config.hostname,
        resolver,
        verifier,
        quotaWarnings: { thresholds: config.store.quotaWarnings, hostname: config.hostname, log: this.log },
        ...(this.env.outbound !== undefined
          ? { onQueued: this.env.outbound.queued.bind(this.env.outbound) }
          : {}),
      },
      {
        kind: 'smtp',
        envelope: {
          id: tx.id,
          mailFrom: tx.from.address,
          body: tx.params.body,
          smtputf8: tx.params.smtputf8,
          ret: tx.params.ret,
          envid: tx.params.envid,
          requireTls: tx.params.requireTls,
          // RFC 5321 §4.4: "for" names the recipient only when there is exactly one.
          forRecipient: tx.accepted === 1 ? tx.firstRecipient : null,
          accountId: this.auth?.id ?? null,
        },
        session,
      },
    );
    for (const target of tx.local.values()) delivery.addTarget(target);
    for (const r of tx.remote.values())
      delivery.addRemote({ address: r.address, notify: r.notify, orcpt: r.orcpt });
    return delivery;
  }

  private tlsInfo(): SmtpSessionFacts['tlsInfo'] {
    if (!this.conn.secure) return null;
    const socket = this.conn.socket as TLSSocket;
    if (typeof socket.getProtocol !== 'function') return null;
    return { protocol: socket.getProtocol(), cipher: socket.getCipher()?.name ?? null };
  }
}
