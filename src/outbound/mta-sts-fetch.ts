// The HTTPS fetch of an MTA-STS policy (RFC 8461 §3.3): GET
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt with the certificate verified for that name
// (WebPKI, plus any extra trust anchors given), no redirect followed (§3.3), a 200 answer of
// media type text/plain only, at most 64 KiB read, and one timeout over the whole exchange.
// The host is resolved through Postern's resolver (src/dns/resolver.ts), so [dns] servers
// apply and tests can point mta-sts.DOMAIN at loopback.

import https from 'node:https';
import type { LookupAddress } from 'node:dns';
import tls from 'node:tls';
import type { DnsResolver } from '../dns/resolver.js';

export const MTA_STS_MAX_POLICY_BYTES = 64 * 1024;

export interface MtaStsFetchOptions {
  resolver: Pick<DnsResolver, 'resolve'>;
  /** Extra trust anchors (PEM), added to Node's default CAs (tests, private CAs). */
  ca?: readonly string[];
  /** Whole-exchange timeout in ms (default 10 s; RFC 8461 §3.3 suggests at least 60 s for slow servers, we do not wait that long at delivery time). */
  timeoutMs?: number;
  /** The HTTPS port (default 443; tests). */
  port?: number;
}

export class MtaStsFetchError extends Error {
  /** webpki: the certificate did not verify (TLS-RPT sts-webpki-invalid); fetch: anything else. */
  readonly kind: 'webpki' | 'fetch';
  constructor(kind: 'webpki' | 'fetch', message: string) {
    super(message);
    this.name = 'MtaStsFetchError';
    this.kind = kind;
  }
}

const CERT_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|UNABLE_TO_GET_ISSUER/;

/** The policy file's text, or MtaStsFetchError. */
export async function fetchStsPolicy(domain: string, opts: MtaStsFetchOptions): Promise<string> {
  const host = `mta-sts.${domain}`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const ca = opts.ca !== undefined && opts.ca.length > 0 ? [...tls.rootCertificates, ...opts.ca] : undefined;
  const lookup = (
    hostname: string,
    options: { all?: boolean; family?: number },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    resolveHost(opts.resolver, hostname).then(
      (addrs) => {
        if (options.all === true) callback(null, addrs);
        else callback(null, addrs[0]?.address ?? '', addrs[0]?.family ?? 4);
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), ''),
    );
  };
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const fail = (err: MtaStsFetchError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const req = https.get(
      {
        host,
        port: opts.port ?? 443,
        path: '/.well-known/mta-sts.txt',
        servername: host,
        lookup: lookup as unknown as https.RequestOptions['lookup'],
        ...(ca !== undefined ? { ca } : {}),
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        agent: false,
        headers: { 'user-agent': 'Postern MTA-STS', accept: 'text/plain' },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          // §3.3: a redirect is not followed.
          return fail(new MtaStsFetchError('fetch', `${host} answered HTTP ${status}`));
        }
        const type = (res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
        if (type !== 'text/plain') {
          res.resume();
          return fail(
            new MtaStsFetchError(
              'fetch',
              `${host} sent ${type === '' ? 'no media type' : type}, not text/plain`,
            ),
          );
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MTA_STS_MAX_POLICY_BYTES) {
            return fail(
              new MtaStsFetchError('fetch', `${host}: policy larger than ${MTA_STS_MAX_POLICY_BYTES} bytes`),
            );
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => fail(new MtaStsFetchError('fetch', `${host}: ${err.message}`)));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      fail(new MtaStsFetchError(CERT_ERRORS.test(code) ? 'webpki' : 'fetch', `${host}: ${err.message}`));
    });
    const timer = setTimeout(
      () => fail(new MtaStsFetchError('fetch', `${host}: no policy within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
}

async function resolveHost(resolver: Pick<DnsResolver, 'resolve'>, host: string): Promise<LookupAddress[]> {
  const [v6, v4] = await Promise.allSettled([resolver.resolve(host, 'AAAA'), resolver.resolve(host, 'A')]);
  const out: LookupAddress[] = [];
  if (v4.status === 'fulfilled') for (const a of v4.value) out.push({ address: a, family: 4 });
  if (v6.status === 'fulfilled') for (const a of v6.value) out.push({ address: a, family: 6 });
  if (out.length > 0) return out;
  const reason = v4.status === 'rejected' ? v4.reason : v6.status === 'rejected' ? v6.reason : null;
  throw reason instanceof Error ? reason : new Error(`${host} has no address`);
}
