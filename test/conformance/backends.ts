// How the conformance suite (and its child-process fixtures) opens each backend by name.
// STORE=sqlite (default) or, once it exists, STORE=postgres.

import path from 'node:path';
import Database from 'better-sqlite3';
import { FileBlobStore } from '../../src/store/blob/file-blob-store.js';
import { InlineBlobStore } from '../../src/store/blob/inline-blob-store.js';
import type { BlobStore } from '../../src/store/blob/types.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { MailStore } from '../../src/store/types.js';
import { pin } from '../../src/store/sqlite/statement-pin.js';

export interface ConformanceBackend {
  store: MailStore;
  blobs: BlobStore;
  /** Messages of at most this many bytes are stored without a file, in the backend (0: none). */
  inlineMaxBytes: number;
  /**
   * Optional look into the backend: how many messages refer to a blob (null if no row).
   * Lets the suite check reference counts directly where the backend can tell.
   */
  blobRefcount?: (blobId: string) => Promise<number | null>;
}

export type BackendFactory = (dataDir: string) => Promise<ConformanceBackend>;

export const BACKEND_NAMES = ['sqlite', 'postgres'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export function selectedBackend(): BackendName {
  const name = process.env.STORE ?? 'sqlite';
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new Error(`STORE must be one of ${BACKEND_NAMES.join(', ')}, not ${JSON.stringify(name)}`);
  }
  return name as BackendName;
}

/**
 * Opens a backend on dataDir, with its blob store composed as open-store.ts does (small messages
 * inline). GC grace is 0 and change polling fast, so tests are quick.
 */
export async function openBackend(name: BackendName, dataDir: string): Promise<ConformanceBackend> {
  if (name === 'sqlite') {
    const files = new FileBlobStore(dataDir);
    const store = await openSqliteStore({ dataDir, blobs: files, gcGraceMs: 0, pollIntervalMs: 50 });
    const blobs = new InlineBlobStore({ files, inline: store.inlineBlobs });
    return {
      store,
      blobs,
      inlineMaxBytes: blobs.inlineMaxBytes,
      blobRefcount: (blobId) => {
        // pin(): no better-sqlite3 object may be garbage-collected (see statement-pin.ts).
        const db = pin(
          new Database(path.join(dataDir, 'postern.sqlite'), {
            readonly: true,
            fileMustExist: true,
          }),
        );
        try {
          db.exec('PRAGMA busy_timeout = 5000');
          const row = pin(db.prepare('SELECT refcount FROM blobs WHERE id = ?')).get(blobId) as
            { refcount: number } | undefined;
          return Promise.resolve(row === undefined ? null : row.refcount);
        } finally {
          db.close();
        }
      },
    };
  }
  throw new Error(`the ${name} backend is not implemented yet`);
}
