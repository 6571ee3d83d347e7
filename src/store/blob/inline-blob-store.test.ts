// InlineBlobStore over a real SQLite store and real files: where a blob goes at the threshold's
// edges, byte-exact reads by every path, dedupe across inline and file storage, GC, and
// durability (an inline message costs no file fsync, and a failed WAL fsync fails its append).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isStoreError } from '../../core/errors.js';
import { DEFAULT_LIMITS } from '../../core/limits.js';
import { openSqliteStore, SQLITE_FILE_NAME, type SqliteStore } from '../sqlite/sqlite-store.js';
import { pin } from '../sqlite/statement-pin.js';
import type { StoredBlob } from '../types.js';
import { FileBlobStore } from './file-blob-store.js';
import { DEFAULT_INLINE_MAX_BYTES, InlineBlobStore } from './inline-blob-store.js';
import type { BlobWriteOptions } from './types.js';

const opts: BlobWriteOptions = {
  maxSize: 10 * 1024 * 1024,
  mimeLimits: {
    mimeDepth: DEFAULT_LIMITS.mimeDepth,
    mimeParts: DEFAULT_LIMITS.mimeParts,
    headerSize: DEFAULT_LIMITS.headerSize,
  },
};

/** The threshold most tests use: small, so edges are cheap to build. */
const T = 1000;

function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** A MIME message of exactly `size` bytes (a bare body when too small for headers). */
function message(size: number, tag = 'm'): Buffer {
  const head = Buffer.from(`Subject: ${tag}\r\nContent-Type: text/plain\r\n\r\n`);
  if (size <= head.length) return Buffer.from('x'.repeat(size));
  const body = Buffer.alloc(size - head.length);
  for (let i = 0; i < body.length; i++) body[i] = i % 64 === 63 ? 0x0a : 0x61 + ((i * 7 + tag.length) % 26);
  return Buffer.concat([head, body]);
}

async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await fsp.readdir(dir, { withFileTypes: true, recursive: true });
    return entries.filter((e) => e.isFile()).length;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

