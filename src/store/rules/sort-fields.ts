// What every backend keeps per blob for IMAP SORT and THREAD (RFC 5256, RFC 5957 SORT=DISPLAY),
// computed once from the MIME record when the blob is stored, so that a SORT of a large mailbox
// reads a few short columns per message instead of parsing every MIME record (docs/architecture.md,
// "SORT and THREAD keys"). The values are the uncollated ones: the i;unicode-casemap keys are
// made at SORT time (protocols/imap/sort-keys.ts), so the collation can change without a refill.

import { decodeWords } from '../../mail/mime/address.js';
import { extractBaseSubject } from '../../mail/mime/base-subject.js';
import type { ImapAddress, MimeRecord } from '../../mail/mime/types.js';

export interface SortFields {
  /** The Date: header in epoch ms; null when missing or unparseable (RFC 5256 §2.2: the internal date then). */
  sent: number | null;
  /** RFC 5256 §2.1 base subject, not case-folded. */
  baseSubject: string;
  /** RFC 5256 §2.1: the subject was a reply or forward (THREAD's subject merge, step 5). */
  replyOrForward: boolean;
  /** RFC 5256 §3 FROM/TO/CC: the addr-mailbox of the field's first address, "" when none. */
  fromMailbox: string;
  toMailbox: string;
  ccMailbox: string;
  /** RFC 5957 §3 DISPLAYFROM/DISPLAYTO: display-name of the first address, else its addr-spec. */
  displayFrom: string;
  displayTo: string;
  /** For THREAD=REFERENCES (RFC 5256 §3 step 1): first msg-id of each field, brackets kept. */
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
}

export type SortFieldName = keyof SortFields;

/** Every field empty: what a field nobody asked for reads as (Messages.listSortFields). */
export function emptySortFields(): SortFields {
  return {
    sent: null,
    baseSubject: '',
    replyOrForward: false,
    fromMailbox: '',
    toMailbox: '',
    ccMailbox: '',
    displayFrom: '',
    displayTo: '',
    messageId: null,
    inReplyTo: null,
    references: [],
  };
}

/** One message as SORT and THREAD read it (Messages.listSortFields). */
export interface MessageSortFields {
  uid: number;
  /** The internal date in epoch ms (ARRIVAL). */
  internalDate: number;
  size: number;
  fields: SortFields;
}

/** The first address of an ENVELOPE field, or null. */
function firstAddress(list: ImapAddress[] | null | undefined): ImapAddress | null {
  return list === null || list === undefined || list.length === 0 ? null : list[0]!;
}

/** RFC 5256 §3 FROM/TO/CC: the addr-mailbox of the first address (a group: its name, as in ENVELOPE). */
function mailboxOf(list: ImapAddress[] | null | undefined): string {
  return firstAddress(list)?.mailbox ?? '';
}

/** RFC 5957 §3: the display-name of the first address when it has one, else its addr-spec. */
function displayOf(list: ImapAddress[] | null | undefined): string {
  const a = firstAddress(list);
  if (a === null) return '';
  if (a.host === null) return a.mailbox === null ? '' : decodeWords(a.mailbox);
  const name = a.name === null ? '' : decodeWords(a.name).trim();
  if (name !== '') return name;
  const mbox = a.mailbox ?? '';
  return a.host === '' ? mbox : `${mbox}@${a.host}`;
}

export function blobSortFields(mime: MimeRecord): SortFields {
  // A record without headers or envelope (fabricated in unit tests) sorts as an empty message.
  const partial = mime as Partial<MimeRecord>;
  const h = partial.headers;
  const env = partial.envelope;
  const base = extractBaseSubject(h?.subject ?? '');
  return {
    sent: h?.date ?? null,
    baseSubject: base.subject,
    replyOrForward: base.replyOrForward,
    fromMailbox: mailboxOf(env?.from),
    toMailbox: mailboxOf(env?.to),
    ccMailbox: mailboxOf(env?.cc),
    displayFrom: displayOf(env?.from),
    displayTo: displayOf(env?.to),
    messageId: h?.messageId ?? null,
    inReplyTo: h?.inReplyTo ?? null,
    references: h?.references ?? [],
  };
}
