// Thunderbird's autoconfiguration file, config-v1.1.xml ("clientConfig" version 1.1, Mozilla's
// ConfigFileFormat): served at /.well-known/autoconfig/mail/config-v1.1.xml on the mail domain
// and at /mail/config-v1.1.xml?emailaddress= on autoconfig.<domain>. Thunderbird (and K-9 /
// Thunderbird for Android, Evolution, KMail) read it.
//
// Shape: clientConfig > emailProvider(id) > domain+, displayName, displayShortName,
// incomingServer+ (first preferred), outgoingServer+. Each server: hostname, port, socketType
// ("SSL" = implicit TLS, "STARTTLS"), username, authentication, in that order. The username is
// the placeholder %EMAILADDRESS%, which the client fills in: Postern logins are full addresses,
// and the file then holds nothing a client sent.

import { incomingEndpoints, type ClientEndpoint, type ClientSettings } from './client-settings.js';
import { xmlElement, xmlEscape } from './xml-text.js';

export const THUNDERBIRD_CONTENT_TYPE = 'application/xml; charset=utf-8';

export interface ThunderbirdConfigInput {
  /** emailProvider id: the mail domain asked about (or the host name when answering for all). */
  providerId: string;
  /** The mail domains the settings apply to (domain elements). */
  domains: readonly string[];
  settings: ClientSettings;
}

function server(tag: 'incomingServer' | 'outgoingServer', e: ClientEndpoint): string[] {
  return [
    `    <${tag} type="${e.protocol}">`,
    `      ${xmlElement('hostname', e.host)}`,
    `      ${xmlElement('port', e.port)}`,
    `      ${xmlElement('socketType', e.security === 'tls' ? 'SSL' : 'STARTTLS')}`,
    `      ${xmlElement('username', '%EMAILADDRESS%')}`,
    // Plain passwords inside TLS: what Postern accepts (PLAIN/LOGIN, USER/PASS).
    `      ${xmlElement('authentication', 'password-cleartext')}`,
    `    </${tag}>`,
  ];
}

/** The document, or null when the server offers no incoming or no outgoing service. */
export function thunderbirdConfig(input: ThunderbirdConfigInput): string | null {
  const incoming = incomingEndpoints(input.settings);
  const outgoing = input.settings.smtp;
  if (incoming.length === 0 || outgoing === null || input.domains.length === 0) return null;
  const first = input.domains[0];
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${xmlEscape(input.providerId)}">`,
    ...input.domains.map((d) => `    ${xmlElement('domain', d)}`),
    `    ${xmlElement('displayName', input.domains.length === 1 ? first : input.settings.hostname)}`,
    `    ${xmlElement('displayShortName', (input.domains.length === 1 ? first : input.settings.hostname).split('.')[0])}`,
    ...incoming.flatMap((e) => server('incomingServer', e)),
    ...server('outgoingServer', outgoing),
    '  </emailProvider>',
    '</clientConfig>',
    '',
  ];
  return lines.join('\n');
}
