// What a POP3 command handler sees of its session (session.ts implements it), and how commands
// are declared: the verbs, the states in which they are allowed, the handler.

import type { Authenticator } from '../../auth/authenticator.js';
import type { SessionAuthFailures } from '../../auth/failure-tracker.js';
import type { PosternConfig } from '../../config/types.js';
import type { Logger } from '../../core/log.js';
import type { Connection } from '../../server/types.js';
import type { BlobStore } from '../../store/blob/types.js';
import type { Account, MailStore } from '../../store/types.js';
import type { Pop3Command, Pop3ResponseCode } from '../../wire/pop3/command.js';
import type { Pop3Input } from '../../wire/pop3/reader.js';
import type { Pop3SessionState } from './state.js';

/** Shared by every session of a process. */
export interface Pop3Environment {
  config: PosternConfig;
  store: MailStore;
  blobs: BlobStore;
  log: Logger;
  authenticator: Authenticator;
  /** Lease length of the maildrop lock, milliseconds. */
  leaseMs: number;
}

export interface Pop3SessionContext {
  readonly conn: Connection;
  readonly env: Pop3Environment;
  readonly log: Logger;
  state: Pop3SessionState;
  /** RFC 6856: the client sent UTF8. */
  utf8: boolean;
  /** The APOP timestamp of the greeting (RFC 1939 §7), or null when APOP is off. */
  readonly apopTimestamp: string | null;
  readonly authFailures: SessionAuthFailures;
  /** USER/PASS and AUTH PLAIN/LOGIN are allowed now: over TLS, or from loopback (auth.plaintext_from_loopback). */
  readonly plaintextAllowed: boolean;
  /** Queues "+OK [code] text"; queued responses are written when the session waits for input. */
  ok(text: string, code?: Pop3ResponseCode | null): void;
  /** Queues "-ERR [code] text". */
  err(text: string, code?: Pop3ResponseCode | null): void;
  /** Queues raw bytes (a multi-line body, an AUTH challenge). */
  queue(data: Buffer): void;
  /** Writes queued responses, waiting while the socket's buffer is full. */
  flush(): Promise<void>;
  /** Writes `data` after the queued responses, waiting for drain (streamed message bodies). */
  send(data: Buffer): Promise<void>;
  /** The next input line; null when the connection is gone or closing. */
  nextInput(): Promise<Pop3Input | null>;
  /** STLS: forget every byte received and not yet handled (RFC 2595 §4). */
  discardBufferedInput(): void;
  /** Queues this -ERR (when given), writes everything, and ends the connection. */
  close(text?: string, code?: Pop3ResponseCode | null): void;
  /** Ends the connection at once, without a response (a stream broke mid-message). */
  abort(): void;
  /** Takes the maildrop of an authenticated account: lease, snapshot, TRANSACTION. */
  login(account: Account): Promise<void>;
}

export type Pop3Verb = Pop3Command['verb'];
export type CommandOf<V extends Pop3Verb> = Pop3Command & { verb: V };
export type CommandState = 'authorization' | 'transaction';

export interface CommandSpec {
  verbs: readonly Pop3Verb[];
  /** States in which the command is valid (the codec checks the same table). */
  states: readonly CommandState[];
  handle(ctx: Pop3SessionContext, command: Pop3Command): Promise<void>;
}

/** Declares a command; the session dispatches on `verb`, so `command` has one of `verbs`. */
export function defineCommand<V extends Pop3Verb>(spec: {
  verbs: readonly V[];
  states: readonly CommandState[];
  handle(ctx: Pop3SessionContext, command: CommandOf<V>): Promise<void>;
}): CommandSpec {
  return {
    verbs: spec.verbs,
    states: spec.states,
    handle: (ctx, command) => spec.handle(ctx, command as CommandOf<V>),
  };
}

/** The maildrop state, for handlers declared for TRANSACTION only. */
export function transaction(ctx: Pop3SessionContext): Extract<Pop3SessionState, { kind: 'transaction' }> {
  if (ctx.state.kind !== 'transaction') throw new Error('not in the TRANSACTION state');
  return ctx.state;
}
