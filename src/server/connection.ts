// The runtime's side of a client connection (see Connection in types.ts). Invariants:
// - input reaches the session only through onData, from the current socket; while STARTTLS is
//   under way nothing is delivered, and bytes buffered before the handshake are discarded;
// - close handlers run exactly once, whichever socket (plain or TLS) closed;
// - after end() the socket is destroyed within END_GRACE_MS even if the peer never answers;
// - once compression is on (IMAP COMPRESS, RFC 4978) every byte either way passes the raw
//   DEFLATE streams, which sit between the session and the current socket (so inside TLS);
//   backpressure holds through them: a paused session pauses the inflater, whose full output
//   stops inflation and then reading the socket, so a decompression bomb is never expanded
//   faster than the session consumes it.

import type { Socket } from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import type { ListenerName } from '../config/types.js';
import type { Logger } from '../core/log.js';
import type { Connection, StartTlsOptions } from './types.js';

/** How long a TLS handshake may take. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;
/** How long after end() a peer that does not close gets before the socket is destroyed. */
const END_GRACE_MS = 5_000;
/** How long the shutdown handler of a session may take before the connection is ended anyway. */
const SHUTDOWN_HANDLER_MS = 2_000;
/**
 * The DEFLATE parameters: a 32 KiB window both ways (the inflater must accept any window the
 * peer chose, RFC 1951 allows up to 32 KiB), memLevel 8; about 300 KiB of zlib state per
 * compressed connection. Output chunks of 64 KiB keep thread-pool round trips few.
 */
const DEFLATE_OPTIONS: zlib.ZlibOptions = { windowBits: 15, memLevel: 8, level: 6, chunkSize: 64 * 1024 };
const INFLATE_OPTIONS: zlib.ZlibOptions = { windowBits: 15, chunkSize: 64 * 1024 };

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
  /** The compression layer, once startCompression() ran. */
  private deflate: zlib.DeflateRaw | null = null;
  private inflate: zlib.InflateRaw | null = null;
  private flushQueued = false;

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
  get compressed(): boolean {
    return this.deflate !== null;
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
    // Compressed: the socket keeps feeding the inflater until its buffers are full (pipe).
    if (this.inflate !== null) this.inflate.pause();
    else this.current.pause();
  }
  resume(): void {
    this.paused = false;
    if (this.dataHandler === null || this.upgrading) return;
    if (this.inflate !== null) this.inflate.resume();
    else this.current.resume();
  }

  write(data: string | Uint8Array): boolean {
    if (this.isClosed || this.current.destroyed || this.current.writableEnded) return false;
    const deflate = this.deflate;
    if (deflate === null) return this.current.write(data);
    if (deflate.writableEnded) return false;
    const ok = deflate.write(data);
    this.queueFlush(deflate);
    return ok;
  }

  /**
   * RFC 4978 §4: the compressor is flushed at the end of each burst of output, so a response
   * never waits in zlib for more data. One Z_SYNC_FLUSH per turn of the event loop: the writes
   * a command makes in one go share it.
   */
  private queueFlush(deflate: zlib.DeflateRaw): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      if (!deflate.writableEnded && !deflate.destroyed) deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    });
  }

  /** Bytes written and not yet handed to the kernel (with compression: also those in zlib). */
  get pendingBytes(): number {
    const d = this.deflate;
    const socketBytes = this.current.writableLength;
    return d === null ? socketBytes : socketBytes + d.writableLength + d.readableLength;
  }

  drained(): Promise<void> {
    // Compressed: the deflater's input is what the session fills; the pipe to the socket
    // stops the deflater while the socket's buffer is full, so its 'drain' covers both.
    const stream = this.deflate ?? this.current;
    if (this.isClosed || !stream.writableNeedDrain) return Promise.resolve();
    const socket = this.current;
    return new Promise((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      socket.on('close', done);
    });
  }

  /**
   * COMPRESS=DEFLATE (RFC 4978 §3): writes `response` (the tagged OK) as it is, then every byte
   * either way is raw DEFLATE (RFC 1951, no zlib header), from the byte after that response.
   * Input chunks still arrive through onData, inflated; end comes when the inflater has
   * delivered everything before the peer's FIN.
   */
  startCompression(opts: { response?: string | Uint8Array } = {}): void {
    if (this.deflate !== null || this.upgrading)
      throw new Error('compression is already active or TLS is starting');
    if (this.isClosed) throw new Error('connection closed');
    const socket = this.current;
    if (opts.response !== undefined) socket.write(opts.response);
    const deflate = zlib.createDeflateRaw(DEFLATE_OPTIONS);
    const inflate = zlib.createInflateRaw(INFLATE_OPTIONS);
    this.deflate = deflate;
    this.inflate = inflate;
    const broken = (err: Error): void => {
      // Corrupt compressed input cannot be resynchronised: nothing after it can be framed.
      this.log.info({ err: { message: err.message } }, 'compression layer failed');
      this.destroy();
    };
    deflate.on('error', broken);
    inflate.on('error', broken);
    deflate.pipe(socket);
    socket.off('data', this.onSocketData);
    socket.off('end', this.onSocketEnd);
    inflate.on('data', this.onSocketData);
    inflate.on('end', this.onSocketEnd);
    socket.pipe(inflate);
    if (this.paused || this.dataHandler === null) inflate.pause();
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
    const deflate = this.deflate;
    if (deflate !== null) {
      // The deflater finishes its stream, then the pipe ends the socket.
      if (!deflate.writableEnded) {
        if (data === undefined) deflate.end();
        else deflate.end(data);
      }
      this.dataHandler = null;
      this.inflate?.resume();
    } else if (!socket.writableEnded) {
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
    this.deflate?.destroy();
    this.inflate?.destroy();
    // A TLSSocket built on a plain socket: make sure the underlying one goes too.
    this.handleClose();
  }

  async startTls(opts: StartTlsOptions = {}): Promise<void> {
    if (this.isSecure || this.upgrading) throw new Error('TLS is already active or starting');
    if (this.deflate !== null) throw new Error('TLS cannot start inside compression');
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
    // zlib's native state is freed now, not when the connection object is collected.
    this.deflate?.destroy();
    this.inflate?.destroy();
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
