// The HTTP listener. For now it answers GET /healthz (for load balancers and `postern status`),
// GET /healthz/stats (this process's event-loop lag and the store's write counters) with
// POST /healthz/stats/reset from loopback clients, and 404 for everything else; the admin API
// and autoconfig will plug into `route` later.
// Invariants: each request counts as a command in flight (graceful shutdown waits for it);
// during shutdown responses carry "Connection: close"; the peer's headers and body are bounded
// by node's parser limits and timeouts.

import http from 'node:http';
import { isLoopback } from '../auth/plaintext-policy.js';
import {
  eventLoopDelayMonitor,
  type EventLoopDelayMonitor,
  type EventLoopDelaySummary,
} from './event-loop-delay.js';
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

function route(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  peer: string | undefined,
  deps: ServerDeps,
  monitor: EventLoopDelayMonitor,
): void {
  const path = (req.url ?? '/').split('?', 1)[0];
  // Which process answered: lets an operator (and the cluster test) see the workers take turns.
  res.setHeader('X-Postern-Pid', String(process.pid));
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
  sendJson(res, 404, { error: 'not found' });
}

export function createHttpHandler(deps: ServerDeps): ConnectionHandler {
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
    try {
      route(req, res, conn?.remoteAddress, deps, monitor);
    } catch (err) {
      deps.log.error({ err }, 'http handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    }
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
