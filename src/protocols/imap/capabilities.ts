// The CAPABILITY list (RFC 9051 §6.1.1, §7.2.2), which depends on the state and the transport:
// STARTTLS only before TLS, AUTH= mechanisms only where plaintext authentication is allowed
// (LOGINDISABLED otherwise, RFC 9051 §6.2.3), the rest only once authenticated (RFC 9051 §7.1
// lets a server list more after login; clients re-read it from the OK of LOGIN/AUTHENTICATE).

import type { ImapStateKind } from './state.js';

export interface CapabilityInput {
  state: ImapStateKind;
  secure: boolean;
  plaintextAuthAllowed: boolean;
  messageSize: number;
}

/** Extensions served once authenticated (each implemented in src/protocols/imap/commands). */
const AUTHENTICATED_EXTENSIONS = [
  'NAMESPACE',
  'UNSELECT',
  'UIDPLUS',
  'MOVE',
  'CHILDREN',
  'SPECIAL-USE',
  'CREATE-SPECIAL-USE',
  'LIST-EXTENDED',
  'LIST-STATUS',
  'ESEARCH',
  'SEARCHRES',
  'BINARY',
  'STATUS=SIZE',
  'CONDSTORE',
  'QRESYNC',
  'COMPRESS=DEFLATE',
  'WITHIN',
  'PREVIEW',
  'SAVEDATE',
  'OBJECTID',
];

export function baseCapabilities(input: CapabilityInput): string[] {
  const caps = ['IMAP4rev1', 'IMAP4rev2', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'UTF8=ACCEPT'];
  if (input.state === 'notAuthenticated') {
    if (!input.secure) caps.push('STARTTLS');
    if (input.plaintextAuthAllowed) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
    else caps.push('LOGINDISABLED');
    return caps;
  }
  caps.push(...AUTHENTICATED_EXTENSIONS, `APPENDLIMIT=${input.messageSize}`);
  return caps;
}
