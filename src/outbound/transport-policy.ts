// The one decision the queue worker asks before each connection to an MX: how TLS must go,
// combining DANE (RFC 7672), MTA-STS (RFC 8461) and the message's REQUIRETLS (RFC 8689).
// Precedence, strongest first:
// 1. DANE, when the MX host has DNSSEC-validated TLSA records:
//    - usable records: TLS is mandatory and the chain must match a record (DANE-EE: the leaf's
//      certificate or key, no name check; DANE-TA: a chain to the matching anchor that names
//      the MX host). WebPKI does not matter, and MTA-STS is not applied (RFC 8461 §2: DANE
//      wins where both are published). This also satisfies REQUIRETLS (RFC 8689 §4.2.1).
//    - records, none usable: TLS is mandatory but unauthenticated (RFC 7672 §2.2, Postfix's
//      "encrypt"); the rules below still apply on top.
//    - the TLSA lookup failed (a validating resolver's SERVFAIL): no connection, defer.
// 2. MTA-STS enforce: the MX host must match the policy's mx patterns (else no connection),
//    TLS is mandatory, and the certificate must verify by WebPKI for the MX host name.
// 3. REQUIRETLS: TLS is mandatory and the certificate must verify (WebPKI and name); never in
//    clear.
// 4. MTA-STS testing: as opportunistic, but what enforce would have refused is reported.
// 5. Otherwise opportunistic: STARTTLS when offered, any certificate, clear when not offered.
// A refusal is a temporary failure (4.7.x: the queue defers, and tries the other MX hosts);
// nothing is ever sent in clear when TLS is mandatory (the SMTP client's requireTls). Every
// outcome names its TLS-RPT result-type (RFC 8460 §4.3) for the session record (tls-rpt.ts).

import type { TlsaRecord } from '../dns/tlsa.js';
import type { TlsFailureType, TlsPolicyType } from '../store/tls-types.js';
import { daneVerify, type DaneLookup, type DaneLookupFn } from './dane.js';
import type { MtaStsLookup } from './mta-sts.js';
import { mxAllowed, type MtaStsPolicy } from './mta-sts-policy.js';
import { toAsciiDomain } from './route.js';
import { SmtpClientError, type SmtpClientTlsInfo, type SmtpClientTlsOptions } from './smtp-client.js';

export type PolicyCheck =
  | { ok: true }
  | {
      ok: false;
      /** RFC 8460 result-type for TLS-RPT. */
      resultType: TlsFailureType;
      /** Always temporary: defer, try the next MX. */
      code: 451;
      enhanced: string;
      text: string;
    };

/** What a TLS-RPT record of a session under this policy names (RFC 8460 §4.4). */
export interface PolicyReportKey {
  policyDomain: string;
  policyType: TlsPolicyType;
  policyStrings: string[];
  mxHost: string;
}

export interface TransportPolicy {
  /** Which rule decided (precedence above). */
  source: 'dane' | 'mta-sts' | 'requiretls' | 'opportunistic';
  tls: 'required' | 'opportunistic';
  /** How the SMTP client checks the chain itself; the policy's own check decides the rest. */
  verify: 'strict' | 'opportunistic';
  /** A refusal known before connecting (MX not in an enforce policy, TLSA lookup failed), else null. */
  refuse: PolicyCheck | null;
  /** Decides on an established TLS session (or on none: `info.active` false). */
  check(info: Readonly<SmtpClientTlsInfo>): PolicyCheck;
  /**
   * The result to record for TLS-RPT: `check`'s, except under an MTA-STS testing policy, where
   * `check` passes and this says what enforce would have refused (RFC 8461 §5, mode testing).
   */
  reportCheck(info: Readonly<SmtpClientTlsInfo>): PolicyCheck;
  /** The TLS options for SmtpClientConnection.open, with `check` wired in. */
  tlsOptions(extra?: { ca?: SmtpClientTlsOptions['ca'] }): SmtpClientTlsOptions;
  /** What an open() failure means for TLS-RPT: null when it was not about TLS. */
  classifyOpenError(err: unknown): PolicyCheck | null;
  /** For TLS-RPT. */
  report: PolicyReportKey;
  /** What a testing policy would have refused: report it, deliver anyway. */
  testing: boolean;
}

export interface TransportPolicyInput {
  /** The recipient domain (the policy domain). */
  domain: string;
  /** The MX host name (the TLS reference identifier). */
  mxHost: string;
  port: number;
  /** The message asks REQUIRETLS (RFC 8689). */
  requireTls: boolean;
  /**
   * The message has `TLS-Required: No` (RFC 8689 §5): the domain's DANE and MTA-STS policies
   * are not applied (TLS is still used when offered). Ignored when `requireTls` is set.
   */
  tlsOptional?: boolean;
  /**
   * Whether the MX lookup was DNSSEC-secure (dane.ts mxLookupSecure): when false, the MX host's
   * TLSA records are not looked up (RFC 7672 §2.2.1). Default true (the caller did not check).
   */
  mxSecure?: boolean;
}

