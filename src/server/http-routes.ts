// How request handlers outside the runtime (src/admin: autoconfig now, the admin API and the
// user's page later) plug into the http and https listeners. src/app pairs them with the
// listeners; src/server/http.ts tries them in order after its own /healthz routes.

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
