// The HTTP listener. For now it answers GET /healthz (for load balancers and `postern status`)
// and 404 for everything else; the admin API and autoconfig will plug into `route` later.
// Invariants: each request counts as a command in flight (graceful shutdown waits for it);
// during shutdown responses carry "Connection: close"; the peer's headers and body are bounded
// by node's parser limits and timeouts.

import http from 'node:http';
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

function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
    // Which process answered: lets an operator (and the cluster test) see the workers take turns.
    res.setHeader('X-Postern-Pid', String(process.pid));
    sendJson(res, 200, { status: 'ok' });
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
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const conn = bySocket.get(req.socket);
    const release = conn?.beginCommand();
    res.on('close', () => release?.());
    if (conn?.shuttingDown === true) res.setHeader('Connection', 'close');
    try {
      route(req, res);
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
