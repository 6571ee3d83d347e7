// What a command handler sees of its session (src/protocols/smtp/session.ts implements it), and
// how commands are declared: verb, the states in which it is allowed, handler.

import type { Authenticator } from '../../auth/authenticator.js';
import type { SessionAuthFailures } from '../../auth/failure-tracker.js';
import type { PosternConfig } from '../../config/types.js';
import type { Logger } from '../../core/log.js';
import type { MessageVerifier } from '../../delivery/message-verifier.js';
import type { DnsResolver } from '../../dns/resolver.js';
import type { Connection, OutboundLink } from '../../server/types.js';
import type { BlobStore } from '../../store/blob/types.js';
import type { Account, MailStore } from '../../store/types.js';
import type { SmtpCommand } from '../../wire/smtp/command.js';
import type { ReaderMode, SmtpInput } from '../../wire/smtp/reader.js';
import type { Delivery } from '../../delivery/delivery.js';
import type { Helo, SmtpState, SmtpStateKind, Transaction } from './state.js';

/** Shared by every session of a process. */
export interface SmtpEnvironment {
  config: PosternConfig;
  store: MailStore;
  blobs: BlobStore;
  log: Logger;
  authenticator: Authenticator;
  resolver: DnsResolver;
  /** SPF/DKIM/DMARC/ARC in worker threads, bounded (limits.verify_*, limits.dkim_signatures). */
  verifier: MessageVerifier;
  /** This process's outbound queue worker, when one runs. */
  outbound?: OutboundLink;
}

/** What differs between the MX (25), submission (587) and submissions (465). */
export interface ListenerPolicy {
  /** RFC 6409 §4.3: AUTH is required before MAIL. */
  requireAuth: boolean;
  /** Milliseconds to wait before the banner, to catch clients that talk first (RFC 5321 §4.3.1). */
  greetingDelayMs: number;
  /**
   * Close (554 5.5.0) a client that sends input before the banner, or after EHLO/HELO before
   * its reply while PIPELINING is not offered (RFC 2920 §3.1; smtp.forbid_unauth_pipelining).
   */
  forbidUnauthPipelining: boolean;
  /** Idle seconds allowed while waiting for a command, and inside DATA/BDAT (RFC 5321 §4.5.3.2). */
  commandTimeoutSeconds: number;
  dataTimeoutSeconds: number;
}

export interface SmtpSessionContext {
  readonly conn: Connection;
  readonly env: SmtpEnvironment;
  readonly policy: ListenerPolicy;
  readonly log: Logger;
  state: SmtpState;
  /** The authenticated account (RFC 4954), or null. */
  auth: Account | null;
  readonly authFailures: SessionAuthFailures;
  /** RCPTs answered 550 5.1.1 in this session. */
  unknownRecipients: number;
  /** True when AUTH may be offered and used now (TLS, or loopback outside port 25). */
  readonly authAllowed: boolean;
  /** Queues a reply; queued replies are written when the session waits for input (RFC 2920 §3.2). */
  reply(code: number, enhanced: string | null, text: string | readonly string[]): void;
  /** Queues a SASL challenge: "334" SP [base64] CRLF (RFC 4954 §4; the space is there even when empty). */
  challenge(base64: string): void;
  /** Writes queued replies; waits while the socket's buffer is full. */
  flush(): Promise<void>;
  /** The next input from the client; null when the connection is gone or closing. */
  nextInput(): Promise<SmtpInput | null>;
  setReaderMode(mode: ReaderMode): void;
  /** STARTTLS: forget every byte received and not yet handled (RFC 3207 §4.2). */
  discardBufferedInput(): void;
  /** Writes the queued replies and this one, then ends the connection. */
  close(code: number, enhanced: string | null, text: string): void;
  /** Drops the transaction (aborting a message being received) and returns to 'ready' (or 'greeted'). */
  resetTransaction(): Promise<void>;
  /** Starts the delivery of the transaction's message, its recipients given, for its body. */
  startDelivery(helo: Helo, tx: Transaction): Delivery;
}

export type SmtpVerb = SmtpCommand['verb'];
export type CommandOf<V extends SmtpVerb> = SmtpCommand & { verb: V };

export interface CommandSpec {
  verbs: readonly SmtpVerb[];
  /** States in which the command is valid; in any other it gets 503 5.5.1. */
  states: readonly SmtpStateKind[];
  handle(ctx: SmtpSessionContext, command: SmtpCommand): Promise<void>;
}

/** Declares a command; the session dispatches on `verb`, so `command` has one of `verbs`. */
export function defineCommand<V extends SmtpVerb>(spec: {
  verbs: readonly V[];
  states: readonly SmtpStateKind[];
  handle(ctx: SmtpSessionContext, command: CommandOf<V>): Promise<void>;
}): CommandSpec {
  return {
    verbs: spec.verbs,
    states: spec.states,
    handle: (ctx, command) => spec.handle(ctx, command as CommandOf<V>),
  };
}

/** Every state after EHLO/HELO. */
export const AFTER_HELO: readonly SmtpStateKind[] = ['ready', 'transaction', 'chunking'];
/** Every state in which a command line can arrive. */
export const ANY_LINE_STATE: readonly SmtpStateKind[] = ['greeted', 'ready', 'transaction', 'chunking'];
