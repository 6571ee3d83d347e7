// Trace and authentication header fields an SMTP server prepends to a message it accepts.
// - receivedHeader: RFC 5321 §4.4 "Received:" with the RFC 3848 / RFC 6531 §3.7.3 protocol
//   keyword, the client's HELO, verified reverse name and IP, our host name, the queue id, the
//   recipient only when there is exactly one (RFC 5321 §7.2: do not disclose Bcc lists), date.
// - authenticationResults: SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489), ARC, evaluated
//   by mailauth; returns "Authentication-Results:" (RFC 8601) and "Received-SPF:" lines.
// Invariants: everything taken from the client is sanitised (no CR, LF or other control
// characters, no parentheses inside comments, bounded length) so it can never start a new
// header field; every DNS query goes through the DnsResolver given (never the system's).

import type { Readable } from 'node:stream';
import { authenticate, type AuthenticateResult, type DNSResolver } from 'mailauth';
import type { DnsResolver } from '../dns/resolver.js';

export interface ReceivedHeaderOptions {
  /** The EHLO/HELO argument, or null when the client never sent one. */
  helo: string | null;
  /** The client's IP address. */
  clientIp: string;
  /** Forward-confirmed reverse DNS name of the client (DnsResolver.verifiedReverse), or null. */
  reverseName: string | null;
  /** Our host name (the "by" clause). */
  hostname: string;
  /** EHLO (true) or HELO (false). */
  esmtp: boolean;
  /** The session runs over TLS (STARTTLS or implicit). */
  tls: boolean;
  /** The client authenticated (AUTH). */
  authenticated: boolean;
  /** SMTPUTF8 was given on MAIL FROM. */
  smtputf8: boolean;
  /** Queue id of the message (the "id" clause). */
  id: string;
  /** Envelope recipients; a "for" clause is written only when there is exactly one. */
  recipients: readonly string[];
  /** TLS details for a comment, e.g. { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }. */
  tlsInfo?: { protocol: string | null; cipher: string | null } | null;
  /** Defaults to now. */
  date?: Date;
}

/** The "with" keyword: RFC 3848 (ESMTP, ESMTPA, ESMTPS, ESMTPSA) and RFC 6531 §3.7.3 (UTF8SMTP...). */
export function receivedProtocol(opts: {
  esmtp: boolean;
  tls: boolean;
  authenticated: boolean;
  smtputf8: boolean;
}): string {
  if (!opts.esmtp) return 'SMTP';
  const suffix = `${opts.tls ? 'S' : ''}${opts.authenticated ? 'A' : ''}`;
  return opts.smtputf8 ? `UTF8SMTP${suffix}` : `ESMTP${suffix}`;
}

const MAX_FIELD_TEXT = 255;

/**
 * Text from the client made safe for a header: control characters (CR and LF included) and
 * DEL become "?", and `extra` characters (those with a meaning in the context) are removed.
 * UTF-8 is kept (the HELO or address may be UTF-8 under SMTPUTF8, RFC 6532).
 */
export function headerSafe(text: string, extra = '', max = MAX_FIELD_TEXT): string {
  let out = '';
  for (const ch of text) {
    if (out.length >= max) break;
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) out += '?';
    else if (extra.includes(ch)) continue;
    else out += ch;
  }
  return out;
}

