// DANE for SMTP (RFC 7672, on RFC 6698 and RFC 7671): the TLSA records of an MX host, and the
// check of a server's certificate chain against them.
// - Only TLSA answers the resolver validated (the AD bit, src/dns/tlsa.ts) count: records without
//   it are as if absent (RFC 7672 §2.2: an insecure TLSA RRset is ignored).
// - Usable records: DANE-TA(2) and DANE-EE(3), selectors 0 (the certificate) and 1 (its
//   SubjectPublicKeyInfo), matching types 0 (exact), 1 (SHA-256), 2 (SHA-512) with the digest's
//   length. PKIX-TA(0) and PKIX-EE(1) are not used for SMTP (RFC 7672 §3.1.3).
// - DANE-EE: the leaf's certificate or key matches; no name check and no validity dates (RFC
//   7672 §3.1.1). DANE-TA: some certificate the server sent matches, the chain from the leaf up
//   to it is signed link by link and within its dates, and the leaf names the MX host (the TLSA
//   base domain, RFC 7672 §3.2.2; a wildcard only as the whole left-most label).
// - A failed TLSA lookup (SERVFAIL, as a validating resolver answers for bogus data, or a
//   timeout) is `failed`: the caller must not fall back to unauthenticated delivery (RFC 7672
//   §2.2), it defers.

import { createHash, X509Certificate } from 'node:crypto';
import { lookupTlsa, QTYPE_MX, querySecure, type SecureDnsOptions, type TlsaRecord } from '../dns/tlsa.js';

export const DANE_TA = 2;
export const DANE_EE = 3;

export type DaneLookup =
  | { state: 'none' }
  /** At least one usable record: TLS is mandatory and must match one of `records` (the usable ones). */
  | { state: 'usable'; records: TlsaRecord[] }
  /** Validated records, none usable: TLS is mandatory, without authentication (RFC 7672 §2.2). */
  | { state: 'unusable'; records: TlsaRecord[] }
  /** The lookup failed: defer (RFC 7672 §2.2). */
  | { state: 'failed'; error: string };

export type DaneLookupFn = (host: string, port: number) => Promise<DaneLookup>;

export type DaneOptions = SecureDnsOptions;

/** Whether a TLSA record can authenticate an SMTP server (RFC 7672 §3.1). */
export function tlsaUsable(r: TlsaRecord): boolean {
  if (r.usage !== DANE_TA && r.usage !== DANE_EE) return false;
  if (r.selector !== 0 && r.selector !== 1) return false;
  if (r.matchingType === 0) return r.data.length > 0;
  if (r.matchingType === 1) return r.data.length === 32;
  if (r.matchingType === 2) return r.data.length === 64;
  return false;
}

/** The TLSA records of `_PORT._tcp.HOST` and what they mean for the connection to it. */
export async function daneFor(host: string, port: number, opts: DaneOptions): Promise<DaneLookup> {
  let answer;
  try {
    answer = await lookupTlsa(host, port, opts);
  } catch (err) {
    return { state: 'failed', error: `TLSA lookup of ${host} failed: ${(err as Error).message}` };
  }
  if (answer.rcode === 'nxdomain') return { state: 'none' };
  if (answer.rcode !== 'noerror') {
    return { state: 'failed', error: `TLSA lookup of ${host} failed: ${answer.rcode.toUpperCase()}` };
  }
  if (!answer.authenticated || answer.records.length === 0) return { state: 'none' };
  const usable = answer.records.filter(tlsaUsable);
  if (usable.length === 0) return { state: 'unusable', records: answer.records };
  return { state: 'usable', records: usable };
}

/**
 * Whether the MX RRset of `domain` is DNSSEC-secure (AD bit): RFC 7672 §2.2.1 applies DANE to
 * MX hosts found by a secure MX lookup only. An implicit MX (no MX records, a secure denial)
 * counts as secure when the denial is. A failed lookup is insecure: the route lookup will have
 * failed too.
 */
