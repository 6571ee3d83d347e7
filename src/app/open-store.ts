// Builds the configured store: the metadata backend named by config.store.backend (only
// "sqlite" so far; "postgres" will join here) and the blob store for message bytes: small
// messages in the backend's own table (InlineBlobStore), larger ones in files. The one place
// that imports a backend (a lint rule, lint/layers.js): everything else sees src/store's interfaces.

import type { PosternConfig } from '../config/types.js';
import { FileBlobStore } from '../store/blob/file-blob-store.js';
import { DEFAULT_INLINE_MAX_BYTES, InlineBlobStore } from '../store/blob/inline-blob-store.js';
import type { BlobStore } from '../store/blob/types.js';
import { openSqliteStore, type StoreLogger } from '../store/sqlite/sqlite-store.js';
import type { MailStore } from '../store/types.js';

export interface OpenStoreOptions {
  log?: StoreLogger;
  /** How often changes by other processes are looked for while someone watches (default 100 ms). */
  pollIntervalMs?: number;
  /** How long an unreferenced blob is kept before garbage collection removes it (default: store.gc_grace). */
  gcGraceMs?: number;
  /** Age past which files no row names are removed (default: store.gc_orphan_age). */
  gcOrphanAgeMs?: number;
  /** Messages of at most this many bytes are stored in the database (default 32 KiB; 0: every one a file). */
  inlineMaxBytes?: number;
}

export interface OpenedStore {
  store: MailStore;
  /** Message bytes: read by FETCH/RETR, written by delivery before store.append(). */
  blobs: BlobStore;
}

export async function openStore(config: PosternConfig, opts: OpenStoreOptions = {}): Promise<OpenedStore> {
  const files = new FileBlobStore(config.dataDir);
  await files.init();
  const inlineMaxBytes = opts.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES;
  const backend = config.store.backend;
  switch (backend) {
    case 'sqlite': {
      const store = await openSqliteStore({
        dataDir: config.dataDir,
        blobs: files,
        log: opts.log,
        pollIntervalMs: opts.pollIntervalMs,
        gcGraceMs: opts.gcGraceMs ?? config.store.gcGrace * 1000,
        gcOrphanAgeMs: opts.gcOrphanAgeMs ?? config.store.gcOrphanAge * 1000,
        changeLogRetentionMs: config.store.changeLogRetention * 1000,
      });
      return { store, blobs: new InlineBlobStore({ files, inline: store.inlineBlobs, inlineMaxBytes }) };
    }
    default: {
      const unknown: never = backend;
      throw new Error(`unknown store backend ${String(unknown)}`);
    }
  }
}
