// The runtime's side of a client connection (see Connection in types.ts). Invariants:
// - input reaches the session only through onData, from the current socket; while STARTTLS is
//   under way nothing is delivered, and bytes buffered before the handshake are discarded;
// - close handlers run exactly once, whichever socket (plain or TLS) closed;
// - after end() the socket is destroyed within END_GRACE_MS even if the peer never answers.

import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { ListenerName } from '../config/types.js';
import type { Logger } from '../core/log.js';
import type { Connection, StartTlsOptions } from './types.js';

/** How long a TLS handshake may take. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;
/** How long after end() a peer that does not close gets before the socket is destroyed. */
const END_GRACE_MS = 5_000;
/** How long the shutdown handler of a session may take before the connection is ended anyway. */
const SHUTDOWN_HANDLER_MS = 2_000;

let nextId = 0;
const idPrefix = process.pid.toString(36);

export interface ServerConnectionOptions {
  socket: Socket;
  listener: ListenerName;
  remoteAddress: string;
  log: Logger;
  secureContext: tls.SecureContext;
  /** Seconds; 0 disables. */
  idleTimeout: number;
}

export class ServerConnection implements Connection {
  readonly id: string;
  readonly listener: ListenerName;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  readonly log: Logger;
  private current: Socket;
  private isSecure = false;
  private isClosed = false;
  private isShuttingDown = false;
  private upgrading = false;
  private paused = false;
  private inFlight = 0;
  private idleMs: number;
  private endTimer: NodeJS.Timeout | null = null;
  private readonly secureContext: tls.SecureContext;
  private dataHandler: ((chunk: Buffer) => void) | null = null;
  private readonly endHandlers: Array<() => void> = [];
  private readonly closeHandlers: Array<() => void> = [];
  private readonly shutdownHandlers: Array<() => void | Promise<void>> = [];
  private readonly shutdownBeginHandlers: Array<() => void> = [];
  private readonly idleHandlers: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];

  private readonly onSocketData = (chunk: Buffer): void => {
    if (this.upgrading || this.isClosed) return;
    this.dataHandler?.(chunk);
  };
  private readonly onSocketEnd = (): void => {
    for (const h of this.endHandlers) this.safely(h);
  };
  private readonly onSocketClose = (): void => this.handleClose();
  private readonly onSocketError = (err: Error): void => {
    this.log.debug(
      { err: { code: (err as NodeJS.ErrnoException).code, message: err.message } },
      'socket error',
    );
  };
  private readonly onSocketTimeout = (): void => this.handleIdle();

  constructor(opts: ServerConnectionOptions) {
    this.id = `${idPrefix}-${(nextId++).toString(36)}`;
    this.listener = opts.listener;
    this.current = opts.socket;
    this.remoteAddress = opts.remoteAddress;
    this.remotePort = opts.socket.remotePort ?? 0;
    this.localPort = opts.socket.localPort ?? 0;
    this.secureContext = opts.secureContext;
    this.idleMs = opts.idleTimeout * 1000;
    this.log = opts.log.child({ conn: this.id, listener: opts.listener, remote: opts.remoteAddress });
    this.attach(opts.socket);
  }

  get socket(): Socket {
    return this.current;
  }
  get secure(): boolean {
    return this.isSecure;
  }
  get closed(): boolean {
    return this.isClosed;
  }
  get shuttingDown(): boolean {
    return this.isShuttingDown;
  }
  /** Commands in flight (beginCommand not yet released). */
  get commandsInFlight(): number {
    return this.inFlight;
  }

  onData(handler: (chunk: Buffer) => void): void {
    const first = this.dataHandler === null;
    this.dataHandler = handler;
    if (first && !this.upgrading) {
      this.current.on('data', this.onSocketData);
      if (!this.paused) this.current.resume();
    }
  }
  onEnd(handler: () => void): void {
    this.endHandlers.push(handler);
  }
  onClose(handler: () => void): void {
    if (this.isClosed) queueMicrotask(handler);
    else this.closeHandlers.push(handler);
  }
  onShutdown(handler: () => void | Promise<void>): void {
    this.shutdownHandlers.push(handler);
  }
  onShutdownBegin(handler: () => void): void {
    this.shutdownBeginHandlers.push(handler);
  }
  onIdleTimeout(handler: () => void): void {
    this.idleHandlers.push(handler);
  }

  pause(): void {
    this.paused = true;
    this.current.pause();
  }
  resume(): void {
    this.paused = false;
    if (this.dataHandler !== null && !this.upgrading) this.current.resume();
  }

  write(data: string | Uint8Array): boolean {
    if (this.isClosed || this.current.destroyed || this.current.writableEnded) return false;
    return this.current.write(data);
  }

  /** Bytes written and not yet handed to the kernel. */
  get pendingBytes(): number {
    return this.current.writableLength;
  }

  drained(): Promise<void> {
    const socket = this.current;
    if (this.isClosed || !socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  setIdleTimeout(seconds: number): void {
    this.idleMs = Math.max(0, seconds) * 1000;
    if (!this.isClosed) this.current.setTimeout(this.idleMs);
  }

  touch(): void {
    if (!this.isClosed && this.idleMs > 0) this.current.setTimeout(this.idleMs);
  }

  beginCommand(): () => void {
    this.inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      if (this.inFlight === 0) {
        for (const w of this.idleWaiters.splice(0)) w();
        if (this.isShuttingDown) this.finishShutdown();
      }
    };
  }

  end(data?: string | Uint8Array): void {
    if (this.isClosed) return;
    const socket = this.current;
    if (!socket.writableEnded) {
      if (data === undefined) socket.end();
      else socket.end(data);
    }
    // The session is done reading: drop further input, but keep reading so the peer's FIN is seen.
    this.dataHandler = null;
    socket.off('data', this.onSocketData);
    if (!this.upgrading) socket.resume();
    this.endTimer ??= setTimeout(() => this.destroy(), END_GRACE_MS);
  }

  destroy(): void {
    this.current.destroy();
    // A TLSSocket built on a plain socket: make sure the underlying one goes too.
    this.handleClose();
  }

  async startTls(opts: StartTlsOptions = {}): Promise<void> {
    if (this.isSecure || this.upgrading) throw new Error('TLS is already active or starting');
    if (this.isClosed) throw new Error('connection closed');
    const plain = this.current;
    this.upgrading = true;
    plain.pause();
    this.detach(plain);
    plain.on('error', () => {}); // errors of the plain layer surface on the TLS socket
    // RFC 3207 §4: anything the client sent after STARTTLS and before the handshake is discarded;
    // node would otherwise feed it to the TLS engine (or the session could read it as a command).
    let discarded = 0;
    for (let chunk = plain.read() as Buffer | null; chunk !== null; chunk = plain.read() as Buffer | null) {
      discarded += chunk.length;
    }
    if (discarded > 0) this.log.info({ discarded }, 'discarded input received before the TLS handshake');
    if (opts.response !== undefined) plain.write(opts.response);
    plain.setTimeout(0);

    const secure = new tls.TLSSocket(plain, {
      isServer: true,
      secureContext: this.secureContext,
      requestCert: false,
      rejectUnauthorized: false,
    });
    this.current = secure;
    this.attach(secure);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => fail(new Error('TLS handshake timed out')), TLS_HANDSHAKE_TIMEOUT_MS);
        const cleanup = (): void => {
          clearTimeout(timer);
          secure.off('secure', ok);
          secure.off('error', fail);
          secure.off('close', closed);
        };
        const ok = (): void => {
          cleanup();
          resolve();
        };
        const fail = (err: Error): void => {
          cleanup();
          reject(err);
        };
        const closed = (): void => fail(new Error('connection closed during the TLS handshake'));
        secure.once('secure', ok);
        secure.once('error', fail);
        secure.once('close', closed);
      });
    } catch (err) {
      this.log.info({ err: { message: (err as Error).message } }, 'TLS handshake failed');
      this.upgrading = false;
      this.destroy();
      plain.destroy();
      throw err;
    }
    this.upgrading = false;
    this.isSecure = true;
    this.log.debug({ protocol: secure.getProtocol(), cipher: secure.getCipher().name }, 'TLS established');
    if (this.dataHandler !== null) {
      secure.on('data', this.onSocketData);
      if (!this.paused) secure.resume();
    }
  }

  /** Resolves when no command is in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Graceful shutdown of this connection: waits for the command in flight, says goodbye, ends. */
  beginShutdown(): void {
    if (this.isShuttingDown || this.isClosed) return;
    this.isShuttingDown = true;
    for (const h of this.shutdownBeginHandlers.splice(0)) this.safely(h);
    if (this.inFlight === 0) this.finishShutdown();
  }

  private finishShutdown(): void {
    if (this.isClosed) return;
    const handlers = this.shutdownHandlers.splice(0);
    const run = async (): Promise<void> => {
      for (const h of handlers) await h();
    };
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_HANDLER_MS).unref());
    Promise.race([run(), timeout])
      .catch((err: unknown) => this.log.warn({ err }, 'shutdown handler failed'))
      .finally(() => this.end());
  }

  private handleIdle(): void {
    if (this.isClosed) return;
    this.log.info({ idleSeconds: this.idleMs / 1000 }, 'idle timeout');
    for (const h of this.idleHandlers) this.safely(h);
    this.end();
  }

  private handleClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.endTimer !== null) clearTimeout(this.endTimer);
    for (const w of this.idleWaiters.splice(0)) w();
    for (const h of this.closeHandlers.splice(0)) this.safely(h);
  }

  private attach(socket: Socket): void {
    socket.on('end', this.onSocketEnd);
    socket.on('close', this.onSocketClose);
    socket.on('error', this.onSocketError);
    socket.on('timeout', this.onSocketTimeout);
    socket.setTimeout(this.idleMs);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onSocketData);
    socket.off('end', this.onSocketEnd);
    socket.off('close', this.onSocketClose);
    socket.off('error', this.onSocketError);
    socket.off('timeout', this.onSocketTimeout);
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'connection handler threw');
    }
  }
}
