// The trace headers a delivery from SMTP prepends: Received (RFC 5321 §4.4, with the protocol
// keywords of RFC 3848 / RFC 6531) and, for mail from other servers, Received-SPF and
// Authentication-Results (RFC 8601) with SPF, DKIM and DMARC from mailauth, every DNS query
// through our resolver. Authenticated submissions get only Received: there is nothing to verify.
// The verdicts come back with the headers, so the SMTP session can act on the DMARC policy.

import type { Readable } from 'node:stream';
import type { DnsResolver } from '../dns/resolver.js';
import type { AuthenticationOutcome } from './authentication-outcome.js';
import type { MessageVerifier } from './message-verifier.js';
import { evaluateAuthentication, receivedHeader } from './trace-headers.js';

/** What the SMTP session knows of its client when a message's body begins. */
export interface SmtpSessionFacts {
  clientIp: string;
  helo: { verb: 'EHLO' | 'HELO'; domain: string };
  /** The connection is TLS (STARTTLS or implicit). */
  tls: boolean;
  tlsInfo: { protocol: string | null; cipher: string | null } | null;
  /** The client authenticated (RFC 4954): no SPF/DKIM/DMARC is evaluated. */
  authenticated: boolean;
}

export interface TraceEnv {
  hostname: string;
  resolver: DnsResolver;
  verifier: MessageVerifier;
}

export interface TraceInput {
  session: SmtpSessionFacts;
  /** Queue id (the Received "id" clause). */
  id: string;
  mailFrom: string;
  smtputf8: boolean;
  /** The one recipient named in Received "for", or null. */
  forRecipient: string | null;
  /** The message as received, without our authserv-id's Authentication-Results fields. */
  message: () => Readable;
  size: number;
}

export interface SmtpTrace {
  /** Header lines to prepend, each ending in CRLF. */
  prefix: string;
  /** SPF, DKIM and DMARC verdicts; null for an authenticated submission (nothing evaluated). */
  authentication: AuthenticationOutcome | null;
}

export async function smtpTrace(env: TraceEnv, input: TraceInput): Promise<SmtpTrace> {
  const { session } = input;
  const reverseName = await env.resolver.verifiedReverse(session.clientIp);
  const received = receivedHeader({
    helo: session.helo.domain,
    clientIp: session.clientIp,
    reverseName,
    hostname: env.hostname,
    esmtp: session.helo.verb === 'EHLO',
    tls: session.tls,
    authenticated: session.authenticated,
    smtputf8: input.smtputf8,
    id: input.id,
    recipients: input.forRecipient !== null ? [input.forRecipient] : [],
    tlsInfo: session.tlsInfo,
  });
  if (session.authenticated) return { prefix: received, authentication: null };
  const authentication = await evaluateAuthentication({
    verifier: env.verifier,
    resolver: env.resolver,
    hostname: env.hostname,
    clientIp: session.clientIp,
    helo: session.helo.domain,
    mailFrom: input.mailFrom,
    message: input.message(),
    size: input.size,
  });
  return { prefix: authentication.headers + received, authentication };
}