export interface TransportPolicyDeps {
  dane: DaneLookupFn | null;
  mtaSts: { lookup(domain: string): Promise<MtaStsLookup> } | null;
  now?: () => Date;
}

const OK: PolicyCheck = { ok: true };

function refusal(resultType: TlsFailureType, enhanced: string, text: string): PolicyCheck {
  return { ok: false, resultType, code: 451, enhanced, text };
}

/** TLSA records in presentation form (RFC 6698 §2.2), for TLS-RPT policy-strings. */
export function tlsaStrings(records: readonly TlsaRecord[]): string[] {
  return records.map((r) => `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`);
}

/** The policy file's lines (RFC 8460 §4.4: each line of the policy, as a string). */
function stsStrings(policy: MtaStsPolicy): string[] {
  return policy.text
    .split('\n')
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    .filter((l) => l.trim() !== '');
}

/** The TLS-RPT result of a certificate that Node's WebPKI check refused. */
function webPkiFailure(info: Readonly<SmtpClientTlsInfo>): TlsFailureType {
  const e = info.verifyError ?? '';
  if (e === 'ERR_TLS_CERT_ALTNAME_INVALID' || /altname|hostname/i.test(e)) return 'certificate-host-mismatch';
  if (e === 'CERT_HAS_EXPIRED' || e === 'CERT_NOT_YET_VALID') return 'certificate-expired';
  if (/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY|CERT_UNTRUSTED/.test(e))
    return 'certificate-not-trusted';
  return 'validation-failure';
}

function webPkiCheck(info: Readonly<SmtpClientTlsInfo>, mxHost: string, why: string): PolicyCheck {
  if (!info.active) return refusal('starttls-not-supported', '4.7.4', `no TLS with ${mxHost} (${why})`);
  if (info.verified) return OK;
  return refusal(
    webPkiFailure(info),
    '4.7.5',
    `certificate of ${mxHost} not verified (${why}): ${info.verifyError ?? 'unknown error'}`,
  );
}