interface Rig {
  dir: string;
  store: SqliteStore;
  files: FileBlobStore;
  blobs: InlineBlobStore;
  inbox: number;
  /** fsyncs of blob files and directories. */
  fileFsyncs: number;
  /** WAL fsyncs; fail while walFailing is set. */
  walFsyncs: number;
  walFailing: boolean;
  /** Rows of a table, read on a connection of its own. */
  rows(sql: string, ...params: unknown[]): unknown[];
  deliver(blob: StoredBlob, mailboxId?: number): Promise<number>;
  /** Another InlineBlobStore on the same store and files, with its own threshold. */
  withThreshold(inlineMaxBytes: number): InlineBlobStore;
}

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function rig(inlineMaxBytes = T): Promise<Rig> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'postern-inline-'));
  const r = {
    dir,
    fileFsyncs: 0,
    walFsyncs: 0,
    walFailing: false,
  } as Rig;
  const files = new FileBlobStore(dir, {
    fsync: async (fh) => {
      r.fileFsyncs++;
      await fh.sync();
    },
  });
  const store = await openSqliteStore({
    dataDir: dir,
    blobs: files,
    gcGraceMs: 0,
    fsyncWal: async (file) => {
      r.walFsyncs++;
      if (r.walFailing) throw Object.assign(new Error(`EIO: fsync ${file}`), { code: 'EIO' });
      const fh = await fsp.open(file, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
  });
  const db = pin(new Database(path.join(dir, SQLITE_FILE_NAME), { readonly: true }));
  open.push(async () => {
    db.close();
    await store.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });
  await store.createDomain('example.org');
  const account = await store.createAccount({ address: 'a@example.org', passwordHash: 'x' });
  r.store = store;
  r.files = files;
  r.blobs = new InlineBlobStore({ files, inline: store.inlineBlobs, inlineMaxBytes });
  r.inbox = (await store.getMailbox(account.id, 'INBOX'))!.id;
  r.rows = (sql, ...params) => pin(db.prepare(sql)).all(...params);
  r.deliver = async (blob, mailboxId = r.inbox) => {
    const [outcome] = await store.append({ blob, targets: [{ mailboxId }] });
    assert.ok(outcome?.ok, 'append stored');
    return outcome.uid;
  };
  r.withThreshold = (max) => new InlineBlobStore({ files, inline: store.inlineBlobs, inlineMaxBytes: max });
  return r;
}

/** Every read path gives exactly `bytes`. */
async function assertReads(blobs: InlineBlobStore, blobId: string, bytes: Buffer): Promise<void> {
  const size = bytes.length;
  assert.ok((await blobs.readAll(blobId)).equals(bytes), 'readAll');
  assert.ok((await blobs.readAll(blobId, { size })).equals(bytes), 'readAll with size');
  assert.ok((await collect(blobs.read(blobId))).equals(bytes), 'read');
  for (const [start, end] of [
    [0, 1],
    [1, Math.max(0, size - 1)],
    [Math.floor(size / 2), undefined],
    [size, undefined],
    [size + 10, size + 20],
    [0, size + 100],
  ] as Array<[number, number | undefined]>) {
    const want = bytes.subarray(start, end ?? size);
    assert.ok((await collect(blobs.read(blobId, { start, end }))).equals(want), `read [${start}, ${end})`);
  }
  if (size > 0 && size <= 256 * 1024) {
    assert.ok(blobs.readSmallSync(blobId, size)?.equals(bytes), 'readSmallSync');
    assert.equal(blobs.readSmallSync(blobId, size - 1), null, 'readSmallSync of a wrong size');
    const target = Buffer.alloc(size + 1, 0xee);
    assert.equal(blobs.readSmallSyncInto(blobId, size, target), true, 'readSmallSyncInto');
    assert.ok(target.subarray(0, size).equals(bytes));
    assert.equal(
      blobs.readSmallSyncInto(blobId, size - 1, target),
      false,
      'readSmallSyncInto of a wrong size',
    );
  }
  assert.equal(await blobs.exists(blobId), true);
}

void describe('InlineBlobStore', () => {
  void it('stores blobs of at most the threshold inline (0, 1, T bytes) and larger ones as files (T + 1)', async () => {
    const r = await rig();
    for (const size of [0, 1, T, T + 1, 3 * 1024 * 1024 + 17]) {
      const bytes = message(size, `edge${size}`);
      const filesBefore = await countFiles(r.files.blobsDir);
      const blob = await r.blobs.write(bytes, opts);
      assert.equal(blob.blobId, sha256(bytes));
      assert.equal(blob.size, size);
      // The same StoredBlob as the file store gives (the MIME record too), so dedupe works across both.
      const reference = await new FileBlobStore(path.join(r.dir, 'reference')).write(bytes, opts);
      assert.deepEqual(blob.mime, reference.mime, `MIME record of ${size} bytes`);
      const inline = size <= T;
      assert.equal(blob.inline !== undefined, inline, `${size} bytes inline`);
      if (inline) assert.ok(bytes.equals(blob.inline!));
      // What a writer thread receives after structured cloning: a plain Uint8Array.
      await r.deliver(inline && size % 2 === 0 ? { ...blob, inline: new Uint8Array(blob.inline!) } : blob);
      assert.equal(await countFiles(r.files.blobsDir), filesBefore + (inline ? 0 : 1));
      const content = r.rows('SELECT length(content) AS n FROM blob_content WHERE blob_id = ?', blob.blobId);
      assert.deepEqual(content, inline ? [{ n: size }] : []);
      await assertReads(r.blobs, blob.blobId, bytes);
    }
    assert.equal(await countFiles(r.files.tmpDir), 0, 'no temp file left');
  });

  void it('a threshold of 0 stores every blob as a file; the default is DEFAULT_INLINE_MAX_BYTES', async () => {
    const r = await rig(0);
    const bytes = message(1, 'one');
    const blob = await r.blobs.write(bytes, opts);
    assert.equal(blob.inline, undefined);
    await r.deliver(blob);
    assert.equal(await countFiles(r.files.blobsDir), 1);
    await assertReads(r.blobs, blob.blobId, bytes);
    const byDefault = new InlineBlobStore({ files: r.files, inline: r.store.inlineBlobs });
    assert.equal(byDefault.inlineMaxBytes, DEFAULT_INLINE_MAX_BYTES);
    assert.ok((await byDefault.write(message(DEFAULT_INLINE_MAX_BYTES), opts)).inline !== undefined);
    assert.equal((await byDefault.write(message(DEFAULT_INLINE_MAX_BYTES + 1), opts)).inline, undefined);
    assert.throws(
      () => r.withThreshold(-1),
      (e) => isStoreError(e, 'INVALID_ARGUMENT'),
    );
  });

  void it('chunks crossing the threshold reach the file in order, also when writes are not awaited', async () => {
    const r = await rig();
    const bytes = message(5 * T + 3, 'chunks');
    for (const step of [1, 7, T - 1, T, T + 1]) {
      const writer = r.blobs.createWriter(opts);
      const writes: Array<Promise<void>> = [];
      for (let i = 0; i < bytes.length; i += step) writes.push(writer.write(bytes.subarray(i, i + step)));
      assert.equal(writer.size, bytes.length);
      await Promise.all(writes);
      const blob = await writer.finish();
      assert.equal(blob.blobId, sha256(bytes), `chunks of ${step}`);
      assert.equal(blob.inline, undefined);
      assert.ok((await r.files.readAll(blob.blobId)).equals(bytes));
    }
    // Exactly at the threshold in small chunks: still inline, the caller's buffer copied.
    const small = message(T, 'reuse');
    const scratch = Buffer.alloc(10);
    const writer = r.blobs.createWriter(opts);
    for (let i = 0; i < small.length; i += 10) {
      small.copy(scratch, 0, i, i + 10);
      await writer.write(scratch);
      scratch.fill(0);
    }
    const blob = await writer.finish();
    assert.ok(
      blob.inline !== undefined && small.equals(blob.inline),
      'byte-exact although the caller reused its buffer',
    );
    assert.equal(blob.blobId, sha256(small));
  });

  void it('TOO_LARGE, abort and discard leave nothing behind, inline or spilled', async () => {
    const r = await rig();
    // Over maxSize below the threshold.
    const tight = r.blobs.createWriter({ ...opts, maxSize: 100 });
    await tight.write(message(100));
    await assert.rejects(tight.write(Buffer.from('x')), (e) => isStoreError(e, 'TOO_LARGE'));
    await assert.rejects(tight.finish(), (e) => isStoreError(e, 'INVALID_ARGUMENT'));
    // Over maxSize after spilling to a file.
    const big = r.blobs.createWriter({ ...opts, maxSize: 2 * T });
    await big.write(message(T + 500));
    await assert.rejects(big.write(message(T)), (e) => isStoreError(e, 'TOO_LARGE'));
    await big.abort();
    // Aborted mid-way after a spill: the temp file goes.
    const spilled = r.blobs.createWriter(opts);
    await spilled.write(message(T + 1));
    await spilled.abort();
    await spilled.abort();
    // Discarded after finish: an inline blob has nothing to remove; a file this writer made goes.
    const inline = r.blobs.createWriter(opts);
    await inline.write(message(10));
    assert.ok((await inline.finish()).inline !== undefined);
    await inline.discard();
    const file = r.blobs.createWriter(opts);
    await file.write(message(T + 2));
    const fileBlob = await file.finish();
    assert.equal(await r.files.exists(fileBlob.blobId), true);
    await file.discard();
    assert.equal(await r.files.exists(fileBlob.blobId), false);
    assert.equal(await countFiles(r.files.blobsDir), 0);
    assert.equal(await countFiles(r.files.tmpDir), 0);
    assert.deepEqual(r.rows('SELECT * FROM blob_content'), []);
    // The store refuses inline bytes that are not the blob's size.
    const good = await r.blobs.write(message(50), opts);
    await assert.rejects(
      r.store.append({
        blob: { ...good, inline: good.inline!.subarray(1) },
        targets: [{ mailboxId: r.inbox }],
      }),
      (e) => isStoreError(e, 'INVALID_ARGUMENT'),
    );
  });

  void it('the same bytes are stored once: inline twice, or inline after a file', async () => {
    const r = await rig();
    const bytes = message(500, 'dedupe');
    const first = await r.blobs.write(bytes, opts);
    const second = await r.blobs.write(bytes, opts);
    await r.deliver(first);
    await r.deliver(second);
    assert.deepEqual(r.rows('SELECT refcount FROM blobs WHERE id = ?', first.blobId), [{ refcount: 2 }]);
    assert.equal(r.rows('SELECT blob_id FROM blob_content').length, 1);

    // Stored as a file first (a store with inline storage off, or from before it): an inline
    // delivery of the same bytes adds a reference and nothing more.
    const older = message(600, 'older');
    const asFile = await r.withThreshold(0).write(older, opts);
    await r.deliver(asFile);
    const asInline = await r.blobs.write(older, opts);
    assert.ok(asInline.inline !== undefined);
    await r.deliver(asInline);
    assert.deepEqual(r.rows('SELECT refcount FROM blobs WHERE id = ?', asFile.blobId), [{ refcount: 2 }]);
    assert.deepEqual(r.rows('SELECT blob_id FROM blob_content WHERE blob_id = ?', asFile.blobId), []);
    await assertReads(r.blobs, asFile.blobId, older);

    // A file whose append was refused keeps an unreferenced row while its writer removes the
    // file: an inline delivery that revives the row stores the bytes.
    await r.store.setQuota('a@example.org', 1);
    const refusedBytes = message(700, 'refused');
    const writer = r.withThreshold(0).createWriter(opts);
    await writer.write(refusedBytes);
    const refused = await writer.finish();
    const [outcome] = await r.store.append({ blob: refused, targets: [{ mailboxId: r.inbox }] });
    assert.equal(outcome?.ok, false);
    await writer.discard();
    assert.equal(await r.files.exists(refused.blobId), false);
    assert.deepEqual(r.rows('SELECT refcount FROM blobs WHERE id = ?', refused.blobId), [{ refcount: 0 }]);
    await r.store.setQuota('a@example.org', 0);
    await r.deliver(await r.blobs.write(refusedBytes, opts));
    await assertReads(r.blobs, refused.blobId, refusedBytes);

    // A refused inline append leaves no row and no bytes.
    await r.store.setQuota('a@example.org', 1);
    const lost = await r.blobs.write(message(800, 'lost'), opts);
    const [no] = await r.store.append({ blob: lost, targets: [{ mailboxId: r.inbox }] });
    assert.equal(no?.ok, false);
    assert.deepEqual(r.rows('SELECT id FROM blobs WHERE id = ?', lost.blobId), []);
    assert.deepEqual(r.rows('SELECT blob_id FROM blob_content WHERE blob_id = ?', lost.blobId), []);
    assert.equal(await r.blobs.exists(lost.blobId), false);
  });

  void it('GC removes inline bytes with their row, counts them as freed, and leaves referenced ones', async () => {
    const r = await rig();
    const gone = message(900, 'gone');
    const kept = message(901, 'kept');
    const goneUid = await r.deliver(await r.blobs.write(gone, opts));
    await r.deliver(await r.blobs.write(kept, opts));
    assert.equal((await r.store.collectGarbage()).blobsRemoved, 0);
    await r.store.expunge(r.inbox, { uids: [goneUid] });
    const gc = await r.store.collectGarbage();
    assert.deepEqual(gc, {
      blobsRemoved: 1,
      bytesFreed: gone.length,
      orphanFilesRemoved: 0,
      orphanBytesFreed: 0,
      changeRowsPruned: 0,
    });
    assert.equal(await r.blobs.exists(sha256(gone)), false);
    await assert.rejects(r.blobs.readAll(sha256(gone)), (e) => isStoreError(e, 'NOT_FOUND'));
    assert.throws(
      () => r.blobs.readSmallSyncInto(sha256(gone), gone.length, Buffer.alloc(gone.length + 1)),
      (e) => isStoreError(e, 'NOT_FOUND'),
    );
    await assert.rejects(collect(r.blobs.read(sha256(gone))), (e) => isStoreError(e, 'NOT_FOUND'));
    assert.deepEqual(r.rows('SELECT blob_id FROM blob_content ORDER BY blob_id'), [
      { blob_id: sha256(kept) },
    ]);
    await assertReads(r.blobs, sha256(kept), kept);
    // Orphan sweeping is about files; inline bytes are never swept.
    assert.equal((await r.store.collectGarbage({ orphanAgeMs: 0 })).orphanFilesRemoved, 0);
    await assertReads(r.blobs, sha256(kept), kept);
  });

  void it('an inline message is made durable by the WAL fsync alone; when that fails, the append fails and nothing is announced', async () => {
    const r = await rig();
    const events: number[] = [];
    r.store.watch(r.inbox, (id) => events.push(id));

    const walBefore = r.walFsyncs;
    await r.deliver(await r.blobs.write(message(T, 'durable'), opts));
    assert.equal(r.fileFsyncs, 0, 'no file or directory fsync for an inline message');
    assert.ok(r.walFsyncs > walBefore, 'acknowledged after a WAL fsync');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, [r.inbox]);
    // A file costs its own fsyncs (file and directory), as before.
    await r.deliver(await r.blobs.write(message(T + 1, 'file'), opts));
    assert.ok(r.fileFsyncs >= 2, 'file and directory fsynced');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(events.length, 2);

    r.walFailing = true;
    const lost = await r.blobs.write(message(T - 1, 'lost'), opts);
    await assert.rejects(r.store.append({ blob: lost, targets: [{ mailboxId: r.inbox }] }), /EIO/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(events.length, 2, 'nothing announced without durability');
    await assert.rejects(r.store.changesSince(r.inbox, 0), /EIO/);
    r.walFailing = false;
    // No file was ever made for it: nothing in blobs/ or tmp/ but the one file above.
    assert.equal(await countFiles(r.files.blobsDir), 1);
    assert.equal(await countFiles(r.files.tmpDir), 0);
  });
});
