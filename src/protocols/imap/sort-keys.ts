// What SORT and THREAD compare, per message (RFC 5256 §3, RFC 5957 §3), built from the MIME
// record the indexer stored at delivery (no message bytes are read):
// - ARRIVAL: the internal date; SIZE: the RFC822.SIZE;
// - DATE: the sent date, the Date: header in UTC, or the internal date when the header is missing
//   or cannot be parsed (RFC 5256 §2.2);
// - SUBJECT: the base subject (RFC 5256 §2.1);
// - FROM, TO, CC: the addr-mailbox (local part) of the first address of the field (for a group,
//   its name, as in ENVELOPE), "" when there is none;
// - DISPLAYFROM, DISPLAYTO: the decoded display-name of the first address, else its addr-spec
//   (RFC 5957 §3), "" when there is none.
// Strings are compared with i;unicode-casemap (unicode-casemap.ts). When every key is equal the
// sequence number decides (RFC 5256 §3), ascending whatever REVERSE says.

import { decodeWords } from '../../mail/mime/address.js';
import { extractBaseSubject } from '../../mail/mime/base-subject.js';
import type { ImapAddress, MimeRecord } from '../../mail/mime/types.js';
import type { MessageMeta } from '../../store/types.js';
import type { SortCriterion, SortKeyName } from '../../wire/imap/sort.js';
import { casemapKey, compareKeys } from './unicode-casemap.js';

/** One message as SORT and THREAD see it. */
export interface SortRecord {
  uid: number;
  seq: number;
  arrival: number;
  /** Sent date in epoch ms (RFC 5256 §2.2). */
  sent: number;
  size: number;
  /** The base subject (not folded) and its collation key ("" when not needed). */
  baseSubject: string;
  subjectKey: string;
  replyOrForward: boolean;
  messageId: string | null;
  inReplyTo: string | null;
  references: readonly string[];
  /** Collation keys of the address keys, filled only for the keys the command uses. */
  keys: Partial<Record<AddressKey, string>>;
}

type AddressKey = 'FROM' | 'TO' | 'CC' | 'DISPLAYFROM' | 'DISPLAYTO';
const ADDRESS_KEYS: ReadonlySet<SortKeyName> = new Set<SortKeyName>([
  'FROM',
  'TO',
  'CC',
  'DISPLAYFROM',
  'DISPLAYTO',
]);

/** The first address of an ENVELOPE field, or null. */
function firstAddress(list: ImapAddress[] | null): ImapAddress | null {
  return list === null || list.length === 0 ? null : list[0]!;
}

/** RFC 5256 §3 FROM/TO/CC: the addr-mailbox of the first address. */
function mailboxOf(list: ImapAddress[] | null): string {
  return firstAddress(list)?.mailbox ?? '';
}

/** RFC 5957 §3: the display-name of the first address when it has one, else its addr-spec. */
function displayOf(list: ImapAddress[] | null): string {
  const a = firstAddress(list);
  if (a === null) return '';
  if (a.host === null) return a.mailbox === null ? '' : decodeWords(a.mailbox);
  const name = a.name === null ? '' : decodeWords(a.name).trim();
  if (name !== '') return name;
  const mbox = a.mailbox ?? '';
  return a.host === '' ? mbox : `${mbox}@${a.host}`;
}

function addressValue(key: AddressKey, mime: MimeRecord): string {
  const env = mime.envelope;
  switch (key) {
    case 'FROM':
      return mailboxOf(env.from);
    case 'TO':
      return mailboxOf(env.to);
    case 'CC':
      return mailboxOf(env.cc);
    case 'DISPLAYFROM':
      return displayOf(env.from);
    case 'DISPLAYTO':
      return displayOf(env.to);
  }
}

/**
 * The record of one message: `sortKeys` are the SORT keys to compute (THREAD: none), and the
 * base subject is computed when SUBJECT is one of them or `subject` is set.
 */
export function sortRecord(
  meta: MessageMeta,
  seq: number,
  mime: MimeRecord,
  need: { sortKeys: readonly SortKeyName[]; subject: boolean },
): SortRecord {
  const h = mime.headers;
  const base =
    need.subject || need.sortKeys.includes('SUBJECT')
      ? extractBaseSubject(h.subject)
      : { subject: '', replyOrForward: false };
  const keys: SortRecord['keys'] = {};
  for (const k of need.sortKeys) {
    if (ADDRESS_KEYS.has(k)) keys[k as AddressKey] = casemapKey(addressValue(k as AddressKey, mime));
  }
  const arrival = meta.internalDate.getTime();
  return {
    uid: meta.uid,
    seq,
    arrival,
    sent: h.date ?? arrival,
    size: meta.size,
    baseSubject: base.subject,
    subjectKey: casemapKey(base.subject),
    replyOrForward: base.replyOrForward,
    messageId: h.messageId,
    inReplyTo: h.inReplyTo,
    references: h.references,
    keys,
  };
}

function compareKey(key: SortKeyName, a: SortRecord, b: SortRecord): number {
  switch (key) {
    case 'ARRIVAL':
      return a.arrival - b.arrival;
    case 'DATE':
      return a.sent - b.sent;
    case 'SIZE':
      return a.size - b.size;
    case 'SUBJECT':
      return compareKeys(a.subjectKey, b.subjectKey);
    default:
      return compareKeys(a.keys[key] ?? '', b.keys[key] ?? '');
  }
}

/** The comparison of a SORT program: its keys in order, then the sequence number. */
export function sortComparator(criteria: readonly SortCriterion[]): (a: SortRecord, b: SortRecord) => number {
  return (a, b) => {
    for (const c of criteria) {
      const r = compareKey(c.key, a, b);
      if (r !== 0) return c.reverse ? -r : r;
    }
    return a.seq - b.seq;
  };
}

/** Sent date, then sequence number: the order of threads and siblings (RFC 5256 §2.2). */
export function compareSent(a: SortRecord, b: SortRecord): number {
  return a.sent - b.sent || a.seq - b.seq;
}

/**
 * Sorts without holding the event loop: runs of RUN items are sorted at once, then merged
 * pairwise, calling `pause` between pieces of work (it resolves after other work had a turn).
 */
export async function sortYielding<T>(
  items: T[],
  cmp: (a: T, b: T) => number,
  pause: () => Promise<void>,
): Promise<T[]> {
  const RUN = 2048;
  if (items.length <= RUN) return items.sort(cmp);
  let runs: T[][] = [];
  for (let i = 0; i < items.length; i += RUN) {
    runs.push(items.slice(i, i + RUN).sort(cmp));
    await pause();
  }
  while (runs.length > 1) {
    const next: T[][] = [];
    for (let i = 0; i < runs.length; i += 2) {
      const a = runs[i]!;
      const b = runs[i + 1];
      if (b === undefined) {
        next.push(a);
        continue;
      }
      const out: T[] = new Array<T>(a.length + b.length);
      let x = 0;
      let y = 0;
      let o = 0;
      // Stable: on equal items the left run's item comes first.
      while (x < a.length && y < b.length) {
        out[o++] = cmp(b[y]!, a[x]!) < 0 ? b[y++]! : a[x++]!;
        if ((o & 8191) === 0) await pause();
      }
      while (x < a.length) out[o++] = a[x++]!;
      while (y < b.length) out[o++] = b[y++]!;
      next.push(out);
    }
    runs = next;
  }
  return runs[0] ?? [];
}
