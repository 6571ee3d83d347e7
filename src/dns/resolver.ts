// DNS lookups for SMTP: SPF, DKIM and DMARC (through mailauth), reverse DNS for Received
// headers, MX and A/AAAA for outbound routing (src/outbound/route.ts). Built on node:dns's
// Resolver (c-ares), so the servers are configurable ([dns] servers, "IP:PORT") and tests point
// it at a DNS server on loopback.
// Invariants:
// - the cache is bounded in entries (oldest evicted first) and never holds an answer longer than
//   min(record TTL, cacheSeconds); node:dns reports TTLs only for A and AAAA, so other types
//   are kept for cacheSeconds (capped by the positive TTL default below);
// - negative answers (ENOTFOUND, ENODATA; RFC 2308) are cached briefly, other failures never;
// - identical queries in flight share one request;
// - every query ends: c-ares times out each try, and `tries` bounds the retries.

import { Resolver } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';

export type DnsRecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME';

export interface MxRecord {
  exchange: string;
  priority: number;
}

/** What each record type resolves to, as node:dns's `resolve` gives it. */
export interface DnsAnswers {
  A: string[];
  AAAA: string[];
  MX: MxRecord[];
  /** Each record is its list of character-strings (RFC 1035 §3.3.14); join them for the value. */
  TXT: string[][];
  PTR: string[];
  CNAME: string[];
}

/** A failed lookup. `code` is node:dns's: ENOTFOUND (NXDOMAIN), ENODATA, ETIMEOUT, ESERVFAIL... */
export class DnsError extends Error {
  readonly code: string;
  readonly hostname: string;
  readonly rrtype: string;
  constructor(code: string, hostname: string, rrtype: string) {
    super(`DNS ${rrtype} ${hostname}: ${code}`);
    this.name = 'DnsError';
    this.code = code;
    this.hostname = hostname;
    this.rrtype = rrtype;
  }
}

/** The codes that mean "the name or the record does not exist": cacheable, not temporary. */
const NEGATIVE_CODES: ReadonlySet<string> = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * What a failed lookup means for mail routing: the name does not exist (NXDOMAIN), it exists
 * without records of the type (NODATA), or the answer is unknown for now (SERVFAIL, REFUSED, a
 * timeout, a network error): only the last may succeed on a later try.
 */
export type DnsFailureKind = 'nxdomain' | 'nodata' | 'temporary';

export function dnsFailureKind(err: unknown): DnsFailureKind {
  const code = err instanceof DnsError ? err.code : errorCode(err);
  // A name that cannot be a DNS name (EBADNAME) cannot exist either.
  if (code === 'ENOTFOUND' || code === 'EBADNAME') return 'nxdomain';
  if (code === 'ENODATA') return 'nodata';
  return 'temporary';
}

/** PTR names checked by verifiedReverse (each costs a forward query). */
const MAX_PTR_CHECKS = 3;

const RECORD_TYPES: ReadonlySet<string> = new Set(['A', 'AAAA', 'MX', 'TXT', 'PTR', 'CNAME']);

export interface DnsResolverOptions {
  /** "IP:PORT" strings; empty: the system's resolvers. */
  servers: string[];
  /** Upper bound on how long any answer is cached; 0 disables the cache. */
  cacheSeconds: number;
  /** Upper bound for negative answers (default 60, and never above cacheSeconds). */
  negativeCacheSeconds?: number;
  /** Most cached answers (default 10000). */
  maxEntries?: number;
  /** Milliseconds per try (default 2000). */
  timeoutMs?: number;
  /** Tries per server (default 2). */
  tries?: number;
}

type CacheEntry =
  | { expires: number; ok: true; value: DnsAnswers[DnsRecordType] }
  | { expires: number; ok: false; code: string };

export class DnsResolver {
  private readonly resolver: Resolver;
  private readonly cacheMs: number;
  private readonly negativeMs: number;
  private readonly maxEntries: number;
  /** Insertion-ordered: the first key is the oldest. */
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<DnsAnswers[DnsRecordType]>>();
  /** Network queries sent (not counting cache hits and coalesced waiters); for tests and metrics. */
  queries = 0;