/** Decides the transport policy for one connection to `mxHost` for mail to `domain`. */
export async function transportPolicy(
  input: TransportPolicyInput,
  deps: TransportPolicyDeps,
): Promise<TransportPolicy> {
  const domain = toAsciiDomain(input.domain) ?? input.domain.toLowerCase();
  const mxHost =
    toAsciiDomain(input.mxHost) ??
    (input.mxHost.endsWith('.') ? input.mxHost.slice(0, -1) : input.mxHost).toLowerCase();
  if (input.tlsOptional === true && !input.requireTls) {
    return build({
      source: 'opportunistic',
      tls: 'opportunistic',
      verify: 'opportunistic',
      refuse: null,
      testing: false,
      report: { policyDomain: domain, policyType: 'no-policy-found', policyStrings: [], mxHost },
      check: () => OK,
    });
  }
  const [dane, sts] = await Promise.all([
    deps.dane === null || input.mxSecure === false
      ? Promise.resolve<DaneLookup>({ state: 'none' })
      : deps.dane(mxHost, input.port),
    deps.mtaSts === null
      ? Promise.resolve<MtaStsLookup>({ policy: null, failure: null })
      : deps.mtaSts.lookup(domain),
  ]);

  if (dane.state === 'usable') {
    const records = dane.records;
    return build({
      source: 'dane',
      tls: 'required',
      verify: 'opportunistic',
      refuse: null,
      testing: false,
      report: { policyDomain: domain, policyType: 'tlsa', policyStrings: tlsaStrings(records), mxHost },
      check(info) {
        if (!info.active) return refusal('starttls-not-supported', '4.7.4', `no TLS with ${mxHost} (DANE)`);
        const verdict = daneVerify(records, info.peerChain, {
          names: [mxHost],
          ...(deps.now !== undefined ? { now: deps.now() } : {}),
        });
        if (verdict.ok) return OK;
        return refusal(
          verdict.nameMismatch ? 'certificate-host-mismatch' : 'tlsa-invalid',
          '4.7.5',
          `DANE: ${mxHost}: ${verdict.reason}`,
        );
      },
    });
  }
  if (dane.state === 'failed') {
    return build({
      source: 'dane',
      tls: 'required',
      verify: 'opportunistic',
      refuse: refusal('dnssec-invalid', '4.7.5', dane.error),
      testing: false,
      report: { policyDomain: domain, policyType: 'tlsa', policyStrings: [], mxHost },
      check: () => refusal('dnssec-invalid', '4.7.5', dane.error),
    });
  }
  const encryptOnly = dane.state === 'unusable';
  const policy = sts.policy !== null && sts.policy.mode !== 'none' ? sts.policy : null;
  // A policy that could not be fetched (and none cached): delivery goes on without it, and
  // TLS-RPT reports the fetch failure under the sts policy type (RFC 8460 §4.3.2.1).
  const stsFailure = policy === null && !encryptOnly ? sts.failure : null;
  const report: PolicyReportKey =
    policy !== null
      ? { policyDomain: domain, policyType: 'sts', policyStrings: stsStrings(policy), mxHost }
      : stsFailure !== null
        ? { policyDomain: domain, policyType: 'sts', policyStrings: [], mxHost }
        : encryptOnly
          ? { policyDomain: domain, policyType: 'tlsa', policyStrings: tlsaStrings(dane.records), mxHost }
          : { policyDomain: domain, policyType: 'no-policy-found', policyStrings: [], mxHost };
  const stsCheck = (info: Readonly<SmtpClientTlsInfo>): PolicyCheck => {
    if (policy === null) return OK;
    if (!mxAllowed(policy, mxHost)) {
      return refusal('validation-failure', '4.7.5', `MTA-STS: ${mxHost} is not an MX of ${domain}'s policy`);
    }
    return webPkiCheck(info, mxHost, 'MTA-STS');
  };
  const enforce = policy?.mode === 'enforce';
  const testing = policy?.mode === 'testing';
  const required = enforce || input.requireTls || encryptOnly;
  const check = (info: Readonly<SmtpClientTlsInfo>): PolicyCheck => {
    if (enforce) {
      const r = stsCheck(info);
      if (!r.ok) return r;
    }
    if (input.requireTls) {
      const r = webPkiCheck(info, mxHost, 'REQUIRETLS');
      if (!r.ok) return r;
    }
    if (encryptOnly && !info.active) {
      return refusal(
        'starttls-not-supported',
        '4.7.4',
        `no TLS with ${mxHost} (DANE, unusable TLSA records)`,
      );
    }
    return OK;
  };
  const preRefusal =
    enforce && policy !== null && !mxAllowed(policy, mxHost)
      ? refusal('validation-failure', '4.7.5', `MTA-STS: ${mxHost} is not an MX of ${domain}'s policy`)
      : null;
  return build({
    source: enforce ? 'mta-sts' : input.requireTls ? 'requiretls' : encryptOnly ? 'dane' : 'opportunistic',
    tls: required ? 'required' : 'opportunistic',
    verify: 'opportunistic',
    refuse: preRefusal,
    testing,
    report,
    check,
    // Testing mode: what enforce would refuse, for the report only.
    ...(testing ? { reportCheck: stsCheck } : {}),
    ...(stsFailure !== null
      ? {
          reportCheck: (info: Readonly<SmtpClientTlsInfo>): PolicyCheck => {
            const r = check(info);
            return r.ok ? refusal(stsFailure.resultType, '4.7.5', stsFailure.detail) : r;
          },
        }
      : {}),
  });
}

interface PolicyParts {
  source: TransportPolicy['source'];
  tls: TransportPolicy['tls'];
  verify: TransportPolicy['verify'];
  refuse: PolicyCheck | null;
  testing: boolean;
  report: PolicyReportKey;
  check: (info: Readonly<SmtpClientTlsInfo>) => PolicyCheck;
  reportCheck?: (info: Readonly<SmtpClientTlsInfo>) => PolicyCheck;
}

function build(p: PolicyParts): TransportPolicy {
  const reportCheck = p.reportCheck ?? p.check;
  return {
    source: p.source,
    tls: p.tls,
    verify: p.verify,
    refuse: p.refuse,
    testing: p.testing,
    report: p.report,
    check: p.check,
    reportCheck,
    tlsOptions(extra) {
      return {
        servername: p.report.mxHost,
        requireTls: p.tls === 'required',
        verify: p.verify,
        ...(extra?.ca !== undefined ? { ca: extra.ca } : {}),
        check: (info) => {
          const r = p.check(info);
          return r.ok ? null : r.text;
        },
      };
    },
    classifyOpenError(err) {
      if (!(err instanceof SmtpClientError)) return null;
      if (err.tls !== null) return p.check(err.tls);
      if (err.stage === 'starttls' && p.tls === 'required') {
        return refusal('starttls-not-supported', '4.7.4', err.message);
      }
      if (err.stage === 'tls') return refusal('validation-failure', '4.7.5', err.message);
      return null;
    },
  };
}
