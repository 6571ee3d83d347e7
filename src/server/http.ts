// The HTTP listeners (http, and https: the same over implicit TLS). They answer GET /healthz (for
// load balancers and `postern status`), GET /healthz/stats (this process's event-loop lag and the
// store's write counters) with POST /healthz/stats/reset from loopback clients, then whatever the
// routes handed in by src/app answer (autoconfig, src/admin), and 404 for everything else.
// Invariants: each request counts as a command in flight (graceful shutdown waits for it);
// during shutdown responses carry "Connection: close"; the peer's headers and body are bounded
// by node's parser limits and timeouts; a route that throws gets a 500, never a lost socket.

import http from 'node:http';
import { isLoopback } from '../auth/plaintext-policy.js';
import {
  eventLoopDelayMonitor,
  type EventLoopDelayMonitor,
  type EventLoopDelaySummary,
} from './event-loop-delay.js';
import type { HttpExchange, HttpRoutes } from './http-routes.js';
import type { Connection, ConnectionHandler, ServerDeps } from './types.js';

/** Seconds a client may take to send a request's headers. */
const HEADERS_TIMEOUT_MS = 20_000;
/** Seconds a client may take to send a whole request. */
const REQUEST_TIMEOUT_MS = 60_000;

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

/** GET /healthz/stats: counters are totals since the process opened the store; the lag window restarts at reset. */
export interface HealthStats {
  pid: number;
  eventLoopDelay: EventLoopDelaySummary;
  store: { commits: number; walFsyncs: number } | null;
  blobs: { fileFsyncs: number; dirFsyncs: number } | null;
}

function stats(deps: ServerDeps, monitor: EventLoopDelayMonitor): HealthStats {
  const store = deps.store.stats;
  const blobs = deps.blobs.stats;
  return {
    pid: process.pid,
    eventLoopDelay: monitor.summary(),
    store: store === undefined ? null : { commits: store.commits, walFsyncs: store.fsyncs },
    blobs: blobs === undefined ? null : { fileFsyncs: blobs.fileFsyncs, dirFsyncs: blobs.dirFsyncs },
  };
}

/** The request target split into path and query; null when it is not an origin-form target. */
function requestTarget(url: string | undefined): { path: string; query: URLSearchParams } | null {
  // RFC 9112 §3.2.1: origin-form is the only form a server that is not a proxy must accept.
  if (url === undefined || !url.startsWith('/')) return null;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return { path, query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)) };
}

async function route(
  exchange: HttpExchange,
  deps: ServerDeps,
  monitor: EventLoopDelayMonitor,
  routes: readonly HttpRoutes[],
): Promise<void> {
  const { req, res, path, peer } = exchange;
  const read = req.method === 'GET' || req.method === 'HEAD';
  if (path === '/healthz' && read) {
    sendJson(res, 200, { status: 'ok' });
    return;
  }
  if (path === '/healthz/stats' && read) {
    sendJson(res, 200, stats(deps, monitor));
    return;
  }
  if (path === '/healthz/stats/reset' && req.method === 'POST') {
    req.resume(); // any body is ignored
    // Only local tools (a benchmark, an operator on the machine) restart the lag window.
    if (peer === undefined || !isLoopback(peer)) {
      sendJson(res, 403, { error: 'reset is allowed from loopback clients only' });
      return;
    }
    const before = stats(deps, monitor);
    monitor.reset();
    sendJson(res, 200, before);
    return;
  }
  for (const routesOf of routes) {
    if (await routesOf(exchange)) return;
  }
  req.resume(); // a body nobody reads must not stall the connection
  sendJson(res, 404, { error: 'not found' });
}

export interface HttpHandlerOptions {
  /** Routes tried in order after /healthz (src/app hands in src/admin's). */
  routes?: readonly HttpRoutes[];
}

export function createHttpHandler(deps: ServerDeps, opts: HttpHandlerOptions = {}): ConnectionHandler {
  const routes = opts.routes ?? [];
  const server = http.createServer({
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    maxHeaderSize: 16 * 1024,
  });
  const bySocket = new WeakMap<object, Connection>();
  const monitor = eventLoopDelayMonitor();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const conn = bySocket.get(req.socket);
    const release = conn?.beginCommand();
    res.on('close', () => release?.());
    if (conn?.shuttingDown === true) res.setHeader('Connection', 'close');
    // Which process answered: lets an operator (and the cluster test) see the workers take turns.
    res.setHeader('X-Postern-Pid', String(process.pid));
    const target = requestTarget(req.url);
    if (target === null) {
      req.resume();
      sendJson(res, 400, { error: 'bad request target' });
      return;
    }
    const exchange: HttpExchange = {
      req,
      res,
      ...target,
      peer: conn?.remoteAddress,
      secure: conn?.secure === true,
    };
    route(exchange, deps, monitor, routes).catch((err: unknown) => {
      deps.log.error({ err }, 'http handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const handler: ConnectionHandler = (conn) => {
    // HTTP never upgrades to TLS in-band, so node's HTTP server takes the socket over directly.
    bySocket.set(conn.socket, conn);
    server.emit('connection', conn.socket);
    conn.socket.resume();
  };
  return handler;
}
