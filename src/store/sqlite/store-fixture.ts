// Test support for the sqlite store's unit tests: a temp directory, a BlobStore stand-in that
// records remove() calls (message bytes are the blob helper's concern, not the metadata store's),
// and fabricated StoredBlob values whose blobId is the real sha256 of a given text.

import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { MimeRecord } from '../../mail/mime/types.js';
import type { BlobStore, BlobWriter } from '../blob/types.js';
import type { StoredBlob } from '../types.js';
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';

export class RecordingBlobStore implements BlobStore {
  readonly removed: Array<{ blobId: string; graceMs: number }> = [];
  readonly sizes = new Map<string, number>();

  remember(blob: StoredBlob): StoredBlob {
    this.sizes.set(blob.blobId, blob.size);
    return blob;
  }

  async remove(blobId: string, opts: { graceMs: number }): Promise<number> {
    this.removed.push({ blobId, graceMs: opts.graceMs });
    const size = this.sizes.get(blobId) ?? 0;
    this.sizes.delete(blobId);
    return size;
  }

  createWriter(): BlobWriter {
    throw new Error('not used by the metadata store');
  }
  write(): Promise<StoredBlob> {
    return Promise.reject(new Error('not used by the metadata store'));
  }
  read(): Readable {
    throw new Error('not used by the metadata store');
  }
  readAll(): Promise<Buffer> {
    return Promise.reject(new Error('not used by the metadata store'));
  }
  exists(blobId: string): Promise<boolean> {
    return Promise.resolve(this.sizes.has(blobId));
  }
  /** Files that no row names: the ids remembered here that `referenced` does not know. */
  async sweepOrphans(opts: {
    olderThanMs: number;
    referenced: (blobIds: string[]) => Promise<ReadonlySet<string>>;
  }): Promise<{ files: number; bytes: number }> {
    const ids = [...this.sizes.keys()];
    const known = await opts.referenced(ids);
    let files = 0;
    let bytes = 0;
    for (const id of ids) {
      if (known.has(id)) continue;
      files++;
      bytes += this.sizes.get(id) ?? 0;
      this.sizes.delete(id);
    }
    return { files, bytes };
  }
}

/** A StoredBlob for `text`: the real sha256 and size, and a MIME record the store keeps as opaque JSON. */
export function fakeBlob(text: string): StoredBlob {
  const bytes = Buffer.from(text, 'utf8');
  return {
    blobId: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    mime: { testText: text.slice(0, 40) } as unknown as MimeRecord,
  };
}

export async function makeTempDir(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'postern-sqlite-'));
}

export interface StoreFixture {
  dir: string;
  store: SqliteStore;
  blobs: RecordingBlobStore;
  /** Another store on the same file: what a second process would see. */
  openAnother(opts?: Partial<SqliteStoreOptions>): Promise<SqliteStore>;
  cleanup(): Promise<void>;
}

export async function openFixture(opts: Partial<SqliteStoreOptions> = {}): Promise<StoreFixture> {
  const dir = await makeTempDir();
  const blobs = new RecordingBlobStore();
  const others: SqliteStore[] = [];
  const store = await openSqliteStore({ dataDir: dir, blobs, gcGraceMs: 0, pollIntervalMs: 20, ...opts });
  return {
    dir,
    store,
    blobs,
    async openAnother(more = {}) {
      const s = await openSqliteStore({ dataDir: dir, blobs, gcGraceMs: 0, pollIntervalMs: 20, ...more });
      others.push(s);
      return s;
    },
    async cleanup() {
      for (const s of others) await s.close();
      await store.close();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

/** A domain and an account in it; returns the account and its mailboxes by name. */
export async function seedAccount(
  store: SqliteStore,
  address = 'alice@example.org',
  quotaBytes = 0,
): Promise<{ accountId: number; inbox: number; mailbox: (name: string) => Promise<number> }> {
  const domain = address.slice(address.indexOf('@') + 1);
  if ((await store.getDomain(domain)) === null) await store.createDomain(domain);
  const account = await store.createAccount({ address, passwordHash: 'x', quotaBytes });
  const mailbox = async (name: string): Promise<number> => {
    const mb = await store.getMailbox(account.id, name);
    if (mb === null) throw new Error(`no mailbox ${name}`);
    return mb.id;
  };
  return { accountId: account.id, inbox: await mailbox('INBOX'), mailbox };
}
