// Outlook's autodiscover answers for a plain IMAP/POP3/SMTP account (not Exchange):
// - POX (MS-OXDSCLI, "Autodiscover Publishing and Lookup"): POST /autodiscover/autodiscover.xml
//   with the address; the answer is an Account of AccountType "email", Action "settings", and
//   one Protocol per service, IMAP first, then POP3, then SMTP.
// - JSON v2 (what Outlook for Microsoft 365 asks first): GET /autodiscover/autodiscover.json
//   ?Email=...&Protocol=AutodiscoverV1 answers where the POX service is; any other protocol
//   (ActiveSync, Ews, Rest...) is not served here.
//
// Per Protocol: SSL "on" with Encryption "SSL" for implicit TLS; SSL "off" with Encryption
// "TLS" for STARTTLS (Outlook versions that read only SSL would otherwise start TLS at once on
// the STARTTLS port). SPA off (no NTLM), AuthRequired on, DomainRequired off, LoginName the
// address (Postern logins are full addresses).

import type { ClientEndpoint, ClientSettings } from './client-settings.js';
import { xmlElement, xmlEscape } from './xml-text.js';

export const POX_RESPONSE_NS = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';
export const OUTLOOK_RESPONSE_SCHEMA =
  'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';
export const POX_CONTENT_TYPE = 'text/xml; charset=utf-8';

const PROTOCOL_TYPE: Readonly<Record<ClientEndpoint['protocol'], string>> = {
  imap: 'IMAP',
  pop3: 'POP3',
  smtp: 'SMTP',
};

function protocol(e: ClientEndpoint, loginName: string): string[] {
  const implicit = e.security === 'tls';
  return [
    '      <Protocol>',
    `        ${xmlElement('Type', PROTOCOL_TYPE[e.protocol])}`,
    `        ${xmlElement('Server', e.host)}`,
    `        ${xmlElement('Port', e.port)}`,
    `        ${xmlElement('LoginName', loginName)}`,
    `        ${xmlElement('DomainRequired', 'off')}`,
    `        ${xmlElement('SPA', 'off')}`,
    `        ${xmlElement('SSL', implicit ? 'on' : 'off')}`,
    `        ${xmlElement('Encryption', implicit ? 'SSL' : 'TLS')}`,
    `        ${xmlElement('AuthRequired', 'on')}`,
    '      </Protocol>',
  ];
}

/** The POX answer for `address`, or null when the server offers no incoming or no outgoing service. */
export function autodiscoverPox(settings: ClientSettings, address: string): string | null {
  const services = [settings.imap, settings.pop3, settings.smtp].filter(
    (e): e is ClientEndpoint => e !== null,
  );
  if (settings.smtp === null || services.length < 2) return null;
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<Autodiscover xmlns="${POX_RESPONSE_NS}">`,
    `  <Response xmlns="${OUTLOOK_RESPONSE_SCHEMA}">`,
    '    <Account>',
    `      ${xmlElement('AccountType', 'email')}`,
    `      ${xmlElement('Action', 'settings')}`,
    ...services.flatMap((e) => protocol(e, address)),
    '    </Account>',
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}

/**
 * Autodiscover error codes (MS-OXDSCLI, the Error element; the same as Exchange's): 500 the address is unknown, 600 the
 * request is invalid, 601 no provider for the requested response schema.
 */
export type PoxErrorCode = 500 | 600 | 601;

const POX_ERROR_MESSAGE: Readonly<Record<PoxErrorCode, string>> = {
  500: 'The e-mail address cannot be found.',
  600: 'Invalid Request',
  601: 'The requested schema is not available.',
};

/** The POX error answer. */
export function autodiscoverPoxError(code: PoxErrorCode, now: Date = new Date()): string {
  const time = now.toISOString().slice(11, 23);
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<Autodiscover xmlns="${POX_RESPONSE_NS}">`,
    '  <Response>',
    `    <Error Time="${xmlEscape(time)}" Id="${process.pid}">`,
    `      ${xmlElement('ErrorCode', code)}`,
    `      ${xmlElement('Message', POX_ERROR_MESSAGE[code])}`,
    '      <DebugData />',
    '    </Error>',
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}

/** The one JSON v2 protocol served; Outlook sends it in varying case ("Autodiscoverv1"). */
export const AUTODISCOVER_V1 = 'AutodiscoverV1';

/** Where the POX service is, for the JSON v2 answer: https on the https listener's port. */
export function autodiscoverPoxUrl(settings: ClientSettings): string {
  const port = settings.httpsPort === null || settings.httpsPort === 443 ? '' : `:${settings.httpsPort}`;
  return `https://${settings.hostname}${port}/Autodiscover/Autodiscover.xml`;
}

/** JSON v2 answers: the redirect to the POX service, and Exchange's error shape. */
export type AutodiscoverJson =
  { Protocol: string; Url: string } | { ErrorCode: string; ErrorMessage: string };

export function autodiscoverJsonRedirect(settings: ClientSettings): AutodiscoverJson {
  return { Protocol: AUTODISCOVER_V1, Url: autodiscoverPoxUrl(settings) };
}

export function autodiscoverJsonError(
  code: 'InvalidProtocol' | 'InvalidUser' | 'InvalidRequest',
): AutodiscoverJson {
  const message: Record<typeof code, string> = {
    InvalidProtocol: `The given protocol value is invalid. Supported values are '${AUTODISCOVER_V1}'`,
    InvalidUser: 'The given e-mail address is not served here.',
    InvalidRequest: 'Email and Protocol are required.',
  };
  return { ErrorCode: code, ErrorMessage: message[code] };
}
