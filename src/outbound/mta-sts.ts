// MTA-STS policies of recipient domains (RFC 8461 §3.3, §5.1): discovered by the `_mta-sts` TXT
// record, fetched over HTTPS (mta-sts-fetch.ts), cached in memory and in the store (so a
// restart or another process does not fetch again), refreshed when the TXT id changes or the
// policy's max_age has passed. Invariants:
// - a policy is used until it expires, whatever happens meanwhile: a missing or broken TXT
//   record, a failed or invalid refresh keep the cached one (§5.1; an attacker who blocks the
//   fetch or the TXT lookup cannot downgrade an enforce policy before max_age);
// - without a usable cached policy, a failed fetch is "no policy" for delivery, with the
//   failure given for TLS-RPT (sts-policy-fetch-error, sts-policy-invalid, sts-webpki-invalid);
// - one fetch per domain at a time: concurrent lookups share it;
// - the memory cache is bounded (oldest entries dropped first); the store keeps every domain.

import { dnsFailureKind, type DnsResolver } from '../dns/resolver.js';
import type { TransportSecurity } from '../store/roles.js';
import type { TlsFailureType } from '../store/tls-types.js';
import { fetchStsPolicy, MtaStsFetchError, type MtaStsFetchOptions } from './mta-sts-fetch.js';
import { parseStsPolicy, parseStsTxt, type MtaStsPolicy } from './mta-sts-policy.js';
import { toAsciiDomain } from './route.js';

export { mxAllowed, type MtaStsPolicy, type MtaStsMode } from './mta-sts-policy.js';

export interface MtaStsLookup {
  /** The policy in force (null: none, or none could be obtained). */
  policy: MtaStsPolicy | null;
  /** Why a policy could not be fetched or refreshed (TLS-RPT); null when all went well. */
  failure: { resultType: TlsFailureType; detail: string } | null;
}

export interface MtaStsPoliciesOptions {
  resolver: Pick<DnsResolver, 'resolve'>;
  /** Where policies are kept across restarts and processes (null: memory only). */
  store: Pick<TransportSecurity, 'getStsPolicy' | 'putStsPolicy'> | null;
  /** Extra trust anchors (PEM) for the HTTPS fetch. */
  ca?: readonly string[];
  fetchTimeoutMs?: number;
  /** The HTTPS port of policy hosts (tests; default 443). */
  httpsPort?: number;
  /** Most policies kept in memory (default 10000). */
  maxCached?: number;
  now?: () => number;
}

interface Cached {
  policy: MtaStsPolicy;
  expiresAt: number;
}

export class MtaStsPolicies {
  private readonly memory = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<MtaStsLookup>>();
  private readonly fetchOptions: MtaStsFetchOptions;
  private readonly maxCached: number;
  private readonly now: () => number;
  /** HTTPS fetches made (tests). */
  fetches = 0;

  constructor(private readonly opts: MtaStsPoliciesOptions) {
    this.fetchOptions = {
      resolver: opts.resolver,
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.fetchTimeoutMs !== undefined ? { timeoutMs: opts.fetchTimeoutMs } : {}),
      ...(opts.httpsPort !== undefined ? { port: opts.httpsPort } : {}),
    };
    this.maxCached = Math.max(1, opts.maxCached ?? 10_000);
    this.now = opts.now ?? Date.now;
  }

  /** The policy in force for `domain`, or null. */
  async get(domain: string): Promise<MtaStsPolicy | null> {
    return (await this.lookup(domain)).policy;
  }

  /** The policy in force with the reason a fetch failed, for TLS-RPT. */
  lookup(domain: string): Promise<MtaStsLookup> {
    // Names in A-label form (an IDN recipient domain); an address literal has no policy.
    const d = toAsciiDomain(domain);
    if (d === null) return Promise.resolve({ policy: null, failure: null });
    let pending = this.inflight.get(d);
    if (pending === undefined) {
      pending = this.discover(d);
      this.inflight.set(d, pending);
      const clear = (): void => {
        this.inflight.delete(d);
      };
      pending.then(clear, clear);
    }
    return pending;
  }

  /** Drops the memory cache (tests: what a restart sees). */
  clearMemory(): void {
    this.memory.clear();
  }

  private async discover(domain: string): Promise<MtaStsLookup> {
    const cached = await this.cached(domain);
    let txt: string[] | null;
    try {
      txt = (await this.opts.resolver.resolve(`_mta-sts.${domain}`, 'TXT')).map((chunks) => chunks.join(''));
    } catch (err) {
      // NXDOMAIN/NODATA: no record; a temporary failure: unknown. Either way the cache holds.
      txt = dnsFailureKind(err) === 'temporary' ? null : [];
    }
    const record = txt === null ? null : parseStsTxt(txt);
    if (record === null || 'error' in record) {
      // §5.1: no valid TXT record, but a cached policy: it stays in force until it expires.
      return { policy: cached?.policy ?? null, failure: null };
    }
    if (cached !== null && cached.policy.id === record.id) return { policy: cached.policy, failure: null };
    let text: string;
    try {
      this.fetches++;
      text = await fetchStsPolicy(domain, this.fetchOptions);
    } catch (err) {
      const webpki = err instanceof MtaStsFetchError && err.kind === 'webpki';
      return {
        policy: cached?.policy ?? null,
        failure: {
          resultType: webpki ? 'sts-webpki-invalid' : 'sts-policy-fetch-error',
          detail: (err as Error).message,
        },
      };
    }
    const parsed = parseStsPolicy(text, record.id);
    if ('error' in parsed) {
      return {
        policy: cached?.policy ?? null,
        failure: { resultType: 'sts-policy-invalid', detail: `mta-sts.${domain}: ${parsed.error}` },
      };
    }
    const fetchedAt = this.now();
    const entry: Cached = { policy: parsed, expiresAt: fetchedAt + parsed.maxAge * 1000 };
    this.remember(domain, entry);
    if (this.opts.store !== null) {
      await this.opts.store.putStsPolicy({
        domain,
        id: parsed.id,
        text: parsed.text,
        fetchedAt: new Date(fetchedAt),
        expiresAt: new Date(entry.expiresAt),
      });
    }
    return { policy: parsed, failure: null };
  }

  /** The unexpired policy from memory, else from the store; null when none. */
  private async cached(domain: string): Promise<Cached | null> {
    const now = this.now();
    const hit = this.memory.get(domain);
    if (hit !== undefined) {
      if (hit.expiresAt > now) return hit;
      this.memory.delete(domain);
    }
    if (this.opts.store === null) return null;
    const stored = await this.opts.store.getStsPolicy(domain);
    if (stored === null || stored.expiresAt.getTime() <= now) return null;
    const parsed = parseStsPolicy(stored.text, stored.id);
    if ('error' in parsed) return null;
    const entry: Cached = { policy: parsed, expiresAt: stored.expiresAt.getTime() };
    this.remember(domain, entry);
    return entry;
  }

  private remember(domain: string, entry: Cached): void {
    this.memory.delete(domain);
    this.memory.set(domain, entry);
    while (this.memory.size > this.maxCached) {
      const oldest = this.memory.keys().next();
      if (oldest.done === true) break;
      this.memory.delete(oldest.value);
    }
  }
}
