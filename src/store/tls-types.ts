// The data of outbound transport security that the store keeps (the TransportSecurity role of
// roles.ts): MTA-STS policies as fetched (RFC 8461 §5.1: a policy is cached and outlives
// failed refreshes) and the TLS results of outbound sessions counted per day for TLS-RPT
// reports (RFC 8460 §4.4).

/** An MTA-STS policy file as fetched for `domain`, kept until `expiresAt` (fetch time + max_age). */
export interface StoredStsPolicy {
  /** The policy domain, lower case. */
  domain: string;
  /** The id of the `_mta-sts` TXT record it was fetched for. */
  id: string;
  /** The policy file's text. */
  text: string;
  fetchedAt: Date;
  expiresAt: Date;
}

/** RFC 8460 §4.4 policy-type. */
export type TlsPolicyType = 'sts' | 'tlsa' | 'no-policy-found';

/** RFC 8460 §4.3 result types (negotiation and policy failures). */
export type TlsFailureType =
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'tlsa-invalid'
  | 'dnssec-invalid'
  | 'dane-required'
  | 'sts-policy-fetch-error'
  | 'sts-policy-invalid'
  | 'sts-webpki-invalid';

/** One outbound session's TLS result, for the report of its policy domain. */
export interface TlsSessionResult {
  /** When the session ran: its UTC day is the report's. */
  at: Date;
  /** The recipient domain the policy belongs to (lower case). */
  policyDomain: string;
  policyType: TlsPolicyType;
  /** RFC 8460 §4.4 policy-string: the policy's lines (MTA-STS) or TLSA records in presentation form. */
  policyStrings: string[];
  /** The MX host the session went to. */
  mxHost: string;
  result: 'success' | TlsFailureType;
  sendingIp?: string;
  receivingIp?: string;
  /** A short failure reason (failure-reason-code); cut to 200 characters. */
  reason?: string;
}

/** Sessions of one day and kind, counted. */
export interface TlsResultCount {
  /** UTC date, YYYY-MM-DD. */
  day: string;
  policyDomain: string;
  policyType: TlsPolicyType;
  policyStrings: string[];
  mxHost: string;
  result: 'success' | TlsFailureType;
  sendingIp: string;
  receivingIp: string;
  reason: string;
  count: number;
}
