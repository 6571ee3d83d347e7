// Message bytes, content-addressed by sha256 and stored once however many mailboxes hold them.
// Invariant: a StoredBlob is returned only when metadata committed afterwards can never point
// at bytes a crash could lose: either its file and directory entry are fsynced, or it carries
// its bytes (`inline`) and the append that commits its rows stores them in the same transaction.

import type { Readable } from 'node:stream';
import type { MimeLimits } from '../../mail/mime/types.js';
import type { StoredBlob } from '../types.js';

export interface BlobWriteOptions {
  /** Bytes allowed; past this the write fails with StoreError TOO_LARGE and leaves nothing behind. */
  maxSize: number;
  mimeLimits: MimeLimits;
}

/** A blob being written chunk by chunk (SMTP DATA, IMAP APPEND literal). */
export interface BlobWriter {
  /**
   * Resolves when the chunk has been taken (copied, or handed to the file): use it for
   * backpressure; the caller may reuse its buffer then. Chunks are taken in call order.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Hashes and indexes; a file is fsynced and renamed into place, a small blob carries its bytes. */
  finish(): Promise<StoredBlob>;
  /** Discards everything written; safe to call at any time, more than once. */
  abort(): Promise<void>;
  /**
   * The stored blob will not be used (its append failed): after finish(), removes the file at
   * once if this writer created it and no other writer has reused it since (a dedupe refreshes
   * the mtime), else leaves it to garbage collection; before finish(), the same as abort().
   */
  discard(): Promise<void>;
  /** Bytes written so far. */
  readonly size: number;
}

/** fsyncs made by a blob store since it was opened. */
export interface BlobStoreStats {
  fileFsyncs: number;
  dirFsyncs: number;
}

/**
 * Blob bytes that the metadata backend stores beside its rows (small messages, see
 * InlineBlobStore), looked up by blob id. The backend implements it (SQLite: a table of BLOBs;
 * PostgreSQL: bytea), so the blob layer never names a backend. A returned buffer belongs to
 * the caller.
 */
export interface InlineBlobSource {
  /** The blob's bytes, or null when the backend does not hold them (a file, or no such blob). */
  get(blobId: string): Promise<Buffer | null>;
  /** The same, answered at once, where the backend can (SQLite); absent where it cannot. */
  getSync?(blobId: string): Buffer | null;
}

export interface BlobStore {
  /** Counters, where the store keeps them (reported by GET /healthz/stats). */
  readonly stats?: Readonly<BlobStoreStats>;
  createWriter(opts: BlobWriteOptions): BlobWriter;
  /** Convenience: the whole source through a writer. */
  write(source: AsyncIterable<Uint8Array> | Uint8Array, opts: BlobWriteOptions): Promise<StoredBlob>;
  /** Bytes [start, end) of a blob (end defaults to its size), streamed with backpressure. */
  read(blobId: string, range?: { start: number; end?: number }): Readable;
  /** The whole blob; `size` (when the caller knows it) lets the read be one system call. */
  readAll(blobId: string, opts?: { size?: number }): Promise<Buffer>;
  /**
   * A small blob (up to 256 KiB) of known size read synchronously, or null when this store cannot
   * (not local files, or a larger blob: use readAll). Only for loops that already yield to the
   * event loop every few milliseconds (SEARCH BODY over many messages): a page-cached file costs
   * tens of microseconds this way, against three thread-pool round trips for readAll.
   */
  readSmallSync?(blobId: string, size: number): Buffer | null;
  /**
   * readSmallSync into the caller's buffer (at least size + 1 bytes, so a longer blob shows):
   * true when the blob has exactly `size` bytes, now in target[0, size); false when it has not,
   * or when this store cannot (size out of range). For callers that read many blobs into one
   * buffer (POP3 RETR: no garbage per message).
   */
  readSmallSyncInto?(blobId: string, size: number, target: Buffer): boolean;
  exists(blobId: string): Promise<boolean>;
  /**
   * Removes the file if it was not written or re-used by a delivery within `graceMs`
   * (a delivery that finds the file already present refreshes its mtime). Returns the bytes freed.
   */
  remove(blobId: string, opts: { graceMs: number }): Promise<number>;
  /**
   * Removes files that no metadata row names and that are older than `olderThanMs`: blob files
   * for which `referenced` (asked in batches of ids) does not answer, and leftover temp files.
   * Garbage collection calls it; returns the files removed and their bytes.
   */
  sweepOrphans(opts: {
    olderThanMs: number;
    referenced: (blobIds: string[]) => Promise<ReadonlySet<string>>;
  }): Promise<{ files: number; bytes: number }>;
}
