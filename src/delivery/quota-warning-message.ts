// The quota warning message (issue 14): what the user finds in INBOX when the account reaches a
// warning threshold. A single text/plain part in US-ASCII (the address is the only text not
// ours, and addresses are ASCII unless SMTPUTF8: then the part is UTF-8 8bit, RFC 6532).
// Headers modelled on our DSNs (src/outbound/dsn.ts): From the domain's postmaster (RFC 5321
// §4.5.1 requires that mailbox), Auto-Submitted: auto-generated (RFC 3834 §5: not a reply to
// anything, so no client answers it automatically), a Date and a Message-ID of our host.

import { randomBytes } from 'node:crypto';
import { describeQuotaUsage, type QuotaWarningClaim } from '../store/rules/quota-warning.js';
import { rfc5322Date } from './trace-headers.js';

export interface QuotaWarningMessageInput {
  claim: QuotaWarningClaim;
  /** Our host name: the Message-ID's right side. */
  hostname: string;
  /** For tests: the Date header and the Message-ID. */
  date?: Date;
  messageId?: string;
}

/** The subject a warning for `threshold` carries (tests and clients look for it). */
export function quotaWarningSubject(threshold: number): string {
  return `Your mailbox is ${threshold}% full`;
}

export function buildQuotaWarning(input: QuotaWarningMessageInput): Buffer {
  const { claim } = input;
  const at = claim.address.lastIndexOf('@');
  const domain = claim.address.slice(at + 1);
  const date = input.date ?? new Date();
  const messageId = input.messageId ?? `quota-${randomBytes(12).toString('hex')}@${input.hostname}`;
  const utf8 = /[^\x00-\x7f]/.test(claim.address);
  const full = claim.threshold >= 100;
  const body = [
    `Your mailbox ${claim.address} is ${describeQuotaUsage(claim.usage)}.`,
    '',
    full
      ? 'New messages to you are now refused: senders are told to try again later (452 4.2.2),'
      : `It has reached the warning level of ${claim.threshold}%. When it is full, new messages`,
    full
      ? 'and messages you save or copy into your folders are refused until you free some space.'
      : 'to you will be refused, and you will not be able to save or copy messages into your folders.',
    '',
    'To free space, delete messages you no longer need (large ones first), empty the Trash',
    'and Junk folders, or move messages to your computer. If your mail program uses POP3 and',
    'leaves copies on the server, tell it to remove them from the server after some days.',
    '',
    'This message was sent automatically; please do not reply to it.',
  ];
  const head = [
    `From: Mail System <postmaster@${domain}>`,
    `To: <${claim.address}>`,
    `Subject: ${quotaWarningSubject(claim.threshold)}`,
    `Date: ${rfc5322Date(date)}`,
    `Message-ID: <${messageId}>`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    `Content-Type: text/plain; charset=${utf8 ? 'utf-8' : 'us-ascii'}`,
    `Content-Transfer-Encoding: ${utf8 ? '8bit' : '7bit'}`,
  ];
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body.join('\r\n')}\r\n`, 'utf8');
}
