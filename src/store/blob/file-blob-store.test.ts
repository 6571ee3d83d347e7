import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isStoreError } from '../../core/errors.js';
import { DEFAULT_LIMITS } from '../../core/limits.js';
import { FileBlobStore } from './file-blob-store.js';
import type { BlobWriteOptions } from './types.js';

const mimeLimits = {
  mimeDepth: DEFAULT_LIMITS.mimeDepth,
  mimeParts: DEFAULT_LIMITS.mimeParts,
  headerSize: DEFAULT_LIMITS.headerSize,
};
const opts: BlobWriteOptions = { maxSize: 10 * 1024 * 1024, mimeLimits };

const MESSAGE = Buffer.from(
  'From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: hello\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n\r\nHi Bob,\r\nsee you tomorrow.\r\n',
);

function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  }
  return out.sort();
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

function splitEvery(buf: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += n) out.push(buf.subarray(i, i + n));
  return out;
}

async function* chunked(buf: Buffer, n: number): AsyncGenerator<Uint8Array> {
  for (const chunk of splitEvery(buf, n)) yield chunk;
}

/** Deterministic pseudo-random bytes (xorshift32). */
function pseudoRandom(size: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

void describe('FileBlobStore', () => {
  let root: string;
  let dirCount = 0;
  before(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'postern-blob-'));
  });
  after(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });
  const freshDir = (): string => path.join(root, `d${++dirCount}`);

  void it('stores the bytes under blobs/<2 hex>/<sha256>, the same for every split of the input', async () => {
    const dataDir = freshDir();
    const blobs = new FileBlobStore(dataDir);
    const expected = sha256(MESSAGE);
    for (const n of [1, 2, 7, 64, MESSAGE.length]) {
      const writer = blobs.createWriter(opts);
      for (const chunk of splitEvery(MESSAGE, n)) await writer.write(chunk);
      assert.equal(writer.size, MESSAGE.length);
      const stored = await writer.finish();
      assert.equal(stored.blobId, expected);
      assert.equal(stored.size, MESSAGE.length);
      assert.equal(typeof stored.mime, 'object');
      assert.deepEqual(
        stored.mime,
        (await blobs.write(MESSAGE, opts)).mime,
        `mime record differs for split ${n}`,
      );
    }
    assert.deepEqual(await listFiles(dataDir), [path.join(dataDir, 'blobs', expected.slice(0, 2), expected)]);
    assert.deepEqual(await blobs.readAll(expected), MESSAGE);
    assert.equal(await blobs.exists(expected), true);
    assert.equal(await blobs.exists('0'.repeat(64)), false);
  });

  void it('accepts an async iterable source and copies chunks the caller reuses', async () => {
    const blobs = new FileBlobStore(freshDir());
    const body = pseudoRandom(3 * 1024 * 1024 + 17, 7);
    // Large pieces are written directly, small ones gathered first: both must copy or wait.
    for (const pieceSize of [100_000, 1000]) {
      const scratch = Buffer.alloc(pieceSize);
      async function* reuse(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < body.length; i += scratch.length) {
          const n = body.copy(scratch, 0, i, Math.min(body.length, i + scratch.length));
          yield scratch.subarray(0, n); // the same memory every time
        }
      }
      const stored = await blobs.write(reuse(), opts);
      assert.equal(stored.blobId, sha256(body));
      assert.deepEqual(await blobs.readAll(stored.blobId), body);
      await blobs.remove(stored.blobId, { graceMs: 0 });
    }
  });

  void it('enforces maxSize while streaming and leaves nothing behind', async () => {
    const dataDir = freshDir();
    const blobs = new FileBlobStore(dataDir);
    const writer = blobs.createWriter({ maxSize: 100, mimeLimits });
    await writer.write(Buffer.alloc(60, 0x61));
    await writer.write(Buffer.alloc(40, 0x62)); // exactly at the limit is fine
    await assert.rejects(writer.write(Buffer.alloc(1, 0x63)), (err) => isStoreError(err, 'TOO_LARGE'));
    await assert.rejects(writer.write(Buffer.alloc(1, 0x63)));
    await assert.rejects(writer.finish());
    await assert.rejects(
      blobs.write(chunked(pseudoRandom(5000, 3), 100), {
        maxSize: 4999,
        mimeLimits,
      }),
      (err) => isStoreError(err, 'TOO_LARGE'),
    );
    await assert.rejects(blobs.write(Buffer.alloc(101), { maxSize: 100, mimeLimits }), (err) =>
      isStoreError(err, 'TOO_LARGE'),
    );
    assert.deepEqual(await listFiles(dataDir), []);
    // Exactly maxSize is accepted.
    const ok = await blobs.write(Buffer.alloc(100, 0x61), { maxSize: 100, mimeLimits });
    assert.equal(ok.size, 100);
  });

  void it('dedupes identical content and refreshes the mtime of the existing file', async () => {
    const dataDir = freshDir();
    const blobs = new FileBlobStore(dataDir);
    const first = await blobs.write(MESSAGE, opts);
    const file = blobs.pathOf(first.blobId);
    const old = new Date(Date.now() - 3600_000);
    await fsp.utimes(file, old, old);
    const ino = (await fsp.stat(file)).ino;
    const second = await blobs.write(chunked(MESSAGE, 3), opts);
    assert.equal(second.blobId, first.blobId);
    const st = await fsp.stat(file);
    assert.equal(st.ino, ino, 'the existing file is kept');
    assert.ok(Date.now() - st.mtimeMs < 60_000, 'mtime refreshed');
    assert.deepEqual(await listFiles(dataDir), [file]);
    // A refreshed blob survives remove() within its grace period.
    assert.equal(await blobs.remove(first.blobId, { graceMs: 60_000 }), 0);
    assert.equal(await blobs.exists(first.blobId), true);
  });

  void it('reads byte ranges [start, end) with seeks, across read-chunk boundaries', async () => {
    const blobs = new FileBlobStore(freshDir());
    const body = pseudoRandom(200_001, 11);
    const { blobId } = await blobs.write(body, opts);
    const cases: Array<[number, number | undefined]> = [
      [0, undefined],
      [0, 1],
      [1, 2],
      [65_535, 65_537],
      [100, 150_000],
      [199_999, undefined],
      [200_001, undefined],
      [5, 5],
      [7, 3],
      [150_000, 999_999],
      [300_000, undefined],
    ];
    for (const [start, end] of cases) {
      const got = await collect(blobs.read(blobId, { start, end }));
      const want = body.subarray(start, end === undefined ? body.length : Math.max(start, end));
      assert.equal(got.length, want.length, `range ${start}-${end}`);
      assert.ok(got.equals(want), `range ${start}-${end}`);
    }
    assert.ok((await collect(blobs.read(blobId))).equals(body));
  });

  void it("reads small blobs synchronously, into a new buffer or the caller's", async () => {
    const blobs = new FileBlobStore(freshDir());
    const { blobId } = await blobs.write(MESSAGE, opts);
    assert.ok(blobs.readSmallSync(blobId, MESSAGE.length)?.equals(MESSAGE));
    const target = Buffer.alloc(MESSAGE.length + 10, 0x2a);
    assert.equal(blobs.readSmallSyncInto(blobId, MESSAGE.length, target), true);
    assert.ok(target.subarray(0, MESSAGE.length).equals(MESSAGE));
    // A wrong size (the file is longer or shorter) is false, never a partial answer.
    assert.equal(blobs.readSmallSyncInto(blobId, MESSAGE.length - 1, target), false);
    assert.equal(blobs.readSmallSyncInto(blobId, MESSAGE.length + 1, target), false);
    // A target without the extra byte, or a size past the synchronous limit, is refused.
    assert.equal(blobs.readSmallSyncInto(blobId, MESSAGE.length, Buffer.alloc(MESSAGE.length)), false);
    assert.equal(blobs.readSmallSyncInto(blobId, 256 * 1024 + 1, Buffer.alloc(300 * 1024)), false);
    const missing = sha256(Buffer.from('not stored'));
    assert.throws(
      () => blobs.readSmallSyncInto(missing, 10, target),
      (err) => isStoreError(err, 'NOT_FOUND'),
    );
  });

  void it('reports a missing or malformed blob id clearly', async () => {
    const blobs = new FileBlobStore(freshDir());
    const missing = 'ab'.repeat(32);
    await assert.rejects(collect(blobs.read(missing)), (err) => isStoreError(err, 'NOT_FOUND'));
    await assert.rejects(blobs.readAll(missing), (err) => isStoreError(err, 'NOT_FOUND'));
    assert.throws(
      () => blobs.read('../../etc/passwd'),
      (err) => isStoreError(err, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => blobs.read('AB'.repeat(32)),
      (err) => isStoreError(err, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => blobs.read(missing, { start: -1 }),
      (err) => isStoreError(err, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(blobs.remove('x', { graceMs: 0 }), (err) => isStoreError(err, 'INVALID_ARGUMENT'));
    assert.equal(await blobs.remove(missing, { graceMs: 0 }), 0);
  });

  void it('abort leaves no temp file, is idempotent, and refuses further writes', async () => {
    const dataDir = freshDir();
    const blobs = new FileBlobStore(dataDir);
    const writer = blobs.createWriter(opts);
    for (const chunk of splitEvery(pseudoRandom(1024 * 1024, 5), 64 * 1024)) await writer.write(chunk);
    assert.equal((await fsp.readdir(blobs.tmpDir)).length, 1, 'a temp file while writing');
    await writer.abort();
    await writer.abort();
    assert.deepEqual(await listFiles(dataDir), []);
    await assert.rejects(writer.write(Buffer.from('x')));
    await assert.rejects(writer.finish());
    // Abort before anything was written, and abort racing writes.
    const empty = blobs.createWriter(opts);
    await empty.abort();
    const racing = blobs.createWriter(opts);
    const pending = [racing.write(Buffer.alloc(512 * 1024)), racing.write(Buffer.alloc(512 * 1024))];
    await racing.abort();
    await Promise.allSettled(pending);
    assert.deepEqual(await listFiles(dataDir), []);
  });

  void it('remove() honours the grace period and returns the bytes freed', async () => {
    const blobs = new FileBlobStore(freshDir());
    const { blobId, size } = await blobs.write(MESSAGE, opts);
    assert.equal(await blobs.remove(blobId, { graceMs: 60_000 }), 0);
    assert.equal(await blobs.exists(blobId), true);
    assert.equal(await blobs.remove(blobId, { graceMs: 0 }), size);
    assert.equal(await blobs.exists(blobId), false);
    assert.equal(await blobs.remove(blobId, { graceMs: 0 }), 0);
    assert.deepEqual(await fsp.readdir(blobs.tmpDir), [], 'nothing left aside');
    // Written again after removal: a fresh copy.
    assert.equal((await blobs.write(MESSAGE, opts)).blobId, blobId);
    assert.deepEqual(await blobs.readAll(blobId), MESSAGE);
  });

  void it('serves many concurrent writers, including several of the same bytes', async () => {
    const dataDir = freshDir();
    const blobs = new FileBlobStore(dataDir);
    const bodies = Array.from({ length: 60 }, (_, i) => pseudoRandom(1000 + (i % 40) * 997, (i % 40) + 1));
    const stored = await Promise.all(bodies.map((b, i) => blobs.write(chunked(b, 100 + i), opts)));
    const distinct = new Set(stored.map((s) => s.blobId));
    assert.equal(distinct.size, 40);
    for (let i = 0; i < bodies.length; i++) {
      assert.equal(stored[i]!.blobId, sha256(bodies[i]!));
      assert.ok((await blobs.readAll(stored[i]!.blobId)).equals(bodies[i]!));
    }
    const files = await listFiles(path.join(dataDir, 'blobs'));
    assert.equal(files.length, 40);
    assert.deepEqual(await fsp.readdir(blobs.tmpDir), []);
  });

  void it('removes temp files of dead processes at start, keeps those of live ones', async () => {
    const dataDir = freshDir();
    const tmp = path.join(dataDir, 'tmp');
    await fsp.mkdir(tmp, { recursive: true });
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const dead = path.join(tmp, `${deadPid}-0123.tmp`);
    const junk = path.join(tmp, 'junk');
    const live = path.join(tmp, `${process.pid}-4567.tmp`);
    for (const f of [dead, junk, live]) await fsp.writeFile(f, 'partial');
    const blobs = new FileBlobStore(dataDir);
    await blobs.init();
    assert.deepEqual((await fsp.readdir(tmp)).sort(), [path.basename(live)]);
  });
  void it('discard() removes a file its writer created, never one another writer reused', async () => {
    const dataDir = freshDir();
    const blobs = new FileBlobStore(dataDir);
    // Created by this writer, reused by nobody: gone at once.
    const alone = blobs.createWriter(opts);
    await alone.write(MESSAGE);
    const { blobId } = await alone.finish();
    await alone.discard();
    assert.equal(await blobs.exists(blobId), false);
    assert.deepEqual(await listFiles(dataDir), []);

    // Created by `first`, then reused by `second` (a dedupe refreshes the mtime): kept.
    const first = blobs.createWriter(opts);
    await first.write(MESSAGE);
    await first.finish();
    await new Promise((r) => setTimeout(r, 5)); // a later mtime than the creating write
    const second = blobs.createWriter(opts);
    await second.write(MESSAGE);
    await second.finish();
    await first.discard();
    assert.equal(await blobs.exists(blobId), true, 'the other writer relies on it');
    // The dedupe writer never removes the file: it is someone else's.
    await second.discard();
    assert.equal(await blobs.exists(blobId), true);

    // Before finish(), discard() is abort(): the temp file goes.
    const unfinished = blobs.createWriter(opts);
    await unfinished.write(Buffer.alloc(200_000, 0x61));
    await unfinished.discard();
    assert.deepEqual(await fsp.readdir(blobs.tmpDir), []);
  });

  void it('a dedupe fsyncs the directory entry before finish() resolves, and fails when it cannot', async () => {
    const dataDir = freshDir();
    const synced: Array<{ kind: string; path: string }> = [];
    let failDirs = false;
    const blobs = new FileBlobStore(dataDir, {
      fsync: async (fh, target) => {
        if (failDirs && target.kind === 'dir') throw Object.assign(new Error('EIO'), { code: 'EIO' });
        synced.push(target);
        await fh.sync();
      },
    });
    const { blobId } = await blobs.write(MESSAGE, opts);
    const dir = path.dirname(blobs.pathOf(blobId));
    synced.length = 0;
    // The same bytes again: the file is present; its directory is fsynced all the same (the
    // writer that renamed it may not have synced the entry yet).
    assert.equal((await blobs.write(MESSAGE, opts)).blobId, blobId);
    assert.ok(
      synced.some((t) => t.kind === 'dir' && t.path === dir),
      `dedupe fsynced ${JSON.stringify(synced)}`,
    );
    failDirs = true;
    await assert.rejects(blobs.write(MESSAGE, opts), /EIO/, 'no acknowledgement without a durable entry');
  });

  void it('sweepOrphans() removes old files no row names and old temp files, nothing else', async () => {
    const dataDir = freshDir();
    const blobs = new FileBlobStore(dataDir);
    const kept = await blobs.write(MESSAGE, opts);
    const orphan = await blobs.write(pseudoRandom(5000, 9), opts);
    const young = await blobs.write(pseudoRandom(700, 11), opts);
    await blobs.init();
    const leftover = path.join(blobs.tmpDir, '1-leftover.tmp');
    await fsp.writeFile(leftover, Buffer.alloc(300));
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const f of [blobs.pathOf(kept.blobId), blobs.pathOf(orphan.blobId), leftover]) {
      await fsp.utimes(f, old, old);
    }
    const asked: string[] = [];
    const r = await blobs.sweepOrphans({
      olderThanMs: 3600_000,
      referenced: (ids) => {
        asked.push(...ids);
        return Promise.resolve(new Set(ids.filter((id) => id === kept.blobId)));
      },
    });
    assert.deepEqual(r, { files: 2, bytes: 5000 + 300 });
    assert.ok(!asked.includes(young.blobId), 'a young file is not even considered');
    assert.equal(await blobs.exists(kept.blobId), true);
    assert.equal(await blobs.exists(orphan.blobId), false);
    assert.equal(await blobs.exists(young.blobId), true);
    assert.deepEqual(await fsp.readdir(blobs.tmpDir), []);
  });
});
