// The POP3 protocol factory for the runtime (src/app/protocol-registry.ts): one Pop3Session per
// accepted connection, on pop3 (110, STLS) and pop3s (995, implicit TLS, RFC 8314).

import type { ConnectionHandler, ProtocolFactory, RefusalReason } from '../../server/types.js';
import { err } from '../../wire/pop3/response.js';
import type { Pop3Environment } from './context.js';
import { DEFAULT_LEASE_MS } from './mailbox-lease.js';
import { Pop3Session } from './session.js';

/** RFC 1939 §3: the autologout timer is at least 10 minutes. */
export const AUTOLOGOUT_SECONDS = 10 * 60;

export interface Pop3ProtocolOptions {
  /** Idle seconds before the autologout (default 600, the RFC 1939 minimum). */
  idleTimeoutSeconds?: number;
  /** Lease length of the maildrop lock, milliseconds (default 120 s). */
  leaseMs?: number;
}

function refusalText(reason: RefusalReason): string {
  switch (reason) {
    case 'banned':
      return 'access temporarily denied';
    case 'shutting-down':
      return 'server shutting down';
    case 'too-many-from-ip':
    case 'too-many-total':
      return 'too many connections';
  }
}

/** A ProtocolFactory for pop3 and pop3s with these options. */
export function pop3Protocol(opts: Pop3ProtocolOptions = {}): ProtocolFactory {
  return (deps) => {
    const env: Pop3Environment = {
      config: deps.config,
      store: deps.store,
      blobs: deps.blobs,
      log: deps.log,
      authenticator: deps.authenticator,
      leaseMs: opts.leaseMs ?? DEFAULT_LEASE_MS,
    };
    const handler: ConnectionHandler = (conn) => {
      new Pop3Session(conn, env).start();
    };
    handler.refusal = (reason) => err(refusalText(reason), 'SYS/TEMP').toString('latin1');
    handler.idleTimeout = opts.idleTimeoutSeconds ?? AUTOLOGOUT_SECONDS;
    return handler;
  };
}

export const createPop3Handler: ProtocolFactory = pop3Protocol();
