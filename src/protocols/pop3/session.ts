// One POP3 session per connection (RFC 1939, with RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH,
// RFC 6856 UTF8), on the pop3 (110) and pop3s (995) listeners. Invariants:
// - inputs are handled one at a time, in order; PIPELINING (RFC 2449 §6.6) is just that, with
//   the responses of a pipelined group queued and written together when the session next
//   waits for input (and before STLS, a streamed message, or closing);
// - memory is bounded: the reader holds at most one line (limits.lineLength), the socket is
//   paused while more than MAX_BUFFERED bytes wait, queued responses are written past
//   MAX_PENDING, and messages are streamed with backpressure (commands/retrieve.ts);
// - the maildrop (snapshot, lease, \Seen marker) exists only in TRANSACTION; however the
//   session ends, the lease is given up and pending \Seen updates are committed, and messages
//   marked by DELE are removed only by QUIT (UPDATE state): a dropped connection, a timeout or
//   a shutdown deletes nothing (RFC 1939 §6);
// - after close() nothing more is read or written; STLS forgets everything (RFC 2595 §4).

import { randomBytes } from 'node:crypto';
import { SessionAuthFailures } from '../../auth/failure-tracker.js';
import { plaintextAllowed } from '../../auth/plaintext-policy.js';
import type { Logger } from '../../core/log.js';
import { SessionInput, type SessionSource } from '../../server/session-input.js';
import type { Connection } from '../../server/types.js';
import type { Account } from '../../store/types.js';
import { parsePop3Command, Pop3Err, type Pop3ResponseCode } from '../../wire/pop3/command.js';
import { Pop3Reader, type Pop3Input } from '../../wire/pop3/reader.js';
import { err as errLine, ok as okLine } from '../../wire/pop3/response.js';
import { COMMANDS } from './command-table.js';
import type { Pop3Environment, Pop3SessionContext } from './context.js';
import { MailboxLease } from './mailbox-lease.js';
import { ReadAhead } from './read-ahead.js';
import { SeenMarker } from './seen-marker.js';
import { Maildrop } from './snapshot.js';
import type { Pop3SessionState } from './state.js';

/** Bytes the reader may hold before the socket is paused. */
const MAX_BUFFERED = 64 * 1024;
/** Bytes of queued responses before they are written without waiting for the input to run dry. */
const MAX_PENDING = 64 * 1024;

export class Pop3Session implements Pop3SessionContext {
  state: Pop3SessionState = { kind: 'authorization', user: null };
  utf8 = false;
  readonly apopTimestamp: string | null;
  readonly authFailures: SessionAuthFailures;
  readonly log: Logger;
  private readonly reader: Pop3Reader;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private badCommands = 0;
  /** No more input is handled (QUIT, a fatal error, shutdown, or the connection is gone). */
  private finished = false;
  private readonly input: SessionInput;
  /** The session as SessionInput.next() sees it. */
  private readonly source: SessionSource<Pop3Input> = {
    read: () => this.reader.next(),
    stopped: () => this.finished,
    backlog: () => this.pendingBytes > MAX_PENDING,
    flush: () => this.flush(),
  };

  constructor(
    readonly conn: Connection,
    readonly env: Pop3Environment,
  ) {
    this.log = conn.log;
    this.authFailures = new SessionAuthFailures(env.config.limits.authFailuresPerSession);
    this.reader = new Pop3Reader({ maxLineLength: env.config.limits.lineLength });
    this.input = new SessionInput(conn, MAX_BUFFERED, () => this.state.kind === 'authorization');
    // RFC 1939 §7: the APOP timestamp is a msg-id, unique for each greeting.
    this.apopTimestamp = env.config.pop3.apop
      ? `<${process.pid}.${randomBytes(8).toString('hex')}.${Date.now()}@${env.config.hostname}>`
      : null;
  }

  get plaintextAllowed(): boolean {
    return plaintextAllowed(this.conn, { fromLoopback: this.env.config.auth.plaintextFromLoopback });
  }

  /** Takes over the connection: greeting, then commands until QUIT or close. */
  start(): void {
    this.input.start((chunk) => {
      if (this.finished) return null;
      this.reader.push(chunk);
      return this.reader.buffered;
    });
    this.conn.onIdleTimeout(() => {
      // RFC 1939 §3: the autologout timer ends the session without entering UPDATE.
      this.finished = true;
      this.writePending();
      this.conn.write(errLine('autologout timer expired, closing connection'));
      this.wakeUp();
    });
    this.conn.onShutdown(() => {
      this.finished = true;
      this.writePending();
      this.conn.write(errLine('server shutting down', 'SYS/TEMP'));
      this.wakeUp();
    });
    this.run().catch((err: unknown) => {
      this.log.error({ err }, 'pop3 session failed');
      this.conn.destroy();
    });
  }

  private async run(): Promise<void> {
    try {
      const ts = this.apopTimestamp === null ? '' : ` ${this.apopTimestamp}`;
      this.ok(`Postern POP3 server ready${ts}`);
      while (!this.finished) {
        const input = await this.nextInput();
        if (input === null) break;
        await this.handleInput(input);
      }
    } finally {
      await this.endMaildrop();
      this.writePending();
      if (!this.conn.closed) this.conn.end();
    }
  }

  /** Leaves TRANSACTION without UPDATE: \Seen committed, nothing deleted, lease given up. */
  private async endMaildrop(): Promise<void> {
    const state = this.state;
    if (state.kind !== 'transaction') return;
    this.state = { kind: 'update' };
    await state.seen.drain();
    await state.lease.release();
  }

