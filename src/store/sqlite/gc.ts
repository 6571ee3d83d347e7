// Garbage collection on SQLite (the Maintenance role's collectGarbage): blobs whose reference
// count stayed 0 past the grace period lose their row, their blob_search and blob_sort rows and their file or
// inline bytes (blob_content, in the same transaction as the row);
// then files no row names, older than the orphan age, are swept. Every removal re-checks under
// the write lock (or by the blob store's move-aside), so it is safe in several processes at
// once and while deliveries run.
// Then the change log is pruned (docs/architecture.md, "Change log retention"): expunge rows
// and mailbox events older than the retention go, and each mailbox's expunge_floor rises to
// the highest modseq pruned from it. Age comes from change_clock: each run records the newest
// change seq with the time, so a seq is older than the retention when a clock row at least
// that old is at or above it.

import type { BlobStore } from '../blob/types.js';
import type { Maintenance } from '../roles.js';
import type { GcOptions, GcResult } from '../types.js';
import type { SqliteCore } from './core.js';
import { KIND_EXPUNGED } from './change-log.js';
import { deleteInlineContent } from './inline-blobs.js';
import type { WriteTx } from './write-tx.js';

/** Blobs deleted per GC transaction. */
const GC_BATCH = 500;
/** Blob ids asked about per query when sweeping orphan files. */
const ORPHAN_QUERY_BATCH = 500;
/** Change rows examined per pruning transaction. */
const PRUNE_BATCH = 5000;
/** store_counters: every expunge or mailbox-event row up to this seq is pruned. */
const PRUNED_THROUGH = 'changes_pruned_through';

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
    // message_search rows went with their messages (triggers); blob_search, blob_sort and the
    // inline bytes go with the blob.
    const delSearch = tx.sql.stmt('DELETE FROM blob_search WHERE blob_id = ?');
    const delSort = tx.sql.stmt('DELETE FROM blob_sort WHERE blob_id = ?');
    let inlineBytes = 0;
    const removed = ids.filter((id) => {
      if (del.run(id, cutoff).changes === 0) return false;
      delSearch.run(id);
      delSort.run(id);
      inlineBytes += deleteInlineContent(tx.sql, id);
      return true;
    });
    return { removed, inlineBytes };
  },

  /** Notes that every change up to `seq` is at most as old as `now` (one row per GC run). */
  markChangeClock(tx: WriteTx, seq: number, now: number): void {
    const last = tx.sql.stmt<number | null>('SELECT max(seq) FROM change_clock', 'pluck').get() ?? 0;
    if (seq > last) tx.sql.stmt('INSERT INTO change_clock (seq, at) VALUES (?, ?)').run(seq, now);
  },

  /**
   * Prunes expunge and mailbox-event rows with seq in (from, cutoff], at most PRUNE_BATCH rows
   * examined; returns how many went and the seq reached (cutoff when done).
   */
  pruneChanges(tx: WriteTx, from: number, cutoff: number): { pruned: number; reached: number } {
    const { sql } = tx;
    type Row = { seq: number; mailbox_id: number; uid: number; modseq: number; kind: number };
    const rows = sql
      .stmt<Row>(
        `SELECT seq, mailbox_id, uid, modseq, kind FROM changes
         WHERE seq > ? AND seq <= ? AND kind >= ${KIND_EXPUNGED} ORDER BY seq LIMIT ${PRUNE_BATCH}`,
      )
      .all(from, cutoff);
    const del = sql.stmt('DELETE FROM changes WHERE seq = ?');
    // The message's earlier rows (added, flags) go with its expunge: below the floor nobody reads them.
    const delEarlier = sql.stmt('DELETE FROM changes WHERE mailbox_id = ? AND uid = ? AND seq < ?');
    const floors = new Map<number, number>();
    for (const r of rows) {
      del.run(r.seq);
      if (r.kind !== KIND_EXPUNGED) continue;
      delEarlier.run(r.mailbox_id, r.uid, r.seq);
      if (r.modseq > (floors.get(r.mailbox_id) ?? 0)) floors.set(r.mailbox_id, r.modseq);
    }
    const raise = sql.stmt('UPDATE mailboxes SET expunge_floor = max(expunge_floor, ?) WHERE id = ?');
    for (const [id, modseq] of floors) raise.run(modseq, id);
    const reached = rows.length < PRUNE_BATCH ? cutoff : rows[rows.length - 1]!.seq;
    sql
      .stmt(
        'INSERT INTO store_counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
      )
      .run(PRUNED_THROUGH, reached);
    // Clock rows below the cutoff are no longer needed: the cutoff row itself stays.
    if (reached === cutoff) sql.stmt('DELETE FROM change_clock WHERE seq < ?').run(cutoff);
    return { pruned: rows.length, reached };
  },
};

export interface SqliteGcOptions {
  blobs: BlobStore;
  graceMs: number;
  orphanAgeMs: number;
  /** Called for each blob whose row was removed (caches keyed by blob id drop it). */
  forget: (blobId: string) => void;
  /** How long expunges stay in the change log (RFC 7162 VANISHED stays exact that long). */
  changeLogRetentionMs: number;
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
    const changeRowsPruned = core.isClosed
      ? 0
      : await this.pruneChangeLog(opts.changeLogRetentionMs ?? this.opts.changeLogRetentionMs);
    return {
      blobsRemoved,
      bytesFreed,
      orphanFilesRemoved: orphans.files,
      orphanBytesFreed: orphans.bytes,
      changeRowsPruned,
    };
  }

  /** Records the change clock, then prunes what is older than the retention; returns rows pruned. */
  private async pruneChangeLog(retentionMs: number): Promise<number> {
    const { core } = this;
    const now = Date.now();
    const newest = core.sql.stmt<number | null>('SELECT max(seq) FROM changes', 'pluck').get() ?? 0;
    if (newest > 0) await core.write('gc', 'markChangeClock', newest, now);
    const cutoff = core.sql
      .stmt<number | null>('SELECT max(seq) FROM change_clock WHERE at <= ?', 'pluck')
      .get(now - retentionMs);
    if (cutoff === null || cutoff === undefined) return 0;
    let from =
      core.sql.stmt<number>('SELECT value FROM store_counters WHERE name = ?', 'pluck').get(PRUNED_THROUGH) ??
      0;
    let pruned = 0;
    while (from < cutoff && !core.isClosed) {
      const r = await core.write('gc', 'pruneChanges', from, cutoff);
      pruned += r.pruned;
      from = r.reached;
    }
    return pruned;
  }
}
