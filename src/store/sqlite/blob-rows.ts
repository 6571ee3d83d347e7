// The `blobs` and `blob_search` tables: one row per stored blob with its reference count (its
// message rows plus its outbound_queue and outbound_dsn_owed rows), its MIME record and its
// SEARCH text; a small blob's bytes go to `blob_content` (inline-blobs.ts). A count that
// reaches 0 starts the grace period after which collectGarbage() removes the row with its file
// or inline bytes.

import type { MimeRecord } from '../../mail/mime/types.js';
import { decodeMime, encodeMime } from '../rules/mime-json.js';
import { blobSearchText, type BlobSearchText } from '../rules/search-text.js';
import { blobSortFields, type SortFields } from '../rules/sort-fields.js';
import type { AppendRequest, StoredBlob } from '../types.js';
import { needsInlineContent, storeInlineContent } from './inline-blobs.js';
import { insertBlobSort } from './sort-fields.js';
import type { StatementCache } from './statement-cache.js';

/**
 * What a new blob row holds beside its id and size, made from the MIME record on the main
 * thread: the writer thread gets flat strings (the record's stored JSON, rules/mime-json.ts,
 * its SEARCH text, its SORT fields) instead of cloning the record's object tree and deriving
 * them itself.
 */
export interface BlobRowValues {
  mimeJson: string;
  search: BlobSearchText;
  sort: SortFields;
}

/** A StoredBlob with its row values made (prepareAppend). */
export type PreparedBlob = Omit<StoredBlob, 'mime'> & { rows: BlobRowValues };
/** An AppendRequest as the write bodies take it. */
export type PreparedAppendRequest = Omit<AppendRequest, 'blob'> & { blob: PreparedBlob };

export function blobRowValues(mime: MimeRecord): BlobRowValues {
  return { mimeJson: encodeMime(mime), search: blobSearchText(mime), sort: blobSortFields(mime) };
}

/** The request with its blob's row values made (on the caller's thread). */
export function prepareAppend(req: AppendRequest): PreparedAppendRequest {
  const { mime, ...blob } = req.blob;
  return { ...req, blob: { ...blob, rows: blobRowValues(mime) } };
}

/** Adds `delta` references to a blob row; a count reaching 0 starts its grace period. */
export function adjustBlobRefs(sql: StatementCache, blobId: string, delta: number, now: number): boolean {
  const r = sql
    .stmt(
      `UPDATE blobs SET refcount = refcount + @delta,
         zero_since = CASE WHEN refcount + @delta = 0 THEN @now ELSE NULL END
       WHERE id = @id`,
    )
    .run({ id: blobId, delta, now });
  return r.changes > 0;
}

/**
 * Inserts or re-references a blob row (refcount += count; 0 leaves it collectable), with its
 * inline bytes when it carries some and the row is new or was unreferenced (inline-blobs.ts).
 */
export function upsertBlob(
  sql: StatementCache,
  blobId: string,
  size: number,
  rows: BlobRowValues,
  count: number,
  now: number,
  inline?: Uint8Array,
): void {
  if (inline !== undefined && needsInlineContent(sql, blobId)) storeInlineContent(sql, blobId, inline);
  if (adjustBlobRefs(sql, blobId, count, now)) return;
  sql
    .stmt(
      `INSERT INTO blobs (id, size, refcount, mime, zero_since) VALUES (@id, @size, @count, @mime, @zeroSince)`,
    )
    .run({ id: blobId, size, count, mime: rows.mimeJson, zeroSince: count === 0 ? now : null });
  insertBlobSearch(sql, blobId, rows.search);
  insertBlobSort(sql, blobId, rows.sort);
}

function insertBlobSearch(sql: StatementCache, blobId: string, search: BlobSearchText): void {
  sql
    .stmt(
      `INSERT OR REPLACE INTO blob_search (blob_id, search_subject, search_from, search_to, search_cc,
         search_bcc, text_parts) VALUES (@id, @subject, @from, @to, @cc, @bcc, @textParts)`,
    )
    .run({ id: blobId, ...search });
}

/**
 * Fills blob_search for blobs written before migration 4, in batches, once: a counter records
 * that it is done, so later starts do not scan the blobs table.
 */
export function fillSearchColumns(sql: StatementCache): void {
  const done = sql
    .stmt<number>("SELECT value FROM store_counters WHERE name = 'blob_search_filled'", 'pluck')
    .get();
  if (done === 1) return;
  const pick = sql.stmt<{ id: string; mime: string }>(
    `SELECT b.id, b.mime FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM blob_search s WHERE s.blob_id = b.id)
       LIMIT 500`,
  );
  const batch = sql.db.transaction((rows: Array<{ id: string; mime: string }>) => {
    for (const r of rows) insertBlobSearch(sql, r.id, blobSearchText(decodeMime(r.mime)));
  });
  for (;;) {
    const rows = pick.all();
    if (rows.length === 0) break;
    batch(rows);
  }
  sql
    .stmt(
      "INSERT INTO store_counters (name, value) VALUES ('blob_search_filled', 1) ON CONFLICT (name) DO UPDATE SET value = 1",
    )
    .run();
}
