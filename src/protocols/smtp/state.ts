// The session state of one SMTP connection, as a discriminated union: a mail transaction (and
// the message being received) exists only in the states where RFC 5321 §3.3 allows one.

import type { Delivery } from '../../delivery/delivery.js';
import type { AppendTarget } from '../../store/types.js';
import type { SmtpPath } from '../../wire/smtp/command.js';

export interface Helo {
  verb: 'EHLO' | 'HELO';
  domain: string;
}

/** MAIL FROM parameters (RFC 1870 SIZE, RFC 6152/3030 BODY, RFC 6531 SMTPUTF8, RFC 3461 RET/ENVID, RFC 8689 REQUIRETLS). */
export interface MailParams {
  /** Declared size, or null when not given. */
  size: number | null;
  body: '7BIT' | '8BITMIME' | 'BINARYMIME';
  smtputf8: boolean;
  ret: 'FULL' | 'HDRS' | null;
  envid: string | null;
  /** RFC 8689 REQUIRETLS: every onward hop must be TLS-protected and verified. */
  requireTls: boolean;
}

/** A recipient that goes to the outbound spool, with its DSN parameters (RFC 3461 §4). */
export interface RemoteRecipient {
  address: string;
  notify: string[] | null;
  orcpt: string | null;
}

export interface Transaction {
  /** Queue id: names the message in the Received header, the 250 reply and the log. */
  id: string;
  from: SmtpPath;
  params: MailParams;
  /** Local targets by mailbox id: each mailbox gets the message once however many RCPTs lead to it. */
  local: Map<number, AppendTarget>;
  /**
   * The RCPTs (as given, with their DSN parameters) that led to each local mailbox: who gets a
   * DSN when that mailbox refuses the message at commit.
   */
  localRecipients: Map<number, RemoteRecipient[]>;
  /** Remote recipients by address (lower-cased domain), each once. */
  remote: Map<string, RemoteRecipient>;
  /** RCPT commands answered 250 (limits.recipients counts these). */
  accepted: number;
  /** The first accepted recipient as given (for Received "for", RFC 5321 §4.4). */
  firstRecipient: string | null;
}

export type SmtpState =
  /** Banner sent; no EHLO/HELO yet (also right after STARTTLS, RFC 3207 §4.2). */
  | { kind: 'greeted' }
  /** EHLO/HELO done, no transaction. */
  | { kind: 'ready'; helo: Helo }
  /** MAIL accepted; RCPTs being collected. */
  | { kind: 'transaction'; helo: Helo; tx: Transaction }
  /** Between BDAT chunks (RFC 3030): the message so far is in `delivery`. */
  | { kind: 'chunking'; helo: Helo; tx: Transaction; delivery: Delivery }
  /** Receiving a DATA body. */
  | { kind: 'data'; helo: Helo; tx: Transaction; delivery: Delivery };

export type SmtpStateKind = SmtpState['kind'];
