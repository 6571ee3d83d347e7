// The `blob_sort` table (migration 21): per blob, what SORT and THREAD compare (rules/sort-fields.ts),
// so a SORT of a large mailbox reads a few short columns per message instead of parsing its MIME
// record (80 µs a message; 8 s for 100,000). Invariants:
// - a row is written with its blob row, in the same transaction (upsertBlob), and removed with it
//   (gc.ts); a row exists only while its blob row does;
// - blobs stored before migration 21 have no row: listSortFields computes their fields from the
//   MIME record, as before, and hands them to the writer thread to keep (a lazy fill, bounded by
//   the batch a SORT asks for, without a sync: a lost fill is only redone), so only the first SORT
//   of an old mailbox pays the old price and no migration step holds the event loop.

import type { MimeRecord } from '../../mail/mime/types.js';
import { blobSortFields, type MessageSortFields, type SortFields } from '../rules/sort-fields.js';
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
export function insertBlobSort(sql: StatementCache, blobId: string, mime: MimeRecord): void {
  sql
    .stmt(
      `INSERT OR REPLACE INTO blob_sort (blob_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(...rowValues(blobId, blobSortFields(mime)));
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

type Row = [
  uid: number,
  internalDate: number,
  size: number,
  blobId: string,
  filled: string | null,
  sent: number | null,
  baseSubject: string,
  replyFwd: number,
  fromMailbox: string,
  toMailbox: string,
  ccMailbox: string,
  displayFrom: string,
  displayTo: string,
  messageId: string | null,
  inReplyTo: string | null,
  refs: string | null,
];

function fieldsOf(r: Row): SortFields {
  return {
    sent: r[5],
    baseSubject: r[6],
    replyOrForward: r[7] === 1,
    fromMailbox: r[8],
    toMailbox: r[9],
    ccMailbox: r[10],
    displayFrom: r[11],
    displayTo: r[12],
    messageId: r[13],
    inReplyTo: r[14],
    references: r[15] === null ? [] : (JSON.parse(r[15]) as string[]),
  };
}

/**
 * The sort fields of the messages of `mailboxId` with these UIDs (ascending, missing ones
 * skipped), in UID order; `missing` receives the blobs without a row (computed from their MIME
 * record by `mimeOf`), for the caller to have filled.
 */
export async function listSortFields(
  sql: StatementCache,
  mailboxId: number,
  uids: readonly number[],
  mimeOf: (blobId: string) => Promise<MimeRecord>,
  missing: Array<{ blobId: string; fields: SortFields }>,
): Promise<MessageSortFields[]> {
  const out: MessageSortFields[] = [];
  if (uids.length === 0) return out;
  // One range scan of the mailbox's rows, each joined to its blob's row by primary key.
  const rows = sql
    .stmt<Row>(
      `SELECT m.uid, m.internal_date, m.size, m.blob_id, s.blob_id, ${COLUMNS.split(', ')
        .map((c) => `s.${c}`)
        .join(', ')}
       FROM messages m LEFT JOIN blob_sort s ON s.blob_id = m.blob_id
       WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`,
      'raw',
    )
    .all(mailboxId, uids[0], uids[uids.length - 1]);
  let at = 0;
  const computed = new Map<string, SortFields>();
  for (const r of rows) {
    while (at < uids.length && uids[at]! < r[0]) at++;
    if (at === uids.length) break;
    if (uids[at] !== r[0]) continue;
    let fields: SortFields;
    if (r[4] !== null) fields = fieldsOf(r);
    else {
      const known = computed.get(r[3]);
      fields = known ?? blobSortFields(await mimeOf(r[3]));
      if (known === undefined) {
        computed.set(r[3], fields);
        missing.push({ blobId: r[3], fields });
      }
    }
    out.push({ uid: r[0], internalDate: r[1], size: r[2], fields });
  }
  return out;
}
