// The plug-in point between the server runtime and the protocols. A protocol registers a
// ProtocolFactory under a listener name in src/app/protocol-registry.ts; the runtime calls the
// factory once per process with the ServerDeps, then calls the returned ConnectionHandler for
// every accepted connection (already TLS on implicit-TLS listeners).

import type { Socket } from 'node:net';
import type { Authenticator } from '../auth/authenticator.js';
import type { ListenerName, PosternConfig } from '../config/types.js';
import type { Logger } from '../core/log.js';
import type { BlobStore } from '../store/blob/types.js';
import type { LocalFailureReport, MailStore } from '../store/types.js';
import type { ListenerInfo } from './listeners.js';
import type { TlsMaterial } from './tls.js';

export interface ServerDeps {
  config: PosternConfig;
  store: MailStore;
  blobs: BlobStore;
  log: Logger;
  authenticator: Authenticator;
  tls: TlsMaterial;
  /**
   * Registers a resource a protocol made (a worker pool) to close when the server stops, after
   * the listeners; absent where the caller owns the lifetime (test harnesses).
   */
  onClose?: (close: () => Promise<void>) => void;
  /** This process's outbound queue worker (absent where none runs: test harnesses, tools). */
  outbound?: OutboundLink;
  /**
   * The listeners this process opened, with their real ports (config.listen may say port 0, or
   * name a listener whose protocol is not built). Set by ListenerSet.start; read it when serving,
   * not when the factory runs (later listeners are not open yet then).
   */
  listening?: () => readonly ListenerInfo[];
}

/** What sessions tell the outbound queue worker of their process. */
export interface OutboundLink {
  /** A message was queued for remote recipients: send it now, not at the next poll. */
  queued(): void;
  /** DSNs to the sender for local recipients that lost an accepted message; best effort, logged. */
  reportLocalFailures(report: LocalFailureReport): void;
}

/** The outbound queue worker of a serving process: started with the deps, stopped after the listeners. */
export interface OutboundService extends OutboundLink {
  stop(): Promise<void>;
}

/** Starts the outbound queue worker (src/app supplies src/outbound's). */
export type OutboundFactory = (deps: ServerDeps) => OutboundService;

/** Why a connection was refused before it reached the protocol. */
export type RefusalReason = 'banned' | 'too-many-from-ip' | 'too-many-total' | 'shutting-down';

/** Takes over one accepted connection. May carry optional per-protocol hooks. */
export interface ConnectionHandler {
  (conn: Connection): void;
  /**
   * One line to write before closing a refused connection on a plain-text listener, e.g. SMTP
   * "421 4.7.0 Too many connections\r\n" (RFC 5321 §3.8). Null or absent: just close. Never
   * used on implicit-TLS listeners, where nothing may be sent before the handshake.
   */
  refusal?: (reason: RefusalReason) => string | null;
  /** Idle timeout in seconds for this protocol (RFC 5321 §4.5.3.2 and RFC 9051 §5.4 differ); default limits.idleTimeout. */
  idleTimeout?: number;
}

export type ProtocolFactory = (deps: ServerDeps) => ConnectionHandler;

/** Opens the configured store and its blob store (src/app/open-store.ts). */
export type StoreOpener = (
  config: PosternConfig,
  opts: { log?: Logger },
) => Promise<{ store: MailStore; blobs: BlobStore }>;

export interface StartTlsOptions {
  /**
   * The plain-text reply that tells the client to start the handshake (SMTP "220 2.0.0 Ready",
   * IMAP "tag OK Begin TLS"). Written after the pre-handshake input has been discarded, so
   * nothing the client pipelined after STARTTLS can be taken as a command.
   */
  response?: string | Uint8Array;
}

/**
 * One client connection, as a protocol session sees it. Read input through onData (not by adding
 * listeners to `socket`), so that STARTTLS can switch sockets under the session; a protocol that
 * never uses STARTTLS (HTTP) may take over `socket` directly instead.
 */
export interface Connection {
  /** Short id unique in this process, also bound into `log`. */
  readonly id: string;
  readonly listener: ListenerName;
  /** Peer address (IPv4-mapped IPv6 shown as IPv4). */
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  /** The current socket: plain, or the TLSSocket once TLS is up. */
  readonly socket: Socket;
  /** True once TLS is established (implicit TLS or after startTls). */
  readonly secure: boolean;
  /** Child logger with the connection id, listener and peer address. */
  readonly log: Logger;
  readonly closed: boolean;
  /** True once graceful shutdown has begun: finish the current command, start no new one. */
  readonly shuttingDown: boolean;
  /** True once startCompression() ran: both directions are raw DEFLATE. */
  readonly compressed: boolean;

  /** Input chunks from the current socket, in order. Registering the handler starts reading. */
  onData(handler: (chunk: Buffer) => void): void;
  /** The peer closed its side (FIN). */
  onEnd(handler: () => void): void;
  /** The connection is gone, however it ended. Called once. */
  onClose(handler: () => void): void;
  /**
   * Graceful shutdown reached this connection while no command is in flight: write the goodbye
   * (SMTP 421, IMAP "* BYE", POP3 -ERR). The runtime closes the connection afterwards.
   */
  onShutdown(handler: () => void | Promise<void>): void;
  /**
   * Graceful shutdown began, even while a command is in flight: a command that waits for the
   * client rather than for work (IMAP IDLE) ends now instead of holding the grace period.
   */
  onShutdownBegin(handler: () => void): void;
  /** The idle timer fired: write the goodbye; the runtime closes the connection afterwards. */
  onIdleTimeout(handler: () => void): void;

  /** Stops delivering input (backpressure, or while an async command runs). */
  pause(): void;
  resume(): void;
  /** Writes to the current socket; false means wait for drain (see `drained`). */
  write(data: string | Uint8Array): boolean;
  /** Resolves when the socket's write buffer has drained (or the connection closed). */
  drained(): Promise<void>;
  /** Bytes written and not yet handed to the kernel. */
  readonly pendingBytes: number;

  /**
   * STARTTLS (RFC 3207 §4, RFC 2595 §3.1, RFC 9051 §6.2.1): discards every byte received but
   * not yet delivered, writes `response`, then performs the server handshake and replaces
   * `socket`. The session must also drop any bytes its own parser holds and all state learnt
   * before TLS. Rejects (and closes the connection) when the handshake fails.
   */
  startTls(opts?: StartTlsOptions): Promise<void>;
  /**
   * IMAP COMPRESS=DEFLATE (RFC 4978 §3): writes `response` uncompressed, then compresses
   * everything written and inflates everything read, inside TLS when TLS is up. Input still
   * comes through onData; write, drained, pendingBytes and pause keep their meaning.
   */
  startCompression(opts?: { response?: string | Uint8Array }): void;
  /** Seconds of inactivity (no bytes either way) before onIdleTimeout; 0 disables. */
  setIdleTimeout(seconds: number): void;
  /** Restarts the idle timer (bytes in either direction already do). */
  touch(): void;
  /**
   * Marks a command as in flight: graceful shutdown waits (up to server.shutdownGrace) until
   * every returned release function has been called. Call release after the reply is written.
   */
  beginCommand(): () => void;
  /** Ends the connection after pending writes (optionally writing `data` first). */
  end(data?: string | Uint8Array): void;
  /** Closes at once. */
  destroy(): void;
}
