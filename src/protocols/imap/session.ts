// One IMAP session per connection (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1). Invariants:
// - inputs are handled one at a time, in order: a command's handler (with its store work)
//   finishes before the next input is taken; pipelined commands simply queue in the reader;
// - untagged updates about the selected mailbox are produced only by view.sync(), after each
//   command and during IDLE, never while a handler runs (so never an EXPUNGE during FETCH,
//   STORE or SEARCH by sequence number, RFC 9051 §7.5.1);
// - memory is bounded: the socket is paused while the reader holds more than MAX_BUFFERED
//   bytes, responses are written once MAX_PENDING bytes are queued, and APPEND literals above
//   STREAM_ABOVE bytes go straight into a Delivery (src/delivery/delivery.ts);
// - a streamed APPEND literal's Delivery holds its size of the account's quota while it arrives
//   and until its command ends, and its file stays a temp file until the APPEND is known to be
//   valid: a refused or failed APPEND, a parse error or a dropped connection aborts it at once;
// - a literal's size is checked (state, command, limit) before `+` is sent; a refused {n+}
//   is drained by the reader, never executed;
// - every refused command gets its tagged answer as soon as the reader knows (an overlong line
//   before its end has arrived), while the reader discards the rest; input that has no tag to
//   answer and whose framing is lost ends the session with BYE;
// - one command other than APPEND's message holds at most limits.imapCommandSize bytes (before
//   login, at most limits.imapLineLength);
// - STARTTLS drops everything read before the handshake (reader recreated, RFC 9051 §6.2.1);
// - NOTIFY's notifications (notifier.ts) are written only where untagged responses may go:
//   before the session waits for input, after a command's view sync, and in IDLE; never while
//   a handler runs.