  private async handleInput(input: Pop3Input): Promise<void> {
    if (input.kind === 'lineTooLong') {
      this.badCommand(new Pop3Err('lineTooLong', 'line too long'));
      return;
    }
    const parsed = parsePop3Command(input.line, {
      state: this.state.kind === 'transaction' ? 'transaction' : 'authorization',
    });
    if (parsed instanceof Pop3Err) {
      this.badCommand(parsed);
      return;
    }
    const spec = COMMANDS.get(parsed.verb);
    if (spec === undefined) {
      this.badCommand(new Pop3Err('unknownCommand', 'unknown command'));
      return;
    }
    if (this.conn.shuttingDown) {
      this.close('server shutting down', 'SYS/TEMP');
      return;
    }
    const release = this.conn.beginCommand();
    try {
      await spec.handle(this, parsed);
    } catch (e) {
      if (e instanceof Pop3Err) {
        this.err(e.message, e.code);
      } else {
        this.log.error({ err: e, verb: parsed.verb }, 'pop3 command failed');
        this.err('local error, try again later', 'SYS/TEMP');
      }
    } finally {
      release();
    }
  }

  /** Answers a malformed or unknown command; past limits.badCommands the session is closed. */
  private badCommand(e: Pop3Err): void {
    this.badCommands++;
    this.err(e.message, e.code);
    if (this.badCommands >= this.env.config.limits.badCommands) {
      this.close('too many errors, closing connection');
    }
  }

  // ---- Pop3SessionContext ----

  ok(text: string, code?: Pop3ResponseCode | null): void {
    this.queue(okLine(text, code));
  }

  err(text: string, code?: Pop3ResponseCode | null): void {
    this.queue(errLine(text, code));
  }

  queue(data: Buffer): void {
    if (this.finished && this.conn.closed) return;
    this.pending.push(data);
    this.pendingBytes += data.length;
  }

  async flush(): Promise<void> {
    if (this.writePending()) return;
    await this.conn.drained();
  }

  async send(data: Buffer): Promise<void> {
    if (this.pending.length > 0) {
      this.pending.push(data);
      this.pendingBytes += data.length;
      await this.flush();
      return;
    }
    if (!this.conn.write(data)) await this.conn.drained();
  }

  /** Writes queued responses in one write; false when the socket asked us to wait for drain. */
  private writePending(): boolean {
    if (this.pending.length === 0) return true;
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return this.conn.write(data);
  }

  async nextInput(): Promise<Pop3Input | null> {
    return this.input.next(this.source);
  }

  private wakeUp(): void {
    this.input.wakeUp();
  }

  discardBufferedInput(): void {
    this.reader.discardBuffered();
  }

  close(text?: string, code?: Pop3ResponseCode | null): void {
    if (text !== undefined) this.err(text, code);
    this.finished = true;
    const data = this.pending.length === 0 ? undefined : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.conn.end(data);
    this.wakeUp();
  }

  abort(): void {
    this.finished = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.conn.destroy();
    this.wakeUp();
  }

  async login(account: Account): Promise<void> {
    const { store } = this.env;
    // RFC 1939 §8: the maildrop is the account's INBOX, held exclusively.
    const inbox = await store.getMailbox(account.id, 'INBOX');
    if (inbox === null) throw new Pop3Err('syntax', 'no maildrop', 'SYS/PERM');
    const lease = await MailboxLease.acquire(store, inbox.id, {
      owner: MailboxLease.ownerName(this.conn.id),
      ttlMs: this.env.leaseMs,
      log: this.log,
    });
    if (lease === null) {
      // RFC 2449 §8.1.1: another POP3 session holds the maildrop.
      this.err('maildrop already locked by another session', 'IN-USE');
      return;
    }
    try {
      if (this.conn.closed) throw new Pop3Err('syntax', 'connection closed');
      // RFC 2449 §6.5 / §8.1.2 LOGIN-DELAY: announced in CAPA, so enforced, in every process;
      // counted only for logins that get this far (right credentials, maildrop free).
      const delay = this.env.config.pop3.loginDelay;
      if (delay > 0 && !(await store.recordPop3Login(account.id, delay * 1000))) {
        await lease.release();
        this.err(`logged in less than ${delay} seconds ago: try again later`, 'LOGIN-DELAY');
        return;
      }
      // The snapshot is taken under the lease (UIDVALIDITY read again: it may have changed).
      const mailbox = (await store.getMailboxById(inbox.id)) ?? inbox;
      let metas = await store.listMessages(inbox.id);
      // delete_mode "flag": a message POP3 deleted stays as \Deleted for IMAP, hidden from POP3.
      if (this.env.config.pop3.deleteMode === 'flag')
        metas = metas.filter((m) => !m.flags.includes('\\Deleted'));
      const maildrop = new Maildrop(mailbox, metas);
      this.state = {
        kind: 'transaction',
        account,
        maildrop,
        lease,
        seen: new SeenMarker(store, inbox.id, this.log),
        readAhead: new ReadAhead(this.env.blobs),
      };
    } catch (e) {
      await lease.release();
      throw e;
    }
    const { count, octets } = this.state.maildrop.stat();
    this.log.info({ user: account.address, messages: count }, 'pop3 maildrop opened');
    this.ok(`maildrop has ${count} messages (${octets} octets)`);
  }
}