export async function mxLookupSecure(domain: string, opts: DaneOptions): Promise<boolean> {
  try {
    const answer = await querySecure(domain, QTYPE_MX, opts);
    return answer.authenticated && (answer.rcode === 'noerror' || answer.rcode === 'nxdomain');
  } catch {
    return false;
  }
}

export type DaneVerdict =
  { ok: true; usage: number; depth: number } | { ok: false; reason: string; nameMismatch: boolean };

/** The bytes a selector picks out of a certificate (RFC 6698 §2.1.2). */
function selected(cert: X509Certificate, selector: number): Buffer {
  if (selector === 0) return cert.raw;
  return cert.publicKey.export({ type: 'spki', format: 'der' });
}

/** Whether a certificate matches a TLSA record (RFC 6698 §2.1.3). */
export function tlsaMatches(r: TlsaRecord, cert: X509Certificate): boolean {
  const bytes = selected(cert, r.selector);
  let value: Buffer;
  if (r.matchingType === 0) value = bytes;
  else if (r.matchingType === 1) value = createHash('sha256').update(bytes).digest();
  else if (r.matchingType === 2) value = createHash('sha512').update(bytes).digest();
  else return false;
  return value.length === r.data.length && value.equals(r.data);
}

/**
 * Checks the chain the server sent (leaf first) against the usable TLSA records. `names` are
 * the reference identifiers for DANE-TA (the MX host name; RFC 7672 §3.2.2).
 */
export function daneVerify(
  records: readonly TlsaRecord[],
  chain: readonly X509Certificate[],
  opts: { names: readonly string[]; now?: Date },
): DaneVerdict {
  const leaf = chain[0];
  if (leaf === undefined) return { ok: false, reason: 'no certificate presented', nameMismatch: false };
  const usable = records.filter(tlsaUsable);
  for (const r of usable) {
    if (r.usage === DANE_EE && tlsaMatches(r, leaf)) return { ok: true, usage: DANE_EE, depth: 0 };
  }
  let taReason: string | null = null;
  for (const r of usable) {
    if (r.usage !== DANE_TA) continue;
    // The trust anchor is a certificate the server sent above the leaf (RFC 7671 §5.2.2).
    for (let depth = 1; depth < chain.length; depth++) {
      const ta = chain[depth];
      if (ta === undefined || !tlsaMatches(r, ta)) continue;
      const broken = chainBreak(chain.slice(0, depth + 1), opts.now ?? new Date());
      if (broken !== null) {
        taReason = broken;
        continue;
      }
      if (!opts.names.some((n) => leafNames(leaf, n))) {
        return {
          ok: false,
          reason: `certificate does not name ${opts.names.join(' or ')} (DANE-TA)`,
          nameMismatch: true,
        };
      }
      return { ok: true, usage: DANE_TA, depth };
    }
  }
  return {
    ok: false,
    reason: taReason ?? 'no TLSA record matches the certificate chain',
    nameMismatch: false,
  };
}

/** null when each certificate is signed by the next and all are within their dates. */
function chainBreak(chain: readonly X509Certificate[], now: Date): string | null {
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i] as X509Certificate;
    if (new Date(cert.validFrom) > now || new Date(cert.validTo) < now) {
      return `certificate ${i} of the chain is outside its validity period`;
    }
    const issuer = chain[i + 1];
    if (issuer === undefined) break;
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
      return `certificate ${i} of the chain is not signed by the next one`;
    }
  }
  return null;
}

/** RFC 6125 §6.4 as RFC 7672 §3.2.3 narrows it: a wildcard only as the whole left-most label. */
function leafNames(cert: X509Certificate, name: string): boolean {
  const host = name.endsWith('.') ? name.slice(0, -1) : name;
  return (
    cert.checkHost(host, { wildcards: true, partialWildcards: false, multiLabelWildcards: false }) !==
    undefined
  );
}
