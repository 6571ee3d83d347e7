// Trace and authentication header fields an SMTP server prepends to a message it accepts.
// - receivedHeader: RFC 5321 §4.4 "Received:" with the RFC 3848 / RFC 6531 §3.7.3 protocol
//   keyword, the client's HELO, verified reverse name and IP, our host name, the queue id, the
//   recipient only when there is exactly one (RFC 5321 §7.2: do not disclose Bcc lists), date.
// - authenticationResults: SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489), ARC, evaluated
//   by mailauth in a worker thread (message-verifier.ts, message-authentication.ts); returns
//   "Authentication-Results:" (RFC 8601) and "Received-SPF:" lines.
// Invariants: everything taken from the client is sanitised (no CR, LF or other control
// characters, no parentheses inside comments, bounded length) so it can never start a new
// header field; every DNS query goes through the DnsResolver given (never the system's).

import { Readable } from 'node:stream';
import type { DnsResolver } from '../dns/resolver.js';
import { TaskTimeout } from '../workers/pool.js';
import type { VerifyRequest } from '../workers/verify-worker.js';
import {
  temperrorOutcome,
  type AuthenticationOutcome,
  type MessageAuthenticationInput,
} from './authentication-outcome.js';
import type { MessageVerifier } from './message-verifier.js';

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
  /** The verify pool: mailauth runs in its worker threads, within its budget. */
  verifier: MessageVerifier;
  /** Every DNS query of SPF, DKIM, DMARC and ARC goes through it (asked by the worker). */
  resolver: DnsResolver;
  /** Our host name: the authserv-id of Authentication-Results (RFC 8601 §2.5). */
  hostname: string;
  clientIp: string;
  /** The EHLO/HELO argument, or null. */
  helo: string | null;
  /** The MAIL FROM address; '' for the null reverse-path. */
  mailFrom: string;
  /** The message as received (header and body), e.g. InboundMessage.bodyStream(); destroyed after. */
  message: Readable | Buffer;
  /** Size of the message in bytes, when known: a small one is verified on this thread. */
  size?: number;
  /** Smallest RSA key accepted for DKIM/ARC, bits (mailauth's default: 1024). */
  minBitLength?: number;
}

export type { AuthVerdict, AuthenticationOutcome } from './authentication-outcome.js';

/** Bytes of message sent to the worker per pull. */
const PULL_BYTES = 256 * 1024;

/** Answers the worker's pulls: the next chunks of the message, up to PULL_BYTES, or null at the end. */
function messagePuller(message: Readable | Buffer): () => Promise<Uint8Array | null> {
  const source: AsyncIterable<unknown> = Buffer.isBuffer(message) ? Readable.from([message]) : message;
  const it = source[Symbol.asyncIterator]();
  let held: Buffer | null = null;
  let done = false;
  return async () => {
    const parts: Buffer[] = [];
    let size = 0;
    while (size < PULL_BYTES) {
      let chunk = held;
      held = null;
      if (chunk === null) {
        if (done) break;
        const next = await it.next();
        if (next.done === true) {
          done = true;
          break;
        }
        chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as Uint8Array);
      }
      if (size + chunk.length > PULL_BYTES) {
        held = chunk.subarray(PULL_BYTES - size);
        chunk = chunk.subarray(0, PULL_BYTES - size);
      }
      parts.push(chunk);
      size += chunk.length;
    }
    if (size === 0) return null;
    // A fresh array of exactly these bytes: cloning a view would copy its whole backing store.
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
}

/**
 * Evaluates SPF (client IP, MAIL FROM, HELO), DKIM (at most limits.dkim_signatures
 * signatures), DMARC and ARC through mailauth in a worker thread of the verify pool, with our
 * resolver; a message of at most limits.verify_inline_size bytes is evaluated on this thread
 * (the hop to a thread costs more than its work, bounded by the header and DKIM limits). A failure of the evaluation gives "temperror" results, never an exception; when it
 * was cut off by limits.verify_timeout the outcome says timedOut (the caller answers 451).
 */
export async function evaluateAuthentication(opts: AuthenticationOptions): Promise<AuthenticationOutcome> {
  const authservId = headerSafe(opts.hostname, '()\\;= \t');
  const resolve = opts.resolver.mailauthResolver();
  const pull = messagePuller(opts.message);
  const input: MessageAuthenticationInput = {
    ip: opts.clientIp,
    helo: opts.helo === null ? undefined : headerSafe(opts.helo, '()\\; \t'),
    sender: opts.mailFrom === '' ? undefined : opts.mailFrom,
    mta: authservId,
    minBitLength: opts.minBitLength,
    maxDkimSignatures: opts.verifier.maxDkimSignatures,
  };
  try {
    const inline = opts.verifier.inline;
    if (
      inline !== null &&
      opts.size !== undefined &&
      opts.size <= opts.verifier.inlineBelow &&
      opts.verifier.inlineBelow > 0
    ) {
      const source = (
        Buffer.isBuffer(opts.message) ? Readable.from([opts.message]) : opts.message
      ) as AsyncIterable<Uint8Array>;
      return await inline(source, input, (name, rrtype) => resolve(name, rrtype));
    }
    return await opts.verifier.pool.run<AuthenticationOutcome>('authenticate', input, {
      onRequest: (body) => {
        const request = body as VerifyRequest;
        if (request.op === 'pull') return pull();
        return resolve(String(request.name), String(request.rrtype));
      },
    });
  } catch (err) {
    return temperrorOutcome(authservId, { timedOut: err instanceof TaskTimeout });
  } finally {
    if (!Buffer.isBuffer(opts.message)) opts.message.destroy();
  }
}

/** The header lines to prepend (Received-SPF, Authentication-Results), each ending in CRLF. */
export async function authenticationResults(opts: AuthenticationOptions): Promise<string> {
  return (await evaluateAuthentication(opts)).headers;
}
