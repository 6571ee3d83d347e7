// Which protocol serves which listener. To plug a protocol in, export a ProtocolFactory from its
// directory and add it here under every listener name it serves. It lives here, above both the
// server runtime and the protocols (which import the runtime's types), so neither imports the other.
// The factory runs once per process with the ServerDeps; the ConnectionHandler it returns gets
// each accepted Connection (see src/server/types.ts), already in TLS on implicit-TLS listeners
// (submissions, imaps, pop3s, https). It may carry `refusal` (the one line sent when the connection is
// refused, e.g. SMTP 421) and `idleTimeout` (seconds). A listener enabled in the configuration
// whose name is missing here is not opened (logged at info).

import { autoconfigRoutes } from '../admin/autoconfig-routes.js';
import type { ListenerName } from '../config/types.js';
import { createHttpHandler } from '../server/http.js';
import { webRoutes } from '../web/web-routes.js';
import type { ProtocolFactory } from '../server/types.js';
import { createImapHandler } from '../protocols/imap/handler.js';
import { createSmtpHandler } from '../protocols/smtp/handler.js';
import { createPop3Handler } from '../protocols/pop3/handler.js';

/** http and https: the runtime's /healthz, then autoconfig (src/admin), then the user's page (src/web). */
const createWebHandler: ProtocolFactory = (deps) =>
  createHttpHandler(deps, { routes: [autoconfigRoutes(deps), webRoutes(deps)] });

export const PROTOCOL_HANDLERS: ReadonlyMap<ListenerName, ProtocolFactory> = new Map<
  ListenerName,
  ProtocolFactory
>([
  ['http', createWebHandler],
  ['https', createWebHandler],
  ['smtp', createSmtpHandler],
  ['submission', createSmtpHandler],
  ['submissions', createSmtpHandler],
  ['pop3', createPop3Handler],
  ['pop3s', createPop3Handler],
  ['imap', createImapHandler],
  ['imaps', createImapHandler],
]);
