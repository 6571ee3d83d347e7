// What SORT and THREAD compare, per message (RFC 5256 §3, RFC 5957 §3), built from the sort
// fields the store keeps per blob (store/rules/sort-fields.ts; no message bytes are read):
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

import type { MessageSortFields, SortFieldName, SortFields } from '../../store/rules/sort-fields.js';
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
  /** The collation key of the base subject ("" when not needed). */
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

function addressValue(key: AddressKey, f: SortFields): string {
  switch (key) {
    case 'FROM':
      return f.fromMailbox;
    case 'TO':
      return f.toMailbox;
    case 'CC':
      return f.ccMailbox;
    case 'DISPLAYFROM':
      return f.displayFrom;
    case 'DISPLAYTO':
      return f.displayTo;
  }
}

/** The stored fields a record needs (Messages.listSortFields reads only those). */
export function neededFields(need: { sortKeys: readonly SortKeyName[]; subject: boolean }): SortFieldName[] {
  const out = new Set<SortFieldName>();
  // THREAD (RFC 5256 §3): sent date, base subject, and the ids of REFERENCES.
  if (need.subject) {
    for (const f of [
      'sent',
      'baseSubject',
      'replyOrForward',
      'messageId',
      'inReplyTo',
      'references',
    ] as const)
      out.add(f);
  }
  for (const k of need.sortKeys) {
    if (k === 'DATE') out.add('sent');
    else if (k === 'SUBJECT') out.add('baseSubject').add('replyOrForward');
    else if (ADDRESS_KEYS.has(k)) out.add(ADDRESS_FIELDS[k as AddressKey]);
  }
  return [...out];
}

const ADDRESS_FIELDS: Record<AddressKey, SortFieldName> = {
  FROM: 'fromMailbox',
  TO: 'toMailbox',
  CC: 'ccMailbox',
  DISPLAYFROM: 'displayFrom',
  DISPLAYTO: 'displayTo',
};

/**
 * The maker of the records of one command (its fields read with at least neededFields(need)):
 * `sortKeys` are the SORT keys to compute (THREAD: none), and the subject's collation key is made
 * when SUBJECT is one of them or `subject` is set.
 */
export function sortRecordMaker(need: {
  sortKeys: readonly SortKeyName[];
  subject: boolean;
}): (m: MessageSortFields, seq: number) => SortRecord {
  const withSubject = need.subject || need.sortKeys.includes('SUBJECT');
  const addressKeys = need.sortKeys.filter((k) => ADDRESS_KEYS.has(k)) as AddressKey[];
  return (m, seq) => makeRecord(m, seq, withSubject, addressKeys);
}

function makeRecord(
  m: MessageSortFields,
  seq: number,
  withSubject: boolean,
  addressKeys: readonly AddressKey[],
): SortRecord {
  const f = m.fields;
  // Records may be kept (sort-cache.ts): what a command does not compare is shared, not copied.
  let keys: SortRecord['keys'] = NO_KEYS;
  if (addressKeys.length > 0) {
    keys = {};
    for (const k of addressKeys) keys[k] = casemapKey(addressValue(k, f));
  }
  return {
    uid: m.uid,
    seq,
    arrival: m.internalDate,
    sent: f.sent ?? m.internalDate,
    size: m.size,
    subjectKey: withSubject ? casemapKey(f.baseSubject) : EMPTY_KEY,
    replyOrForward: withSubject ? f.replyOrForward : false,
    messageId: f.messageId,
    inReplyTo: f.inReplyTo,
    references: f.references.length === 0 ? NO_REFERENCES : f.references,
    keys,
  };
}

const EMPTY_KEY = casemapKey('');
const NO_KEYS: SortRecord['keys'] = Object.freeze({});
const NO_REFERENCES: readonly string[] = Object.freeze([]);

type Compare = (a: SortRecord, b: SortRecord) => number;

/** One key's comparison, chosen once per command rather than per comparison (100,000 messages: ~2M calls). */
function keyComparator(key: SortKeyName): Compare {
  switch (key) {
    case 'ARRIVAL':
      return (a, b) => a.arrival - b.arrival;
    case 'DATE':
      return (a, b) => a.sent - b.sent;
    case 'SIZE':
      return (a, b) => a.size - b.size;
    case 'SUBJECT':
      return (a, b) => compareKeys(a.subjectKey, b.subjectKey);
    default:
      return (a, b) => compareKeys(a.keys[key] ?? '', b.keys[key] ?? '');
  }
}

/** The comparison of a SORT program: its keys in order, then the sequence number. */
export function sortComparator(criteria: readonly SortCriterion[]): Compare {
  // Built from the last key backwards: each key falls through to the rest, the sequence number
  // last (RFC 5256 §3), ascending whatever REVERSE says.
  let cmp: Compare = (a, b) => a.seq - b.seq;
  for (let i = criteria.length - 1; i >= 0; i--) {
    const key = keyComparator(criteria[i]!.key);
    const rest = cmp;
    cmp = criteria[i]!.reverse ? (a, b) => key(b, a) || rest(a, b) : (a, b) => key(a, b) || rest(a, b);
  }
  return cmp;
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
