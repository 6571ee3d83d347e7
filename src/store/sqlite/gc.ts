// Garbage collection on SQLite (the Maintenance role's collectGarbage): blobs whose reference
// count stayed 0 past the grace period lose their row, their blob_search row and their file or
// inline bytes (blob_content, in the same transaction as the row);
// then files no row names, older than the orphan age, are swept. Every removal re-checks under
// the write lock (or by the blob store's move-aside), so it is safe in several processes at
// once and while deliveries run.

import type { BlobStore } from '../blob/types.js';
import type { Maintenance } from '../roles.js';
import type { GcOptions, GcResult } from '../types.js';
import type { SqliteCore } from './core.js';
import { deleteInlineContent } from './inline-blobs.js';
import type { WriteTx } from './write-tx.js';

/** Blobs deleted per GC transaction. */
const GC_BATCH = 500;
/** Blob ids asked about per query when sweeping orphan files. */
const ORPHAN_QUERY_BATCH = 500;

/** The transactional bodies of the GC writes. */
export const gcWrites = {
  /**
   * Deletes the rows of these blobs that are still unreferenced since `cutoff`; returns those
   * deleted, and the inline bytes deleted with them.
   */
  removeBlobs(
    tx: WriteTx,
    ids: readonly string[],
    cutoff: number,
  ): { removed: string[]; inlineBytes: number } {
    const del = tx.sql.stmt('DELETE FROM blobs WHERE id = ? AND refcount = 0 AND zero_since <= ?');
    // message_search rows went with their messages (triggers); blob_search and the inline
    // bytes go with the blob.
    const delSearch = tx.sql.stmt('DELETE FROM blob_search WHERE blob_id = ?');
    let inlineBytes = 0;
    const removed = ids.filter((id) => {
      if (del.run(id, cutoff).changes === 0) return false;
      delSearch.run(id);
      inlineBytes += deleteInlineContent(tx.sql, id);
      return true;
    });
    return { removed, inlineBytes };
  },
};

export interface SqliteGcOptions {
  blobs: BlobStore;
  graceMs: number;
  orphanAgeMs: number;
  /** Called for each blob whose row was removed (caches keyed by blob id drop it). */
  forget: (blobId: string) => void;
}

export class SqliteGc implements Pick<Maintenance, 'collectGarbage'> {
  constructor(
    private readonly core: SqliteCore,
    private readonly opts: SqliteGcOptions,
  ) {}

  async collectGarbage(opts: GcOptions = {}): Promise<GcResult> {
    const { core } = this;
    core.assertOpen();
    let blobsRemoved = 0;
    let bytesFreed = 0;
    const graceMs = opts.graceMs ?? this.opts.graceMs;
    const orphanAgeMs = opts.orphanAgeMs ?? this.opts.orphanAgeMs;
    for (;;) {
      const cutoff = Date.now() - graceMs;
      const ids = core.sql
        .stmt<string>(
          `SELECT id FROM blobs WHERE zero_since IS NOT NULL AND zero_since <= ? AND refcount = 0 LIMIT ${GC_BATCH}`,
          'pluck',
        )
        .all(cutoff);
      if (ids.length === 0) break;
      const { removed, inlineBytes } = await core.write('gc', 'removeBlobs', ids, cutoff);
      bytesFreed += inlineBytes;
      for (const id of removed) {
        this.opts.forget(id);
        try {
          bytesFreed += await this.opts.blobs.remove(id, { graceMs });
        } catch (err) {
          core.log.warn({ err, blobId: id }, 'removing an unreferenced blob failed');
        }
      }
      blobsRemoved += removed.length;
      if (ids.length < GC_BATCH || core.isClosed) break;
    }
    // Files no row names: left by a crash between a blob write and its commit, or by a failed
    // delivery whose file could not be removed at once.
    const orphans = core.isClosed
      ? { files: 0, bytes: 0 }
      : await this.opts.blobs.sweepOrphans({
          olderThanMs: orphanAgeMs,
          referenced: async (candidates) => {
            core.assertOpen();
            const known = new Set<string>();
            // One cached statement whatever the batch size (see statement-pin.ts): ids as JSON.
            const lookup = core.sql.stmt<string>(
              'SELECT b.id FROM json_each(?) j JOIN blobs b ON b.id = j.value',
              'pluck',
            );
            for (let i = 0; i < candidates.length; i += ORPHAN_QUERY_BATCH) {
              const part = candidates.slice(i, i + ORPHAN_QUERY_BATCH);
              for (const id of lookup.all(JSON.stringify(part))) known.add(id);
            }
            return known;
          },
        });
    return { blobsRemoved, bytesFreed, orphanFilesRemoved: orphans.files, orphanBytesFreed: orphans.bytes };
  }
}
