// How request handlers outside the runtime (src/admin: autoconfig now, the admin API and the
// user's page later) plug into the http and https listeners. src/app pairs them with the
// listeners; src/server/http.ts tries them in order after its own /healthz routes. Also the one
// bounded reader of a request body that routes use.

import type http from 'node:http';

/** One request as a route sees it. */
export interface HttpExchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** The request target's path (percent-encoding kept), without the query. */
  path: string;
  /** The parsed query string. */
  query: URLSearchParams;
  /** The peer's address (IPv4-mapped IPv6 shown as IPv4); undefined when unknown. */
  peer: string | undefined;
  /** True on the https listener. */
  secure: boolean;
}

/**
 * A group of routes: answers the request and returns true, or returns false (without touching
 * the response) when none of its routes match. A rejected promise becomes a 500.
 */
export type HttpRoutes = (exchange: HttpExchange) => boolean | Promise<boolean>;

export type BodyOutcome = { body: Buffer } | { refused: 400 | 408 | 413 };

/**
 * Reads a request body of at most `limit` bytes within `timeoutMs`, never past the bound: 413
 * for a larger one (declared or sent), 408 when it is too slow, 400 when the request fails.
 * After a refusal the request is paused, not drained.
 */
export function readBody(req: http.IncomingMessage, limit: number, timeoutMs: number): Promise<BodyOutcome> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve({ refused: 413 });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (outcome: BodyOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if ('refused' in outcome) req.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) finish({ refused: 413 });
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish({ body: Buffer.concat(chunks, size) });
    const onError = (): void => finish({ refused: 400 });
    const timer = setTimeout(() => finish({ refused: 408 }), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
