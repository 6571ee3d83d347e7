// Small messages stored in the database (table blob_content, migration 7), written in the
// transaction that commits their message rows: the WAL fsync that acknowledges the append makes
// the bytes durable (see InlineBlobStore in src/store/blob/inline-blob-store.ts).
// Invariants:
// - a blob_content row exists only beside its blobs row and is deleted with it (GC);
// - bytes are stored when the blobs row is created, or revived from a reference count of 0
//   (its file may be gone: a failed append's writer removes the file it created); a blob that
//   is referenced already has its bytes somewhere, inline or as a file, and gets nothing more.

import type { InlineBlobSource } from '../blob/types.js';
import type { StatementCache } from './statement-cache.js';

/**
 * Before the blob's references are added: whether the append must store its inline bytes
 * (no blobs row yet, or one at a reference count of 0).
 */
export function needsInlineContent(sql: StatementCache, blobId: string): boolean {
  const refcount = sql.stmt<number>('SELECT refcount FROM blobs WHERE id = ?', 'pluck').get(blobId);
  return refcount === undefined || refcount === 0;
}

/**
 * Stores a blob's bytes (inside the append's transaction); bytes already there stay. A Buffer
 * or, from a worker thread (structured clone), a plain Uint8Array: both bind as a BLOB.
 */
export function storeInlineContent(sql: StatementCache, blobId: string, bytes: Uint8Array): void {
  sql.stmt('INSERT OR IGNORE INTO blob_content (blob_id, content) VALUES (?, ?)').run(blobId, bytes);
}

/** Deletes a blob's inline bytes (inside GC's transaction); returns the bytes freed. */
export function deleteInlineContent(sql: StatementCache, blobId: string): number {
  // length() of a BLOB reads the record header, not the content.
  const size = sql
    .stmt<number>('SELECT length(content) FROM blob_content WHERE blob_id = ?', 'pluck')
    .get(blobId);
  if (size === undefined) return 0;
  sql.stmt('DELETE FROM blob_content WHERE blob_id = ?').run(blobId);
  return size;
}

/** A blob's inline bytes, or null when it has none (a file, or no such blob). */
export function readInlineContent(sql: StatementCache, blobId: string): Buffer | null {
  return sql.stmt<Buffer>('SELECT content FROM blob_content WHERE blob_id = ?', 'pluck').get(blobId) ?? null;
}

/**
 * The InlineBlobSource of a connection: synchronous lookups with one cached statement. `sql`
 * gives the connection's statements (and throws once it is closed).
 */
export function inlineBlobSource(sql: () => StatementCache): InlineBlobSource {
  const getSync = (blobId: string): Buffer | null => readInlineContent(sql(), blobId);
  return {
    getSync,
    get: (blobId) => {
      try {
        return Promise.resolve(getSync(blobId));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
  };
}
