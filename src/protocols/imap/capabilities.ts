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
  'SORT',
  'SORT=DISPLAY',
  'ESORT',
  'THREAD=ORDEREDSUBJECT',
  'THREAD=REFERENCES',
  'BINARY',
  'STATUS=SIZE',
  'CONDSTORE',
  'QRESYNC',
  // RFC 9208 §3: both resources Postern limits (storage and message count); RFC 3502, RFC 4469.
  'QUOTA',
  'QUOTA=RES-STORAGE',
  'QUOTA=RES-MESSAGE',
  'MULTIAPPEND',
  'CATENATE',
  'COMPRESS=DEFLATE',
  'WITHIN',
  'PREVIEW',
  'SAVEDATE',
  'OBJECTID',
  // RFC 5464: mailbox and server entries (METADATA implies METADATA-SERVER; both, as Dovecot).
  'METADATA',
  'METADATA-SERVER',
  // RFC 5465: notifications for the selected and the personal mailboxes (notifier.ts).
  'NOTIFY',
  // RFC 4314 §2.2.1: ACL with the rights RFC 2086 did not have (commands/acl.ts).
  'ACL',
  'RIGHTS=texk',
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