/** RFC 5321 §4.1.3 address literal: "[192.0.2.1]" or "[IPv6:2001:db8::1]". */
function addressLiteral(ip: string): string {
  const safe = headerSafe(ip, '[]()\\ ', 64);
  return safe.includes(':') ? `[IPv6:${safe}]` : `[${safe}]`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date-time, in UTC: "Fri, 27 Nov 2026 09:24:33 +0000". */
export function rfc5322Date(d: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`
  );
}

/** One "Received:" field, folded, ending in CRLF. */
export function receivedHeader(opts: ReceivedHeaderOptions): string {
  const helo = opts.helo === null ? null : headerSafe(opts.helo, '()\\; \t');
  const lit = addressLiteral(opts.clientIp);
  const tcpInfo = opts.reverseName !== null ? `${headerSafe(opts.reverseName, '()\\; \t')} ${lit}` : lit;
  // RFC 5321 §4.4: From-domain is the EHLO argument; the TCP-info comment says who it really was.
  const from = helo !== null && helo !== '' ? `from ${helo} (${tcpInfo})` : `from ${lit} (${tcpInfo})`;
  const lines = [`Received: ${from}`];
  let by = `by ${headerSafe(opts.hostname, '()\\; \t')} (Postern) with ${receivedProtocol(opts)}`;
  if (opts.tls && opts.tlsInfo) {
    const parts: string[] = [];
    if (opts.tlsInfo.protocol) parts.push(`version=${headerSafe(opts.tlsInfo.protocol, '()\\; \t', 40)}`);
    if (opts.tlsInfo.cipher) parts.push(`cipher=${headerSafe(opts.tlsInfo.cipher, '()\\; \t', 80)}`);
    if (parts.length > 0) by += ` (${parts.join(' ')})`;
  }
  lines.push(by);
  lines.push(`id ${headerSafe(opts.id, '()\\;<> \t', 64)}`);
  if (opts.recipients.length === 1) {
    lines.push(`for <${headerSafe(opts.recipients[0] ?? '', '<>\\ \t', 320)}>`);
  }
  lines[lines.length - 1] += `; ${rfc5322Date(opts.date ?? new Date())}`;
  return `${lines.join('\r\n\t')}\r\n`;
}

export interface AuthenticationOptions {
  /** Every DNS query of SPF, DKIM, DMARC and ARC goes through it. */
  resolver: DnsResolver;
  /** Our host name: the authserv-id of Authentication-Results (RFC 8601 §2.5). */
  hostname: string;
  clientIp: string;
  /** The EHLO/HELO argument, or null. */
  helo: string | null;
  /** The MAIL FROM address; '' for the null reverse-path. */
  mailFrom: string;
  /** The message as received (header and body), e.g. InboundMessage.bodyStream(). */
  message: Readable | Buffer;
  /** Smallest RSA key accepted for DKIM/ARC, bits (mailauth's default: 1024). */
  minBitLength?: number;
}

export type AuthVerdict = string;

export interface AuthenticationOutcome {
  /** Header lines to prepend (Received-SPF, Authentication-Results), each ending in CRLF. */
  headers: string;
  spf: AuthVerdict;
  /** One result per DKIM signature (empty: none). */
  dkim: Array<{ domain: string; result: AuthVerdict }>;
  dmarc: AuthVerdict;
  /** The DMARC policy to apply ('none', 'quarantine', 'reject'), when DMARC failed. */
  dmarcPolicy: string | null;
}

/**
 * Evaluates SPF (client IP, MAIL FROM, HELO), DKIM, DMARC and ARC through mailauth with our
 * resolver. A failure of the evaluation itself gives "temperror" results, never an exception.
 */
export async function evaluateAuthentication(opts: AuthenticationOptions): Promise<AuthenticationOutcome> {
  const authservId = headerSafe(opts.hostname, '()\\;= \t');
  // mailauth's declared type is narrower than what it accepts (MX answers are objects).
  const resolver = opts.resolver.mailauthResolver() as unknown as DNSResolver;
  const helo = opts.helo === null ? undefined : headerSafe(opts.helo, '()\\; \t');
  let result: AuthenticateResult;
  try {
    result = await authenticate(opts.message, {
      ip: opts.clientIp,
      helo,
      sender: opts.mailFrom === '' ? undefined : opts.mailFrom,
      mta: authservId,
      resolver,
      minBitLength: opts.minBitLength,
      // BIMI is for display in clients, not for the MTA; it would only add lookups.
      disableBimi: true,
    });
  } catch {
    return {
      headers: `Authentication-Results: ${authservId};\r\n spf=temperror; dkim=temperror; dmarc=temperror\r\n`,
      spf: 'temperror',
      dkim: [],
      dmarc: 'temperror',
      dmarcPolicy: null,
    };
  }
  const dmarc = result.dmarc === false ? 'none' : String(result.dmarc.status?.result ?? 'none');
  const dmarcPolicy =
    result.dmarc !== false && dmarc === 'fail' ? String(result.dmarc.policy ?? 'none') : null;
  return {
    headers: normaliseHeaderBlock(result.headers),
    spf: result.spf === false ? 'none' : String(result.spf.status?.result ?? 'none'),
    dkim: (result.dkim.results ?? []).map((r) => ({
      domain: String(r.signingDomain ?? ''),
      result: String(r.status?.result ?? 'none'),
    })),
    dmarc,
    dmarcPolicy,
  };
}

/** The header lines to prepend (Received-SPF, Authentication-Results), each ending in CRLF. */
export async function authenticationResults(opts: AuthenticationOptions): Promise<string> {
  return (await evaluateAuthentication(opts)).headers;
}

/**
 * mailauth's header block with every line ending in CRLF and no empty line (an empty line would
 * end the header section of the message).
 */
function normaliseHeaderBlock(text: string): string {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  return lines.length === 0 ? '' : `${lines.join('\r\n')}\r\n`;
}
