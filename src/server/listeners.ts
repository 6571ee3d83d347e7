// One TCP server per enabled listener whose protocol has a handler. Invariants:
// - connection limits and bans are checked before any byte is read or any TLS work is done;
//   both count an IPv6 client by its network (limits.ipv6Prefix), not its full address;
// - on implicit-TLS listeners nothing is written before the handshake (refusals just close);
// - per-IP and total counts are decremented exactly once, when the connection closes;
// - shutdown stops accepting first, lets commands in flight finish within the grace period,
//   then destroys whatever is left.

import net from 'node:net';
import type { AuthFailureTracker } from '../auth/failure-tracker.js';
import { normalizeIp } from '../auth/failure-tracker.js';
import { IMPLICIT_TLS, LISTENER_NAMES, type ListenerName } from '../config/types.js';
import type { Logger } from '../core/log.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { ServerConnection } from './connection.js';
import type { ConnectionHandler, ProtocolFactory, RefusalReason, ServerDeps } from './types.js';

export interface ListenerInfo {
  name: ListenerName;
  host: string;
  /** The real port (resolved when the configuration said 0). */
  port: number;
}

export interface StartListenersOptions {
  deps: ServerDeps;
  /** Protocol handlers by listener name; the runtime passes src/app/protocol-registry.ts. */
  handlers: ReadonlyMap<ListenerName, ProtocolFactory>;
  /** Bans checked on accept; defaults to the authenticator's tracker. */
  tracker?: AuthFailureTracker;
}

/** How long a refused connection may take to read its one-line refusal before it is destroyed. */
const REFUSAL_LINGER_MS = 1_000;

interface OpenListener {
  info: ListenerInfo;
  server: net.Server;
  handler: ConnectionHandler;
  implicitTls: boolean;
}

export class ListenerSet {
  private readonly limiter: ConnectionLimiter;
  private readonly connections = new Set<ServerConnection>();
  private readonly open: OpenListener[] = [];
  private stopping = false;
  private readonly log: Logger;
  private readonly tracker: AuthFailureTracker;

  private constructor(
    private readonly deps: ServerDeps,
    tracker: AuthFailureTracker,
  ) {
    this.log = deps.log;
    this.tracker = tracker;
    this.limiter = new ConnectionLimiter(deps.config.limits);
  }

  /** Opens every listener that is enabled in the configuration and has a handler. */
  static async start(opts: StartListenersOptions): Promise<ListenerSet> {
    const set = new ListenerSet(opts.deps, opts.tracker ?? opts.deps.authenticator.tracker);
    const { config } = opts.deps;
    opts.deps.listening ??= () => set.listening;
    try {
      for (const name of LISTENER_NAMES) {
        const address = config.listen[name];
        if (address === null) continue;
        const factory = opts.handlers.get(name);
        if (factory === undefined) {
          set.log.info({ listener: name }, `${name} listener not started: protocol not implemented yet`);
          continue;
        }
        await set.listen(name, address.host, address.port, factory(opts.deps));
      }
    } catch (err) {
      await set.shutdown({ graceMs: 0 });
      throw err;
    }
    return set;
  }

  get listening(): ListenerInfo[] {
    return this.open.map((l) => ({ ...l.info }));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Connections currently open from an address (from its network, for IPv6). */
  connectionsFrom(address: string): number {
    return this.limiter.openFrom(address);
  }

  /**
   * Stops accepting, asks every connection to finish (sessions waiting in a command keep going),
   * and destroys what is still open after `graceMs`.
   */
  async shutdown(opts: { graceMs: number }): Promise<void> {
    this.stopping = true;
    const closing = this.open
      .splice(0)
      .map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
    for (const conn of this.connections) conn.beginShutdown();
    const allClosed = Promise.all([...this.connections].map((c) => new Promise<void>((r) => c.onClose(r))));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), opts.graceMs);
    });
    const outcome = await Promise.race([allClosed.then(() => 'closed' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout' && this.connections.size > 0) {
      this.log.warn(
        { open: this.connections.size },
        'shutdown grace period over: closing remaining connections',
      );
      for (const conn of this.connections) conn.destroy();
    }
    await Promise.all(closing);
  }

  private async listen(
    name: ListenerName,
    host: string,
    port: number,
    handler: ConnectionHandler,
  ): Promise<void> {
    // pauseOnConnect: nothing is read until the connection is accepted and handed over.
    const server = net.createServer({ pauseOnConnect: true, noDelay: true });
    const implicitTls = IMPLICIT_TLS.has(name);
    server.on('connection', (socket) => this.accept(name, socket, handler, implicitTls));
    server.on('error', (err) => this.log.error({ err, listener: name }, 'listener error'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen({ host, port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const bound = server.address();
    const realPort = typeof bound === 'object' && bound !== null ? bound.port : port;
    const info: ListenerInfo = { name, host, port: realPort };
    this.open.push({ info, server, handler, implicitTls });
    this.log.info({ listener: name, host, port: realPort, tls: implicitTls }, `${name} listening`);
  }

  private accept(
    name: ListenerName,
    socket: net.Socket,
    handler: ConnectionHandler,
    implicitTls: boolean,
  ): void {
    socket.on('error', () => {}); // until a Connection owns it; resets before accept are not errors
    if (socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    const ip = normalizeIp(socket.remoteAddress);
    const { limits } = this.deps.config;
    let refusal: RefusalReason | null = null;
    if (this.stopping) refusal = 'shutting-down';
    else if (this.tracker.isBanned(ip)) refusal = 'banned';
    const ticket = refusal ?? this.limiter.admit(ip);
    if (typeof ticket === 'string') {
      this.refuse(name, socket, ip, handler, implicitTls, ticket);
      return;
    }

    const conn = new ServerConnection({
      socket,
      listener: name,
      remoteAddress: ip,
      log: this.log,
      secureContext: this.deps.tls.context,
      idleTimeout: handler.idleTimeout ?? limits.idleTimeout,
    });
    this.connections.add(conn);
    conn.onClose(() => {
      this.connections.delete(conn);
      ticket.release();
      conn.log.debug('closed');
    });
    conn.log.debug('accepted');

    const handOver = (): void => {
      try {
        handler(conn);
      } catch (err) {
        conn.log.error({ err }, 'protocol handler threw on accept');
        conn.destroy();
      }
    };
    if (!implicitTls) {
      handOver();
      return;
    }
    conn.startTls().then(handOver, () => {
      // startTls has logged and closed the connection.
    });
  }

  private refuse(
    name: ListenerName,
    socket: net.Socket,
    ip: string,
    handler: ConnectionHandler,
    implicitTls: boolean,
    reason: RefusalReason,
  ): void {
    this.log.info({ listener: name, remote: ip, reason }, 'connection refused');
    const line = implicitTls ? null : (handler.refusal?.(reason) ?? null);
    if (line === null) {
      socket.destroy();
      return;
    }
    socket.end(line);
    // Read (and drop) until the peer's FIN so the socket closes promptly; destroy it if it lingers.
    socket.resume();
    const timer = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
  }
}

/** Starts the listeners (see ListenerSet.start). */
export function startListeners(opts: StartListenersOptions): Promise<ListenerSet> {
  return ListenerSet.start(opts);
}
