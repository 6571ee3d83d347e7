// The autoconfiguration routes of the http and https listeners (src/app plugs them in):
//   GET  /.well-known/autoconfig/mail/config-v1.1.xml[?emailaddress=]  Thunderbird, on the domain
//   GET  /mail/config-v1.1.xml?emailaddress=                           Thunderbird, on autoconfig.<domain>
//   POST /autodiscover/autodiscover.xml                                Outlook POX (any letter case);
//                                                                      a GET over http: 302 to https
//   GET  /autodiscover/autodiscover.json?Email=&Protocol=              Outlook JSON v2
//   GET  /autodiscover/autodiscover.json/v1.0/<address>?Protocol=      the same, address in the path
//   GET  /mobileconfig                                                 303 to /account/setup: the Apple
//                                                                      profile needs a login (src/web)
// Invariants: an address or domain the server does not host gets 404 (only the domain is
// looked up: whether an account exists is never revealed); a malformed request gets 400; the
// POST body is bounded in size (413) and time (408) and is never read past the bound; every
// value a client sent is escaped for the format it is written into; the answers are computed
// from the listeners open at the time of the request.

import type http from 'node:http';
import { normalizeDomain } from '../mail/domain.js';
import { tryParseAddress } from '../store/rules/address.js';
import { readBody, type HttpExchange, type HttpRoutes } from '../server/http-routes.js';
import type { ServerDeps } from '../server/types.js';
import { AutodiscoverRequestError, parseAutodiscoverRequest } from './autodiscover-request.js';
import { clientSettings, openListenerPorts, type ClientSettings } from './client-settings.js';
import {
  AUTODISCOVER_V1,
  OUTLOOK_RESPONSE_SCHEMA,
  POX_CONTENT_TYPE,
  autodiscoverJsonError,
  autodiscoverJsonRedirect,
  autodiscoverPox,
  autodiscoverPoxError,
  autodiscoverPoxUrl,
  type AutodiscoverJson,
  type PoxErrorCode,
} from './outlook-autodiscover.js';
import { THUNDERBIRD_CONTENT_TYPE, thunderbirdConfig } from './thunderbird-autoconfig.js';

/** Largest autodiscover POST body read (Outlook's request is about 400 bytes). */
export const AUTODISCOVER_BODY_LIMIT = 16 * 1024;
/** How long a client may take to send that body. */
export const AUTODISCOVER_BODY_TIMEOUT_MS = 10_000;
/** Longest address looked at (RFC 5321 §4.5.3.1.3: a path is at most 256 octets). */
const MAX_ADDRESS = 256;

export type AutoconfigDeps = Pick<ServerDeps, 'config' | 'store' | 'log' | 'listening'>;

function send(
  res: http.ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: AutodiscoverJson | { error: string },
): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

function sendPoxError(res: http.ServerResponse, status: number, code: PoxErrorCode, close = false): void {
  send(res, status, POX_CONTENT_TYPE, autodiscoverPoxError(code), close ? { Connection: 'close' } : {});
}

/** The first query parameter named `name`, whatever its letter case (Outlook varies it). */
function param(query: URLSearchParams, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of query) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/** A mail domain from a Host header: "autoconfig.example.org:443" -> "example.org". */
function domainFromHost(host: string | undefined): string | null {
  if (host === undefined || host.startsWith('[')) return null;
  const name = host.split(':', 1)[0].toLowerCase();
  const bare = name.startsWith('autoconfig.') ? name.slice('autoconfig.'.length) : name;
  return normalizeDomain(bare);
}

