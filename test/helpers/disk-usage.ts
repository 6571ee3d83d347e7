// What a data directory holds, for tests that check storage is reclaimed: files and bytes under
// blobs/ and tmp/, and the SQLite rows that describe blobs (blobs, blob_search, message_search)
// or hold their bytes (blob_content: small messages stored inline).

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pin } from '../../src/store/sqlite/statement-pin.js';

export interface DiskUsage {
  blobFiles: number;
  blobBytes: number;
  tmpFiles: number;
  tmpBytes: number;
  blobRows: number;
  blobSearchRows: number;
  messageSearchRows: number;
  /** Blobs stored inline in the database, and their bytes. */
  inlineRows: number;
  inlineBytes: number;
}

async function filesUnder(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true, recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { files, bytes };
    throw err;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    try {
      bytes += (await fsp.stat(path.join(e.parentPath, e.name))).size;
      files++;
    } catch (err) {
      // Removed between the listing and the stat: not there any more.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return { files, bytes };
}

/**
 * Bytes on disk for message data only (blobs/ plus tmp/). blobs/ is read first: a file renamed
 * from tmp/ meanwhile is missed rather than counted twice.
 */
export async function messageBytes(dataDir: string): Promise<number> {
  const b = await filesUnder(path.join(dataDir, 'blobs'));
  const t = await filesUnder(path.join(dataDir, 'tmp'));
  return b.bytes + t.bytes;
}

export async function diskUsage(dataDir: string): Promise<DiskUsage> {
  const blobs = await filesUnder(path.join(dataDir, 'blobs'));
  const tmp = await filesUnder(path.join(dataDir, 'tmp'));
  // pin(): no better-sqlite3 object may be garbage-collected (see statement-pin.ts).
  const db = pin(new Database(path.join(dataDir, 'postern.sqlite'), { readonly: true, fileMustExist: true }));
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    const count = (table: string): number =>
      pin(db.prepare(`SELECT count(*) FROM ${table}`))
        .pluck()
        .get() as number;
    return {
      blobFiles: blobs.files,
      blobBytes: blobs.bytes,
      tmpFiles: tmp.files,
      tmpBytes: tmp.bytes,
      blobRows: count('blobs'),
      blobSearchRows: count('blob_search'),
      messageSearchRows: count('message_search'),
      inlineRows: count('blob_content'),
      inlineBytes: pin(db.prepare('SELECT coalesce(sum(length(content)), 0) FROM blob_content'))
        .pluck()
        .get() as number,
    };
  } finally {
    db.close();
  }
}

/** Polls `check` until it holds or `timeoutMs` passes (then the last failure is thrown). */
export async function eventually(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
