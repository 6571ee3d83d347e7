// Where mail for a domain goes: RFC 5321 §5.1 routing (MX, then the implicit MX), RFC 7505 null
// MX, RFC 5321 §4.1.3 address literals. Pure lookups: no connection is made here.
// Invariants:
// - every lookup goes through the given DnsResolver (bounded in time by its timeout and tries),
//   in A-label form (IDNA, node:url domainToASCII);
// - the result is bounded: at most `maxHosts` exchanges, `maxAddressesPerHost` addresses of each
//   family per exchange and `maxAddresses` hops in all, each IP address once;
// - hops are ordered: MX preference ascending, equal preferences shuffled with the injected
//   random source, and each exchange's IPv6 addresses before its IPv4 ones;
// - a failure says whether a later try may succeed (temporary: SERVFAIL, REFUSED, timeouts) or
//   not (NXDOMAIN, null MX, no address at all), with the RFC 3463 enhanced status to report.

import { isIP, isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';

import { dnsFailureKind, normalizeName, type DnsResolver } from '../dns/resolver.js';

/** One place to try: connect to `ip`, speak to `host` (the name TLS and MTA-STS check). */
export interface RouteHop {
  /** The MX exchange (lower case, no trailing dot), the domain itself for the implicit MX, or
   *  the address literal as written ("[192.0.2.1]"). */
  host: string;
  ip: string;
  /** The MX preference; 0 for the implicit MX and address literals. */
  preference: number;
}

export interface RouteFailure {
  kind: 'failure';
  /** True when a later try may succeed (a DNS server failure or timeout). */
  temporary: boolean;
  /** RFC 3463 enhanced status code, e.g. "5.1.10". */
  enhanced: string;
  /** Human-readable, ASCII, one line. */
  text: string;
}

export interface RouteHops {
  kind: 'hops';
  /** Try in this order until one takes the message (RFC 5321 §5.1: every address in turn). */
  hops: RouteHop[];
  /** True when the domain has no MX records and its own addresses are used (RFC 5321 §5.1). */
  implicitMx: boolean;
  /** Exchanges whose addresses could not be looked up for now (omitted from `hops`). */
  temporaryFailures: string[];
}

export type Route = RouteHops | RouteFailure;

/** The part of DnsResolver routing needs (so tests may wrap the real one). */
export type RouteResolver = Pick<DnsResolver, 'resolve'>;

export interface RouteOptions {
  resolver: RouteResolver;
  /** Uniform in [0, 1): orders MX records of equal preference (default Math.random). */
  random?: () => number;
  /** Most MX exchanges used, best first (default 10). */
  maxHosts?: number;
  /** Most addresses used per exchange and family (default 4). */
  maxAddressesPerHost?: number;
  /** Most hops in all (default 20). */
  maxAddresses?: number;
  /** Address families to use (default both, IPv6 first). */
  families?: 'both' | 'ipv4' | 'ipv6';
  /**
   * Our own host names. RFC 5321 §5.1: when one of them is an MX of the domain, only the
   * exchanges of a strictly lower preference value are used; none left is a routing loop.
   */
  localHostnames?: readonly string[];
}

export const ROUTE_DEFAULTS = { maxHosts: 10, maxAddressesPerHost: 4, maxAddresses: 20 } as const;

/** Resolves the hops for mail to `domain` (a U-label or A-label domain, or an address literal). */
export async function resolveRoute(domain: string, opts: RouteOptions): Promise<Route> {
  const maxHosts = positive('maxHosts', opts.maxHosts, ROUTE_DEFAULTS.maxHosts);
  const perHost = positive(
    'maxAddressesPerHost',
    opts.maxAddressesPerHost,
    ROUTE_DEFAULTS.maxAddressesPerHost,
  );
  const maxAddresses = positive('maxAddresses', opts.maxAddresses, ROUTE_DEFAULTS.maxAddresses);
  const families = opts.families ?? 'both';
  const random = opts.random ?? Math.random;

  if (domain.startsWith('[')) return addressLiteral(domain, families);

  const ascii = toAsciiDomain(domain);
  if (ascii === null) {
    return failure(false, '5.1.2', `bad destination domain: ${printable(domain)}`);
  }

  // RFC 5321 §5.1: MX first; a CNAME at the domain is followed by the recursive server.
  let exchanges: Array<{ host: string; preference: number }>;
  let implicitMx = false;
  try {
    const records = await opts.resolver.resolve(ascii, 'MX');
    if (records.length === 0) throw Object.assign(new Error('no MX'), { code: 'ENODATA' });
    const real = records.filter((r) => !isNullTarget(r.exchange));
    // RFC 7505 §3: "0 ." alone says the domain accepts no mail. A null target beside real
    // exchanges is a publishing mistake; the real exchanges are used.
    if (real.length === 0) {
      return failure(false, '5.1.10', `${ascii} accepts no mail (null MX, RFC 7505)`);
    }
    exchanges = orderByPreference(
      real.map((r) => ({ host: r.exchange, preference: r.priority })),
      random,
    );
  } catch (err) {
    const kind = dnsFailureKind(err);
    if (kind === 'nxdomain') return failure(false, '5.1.2', `domain ${ascii} does not exist`);
    if (kind === 'temporary') {
      return failure(true, '4.4.3', `DNS failure looking up MX of ${ascii}: ${codeOf(err)}`);
    }
    // RFC 5321 §5.1: no MX records, the domain is its own exchange with preference 0.
    exchanges = [{ host: ascii, preference: 0 }];
    implicitMx = true;
  }

  // Normalise, drop unusable names, each exchange once (its best preference).
  const seen = new Set<string>();
  const usable: Array<{ host: string; preference: number }> = [];
  let literals = 0;
  for (const x of exchanges) {
    const host = normalizeName(x.host);
    if (host === null || seen.has(host)) continue;
    seen.add(host);
    // RFC 1035 §3.3.9 / RFC 5321 §5.1: an exchange is a domain name. An address written as
    // one ("192.0.2.1", "[192.0.2.1]") is a misconfiguration and is not used (as Postfix).
    if (isIP(host) !== 0 || host.startsWith('[')) {
      literals++;
      continue;
    }
    usable.push({ host, preference: x.preference });
  }

  const local = new Set<string>();
  for (const n of opts.localHostnames ?? []) {
    const h = normalizeName(n);
    if (h !== null) local.add(h);
  }
  let candidates = usable;
  if (!implicitMx && local.size > 0) {
    const ours = usable.filter((x) => local.has(x.host)).map((x) => x.preference);
    if (ours.length > 0) {
      const limit = Math.min(...ours);
      candidates = usable.filter((x) => x.preference < limit);
      if (candidates.length === 0) {
        return failure(false, '5.4.6', `mail for ${ascii} loops back to this server (MX)`);
      }
    }
  }
  if (candidates.length === 0) {
    return failure(
      false,
      '5.4.4',
      literals > 0 ? `the MX of ${ascii} is an address, not a host name` : `no usable MX for ${ascii}`,
    );
  }
  candidates = candidates.slice(0, maxHosts);

  // Each exchange's addresses, all exchanges at once (at most maxHosts * 2 queries).
  const lookups = await Promise.all(
    candidates.map(async (x) => {
      const [v6, v4] = await Promise.all([
        families === 'ipv4' ? none() : addresses(opts.resolver, x.host, 'AAAA'),
        families === 'ipv6' ? none() : addresses(opts.resolver, x.host, 'A'),
      ]);
      return { ...x, v6, v4 };
    }),
  );

  const hops: RouteHop[] = [];
  const usedIps = new Set<string>();
  const temporaryFailures: string[] = [];
  for (const x of lookups) {
    if (x.v6.temporary || x.v4.temporary) temporaryFailures.push(x.host);
    // A CNAME at the exchange (RFC 2181 §10.3 forbids it, RFC 5321 §5.1 tolerates it) was
    // followed by the resolver; the hop keeps the MX name, which TLS and MTA-STS check.
    for (const ip of [...x.v6.ips.slice(0, perHost), ...x.v4.ips.slice(0, perHost)]) {
      if (usedIps.has(ip) || hops.length >= maxAddresses) continue;
      usedIps.add(ip);
      hops.push({ host: x.host, ip, preference: x.preference });
    }
  }
  if (hops.length === 0) {
    if (temporaryFailures.length > 0) {
      return failure(true, '4.4.3', `DNS failure looking up the address of ${temporaryFailures.join(', ')}`);
    }
    return failure(
      false,
      '5.4.4',
      implicitMx ? `${ascii} has no MX and no address` : `no address for the MX hosts of ${ascii}`,
    );
  }
  return { kind: 'hops', hops, implicitMx, temporaryFailures };
}

/** A domain in A-label form, lower case, no trailing dot; null when it cannot be one. */
export function toAsciiDomain(domain: string): string | null {
  if (domain.length === 0 || domain.length > 1024) return null;
  // domainToASCII (WHATWG URL) silently drops tabs and line breaks: refuse them first.
  for (let i = 0; i < domain.length; i++) {
    const c = domain.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return null;
  }
  const ascii = domainToASCII(domain.endsWith('.') ? domain.slice(0, -1) : domain);
  if (ascii === '') return null;
  const name = normalizeName(ascii);
  // A bare IP address is not a domain (RFC 5321 §4.1.3: literals are bracketed).
  if (name === null || isIP(name) !== 0 || !/^[a-z0-9.-]+$/.test(name)) return null;
  return name;
}

/** RFC 5321 §4.1.3 / §5.1: "[192.0.2.1]" or "[IPv6:2001:db8::1]" is delivered to that address. */
function addressLiteral(literal: string, families: 'both' | 'ipv4' | 'ipv6'): Route {
  if (!literal.endsWith(']') || literal.length > 64) {
    return failure(false, '5.1.2', `bad address literal: ${printable(literal)}`);
  }
  const inner = literal.slice(1, -1);
  let ip: string | null = null;
  if (isIPv4(inner)) ip = inner;
  else if (inner.slice(0, 5).toLowerCase() === 'ipv6:' && isIPv6(inner.slice(5)))
    ip = inner.slice(5).toLowerCase();
  if (ip === null) return failure(false, '5.1.2', `bad address literal: ${printable(literal)}`);
  if ((families === 'ipv4' && !isIPv4(ip)) || (families === 'ipv6' && isIPv4(ip))) {
    return failure(false, '5.4.4', `address literal ${literal} is of a disabled address family`);
  }
  return {
    kind: 'hops',
    hops: [{ host: literal, ip, preference: 0 }],
    implicitMx: false,
    temporaryFailures: [],
  };
}

/** RFC 5321 §5.1: lowest preference first; records of equal preference in random order. */
function orderByPreference<T extends { preference: number }>(records: T[], random: () => number): T[] {
  const sorted = [...records].sort((a, b) => a.preference - b.preference);
  let start = 0;
  while (start < sorted.length) {
    let end = start + 1;
    while (end < sorted.length && sorted[end]?.preference === sorted[start]?.preference) end++;
    // Fisher-Yates over [start, end).
    for (let i = end - 1; i > start; i--) {
      const r = random();
      const j =
        start + Math.min(i - start, Math.floor((Number.isFinite(r) && r >= 0 ? r : 0) * (i - start + 1)));
      const a = sorted[i] as T;
      sorted[i] = sorted[j] as T;
      sorted[j] = a;
    }
    start = end;
  }
  return sorted;
}

interface Addresses {
  ips: string[];
  temporary: boolean;
}

async function addresses(resolver: RouteResolver, host: string, type: 'A' | 'AAAA'): Promise<Addresses> {
  try {
    const list = await resolver.resolve(host, type);
    const valid = type === 'A' ? list.filter((ip) => isIPv4(ip)) : list.filter((ip) => isIPv6(ip));
    return { ips: valid.map((ip) => ip.toLowerCase()), temporary: false };
  } catch (err) {
    return { ips: [], temporary: dnsFailureKind(err) === 'temporary' };
  }
}

function none(): Promise<Addresses> {
  return Promise.resolve({ ips: [], temporary: false });
}

/** RFC 7505 §3: the null MX target is the root, "." (node:dns gives it as ""). */
function isNullTarget(exchange: string): boolean {
  return exchange === '' || exchange === '.';
}

function failure(temporary: boolean, enhanced: string, text: string): RouteFailure {
  return { kind: 'failure', temporary, enhanced, text };
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    throw new RangeError(`resolveRoute: ${name} must be an integer from 1 to 1000, not ${value}`);
  }
  return value;
}

function codeOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : 'error';
}

/** Input echoed in a message: printable ASCII only, bounded. */
function printable(s: string): string {
  let out = '';
  for (const ch of s.slice(0, 100)) {
    const c = ch.codePointAt(0) ?? 0;
    out += c >= 0x21 && c < 0x7f ? ch : '?';
  }
  return out;
}