export function autoconfigRoutes(deps: AutoconfigDeps): HttpRoutes {
  const settings = (): ClientSettings =>
    clientSettings(deps.config.hostname, openListenerPorts(deps.config, deps.listening?.()));

  /** The address parsed and its domain hosted here: the address, or the status to answer. */
  const hostedAddress = async (raw: string | undefined): Promise<string | 400 | 404> => {
    if (raw === undefined || raw.length === 0 || raw.length > MAX_ADDRESS) return 400;
    const parsed = tryParseAddress(raw.trim());
    if (parsed === null) return 400;
    return (await deps.store.getDomain(parsed.domain)) === null ? 404 : parsed.address;
  };

  const thunderbird = async (ex: HttpExchange): Promise<void> => {
    const { res, query, req } = ex;
    const current = settings();
    let providerId: string;
    let domains: string[];
    const raw = param(query, 'emailaddress');
    if (raw !== undefined) {
      const address = await hostedAddress(raw);
      if (typeof address === 'number') {
        sendJson(res, address, { error: address === 400 ? 'bad emailaddress' : 'domain not served here' });
        return;
      }
      providerId = address.slice(address.lastIndexOf('@') + 1);
      domains = [providerId];
    } else {
      // Without an address: the domain the client asked on (example.org or autoconfig.example.org).
      // Never the list of every hosted domain: a hosting server does not publish its customers.
      const fromHost = domainFromHost(req.headers.host);
      if (fromHost === null || (await deps.store.getDomain(fromHost)) === null) {
        sendJson(res, 404, { error: 'give emailaddress, or ask on autoconfig.<domain>' });
        return;
      }
      providerId = fromHost;
      domains = [fromHost];
    }
    const xml = thunderbirdConfig({ providerId, domains, settings: current });
    if (xml === null) {
      sendJson(res, 404, { error: 'no mail domain or no client listener is configured' });
      return;
    }
    send(res, 200, THUNDERBIRD_CONTENT_TYPE, xml);
  };

  const poxAutodiscover = async (ex: HttpExchange): Promise<void> => {
    const { req, res } = ex;
    const outcome = await readBody(req, AUTODISCOVER_BODY_LIMIT, AUTODISCOVER_BODY_TIMEOUT_MS);
    if ('refused' in outcome) {
      // The rest of the body is never read: the connection closes after the answer.
      sendPoxError(res, outcome.refused, 600, true);
      return;
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(outcome.body);
    } catch {
      sendPoxError(res, 400, 600);
      return;
    }
    let request;
    try {
      request = parseAutodiscoverRequest(text);
    } catch (err) {
      if (!(err instanceof AutodiscoverRequestError)) throw err;
      deps.log.debug({ reason: err.message }, 'autodiscover: malformed request');
      sendPoxError(res, 400, 600);
      return;
    }
    const schema = request.acceptableResponseSchema;
    if (schema !== null && schema !== OUTLOOK_RESPONSE_SCHEMA) {
      // ActiveSync clients ask for the mobilesync schema: no such provider here (Exchange: 601).
      sendPoxError(res, 200, 601);
      return;
    }
    const address = await hostedAddress(request.emailAddress);
    if (typeof address === 'number') {
      sendPoxError(res, address, address === 400 ? 600 : 500);
      return;
    }
    const xml = autodiscoverPox(settings(), address);
    if (xml === null) {
      sendPoxError(res, 404, 500);
      return;
    }
    send(res, 200, POX_CONTENT_TYPE, xml);
  };

  const jsonAutodiscover = async (ex: HttpExchange, pathAddress: string | undefined): Promise<void> => {
    const { res, query } = ex;
    const protocol = param(query, 'Protocol');
    const email = pathAddress ?? param(query, 'Email');
    if (protocol === undefined || email === undefined) {
      sendJson(res, 400, autodiscoverJsonError('InvalidRequest'));
      return;
    }
    if (protocol.toLowerCase() !== AUTODISCOVER_V1.toLowerCase()) {
      sendJson(res, 404, autodiscoverJsonError('InvalidProtocol'));
      return;
    }
    const address = await hostedAddress(email);
    if (typeof address === 'number') {
      sendJson(res, address, autodiscoverJsonError(address === 400 ? 'InvalidRequest' : 'InvalidUser'));
      return;
    }
    sendJson(res, 200, autodiscoverJsonRedirect(settings()));
  };

  return async (ex: HttpExchange): Promise<boolean> => {
    const { req, res } = ex;
    const path = ex.path.toLowerCase();
    const read = req.method === 'GET' || req.method === 'HEAD';
    const notAllowed = (allow: string): true => {
      req.resume();
      res.setHeader('Allow', allow);
      sendJson(res, 405, { error: 'method not allowed' });
      return true;
    };
    if (path === '/.well-known/autoconfig/mail/config-v1.1.xml' || path === '/mail/config-v1.1.xml') {
      if (!read) return notAllowed('GET, HEAD');
      await thunderbird(ex);
      return true;
    }
    if (path === '/autodiscover/autodiscover.xml') {
      if (read && !ex.secure && settings().httpsPort !== null) {
        // Outlook's "HTTP redirect method": a GET over plain http, expecting a redirect to the
        // https URL it then POSTs to.
        req.resume();
        res.writeHead(302, { Location: autodiscoverPoxUrl(settings()), 'Content-Length': 0 });
        res.end();
        return true;
      }
      if (req.method !== 'POST') return notAllowed('POST');
      await poxAutodiscover(ex);
      return true;
    }
    const JSON_PATH = '/autodiscover/autodiscover.json';
    if (path === JSON_PATH || path.startsWith(`${JSON_PATH}/v1.0/`)) {
      if (!read) return notAllowed('GET, HEAD');
      let pathAddress: string | undefined;
      if (path !== JSON_PATH) {
        try {
          pathAddress = decodeURIComponent(ex.path.slice(`${JSON_PATH}/v1.0/`.length));
        } catch {
          sendJson(res, 400, autodiscoverJsonError('InvalidRequest'));
          return true;
        }
      }
      await jsonAutodiscover(ex, pathAddress);
      return true;
    }
    if (path === '/mobileconfig') {
      // The profile names an account: it moved behind the user's login (src/web, /account/setup),
      // where it can also carry the password. Old links land there.
      req.resume();
      res.writeHead(303, { Location: '/account/setup', 'Content-Length': 0, 'Cache-Control': 'no-store' });
      res.end();
      return true;
    }
    return false;
  };
}
