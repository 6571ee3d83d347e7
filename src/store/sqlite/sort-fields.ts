// The `blob_sort` table (migration 21): per blob, what SORT and THREAD compare (rules/sort-fields.ts),
// so a SORT of a large mailbox reads a few short columns per message instead of parsing its MIME
// record (80 µs a message; 8 s for 100,000). Invariants:
// - a row is written with its blob row, in the same transaction (upsertBlob), and removed with it
//   (gc.ts); a row exists only while its blob row does;
// - message_sort holds the same columns per message row (with its internal date and size), kept
//   by triggers in every write path (schema.ts 21): SORT reads it with one range scan;
// - blobs stored before migration 21 have no row: listSortFields computes their fields from the
//   MIME record, as before, and hands them to the writer thread to keep (a lazy fill, bounded by
//   the batch a SORT asks for, without a sync: a lost fill is only redone), so only the first SORT
//   of an old mailbox pays the old price and no migration step holds the event loop.

import type { MimeRecord } from '../../mail/mime/types.js';
import {
  blobSortFields,
  emptySortFields,
  type MessageSortFields,
  type SortFieldName,
  type SortFields,
} from '../rules/sort-fields.js';
import type { StatementCache } from './statement-cache.js';
import type { WriteTx } from './write-tx.js';

const COLUMNS =
  'sent, base_subject, reply_fwd, from_mailbox, to_mailbox, cc_mailbox, display_from, display_to, ' +
  'message_id, in_reply_to, refs';

function rowValues(blobId: string, f: SortFields): unknown[] {
  return [
    blobId,
    f.sent,
    f.baseSubject,
    f.replyOrForward ? 1 : 0,
    f.fromMailbox,
    f.toMailbox,
    f.ccMailbox,
    f.displayFrom,
    f.displayTo,
    f.messageId,
    f.inReplyTo,
    f.references.length === 0 ? null : JSON.stringify(f.references),
  ];
}

/** Writes the row of a blob whose row is being inserted (blob-rows.ts upsertBlob). */
export function insertBlobSort(sql: StatementCache, blobId: string, fields: SortFields): void {
  sql
    .stmt(
      `INSERT OR REPLACE INTO blob_sort (blob_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(...rowValues(blobId, fields));
}

/** The transactional bodies of the lazy fill. */
export const sortFieldWrites = {
  /** Keeps the fields of blobs stored before migration 21; a blob collected meanwhile is skipped. */
  fill(tx: WriteTx, entries: ReadonlyArray<{ blobId: string; fields: SortFields }>): void {
    const put = tx.sql.stmt(
      `INSERT OR IGNORE INTO blob_sort (blob_id, ${COLUMNS})
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM blobs WHERE id = ?)`,
    );
    for (const e of entries) put.run(...rowValues(e.blobId, e.fields), e.blobId);
  },
};

/** The column of each field, in the order the SELECT lists them. */
const FIELD_COLUMNS: ReadonlyArray<readonly [SortFieldName, string]> = [
  ['sent', 'sent'],
  ['baseSubject', 'base_subject'],
  ['replyOrForward', 'reply_fwd'],
  ['fromMailbox', 'from_mailbox'],
  ['toMailbox', 'to_mailbox'],
  ['ccMailbox', 'cc_mailbox'],
  ['displayFrom', 'display_from'],
  ['displayTo', 'display_to'],
  ['messageId', 'message_id'],
  ['inReplyTo', 'in_reply_to'],
  ['references', 'refs'],
];

/** Sets one field from its column's value. */
function setField(f: SortFields, name: SortFieldName, v: unknown): void {
  switch (name) {
    case 'sent':
      f.sent = v as number | null;
      break;
    case 'replyOrForward':
      f.replyOrForward = v === 1;
      break;
    case 'messageId':
    case 'inReplyTo':
      f[name] = v as string | null;
      break;
    case 'references':
      f.references = v === null ? [] : (JSON.parse(v as string) as string[]);
      break;
    default:
      f[name] = v as string;
  }
}

/**
 * The sort fields of the messages of `mailboxId` with these UIDs (ascending, missing ones
 * skipped), in UID order: the `wanted` ones (the others empty, as emptySortFields) or, for a
 * message without a row, all of them; `missing` receives the blobs without a row (computed from their MIME
 * record by `mimeOf`), for the caller to have filled.
 */
export async function listSortFields(
  sql: StatementCache,
  mailboxId: number,
  uids: readonly number[],
  wanted: readonly SortFieldName[],
  mimeOf: (blobId: string) => Promise<MimeRecord>,
  missing: Array<{ blobId: string; fields: SortFields }>,
): Promise<MessageSortFields[]> {
  const out: MessageSortFields[] = [];
  if (uids.length === 0) return out;
  // One range scan of message_sort (keyed like messages, kept by triggers: schema.ts 21), of the
  // columns asked for only: making a JS string of every text column costs more than the scan.
  const picked = FIELD_COLUMNS.filter(([name]) => wanted.includes(name));
  const rows = sql
    .stmt<unknown[]>(
      `SELECT uid, internal_date, size${picked.map(([, col]) => `, ${col}`).join('')} FROM message_sort
       WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid`,
      'raw',
    )
    .all(mailboxId, uids[0], uids[uids.length - 1]);
  const unfilled: number[] = [];
  let at = 0;
  for (const r of rows) {
    const uid = r[0] as number;
    while (at < uids.length && uids[at]! < uid) unfilled.push(uids[at++]!);
    if (at === uids.length) break;
    if (uids[at] !== uid) continue;
    const fields = emptySortFields();
    for (let i = 0; i < picked.length; i++) setField(fields, picked[i]![0], r[3 + i]);
    out.push({ uid, internalDate: r[1] as number, size: r[2] as number, fields });
    at++;
  }
  while (at < uids.length) unfilled.push(uids[at++]!);
  if (unfilled.length === 0) return out;
  // Messages whose blob has no blob_sort row yet (stored before migration 21), or expunged.
  const get = sql.stmt<[number, number, number, string]>(
    'SELECT uid, internal_date, size, blob_id FROM messages WHERE mailbox_id = ? AND uid = ?',
    'raw',
  );
  const computed = new Map<string, SortFields>();
  const late: MessageSortFields[] = [];
  for (const uid of unfilled) {
    const m = get.get(mailboxId, uid);
    if (m === undefined) continue;
    let fields = computed.get(m[3]);
    if (fields === undefined) {
      fields = blobSortFields(await mimeOf(m[3]));
      computed.set(m[3], fields);
      missing.push({ blobId: m[3], fields });
    }
    late.push({ uid, internalDate: m[1], size: m[2], fields });
  }
  if (late.length === 0) return out;
  // Both lists ascend: merge them.
  const merged: MessageSortFields[] = [];
  let i = 0;
  let j = 0;
  while (i < out.length || j < late.length) {
    if (j === late.length || (i < out.length && out[i]!.uid < late[j]!.uid)) merged.push(out[i++]!);
    else merged.push(late[j++]!);
  }
  return merged;
}