  constructor(opts: DnsResolverOptions) {
    this.resolver = new Resolver({ timeout: opts.timeoutMs ?? 2000, tries: opts.tries ?? 2 });
    if (opts.servers.length > 0) this.resolver.setServers(opts.servers);
    this.cacheMs = Math.max(0, opts.cacheSeconds) * 1000;
    this.negativeMs = Math.min(this.cacheMs, Math.max(0, opts.negativeCacheSeconds ?? 60) * 1000);
    this.maxEntries = Math.max(1, opts.maxEntries ?? 10000);
  }

  /**
   * Resolves `name` (a trailing dot is ignored, case folded) for one record type. Rejects with
   * DnsError; ENOTFOUND and ENODATA mean no such name / no such record.
   */
  async resolve<T extends DnsRecordType>(name: string, rrtype: T): Promise<DnsAnswers[T]> {
    if (!RECORD_TYPES.has(rrtype)) throw new DnsError('ENOTIMP', name, String(rrtype));
    const host = normalizeName(name);
    if (host === null) throw new DnsError('EBADNAME', name, rrtype);
    const key = `${rrtype} ${host}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      if (hit.expires > now) {
        if (hit.ok) return copy(hit.value) as DnsAnswers[T];
        throw new DnsError(hit.code, host, rrtype);
      }
      this.cache.delete(key);
    }
    let pending = this.inflight.get(key);
    if (pending === undefined) {
      pending = this.query(host, rrtype, key);
      this.inflight.set(key, pending);
      const clear = (): void => {
        this.inflight.delete(key);
      };
      pending.then(clear, clear);
    }
    // Each caller gets its own copy: mailauth and sessions may mutate arrays they receive.
    return copy(await pending) as DnsAnswers[T];
  }

  /** PTR names of an IP address (RFC 1035 §3.5 in-addr.arpa, RFC 3596 §2.5 ip6.arpa). */
  async reverse(ip: string): Promise<string[]> {
    const name = reverseName(ip);
    if (name === null) throw new DnsError('EBADNAME', ip, 'PTR');
    return this.resolve(name, 'PTR');
  }

  /**
   * Forward-confirmed reverse DNS: the first PTR name of `ip` whose A/AAAA records include `ip`,
   * or null (no PTR, no match, or a DNS failure). Used in the Received header's TCP-info.
   */
  async verifiedReverse(ip: string): Promise<string | null> {
    let names: string[];
    try {
      names = await this.reverse(ip);
    } catch {
      return null;
    }
    const family = isIPv6(ip) ? 'AAAA' : 'A';
    const wanted = family === 'AAAA' ? expandIPv6(ip) : ip;
    // A PTR set can be large and each name costs a query: look at the first few, in parallel.
    const checks = names.slice(0, MAX_PTR_CHECKS).map(async (ptr): Promise<string | null> => {
      try {
        const addrs = await this.resolve(ptr, family);
        const match = addrs.some((a) => (family === 'AAAA' ? expandIPv6(a) : a) === wanted);
        return match ? normalizeName(ptr) : null;
      } catch {
        return null;
      }
    });
    for (const name of await Promise.all(checks)) if (name !== null) return name;
    return null;
  }

  /**
   * The `resolver` option of mailauth's authenticate/spf/dkimVerify/dmarc: dns.promises.resolve
   * semantics (arrays shaped as node gives them, errors carrying ENOTFOUND/ENODATA codes).
   */
  mailauthResolver(): (name: string, rrtype: string) => Promise<unknown> {
    return async (name: string, rrtype: string): Promise<unknown> => {
      const type = rrtype.toUpperCase();
      if (!isRecordType(type)) throw new DnsError('ENOTIMP', name, rrtype);
      try {
        return await this.resolve(name, type);
      } catch (err) {
        // A name that cannot exist (a DKIM selector or SPF macro expanding to garbage) is
        // "no such domain" for SPF/DKIM/DMARC, not a temporary failure.
        if (err instanceof DnsError && err.code === 'EBADNAME') throw new DnsError('ENOTFOUND', name, rrtype);
        throw err;
      }
    };
  }

  /** Drops every cached answer. */
  clearCache(): void {
    this.cache.clear();
  }

  /** Cancels queries in flight (they reject with ECANCELLED). */
  cancel(): void {
    this.resolver.cancel();
  }

  private async query(host: string, rrtype: DnsRecordType, key: string): Promise<DnsAnswers[DnsRecordType]> {
    this.queries++;
    try {
      const { value, ttl } = await this.lookup(host, rrtype);
      if (this.cacheMs > 0) {
        const ms = ttl === null ? this.cacheMs : Math.min(this.cacheMs, ttl * 1000);
        if (ms > 0) this.store(key, { expires: Date.now() + ms, ok: true, value });
      }
      return value;
    } catch (err) {
      const code = errorCode(err);
      if (NEGATIVE_CODES.has(code) && this.negativeMs > 0) {
        this.store(key, { expires: Date.now() + this.negativeMs, ok: false, code });
      }
      throw new DnsError(code, host, rrtype);
    }
  }

  private async lookup(
    host: string,
    rrtype: DnsRecordType,
  ): Promise<{ value: DnsAnswers[DnsRecordType]; ttl: number | null }> {
    switch (rrtype) {
      case 'A':
      case 'AAAA': {
        const records =
          rrtype === 'A'
            ? await this.resolver.resolve4(host, { ttl: true })
            : await this.resolver.resolve6(host, { ttl: true });
        let ttl = Infinity;
        for (const r of records) ttl = Math.min(ttl, r.ttl);
        return { value: records.map((r) => r.address), ttl: Number.isFinite(ttl) ? ttl : null };
      }
      case 'MX':
        return {
          value: (await this.resolver.resolveMx(host)).map((r) => ({
            exchange: r.exchange,
            priority: r.priority,
          })),
          ttl: null,
        };
      case 'TXT':
        return { value: await this.resolver.resolveTxt(host), ttl: null };
      case 'PTR':
        return { value: await this.resolver.resolvePtr(host), ttl: null };
      case 'CNAME':
        return { value: await this.resolver.resolveCname(host), ttl: null };
    }
  }

  private store(key: string, entry: CacheEntry): void {
    this.cache.delete(key);
    this.cache.set(key, entry);
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next();
      if (oldest.done === true) break;
      this.cache.delete(oldest.value);
    }
  }
}

function isRecordType(t: string): t is DnsRecordType {
  return RECORD_TYPES.has(t);
}

function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return 'EUNKNOWN';
}

function copy(value: DnsAnswers[DnsRecordType]): DnsAnswers[DnsRecordType] {
  return value.map((v: string | string[] | MxRecord) =>
    typeof v === 'string' ? v : Array.isArray(v) ? [...v] : { ...v },
  ) as DnsAnswers[DnsRecordType];
}

/**
 * A query name as cached: lower case, no trailing dot. null when it cannot be a DNS name
 * (RFC 1035 §2.3.4: labels of 1..63 octets, 253 characters in all).
 */
export function normalizeName(name: string): string | null {
  let n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return null;
  n = n.toLowerCase();
  let labelStart = 0;
  for (let i = 0; i <= n.length; i++) {
    if (i === n.length || n.charCodeAt(i) === 46) {
      const len = i - labelStart;
      if (len === 0 || len > 63) return null;
      labelStart = i + 1;
    } else {
      const c = n.charCodeAt(i);
      // Any printable ASCII but space: SPF macros and DKIM selectors use '_' and more.
      if (c <= 32 || c >= 127) return null;
    }
  }
  return n;
}

/** The PTR query name for an IP address, or null when `ip` is not one. */
export function reverseName(ip: string): string | null {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (isIPv6(ip)) {
    const hex = expandIPv6(ip).split(':').join('');
    return `${hex.split('').reverse().join('.')}.ip6.arpa`;
  }
  return null;
}

/** An IPv6 address in full form: eight groups of four lower-case hex digits. */
function expandIPv6(ip: string): string {
  let text = ip.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (isIPv4(tail)) {
    const p = tail.split('.').map(Number);
    const g1 = (((p[0] ?? 0) << 8) | (p[1] ?? 0)).toString(16);
    const g2 = (((p[2] ?? 0) << 8) | (p[3] ?? 0)).toString(16);
    text = `${text.slice(0, lastColon + 1)}${g1}:${g2}`;
  }
  const [head = '', rest] = text.split('::', 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill =
    rest === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...fill, ...tailGroups].map((g) => g.padStart(4, '0')).join(':');
}
