// The trace headers prepended to every accepted message: Received (RFC 5321 §4.4, with the
// protocol keywords of RFC 3848 / RFC 6531) and, for mail from other servers, Received-SPF and
// Authentication-Results (RFC 8601) with SPF, DKIM and DMARC from mailauth, every DNS query
// through our resolver. Authenticated submissions get only Received: there is nothing to verify.
// The verdicts come back with the prefix, so the caller can act on the DMARC policy.
// Verification runs in the verify pool's threads; one cut off by its budget throws 451 4.3.0.

import type { TLSSocket } from 'node:tls';
import type { InboundMessage } from '../../delivery/inbound.js';
import {
  evaluateAuthentication,
  receivedHeader,
  type AuthenticationOutcome,
} from '../../delivery/trace-headers.js';
import type { SmtpSessionContext } from './context.js';
import { SmtpReply } from './reply.js';
import type { Helo, Transaction } from './state.js';

function tlsInfo(ctx: SmtpSessionContext): { protocol: string | null; cipher: string | null } | null {
  if (!ctx.conn.secure) return null;
  const socket = ctx.conn.socket as TLSSocket;
  if (typeof socket.getProtocol !== 'function') return null;
  return { protocol: socket.getProtocol(), cipher: socket.getCipher()?.name ?? null };
}

export interface TraceResult {
  /** Header lines to prepend, each ending in CRLF. */
  prefix: string;
  /** SPF, DKIM and DMARC verdicts; null for an authenticated submission (nothing evaluated). */
  authentication: AuthenticationOutcome | null;
}

export async function tracePrefix(
  ctx: SmtpSessionContext,
  helo: Helo,
  tx: Transaction,
  message: InboundMessage,
): Promise<TraceResult> {
  const { config } = ctx.env;
  const ip = ctx.conn.remoteAddress;
  const reverseName = await ctx.env.resolver.verifiedReverse(ip);
  const received = receivedHeader({
    helo: helo.domain,
    clientIp: ip,
    reverseName,
    hostname: config.hostname,
    esmtp: helo.verb === 'EHLO',
    tls: ctx.conn.secure,
    authenticated: ctx.auth !== null,
    smtputf8: tx.params.smtputf8,
    id: tx.id,
    recipients: tx.accepted === 1 && tx.firstRecipient !== null ? [tx.firstRecipient] : [],
    tlsInfo: tlsInfo(ctx),
  });
  if (ctx.auth !== null) return { prefix: received, authentication: null };
  const authentication = await evaluateAuthentication({
    verifier: ctx.env.verifier,
    resolver: ctx.env.resolver,
    hostname: config.hostname,
    clientIp: ip,
    helo: helo.domain,
    mailFrom: tx.from.address,
    message: message.bodyStream(),
    size: message.size,
  });
  // Verification cut off by limits.verify_timeout: nothing is known yet; the client retries.
  if (authentication.timedOut) {
    throw new SmtpReply(451, '4.3.0', 'Message verification timed out; try again later');
  }
  return { prefix: authentication.headers + received, authentication };
}