import { SessionAuthFailures } from '../../auth/failure-tracker.js';
import { plaintextAllowed } from '../../auth/plaintext-policy.js';
import { isStoreError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { CommitOrder } from '../../delivery/commit-order.js';
import { checkQuotaRoom, Delivery } from '../../delivery/delivery.js';
import { SessionInput, type SessionSource } from '../../server/session-input.js';
import type { Connection } from '../../server/types.js';
import {
  codes,
  ResponseEncoder,
  type ImapData,
  type ResponseCode,
  type Status,
} from '../../wire/imap/encoder.js';
import { ImapReader, type ImapInput } from '../../wire/imap/reader.js';
import { baseCapabilities } from './capabilities.js';
import { COMMANDS } from './command-table.js';
import type {
  ImapCommandInput,
  ImapCommandSpec,
  ImapEnvironment,
  ImapSessionContext,
  StreamedLiteral,
} from './context.js';
import { fromStoreError, ImapBad, ImapNo } from './errors.js';
import { quotaWarningSettings } from './quota-alert.js';
import { Notifier, type DeliveryPoint } from './notifier.js';
import type { NotifyRequest } from './notify-request.js';
import type { ImapState } from './state.js';

/** BYE text when the selected mailbox was deleted by another session. */
export const SELECTED_MAILBOX_DELETED = 'Selected mailbox was deleted, have to disconnect.';

/** Bytes the reader may hold before the socket is paused. */
const MAX_BUFFERED = 256 * 1024;
/** Bytes of queued responses written without waiting for the command to end. */
const MAX_PENDING = 64 * 1024;
/** APPEND literals above this many bytes are streamed to the blob store, not buffered. */
const STREAM_ABOVE = 64 * 1024;
/** Commands that may carry message literals streamed to blobs. */
const STREAMED_COMMANDS = ['APPEND'];
/** Longest stretch of buffered commands handled before other connections get a turn. */
const SLICE_MS = 5;
/** Pipelined APPENDs running at once in one session (each may hold a literal below STREAM_ABOVE). */
const MAX_DEFERRED_APPENDS = 32;
/**
 * Streamed literals one APPEND may hold until it commits (MULTIAPPEND, CATENATE TEXT parts):
 * each is an open temp file, or up to the inline size in memory, so a batch is bounded.
 */
const MAX_STREAMED_LITERALS = 64;

/** A command's tagged response, or null when its handler wrote it (STARTTLS). */
type CommandOutcome = { status: Status; code: ResponseCode | null; text: string } | null;
const MAX_LIST_DEPTH = 32;
const MAX_TOKENS = 100_000;

/** Extensions ENABLE knows (RFC 5161); the value is the name echoed in `* ENABLED`. */
const ENABLEABLE = new Map<string, string>([
  ['IMAP4REV2', 'IMAP4rev2'],
  ['UTF8=ACCEPT', 'UTF8=ACCEPT'],
  // RFC 7162 §3.1, §3.2.3: QRESYNC turns CONDSTORE on as well.
  ['CONDSTORE', 'CONDSTORE'],
  ['QRESYNC', 'QRESYNC'],
]);

export class ImapSession implements ImapSessionContext {
  state: ImapState = { kind: 'notAuthenticated' };
  readonly log: Logger;
  readonly authFailures: SessionAuthFailures;
  readonly enabled = new Set<string>();
  private reader: ImapReader;
  private out: ResponseEncoder;
  private finished = false;
  private readonly input: SessionInput;
  /** The session as SessionInput.next() sees it. */
  private readonly source: SessionSource<ImapInput> = {
    read: () => this.reader.next(),
    stopped: () => this.finished,
    backlog: () => this.out.length > MAX_PENDING,
    // Before waiting for more input, the deferred APPENDs are answered.
    flush: async () => {
      await this.settleDeferred();
      // RFC 5465 §3: with NOTIFY, changes are told without waiting for a command.
      await this.deliverNotifications('between');
      await this.flush();
    },
  };
  private badCommands = 0;
  /** Literals of the command being read that were streamed to deliveries. */
  private streamed: StreamedLiteral[] = [];
  /** The delivery of the literal being streamed (it holds the literal's quota reservation). */
  private writer: Delivery | null = null;
  /** The literal being streamed is a literal8 (`~{n}`): NUL is allowed in it (RFC 3516 §4.4). */
  private writerBinary = false;
  private writerError: Error | null = null;
  /** Pipelined APPENDs still running, oldest first: each answers when called (runCommand). */
  private deferred: Array<() => Promise<void>> = [];
  private readonly appendOrder = new CommitOrder();
  /** BYE text to send after the current command's tagged response. */
  private closeAfter: string | null = null;
  /** NOTIFY's state (RFC 5465), null without NOTIFY or after NOTIFY NONE. */
  private notifier: Notifier | null = null;

  constructor(
    readonly conn: Connection,
    readonly env: ImapEnvironment,
  ) {
    this.log = conn.log;
    this.authFailures = new SessionAuthFailures(env.config.limits.authFailuresPerSession);
    this.reader = this.newReader();
    this.out = new ResponseEncoder();
    this.input = new SessionInput(conn, MAX_BUFFERED, () => this.state.kind === 'notAuthenticated');
  }

  private newReader(): ImapReader {
    const limits = this.env.config.limits;
    const reader = new ImapReader({
      maxLineLength: limits.imapLineLength,
      maxLiteralSize: limits.literalSize,
      maxListDepth: MAX_LIST_DEPTH,
      maxTokensPerCommand: MAX_TOKENS,
      stream: { above: STREAM_ABOVE, maxSize: limits.messageSize, commands: STREAMED_COMMANDS },
    });
    this.limitLiteralsToState(reader);
    return reader;
  }

  /**
   * Before login a {n+} is refused (and drained) above one line's worth, as literalRefusal()
   * does for {n}, and a whole command is at most one line's worth: otherwise an
   * unauthenticated peer makes the reader buffer up to imapCommandSize. Takes effect from the
   * next literal header (imap-hostile test "literals before login are not buffered").
   */
  private limitLiteralsToState(reader: ImapReader = this.reader): void {
    const limits = this.env.config.limits;
    const before = this.state.kind === 'notAuthenticated';
    reader.setMaxNonSyncLiteral(before ? limits.imapLineLength : undefined);
    reader.setMaxCommandSize(
      before ? Math.min(limits.imapCommandSize, limits.imapLineLength) : limits.imapCommandSize,
    );
  }

  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }
  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT');
  }
  get plaintextAuthAllowed(): boolean {
    return plaintextAllowed(this.conn, { fromLoopback: this.env.config.auth.plaintextFromLoopback });
  }

  capabilities(): string[] {
    return baseCapabilities({
      state: this.state.kind,
      secure: this.conn.secure,
      plaintextAuthAllowed: this.plaintextAuthAllowed,
      messageSize: this.env.config.limits.messageSize,
    });
  }

  enable(extension: string): boolean {
    const upper = extension.toUpperCase();
    if (!ENABLEABLE.has(upper)) return false;
    if (upper === 'UTF8=ACCEPT' && !this.utf8) {
      this.writePending();
      this.out = new ResponseEncoder({ utf8Accept: true });
    }
    this.enabled.add(upper);
    if (upper === 'QRESYNC') this.enabled.add('CONDSTORE');
    return true;
  }

  /** Takes over the connection: greeting, then commands until LOGOUT or close. */
  start(): void {
    this.input.start((chunk) => {
      if (this.finished) return null;
      this.reader.push(chunk);
      return this.reader.buffered;
    });
    this.conn.onIdleTimeout(() => this.bye('Autologout; idle for too long'));
    this.conn.onShutdown(() => this.bye('Server shutting down'));
    // IDLE waits for the client, not for work: it must not hold the shutdown grace period.
    this.conn.onShutdownBegin(() => this.wakeUp());
    this.run().catch((err: unknown) => {
      this.log.error({ err }, 'imap session failed');
      this.conn.destroy();
    });
  }

  private bye(text: string): void {
    if (this.finished) return;
    this.finished = true;
    this.out.status('*', 'BYE', null, text);
    this.writePending();
    this.conn.end();
    this.wakeUp();
  }

  private async run(): Promise<void> {
    try {
      this.out.status('*', 'OK', codes.capability(this.capabilities()), 'Postern ready.');
      // One input per step() call: a finished command (with literals up to literalSize) is not
      // kept alive by this frame while the connection waits for the next one.
      // Input that is already buffered (a pipelined upload of thousands of APPENDs) is handled
      // without waiting for I/O, so every few milliseconds the loop lets other connections in.
      let slice = performance.now();
      while (!this.finished && (await this.step())) {
        if (performance.now() - slice > SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          slice = performance.now();
        }
      }
    } finally {
      this.notifier?.stop();
      // Running APPENDs finish (their commits may already be queued) and release their files.
      await this.settleDeferred();
      // A connection dropped mid-literal or between a literal and its command line.
      await this.abortWriter();
      await this.dropStreamed();
      this.writePending();
      if (!this.conn.closed) this.conn.end();
    }
  }

  /** Reads and handles one input; false when the connection ended. */
  private async step(): Promise<boolean> {
    const input = await this.nextInput();
    if (input === null) return false;
    await this.handleInput(input);
    return true;
  }

  private async handleInput(input: ImapInput): Promise<void> {
    switch (input.kind) {
      case 'command':
        await this.handleCommand(input.tag, input.name, input.args);
        return;
      case 'needContinuation': {
        const refusal =
          this.literalRefusal(input.name, input.size) ??
          this.batchRefusal(input.name) ??
          (await this.quotaRefusal(input.name, input.size));
        if (refusal === null) {
          this.out.continuation('Ready for literal data');
          this.writePending();
          this.reader.acceptLiteral();
        } else {
          this.reader.rejectLiteral();
          await this.dropStreamed();
          await this.settleDeferred();
          this.respond(input.tag, refusal instanceof ImapBad ? 'BAD' : 'NO', refusal.code, refusal.message);
          if (refusal instanceof ImapBad) this.countBad();
        }
        return;
      }
      case 'literalStart':
        await this.abortWriter();
        this.writerError = null;
        this.writerBinary = input.binary;
        if (this.literalRefusal(input.name, input.size) !== null) {
          this.writerError = new ImapNo('Literal refused', { name: 'TOOBIG' });
          return;
        }
        this.writerError = this.batchRefusal(input.name);
        if (this.writerError !== null) return;
        {
          // literalRefusal() passed: the session is logged in (APPEND's states).
          if (this.state.kind !== 'authenticated' && this.state.kind !== 'selected') return;
          const { store, blobs, config } = this.env;
          const delivery = Delivery.start(
            { store, blobs, limits: config.limits, quotaWarnings: quotaWarningSettings(config, this.log) },
            { kind: 'append', accountId: this.state.account.id },
          );
          // The announced size counts against the quota while the bytes arrive: concurrent
          // streams of one account cannot together fill the disk past it.
          try {
            await delivery.reserve(input.size);
          } catch (err) {
            await delivery.abort();
            this.writerError = isStoreError(err) ? fromStoreError(err) : (err as Error);
            return;
          }
          this.writer = delivery;
        }
        return;
      case 'literalChunk':
        if (this.writer !== null && this.writerError === null) {
          try {
            await this.writer.write(input.data);
          } catch (err) {
            this.writerError = err instanceof Error ? err : new Error(String(err));
            await this.abortWriter();
          }
        }
        return;
      case 'literalEnd':
        await this.endStreamedLiteral(input.containsNul);
        return;
      case 'literalTooLarge': {
        await this.dropStreamed();
        await this.settleDeferred();
        // A {n} is refused before `+` (RFC 9051 §7.1 TOOBIG); so is an APPEND over the message
        // size in either form (RFC 7889 §4). A {n+} of another command over a limit is a client
        // error: BAD [TOOBIG], and the reader drains it (RFC 7888 §4).
        const no = input.sync || STREAMED_COMMANDS.includes(input.name);
        this.respond(input.tag, no ? 'NO' : 'BAD', { name: 'TOOBIG' }, input.reason);
        if (!no) this.countBad();
        return;
      }
      case 'lineTooLong':
        await this.dropStreamed();
        await this.settleDeferred();
        this.respond(input.tag ?? '*', 'BAD', null, input.reason);
        this.countBad();
        return;
      case 'unframed':
        // Nothing can be answered with a tag, and where the next command starts is unknown.
        await this.dropStreamed();
        await this.settleDeferred();
        this.bye(input.reason);
        return;
      case 'bad':
        await this.dropStreamed();
        await this.settleDeferred();
        this.respond(input.tag ?? '*', 'BAD', null, `Syntax error: ${input.reason}`);
        this.countBad();
        return;
      case 'line':
        // A raw line nobody asked for cannot happen: expectRawLine() is always followed by a read.
        this.log.warn('unexpected raw line');
        return;
    }
  }

  /** Why a literal for this command may not be sent, or null when `+` may go. */
  private literalRefusal(name: string, size: number): ImapNo | ImapBad | null {
    const spec = this.specFor(name.toUpperCase());
    if (spec === undefined) return new ImapBad('Unknown command');
    if (!spec.states.includes(this.state.kind)) return new ImapBad('Command not allowed in this state');
    const limits = this.env.config.limits;
    let max = STREAMED_COMMANDS.includes(name) ? limits.messageSize : limits.literalSize;
    // Before login no literal needs more than a line's worth (LOGIN, ID): an unauthenticated
    // peer must not make the server buffer up to literalSize bytes (imap-hostile test).
    if (this.state.kind === 'notAuthenticated') max = Math.min(max, limits.imapLineLength);
    if (size > max) return new ImapNo('Literal too large', { name: 'TOOBIG' });
    return null;
  }

  /** RFC 5530 LIMIT: an APPEND already holding MAX_STREAMED_LITERALS streamed literals takes no more. */
  private batchRefusal(name: string): ImapNo | null {
    if (!STREAMED_COMMANDS.includes(name.toUpperCase()) || this.streamed.length < MAX_STREAMED_LITERALS)
      return null;
    return new ImapNo(`At most ${MAX_STREAMED_LITERALS} large messages in one APPEND`, { name: 'LIMIT' });
  }

  /**
   * An APPEND literal that would take the account past its quota (with the streams it already
   * has in flight) is refused before `+` (RFC 9208 §4.3 OVERQUOTA), so its bytes are never sent.
   */
  private async quotaRefusal(name: string, size: number): Promise<ImapNo | null> {
    if (!STREAMED_COMMANDS.includes(name.toUpperCase())) return null;
    if (this.state.kind !== 'authenticated' && this.state.kind !== 'selected') return null;
    try {
      await checkQuotaRoom(this.env.store, this.state.account.id, size);
      return null;
    } catch (err) {
      if (!isStoreError(err, 'OVER_QUOTA')) throw err;
      const mapped = fromStoreError(err);
      return mapped instanceof ImapNo ? mapped : new ImapNo(err.message, { name: 'OVERQUOTA' });
    }
  }

  /**
   * The literal's bytes are all in its delivery's temp file; it is not committed (hashed into
   * blobs/) here but by the APPEND handler once the command is valid (see StreamedLiteral).
   */
  private async endStreamedLiteral(containsNul: boolean): Promise<void> {
    const writer = this.writer;
    this.writer = null;
    if (this.writerError !== null || writer === null) {
      await writer?.abort();
      this.streamed.push({ ok: false, error: this.writerError ?? new Error('literal not stored') });
      this.writerError = null;
      return;
    }
    if (containsNul && !this.writerBinary) {
      await writer.abort();
      // RFC 3516 §4.2 / RFC 9051 §4.3: NUL only in literal8.
      this.streamed.push({ ok: false, error: new ImapBad('NUL in a literal: use literal8 (~{n})') });
      return;
    }
    this.streamed.push({ ok: true, delivery: writer, size: writer.size });
  }

  private async abortWriter(): Promise<void> {
    const w = this.writer;
    this.writer = null;
    if (w !== null) await w.abort();
  }

  /** The streamed literals of a command that will not run: their temp files go at once. */
  private async dropStreamed(): Promise<void> {
    const literals = this.streamed;
    this.streamed = [];
    await this.releaseStreamed(literals);
  }

  /**
   * After a command (or instead of it): aborts the deliveries its handler did not commit (a
   * no-op for those it committed: a commit cleans up after itself), giving their quota back.
   */
  private async releaseStreamed(literals: StreamedLiteral[]): Promise<void> {
    for (const literal of literals) {
      if (!literal.ok) continue;
      try {
        await literal.delivery.abort();
      } catch (err) {
        this.log.warn({ err }, 'removing a streamed literal failed');
      }
    }
  }

  /** The spec of a command name as the reader gives it: `FETCH`, or `UID FETCH` for the UID form. */
  private specFor(name: string): ImapCommandSpec | undefined {
    if (!name.startsWith('UID ')) return COMMANDS.get(name);
    const spec = COMMANDS.get(name.slice(4));
    return spec?.uidForm === true ? spec : undefined;
  }

  private async handleCommand(tag: string, rawName: string, args: ImapCommandInput['args']): Promise<void> {
    const streamed = this.streamed;
    this.streamed = [];
    let handedOver = false;
    try {
      handedOver = await this.runCommand(tag, rawName, args, streamed);
    } finally {
      // Whatever happened (refused before the handler, or the session ended): no temp file stays.
      if (!handedOver) await this.releaseStreamed(streamed);
    }
  }

  /**
   * Runs a command; true when it was an APPEND left running (its literals and response are then
   * the deferred completion's). Every other command first completes the deferred APPENDs.
   */
  private async runCommand(
    tag: string,
    rawName: string,
    args: ImapCommandInput['args'],
    streamed: StreamedLiteral[],
  ): Promise<boolean> {
    const name = rawName.toUpperCase();
    const uid = name.startsWith('UID ');
    const spec = this.specFor(name);
    const pipelinable = spec?.name === 'APPEND' && !uid;
    if (!pipelinable) await this.settleDeferred();
    if (spec === undefined) {
      this.respond(tag, 'BAD', null, uid ? 'Unknown UID command' : 'Unknown command');
      this.countBad();
      return false;
    }
    if (!spec.states.includes(this.state.kind)) {
      await this.settleDeferred();
      this.respond(tag, 'BAD', null, this.wrongStateText());
      this.countBad();
      return false;
    }
    if (this.conn.shuttingDown) {
      await this.settleDeferred();
      this.bye('Server shutting down');
      return false;
    }
    const release = this.conn.beginCommand();
    if (pipelinable) {
      // Pipelined APPENDs (LITERAL+ uploads, migrations) run concurrently: the next command is
      // read while this one's blob and commit proceed, so many share one WAL fsync; each
      // queues its append in command order, and the responses are written in command order
      // when the input runs dry or another command comes (settleDeferred).
      if (this.deferred.length >= MAX_DEFERRED_APPENDS) await this.settleOldest();
      const ticket = this.appendOrder.next();
      const cmd: ImapCommandInput = { tag, name: spec.name, uid, args, streamed, commitTicket: ticket };
      const outcome = this.invoke(spec, cmd).finally(() => ticket.release());
      this.deferred.push(() => this.complete(spec, cmd, outcome, release));
      return true;
    }
    const cmd: ImapCommandInput = { tag, name: spec.name, uid, args, streamed };
    await this.complete(spec, cmd, this.invoke(spec, cmd), release);
    return false;
  }

  /** A command's handler, its result or error mapped to a tagged response; never rejects. */
  private async invoke(spec: ImapCommandSpec, cmd: ImapCommandInput): Promise<CommandOutcome> {
    let text = `${cmd.uid ? 'UID ' : ''}${spec.name} completed`;
    try {
      const result = await spec.handle(this, cmd);
      if (result?.silent === true) return null;
      if (result?.text !== undefined) text = result.text;
      return { status: 'OK', code: result?.code ?? null, text };
    } catch (err) {
      const mapped = isStoreError(err) ? fromStoreError(err) : err;
      if (mapped instanceof ImapNo) return { status: 'NO', code: mapped.code, text: mapped.message };
      if (mapped instanceof ImapBad) return { status: 'BAD', code: mapped.code, text: mapped.message };
      this.log.error({ err, command: spec.name }, 'imap command failed');
      return { status: 'NO', code: { name: 'SERVERBUG' }, text: 'Internal error' };
    }
  }

  /** Waits for a command's outcome and answers it (after the view's untagged responses). */
  private async complete(
    spec: ImapCommandSpec,
    cmd: ImapCommandInput,
    outcome: Promise<CommandOutcome>,
    release: () => void,
  ): Promise<void> {
    try {
      const r = await outcome;
      // Before the tagged response: a failed APPEND's temp file is gone when the client hears NO.
      await this.releaseStreamed(cmd.streamed);
      if (r === null) return;
      if (r.status === 'BAD') this.countBad();
      if (this.finished && this.conn.closed) return;
      await this.syncView({ expunges: !(spec.noExpungeResponses === true && !cmd.uid), uid: cmd.uid });
      await this.deliverNotifications('afterCommand');
      let code = r.code;
      // RFC 7162 §3.2.10: with CONDSTORE on, EXPUNGE's OK tells the mailbox's HIGHESTMODSEQ after
      // the expunges just reported (the client's new resynchronisation point).
      if (spec.name === 'EXPUNGE' && r.status === 'OK' && code === null && this.enabled.has('CONDSTORE')) {
        if (this.state.kind === 'selected')
          code = { name: 'HIGHESTMODSEQ', data: [this.state.view.highestModseq] };
      }
      this.respond(cmd.tag, r.status, code, r.text);
      if (this.closeAfter !== null) this.bye(this.closeAfter);
      else if (this.state.kind === 'logout') {
        this.finished = true;
        this.writePending();
        this.conn.end();
      }
    } finally {
      this.limitLiteralsToState();
      release();
    }
  }

  /** Completes the deferred APPENDs, in command order. */
  private async settleDeferred(): Promise<void> {
    while (this.deferred.length > 0) await this.settleOldest();
  }

  private async settleOldest(): Promise<void> {
    const next = this.deferred.shift();
    if (next !== undefined) await next();
  }

  /** Reports the selected mailbox's changes, if a mailbox is selected. */
  async syncView(opts: { expunges: boolean; uid: boolean }): Promise<void> {
    if (this.state.kind !== 'selected') return;
    const view = this.state.view;
    const lastUid = view.lastUid;
    try {
      await view.sync(this, {
        expunges: opts.expunges,
        uid: opts.uid,
        rev1: !this.rev2,
        condstore: this.enabled.has('CONDSTORE'),
        qresync: this.enabled.has('QRESYNC'),
      });
      // RFC 5465 §5.1: NOTIFY's MessageNew attributes follow the EXISTS of new messages.
      if (this.notifier?.newMessageItems != null && view.lastUid > lastUid) {
        await this.notifier.fetchNew(view.allUids.filter((uid) => uid > lastUid));
      }
    } catch (err) {
      // The mailbox was deleted under the session (another session's DELETE): RFC 2180 §3.2,
      // allow the DELETE and end the other sessions with BYE (Dovecot disconnects too).
      if (!isStoreError(err, 'NOT_FOUND')) throw err;
      this.closeAfterResponse(SELECTED_MAILBOX_DELETED);
    }
  }

  private wrongStateText(): string {
    switch (this.state.kind) {
      case 'notAuthenticated':
        return 'Authenticate first';
      case 'authenticated':
        return 'Select a mailbox first';
      default:
        return 'Command not allowed in this state';
    }
  }

  private respond(tag: string, status: Status, code: ResponseCode | null, text: string): void {
    this.out.status(tag, status, code, text);
  }

  private countBad(): void {
    this.badCommands++;
    if (this.badCommands >= this.env.config.limits.badCommands) this.bye('Too many invalid commands');
  }

  // ---- ImapSessionContext ----

  untagged(...data: ImapData[]): void {
    this.out.untagged(...data);
    if (this.out.length > MAX_PENDING) this.writePending();
  }

  async flush(): Promise<void> {
    if (this.writePending()) return;
    await this.conn.drained();
  }

  async writeRaw(bytes: Buffer | string, opts?: { allowPending?: number }): Promise<void> {
    this.writePending();
    if (!this.conn.write(bytes) && this.conn.pendingBytes > (opts?.allowPending ?? 0))
      await this.conn.drained();
  }

  async continuation(text: string): Promise<Buffer | null> {
    this.out.continuation(text);
    await this.flush();
    this.reader.expectRawLine();
    const input = await this.nextInput();
    if (input === null) return null;
    if (input.kind === 'line') return input.line;
    // An overlong response line is the client's error, not ours (imap-hostile test); the
    // reader refuses it as soon as the limit is crossed and skips the rest.
    if (input.kind === 'lineTooLong') throw new ImapBad(input.reason);
    // The reader yields the raw line next once expectRawLine() is set; anything else is a bug.
    throw new Error(`expected a raw line, got ${input.kind}`);
  }

  /** Lets NOTIFY write what changed, where untagged responses may go now. */
  private async deliverNotifications(point: DeliveryPoint): Promise<void> {
    const notifier = this.notifier;
    if (notifier === null || !notifier.pending || this.finished) return;
    if (this.state.kind !== 'authenticated' && this.state.kind !== 'selected') return;
    try {
      await notifier.deliver(point);
    } catch (err) {
      this.log.warn({ err }, 'NOTIFY delivery failed');
    }
    // The selected mailbox was deleted elsewhere: between commands, BYE goes now.
    if (point === 'between' && this.closeAfter !== null) this.bye(this.closeAfter);
  }

  async setNotify(request: NotifyRequest | null, opts: { status: boolean }): Promise<void> {
    this.notifier?.stop();
    this.notifier = null;
    if (request === null) return;
    const notifier = new Notifier(this, request, () => this.wakeUp());
    this.notifier = notifier;
    await notifier.start(opts);
  }

  async idle(text: string, onChange: () => Promise<void>): Promise<Buffer | null> {
    this.out.continuation(text);
    await this.flush();
    this.reader.expectRawLine();
    let changed = false;
    const state = this.state;
    const unwatch =
      state.kind === 'selected'
        ? this.env.store.watch(state.view.mailboxId, () => {
            changed = true;
            this.wakeUp();
          })
        : () => undefined;
    try {
      for (;;) {
        if (this.finished) return null;
        const input = this.reader.next();
        if (input !== null) {
          if (input.kind === 'line') return input.line;
          // An overlong line instead of DONE ends IDLE with BAD as soon as the limit is crossed
          // (imap-command-bounds test); the reader skips the rest of the line.
          if (input.kind === 'lineTooLong') throw new ImapBad(input.reason);
          throw new Error(`expected a raw line, got ${input.kind}`);
        }
        if (changed || this.notifier?.pending === true) {
          if (changed) {
            changed = false;
            await onChange();
          }
          await this.deliverNotifications('idle');
          await this.flush();
          // The change ends the session (the selected mailbox was deleted elsewhere): say BYE
          // now rather than after a DONE that may come only much later (RFC 2180 §3.2).
          if (this.closeAfter !== null) {
            this.bye(this.closeAfter);
            return null;
          }
          continue;
        }
        if (this.input.peerEnded || this.conn.closed) return null;
        if (this.conn.shuttingDown) {
          // RFC 2177: the server may end IDLE with BYE.
          this.bye('Server shutting down');
          return null;
        }
        await this.input.wait();
      }
    } finally {
      unwatch();
    }
  }

  async startTls(tag: string): Promise<void> {
    this.writePending();
    const response = new ResponseEncoder().status(tag, 'OK', null, 'Begin TLS negotiation now').take();
    // Everything the client sent after STARTTLS is discarded with the old reader (RFC 9051 §6.2.1).
    this.reader = this.newReader();
    await this.dropStreamed();
    await this.conn.startTls({ response });
    this.reader = this.newReader();
  }

  async startCompression(tag: string): Promise<void> {
    if (this.reader.buffered > 0) throw new ImapBad('Input after COMPRESS before its response');
    this.writePending();
    const response = new ResponseEncoder().status(tag, 'OK', null, 'DEFLATE active').take();
    this.conn.startCompression({ response });
    await this.flush();
  }

  finish(): void {
    this.state = { kind: 'logout' };
  }

  closeAfterResponse(byeText: string): void {
    this.closeAfter = byeText;
  }

  // ---- input ----

  /** Writes queued responses in one write; false when the socket asked us to wait for drain. */
  private writePending(): boolean {
    if (this.out.length === 0) return true;
    return this.conn.write(this.out.take());
  }

  private async nextInput(): Promise<ImapInput | null> {
    return this.input.next(this.source);
  }

  private wakeUp(): void {
    this.input.wakeUp();
  }
}
