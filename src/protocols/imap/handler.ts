// The IMAP protocol factory for the runtime (src/app/protocol-registry.ts): one environment per
// process, one ImapSession per accepted connection on `imap` (143, STARTTLS) and `imaps` (993).

import type { ConnectionHandler, ProtocolFactory, RefusalReason, ServerDeps } from '../../server/types.js';
import type { ImapEnvironment } from './context.js';
import { ImapSession } from './session.js';

function refusalText(reason: RefusalReason): string {
  switch (reason) {
    case 'banned':
      return 'Access temporarily denied';
    case 'shutting-down':
      return 'Server shutting down';
    case 'too-many-from-ip':
    case 'too-many-total':
      return 'Too many connections';
  }
}

export const createImapHandler: ProtocolFactory = (deps: ServerDeps) => {
  const env: ImapEnvironment = {
    config: deps.config,
    store: deps.store,
    blobs: deps.blobs,
    log: deps.log,
    authenticator: deps.authenticator,
  };
  const handler: ConnectionHandler = (conn) => new ImapSession(conn, env).start();
  // RFC 9051 §7.1.5: BYE instead of the greeting when the server will not serve the client.
  handler.refusal = (reason) => `* BYE ${refusalText(reason)}\r\n`;
  handler.idleTimeout = deps.config.limits.idleTimeout;
  return handler;
};
