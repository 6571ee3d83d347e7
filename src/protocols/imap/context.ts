// What a command handler sees of its session (session.ts implements it), and how commands are
// declared: name, the states in which it is allowed, whether it has a UID form, its handler.
// Handlers answer by returning (tagged OK, optionally with a code and text) or by throwing
// ImapNo / ImapBad (errors.ts); untagged data goes through ctx.untagged() before that.

import type { CommitTicket } from '../../delivery/commit-order.js';
import type { Authenticator } from '../../auth/authenticator.js';
import type { SessionAuthFailures } from '../../auth/failure-tracker.js';
import type { PosternConfig } from '../../config/types.js';
import type { Logger } from '../../core/log.js';
import type { Connection } from '../../server/types.js';
import type { Delivery } from '../../delivery/delivery.js';
import type { BlobStore } from '../../store/blob/types.js';
import type { MailStore } from '../../store/types.js';
import type { ImapData, ResponseCode } from '../../wire/imap/encoder.js';
import type { ImapToken } from '../../wire/imap/reader.js';
import type { NotifyRequest } from './notify-request.js';
import type { ImapState, ImapStateKind } from './state.js';

/** Shared by every IMAP session of a process. */
export interface ImapEnvironment {
  config: PosternConfig;
  store: MailStore;
  blobs: BlobStore;
  log: Logger;
  authenticator: Authenticator;
}

/**
 * A streamed APPEND literal: its bytes, taken by the session into a Delivery that holds them
 * (its temp file still in tmp/) and their quota reservation, or the reason it was refused. The
 * handler gives it its target and commits it once the command is known to be valid; the session
 * aborts any delivery the handler left uncommitted, so a failed APPEND leaves no file behind.
 */
export type StreamedLiteral = { ok: true; delivery: Delivery; size: number } | { ok: false; error: Error };

/** One command as the handler gets it. */
export interface ImapCommandInput {
  tag: string;
  /** Upper-case command name without the UID prefix: FETCH for both FETCH and UID FETCH. */
  name: string;
  /** The command came as `UID <name>` (RFC 9051 §6.4.9). */
  uid: boolean;
  /** Arguments after the name (after the sub-command for UID forms). */
  args: ImapToken[];
  /** For APPEND: the literals that were streamed to blobs, in order (their tokens are `streamed`). */
  streamed: StreamedLiteral[];
  /**
   * For pipelined APPENDs run concurrently: the handler commits its delivery with this ticket
   * (`Delivery.commit({ order })`), whose append is queued in ticket order: UIDs follow commands.
   */
  commitTicket?: CommitTicket;
}

/** The tagged OK of a successful command. */
export interface CommandResult {
  code?: ResponseCode | null;
  /** Text after the code; default "<NAME> completed". */
  text?: string;
  /** The handler already wrote its tagged response (STARTTLS). */
  silent?: boolean;
}

export interface ImapCommandSpec {
  name: string;
  states: readonly ImapStateKind[];
  /** The command also exists as `UID <name>`. */
  uidForm?: boolean;
  /**
   * RFC 9051 §7.5.1 / RFC 3501 §7.4.1: EXPUNGE responses must not follow FETCH, STORE and SEARCH
   * (their sequence-number forms), since the client could not tell which message a number means.
   */
  noExpungeResponses?: boolean;
  handle(ctx: ImapSessionContext, cmd: ImapCommandInput): Promise<CommandResult | void>;
}

export interface ImapSessionContext {
  readonly conn: Connection;
  readonly env: ImapEnvironment;
  readonly log: Logger;
  state: ImapState;
  readonly authFailures: SessionAuthFailures;
  /** Extensions turned on by ENABLE (upper case): IMAP4REV2, UTF8=ACCEPT, CONDSTORE... */
  readonly enabled: ReadonlySet<string>;
  /** The session speaks IMAP4rev2 (after ENABLE IMAP4rev2); IMAP4rev1 otherwise. */
  readonly rev2: boolean;
  /** UTF-8 may be sent in quoted strings and mailbox names (RFC 9051 §6.3.1, RFC 6855). */
  readonly utf8: boolean;
  /** Whether LOGIN and AUTHENTICATE PLAIN/LOGIN are allowed here (TLS, or a loopback peer when auth.plaintext_from_loopback). */
  readonly plaintextAuthAllowed: boolean;
  /** The CAPABILITY list for the current state. */
  capabilities(): string[];
  /** Turns an extension on (ENABLE); returns false when it is unknown. */
  enable(extension: string): boolean;

  /** Queues one untagged response `* data...`. */
  untagged(...data: ImapData[]): void;
  /** Writes queued responses; waits while the socket's buffer is full (backpressure). */
  flush(): Promise<void>;
  /**
   * Flushes, then writes bytes as they are (a literal streamed in pieces), with backpressure:
   * it waits for the socket to drain once more than `allowPending` bytes (default 0) are
   * still unsent, so a writer of many chunks can prepare the next while one is sent.
   */
  writeRaw(bytes: Buffer | string, opts?: { allowPending?: number }): Promise<void>;
  /**
   * Sends `+ text` and reads the client's next line (without CRLF), for AUTHENTICATE. Null when
   * the connection ended.
   */
  continuation(text: string): Promise<Buffer | null>;
  /**
   * IDLE (RFC 2177): sends `+ text`, then until the client sends a line (returned; null when the
   * connection ended) calls onChange whenever the selected mailbox changed, in any process.
   */
  idle(text: string, onChange: () => Promise<void>): Promise<Buffer | null>;
  /** STARTTLS: writes the tagged OK, then the handshake; forgets every pre-TLS input byte. */
  startTls(tag: string): Promise<void>;
  /**
   * COMPRESS DEFLATE: writes the queued responses and the tagged OK, then compresses both
   * directions (RFC 4978 §3). Throws ImapBad when input already follows the command (the client
   * must wait for the OK, so those bytes could be neither plain nor compressed).
   */
  startCompression(tag: string): Promise<void>;
  /**
   * Reports the selected mailbox's changes (view.sync with this session's options); a mailbox
   * deleted meanwhile ends the session with BYE after the current response.
   */
  syncView(opts: { expunges: boolean; uid: boolean }): Promise<void>;
  /**
   * NOTIFY (RFC 5465): replaces the session's notification request (null: NOTIFY NONE); with
   * `status`, the STATUS of each mailbox concerned is written before this returns.
   */
  setNotify(request: NotifyRequest | null, opts: { status: boolean }): Promise<void>;
  /** Ends the session after this command (LOGOUT). */
  finish(): void;
  /** After this command's tagged response, sends `* BYE text` and closes (too many failures). */
  closeAfterResponse(byeText: string): void;
}
