// One IMAP session per connection (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1). Invariants:
// - inputs are handled one at a time, in order: a command's handler (with its store work)
//   finishes before the next input is taken; pipelined commands simply queue in the reader;
// - untagged updates about the selected mailbox are produced only by view.sync(), after each
//   command and during IDLE, never while a handler runs (so never an EXPUNGE during FETCH,
//   STORE or SEARCH by sequence number, RFC 9051 §7.5.1);
// - memory is bounded: the socket is paused while the reader holds more than MAX_BUFFERED
//   bytes, responses are written once MAX_PENDING bytes are queued, and APPEND literals above
//   STREAM_ABOVE bytes go straight to a blob writer;
// - a literal's size is checked (state, command, limit) before `+` is sent; a refused {n+}
//   is drained by the reader, never executed;
// - STARTTLS drops everything read before the handshake (reader recreated, RFC 9051 §6.2.1).

import { SessionAuthFailures } from '../../auth/failure-tracker.js';
import { isStoreError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { messageBlobOptions } from '../../delivery/local.js';
import { SessionInput, type SessionSource } from '../../server/session-input.js';
import type { Connection } from '../../server/types.js';
import type { BlobWriter } from '../../store/blob/types.js';
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
const MAX_LIST_DEPTH = 32;
const MAX_TOKENS = 100_000;

export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

/** Extensions ENABLE knows (RFC 5161); the value is the name echoed in `* ENABLED`. */
const ENABLEABLE = new Map<string, string>([
  ['IMAP4REV2', 'IMAP4rev2'],
  ['UTF8=ACCEPT', 'UTF8=ACCEPT'],
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
    flush: () => this.flush(),
  };
  private badCommands = 0;
  /** Literals of the command being read that were streamed to blobs. */
  private streamed: StreamedLiteral[] = [];
  private writer: BlobWriter | null = null;
  /** The literal being streamed is a literal8 (`~{n}`): NUL is allowed in it (RFC 3516 §4.4). */
  private writerBinary = false;
  private writerError: Error | null = null;
  /** BYE text to send after the current command's tagged response. */
  private closeAfter: string | null = null;

  constructor(
    readonly conn: Connection,
    readonly env: ImapEnvironment,
  ) {
    this.log = conn.log;
    this.authFailures = new SessionAuthFailures(env.config.limits.authFailuresPerSession);
    this.reader = this.newReader();
    this.out = new ResponseEncoder();
    this.input = new SessionInput(conn, MAX_BUFFERED);
  }

  private newReader(): ImapReader {
    const limits = this.env.config.limits;
    const reader = new ImapReader({
      maxLineLength: limits.lineLength,
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
   * does for {n}: otherwise an unauthenticated peer makes the reader buffer up to literalSize.
   * Takes effect from the next literal header (imap-hostile test "literals before login are
   * not buffered").
   */
  private limitLiteralsToState(reader: ImapReader = this.reader): void {
    reader.setMaxNonSyncLiteral(
      this.state.kind === 'notAuthenticated' ? this.env.config.limits.lineLength : undefined,
    );
  }

  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }
  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT');
  }
  get plaintextAuthAllowed(): boolean {
    return this.conn.secure || isLoopback(this.conn.remoteAddress);
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
      while (!this.finished && (await this.step()));
    } finally {
      await this.abortWriter();
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
        const refusal = this.literalRefusal(input.name, input.size);
        if (refusal === null) {
          this.out.continuation('Ready for literal data');
          this.writePending();
          this.reader.acceptLiteral();
        } else {
          this.reader.rejectLiteral();
          this.dropStreamed();
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
        this.writer = this.env.blobs.createWriter(messageBlobOptions(this.env.config.limits));
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
      case 'literalTooLarge':
        this.dropStreamed();
        this.respond(input.tag, 'NO', { name: 'TOOBIG' }, 'Literal too large');
        return;
      case 'lineTooLong':
        this.dropStreamed();
        this.out.status('*', 'BAD', null, 'Command line too long');
        this.countBad();
        return;
      case 'bad':
        this.dropStreamed();
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
    if (this.state.kind === 'notAuthenticated') max = Math.min(max, limits.lineLength);
    if (size > max) return new ImapNo('Literal too large', { name: 'TOOBIG' });
    return null;
  }

  private async endStreamedLiteral(containsNul: boolean): Promise<void> {
    const writer = this.writer;
    this.writer = null;
    if (this.writerError !== null || writer === null) {
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
    try {
      this.streamed.push({ ok: true, blob: await writer.finish() });
    } catch (err) {
      this.streamed.push({ ok: false, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  private async abortWriter(): Promise<void> {
    const w = this.writer;
    this.writer = null;
    if (w !== null) await w.abort();
  }

  /** Streamed blobs of a command that failed are left for garbage collection (refcount 0). */
  private dropStreamed(): void {
    this.streamed = [];
  }

  /** The spec of a command name as the reader gives it: `FETCH`, or `UID FETCH` for the UID form. */
  private specFor(name: string): ImapCommandSpec | undefined {
    if (!name.startsWith('UID ')) return COMMANDS.get(name);
    const spec = COMMANDS.get(name.slice(4));
    return spec?.uidForm === true ? spec : undefined;
  }

  private async handleCommand(tag: string, rawName: string, args: ImapCommandInput['args']): Promise<void> {
    const name = rawName.toUpperCase();
    const streamed = this.streamed;
    this.streamed = [];
    const uid = name.startsWith('UID ');
    const spec = this.specFor(name);
    if (spec === undefined) {
      this.respond(tag, 'BAD', null, uid ? 'Unknown UID command' : 'Unknown command');
      this.countBad();
      return;
    }
    if (!spec.states.includes(this.state.kind)) {
      this.respond(tag, 'BAD', null, this.wrongStateText());
      this.countBad();
      return;
    }
    if (this.conn.shuttingDown) {
      this.bye('Server shutting down');
      return;
    }
    const cmd: ImapCommandInput = { tag, name: spec.name, uid, args, streamed };
    const release = this.conn.beginCommand();
    try {
      let status: Status = 'OK';
      let code: ResponseCode | null = null;
      let text = `${uid ? 'UID ' : ''}${spec.name} completed`;
      try {
        const result = await spec.handle(this, cmd);
        if (result?.silent === true) return;
        if (result) {
          code = result.code ?? null;
          if (result.text !== undefined) text = result.text;
        }
      } catch (err) {
        const mapped = isStoreError(err) ? fromStoreError(err) : err;
        if (mapped instanceof ImapNo) {
          status = 'NO';
          code = mapped.code;
          text = mapped.message;
        } else if (mapped instanceof ImapBad) {
          status = 'BAD';
          code = mapped.code;
          text = mapped.message;
          this.countBad();
        } else {
          this.log.error({ err, command: spec.name }, 'imap command failed');
          status = 'NO';
          code = { name: 'SERVERBUG' };
          text = 'Internal error';
        }
      }
      if (this.finished && this.conn.closed) return;
      await this.syncView({ expunges: !(spec.noExpungeResponses === true && !uid), uid });
      this.respond(tag, status, code, text);
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

  /** Reports the selected mailbox's changes, if a mailbox is selected. */
  async syncView(opts: { expunges: boolean; uid: boolean }): Promise<void> {
    if (this.state.kind !== 'selected') return;
    try {
      await this.state.view.sync(this, {
        expunges: opts.expunges,
        uid: opts.uid,
        rev1: !this.rev2,
        condstore: this.enabled.has('CONDSTORE'),
      });
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

  async writeRaw(bytes: Buffer | string): Promise<void> {
    this.writePending();
    if (!this.conn.write(bytes)) await this.conn.drained();
  }

  async continuation(text: string): Promise<Buffer | null> {
    this.out.continuation(text);
    await this.flush();
    this.reader.expectRawLine();
    const input = await this.nextInput();
    if (input === null) return null;
    if (input.kind === 'line') return input.line;
    // An overlong response line is the client's error, not ours (imap-hostile test).
    if (input.kind === 'lineTooLong') throw new ImapBad('Line too long');
    // The reader yields the raw line next once expectRawLine() is set; anything else is a bug.
    throw new Error(`expected a raw line, got ${input.kind}`);
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
          // An overlong line instead of DONE ends IDLE with BAD (imap-hostile test).
          if (input.kind === 'lineTooLong') throw new ImapBad('Line too long');
          throw new Error(`expected a raw line, got ${input.kind}`);
        }
        if (changed) {
          changed = false;
          await onChange();
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
    this.dropStreamed();
    await this.conn.startTls({ response });
    this.reader = this.newReader();
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
