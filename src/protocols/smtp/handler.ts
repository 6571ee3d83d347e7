// The SMTP protocol factory for the runtime (src/app/protocol-registry.ts): one DnsResolver per
// process from config.dns, one verify pool (MessageVerifier) per process from config.limits,
// one SmtpSession per accepted connection, and the listener policies:
// smtp (25) is the MX and waits before its banner to catch clients that talk first (like
// Postfix's postscreen, not for loopback clients, which are local software); submission (587)
// and submissions (465) require AUTH before MAIL (RFC 6409 §4.3, RFC 8314). The listeners
// named by smtp.forbid_unauth_pipelining (default: smtp) close clients that pipeline before
// PIPELINING is offered, loopback clients included.

import { MessageVerifier } from '../../delivery/message-verifier.js';
import { DnsResolver } from '../../dns/resolver.js';
import type {
  Connection,
  ConnectionHandler,
  ProtocolFactory,
  RefusalReason,
  ServerDeps,
} from '../../server/types.js';
import type { SmtpListenerName } from '../../config/types.js';
import { DEFAULT_SMTP } from '../../config/schema.js';
import { formatReply } from '../../wire/smtp/reply.js';
import type { ListenerPolicy, SmtpEnvironment } from './context.js';
import { isLoopback } from '../../auth/plaintext-policy.js';
import { SmtpSession } from './session.js';
import { COMMAND_TIMEOUT_SECONDS, DATA_TIMEOUT_SECONDS } from './timeouts.js';

/** Default wait before the banner on port 25 (RFC 5321 §4.3.1 lets a server delay it). */
export const DEFAULT_GREETING_DELAY_MS = 1000;

export interface SmtpProtocolOptions {
  /** Milliseconds before the banner on the smtp listener (default 1000; 0 in tests). */
  greetingDelayMs?: number;
  /** Delay the banner for loopback clients too (default false). */
  greetingDelayForLoopback?: boolean;
  /** Listeners that refuse unauthorised pipelining (default: config smtp.forbid_unauth_pipelining). */
  forbidUnauthPipelining?: readonly SmtpListenerName[];
  /** A resolver to use instead of one built from config.dns. */
  resolver?: DnsResolver;
  /** A verify pool to use instead of one built from config.limits. */
  verifier?: MessageVerifier;
  /** Idle timeouts in seconds (defaults: RFC 5321 §4.5.3.2, 5 and 10 minutes). */
  commandTimeoutSeconds?: number;
  dataTimeoutSeconds?: number;
}

export function listenerPolicy(
  conn: Pick<Connection, 'listener' | 'remoteAddress'>,
  opts: SmtpProtocolOptions = {},
): ListenerPolicy {
  const common = {
    commandTimeoutSeconds: opts.commandTimeoutSeconds ?? COMMAND_TIMEOUT_SECONDS,
    dataTimeoutSeconds: opts.dataTimeoutSeconds ?? DATA_TIMEOUT_SECONDS,
    forbidUnauthPipelining: (opts.forbidUnauthPipelining ?? DEFAULT_SMTP.forbidUnauthPipelining).some(
      (name) => name === conn.listener,
    ),
  };
  if (conn.listener === 'smtp') {
    const delay =
      isLoopback(conn.remoteAddress) && opts.greetingDelayForLoopback !== true
        ? 0
        : (opts.greetingDelayMs ?? DEFAULT_GREETING_DELAY_MS);
    return { requireAuth: false, greetingDelayMs: delay, ...common };
  }
  return { requireAuth: true, greetingDelayMs: 0, ...common };
}

function refusalText(reason: RefusalReason): string {
  switch (reason) {
    case 'banned':
      return 'access temporarily denied';
    case 'shutting-down':
      return 'shutting down';
    case 'too-many-from-ip':
    case 'too-many-total':
      return 'too many connections';
  }
}

/** A ProtocolFactory for smtp, submission and submissions with these options. */
export function smtpProtocol(opts: SmtpProtocolOptions = {}): ProtocolFactory {
  // The factory runs once per listener; the three SMTP listeners share one environment (and DNS cache).
  const environments = new WeakMap<ServerDeps, SmtpEnvironment>();
  return (deps) => {
    const env: SmtpEnvironment = environments.get(deps) ?? {
      config: deps.config,
      store: deps.store,
      blobs: deps.blobs,
      log: deps.log,
      authenticator: deps.authenticator,
      resolver:
        opts.resolver ??
        new DnsResolver({ servers: deps.config.dns.servers, cacheSeconds: deps.config.dns.cacheSeconds }),
      verifier: opts.verifier ?? new MessageVerifier({ limits: deps.config.limits, log: deps.log }),
      ...(deps.outbound !== undefined ? { outbound: deps.outbound } : {}),
    };
    if (!environments.has(deps)) {
      env.verifier.prepare();
      // A verifier made here is ours to close when the server stops (its threads would keep the
      // process alive for their idle time); one passed in belongs to the caller.
      if (opts.verifier === undefined) deps.onClose?.(() => env.verifier.close());
    }
    environments.set(deps, env);
    const handler: ConnectionHandler = (conn) => {
      const policy = listenerPolicy(conn, {
        ...opts,
        greetingDelayMs: opts.greetingDelayMs ?? deps.config.smtp.greetingDelay,
        forbidUnauthPipelining: opts.forbidUnauthPipelining ?? deps.config.smtp.forbidUnauthPipelining,
      });
      new SmtpSession(conn, env, policy).start();
    };
    // RFC 5321 §3.8: 421 when the server cannot take the connection.
    handler.refusal = (reason) =>
      formatReply(
        421,
        reason === 'shutting-down' ? '4.3.2' : '4.7.0',
        `${deps.config.hostname} ${refusalText(reason)}`,
      );
    handler.idleTimeout = opts.commandTimeoutSeconds ?? COMMAND_TIMEOUT_SECONDS;
    return handler;
  };
}

export const createSmtpHandler: ProtocolFactory = smtpProtocol();
