// Message bytes on the local filesystem, content-addressed by sha256:
//   <dataDir>/blobs/<first 2 hex>/<64 hex>   the blobs
//   <dataDir>/tmp/<pid>-<random>.tmp         writes in progress (same filesystem, so rename is atomic)
// Invariants:
// - a blob path only ever holds the complete bytes whose sha256 is its name (written to a temp
//   file, fsynced, then renamed into place), so readers never see a partial blob;
// - finish() resolves only after the file and the directory entry that names it are fsynced,
//   also when the file was already there (dedupe): its directory is fsynced again, since the
//   writer that renamed it may not have synced the entry yet;
// - a file is removed only by remove() (GC, with a grace period), by sweepOrphans() (files no
//   row names, older than an hour by default) or by discard() of the writer that created it,
//   and only if no other writer refreshed its mtime since (see remove());
// - a writer holds at most STAGE_BYTES + WRITE_AHEAD_BYTES of copied data; a write past that
//   waits for the file.

import { createHash, randomBytes, type Hash } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { StoreError } from '../../core/errors.js';
import { MimeIndexer } from '../../mail/mime/index.js';
import type { StoredBlob } from '../types.js';
import type { BlobStore, BlobWriteOptions, BlobWriter } from './types.js';
import { writeSource } from './write-source.js';

/** Bytes a writer may have handed to the file but not yet written before write() waits. */
const WRITE_AHEAD_BYTES = 256 * 1024;
/** Chunks smaller than this are gathered into one buffer of this size before they are written. */
const STAGE_BYTES = 64 * 1024;
/** A temp file untouched this long is a leftover even if its process id is alive again. */
const STALE_TEMP_MS = 60 * 60 * 1000;
/** Bytes read from the file per read() call of a blob stream. */
const READ_CHUNK_BYTES = 64 * 1024;
/** Fixed length, no alternation: cannot backtrack. */
const BLOB_ID = /^[0-9a-f]{64}$/;
/** A blob directory: the first two hex digits of the ids it holds. */
const PREFIX = /^[0-9a-f]{2}$/;

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

function checkBlobId(blobId: string): void {
  if (!BLOB_ID.test(blobId)) throw new StoreError('INVALID_ARGUMENT', 'invalid blob id');
}

/** Is a process with this id running on this machine? */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return isErrno(err, 'EPERM');
  }
}

/** How a file or directory is made durable; tests replace it to make fsync fail. */
export type FsyncHook = (fh: FileHandle, target: { path: string; kind: 'file' | 'dir' }) => Promise<void>;

const defaultFsync: FsyncHook = (fh) => fh.sync();

async function fsyncDir(dir: string, fsync: FsyncHook): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fsync(fh, { path: dir, kind: 'dir' });
  } finally {
    await fh.close();
  }
}

async function writeFully(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

/** Coalesces directory fsyncs: a request is satisfied by one fsync that starts after it was made. */
class DirSyncer {
  constructor(private readonly fsync: FsyncHook) {}

  private readonly state = new Map<string, { running: Promise<void> | null; next: Promise<void> | null }>();

  sync(dir: string): Promise<void> {
    let s = this.state.get(dir);
    if (s === undefined) {
      s = { running: null, next: null };
      this.state.set(dir, s);
    }
    const st = s;
    if (st.next !== null) return st.next;
    const start = (): Promise<void> => {
      const run = fsyncDir(dir, this.fsync).finally(() => {
        if (st.running === run) st.running = null;
      });
      st.running = run;
      return run;
    };
    if (st.running === null) return start();
    const next = st.running
      .catch(() => undefined)
      .then(() => {
        st.next = null;
        return start();
      });
    st.next = next;
    return next;
  }
}

/** Largest blob readSmallSync reads (larger ones: readAll or read). */
const SMALL_SYNC_MAX = 256 * 1024;
/** Largest blob read in one go by readAll with a known size. */
const ONE_READ_MAX = 16 * 1024 * 1024;

/** Reads a file of known size with the callback API; null when the size was not right. */
function readKnownSize(file: string, size: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    fs.open(file, 'r', (err, fd) => {
      if (err !== null) return reject(err);
      // One byte more than expected tells a longer file from an exact one.
      const buf = Buffer.allocUnsafe(size + 1);
      fs.read(fd, buf, 0, size + 1, 0, (readErr, n) => {
        fs.close(fd, () => undefined);
        if (readErr !== null) return reject(readErr);
        resolve(n === size ? buf.subarray(0, size) : null);
      });
    });
  });
}

export interface FileBlobStoreOptions {
  /** Replaces fsync of blob files and directories (tests make it fail). */
  fsync?: FsyncHook;
}

export class FileBlobStore implements BlobStore {
  /** fsyncs made so far (GET /healthz/stats): blob files, and directories naming them. */
  readonly stats = { fileFsyncs: 0, dirFsyncs: 0 };
  readonly dataDir: string;
  readonly blobsDir: string;
  readonly tmpDir: string;
  /** @internal used by writers */
  readonly fsync: FsyncHook;
  private initPromise: Promise<void> | null = null;
  /** 2-hex directories known to exist (and to be durable). */
  private readonly dirReady = new Map<string, Promise<void>>();
  private readonly dirSyncer: DirSyncer;

  constructor(dataDir: string, opts: FileBlobStoreOptions = {}) {
    this.dataDir = path.resolve(dataDir);
    this.blobsDir = path.join(this.dataDir, 'blobs');
    this.tmpDir = path.join(this.dataDir, 'tmp');
    const fsync = opts.fsync ?? defaultFsync;
    this.fsync = (fh, target) => {
      if (target.kind === 'file') this.stats.fileFsyncs++;
      else this.stats.dirFsyncs++;
      return fsync(fh, target);
    };
    this.dirSyncer = new DirSyncer(this.fsync);
  }

  /** Creates the directories and removes temp files left by dead processes. Called lazily; idempotent. */
  init(): Promise<void> {
    if (this.initPromise === null) {
      this.initPromise = this.doInit();
      this.initPromise.catch(() => {
        this.initPromise = null; // let a later call retry
      });
    }
    return this.initPromise;
  }

  private async doInit(): Promise<void> {
    await fsp.mkdir(this.blobsDir, { recursive: true });
    await fsp.mkdir(this.tmpDir, { recursive: true });
    const now = Date.now();
    for (const name of await fsp.readdir(this.tmpDir)) {
      const file = path.join(this.tmpDir, name);
      // Names are <pid>-<random>.tmp; another live process may be writing its own.
      const dash = name.indexOf('-');
      const pid = dash > 0 ? Number(name.slice(0, dash)) : NaN;
      let stale = !Number.isSafeInteger(pid) || pid <= 0 || !processAlive(pid);
      if (!stale) {
        try {
          stale = now - (await fsp.stat(file)).mtimeMs > STALE_TEMP_MS;
        } catch {
          continue;
        }
      }
      if (stale) await fsp.rm(file, { force: true, recursive: true });
    }
  }

  /** Absolute path of a blob's file. */
  pathOf(blobId: string): string {
    checkBlobId(blobId);
    return path.join(this.blobsDir, blobId.slice(0, 2), blobId);
  }

  /** @internal used by writers */
  newTempPath(): string {
    return path.join(this.tmpDir, `${process.pid}-${randomBytes(12).toString('hex')}.tmp`);
  }

  /** @internal makes <blobs>/<xx> exist durably (the blobs directory is fsynced when it is created). */
  ensureDir(prefix: string): Promise<void> {
    let p = this.dirReady.get(prefix);
    if (p === undefined) {
      const dir = path.join(this.blobsDir, prefix);
      // Fsync the parent even when the directory already existed: another process may have
      // created it a moment ago and not synced it yet.
      p = fsp.mkdir(dir).then(
        () => this.dirSyncer.sync(this.blobsDir),
        (err: unknown) => {
          if (!isErrno(err, 'EEXIST')) throw err;
          return this.dirSyncer.sync(this.blobsDir);
        },
      );
      this.dirReady.set(prefix, p);
      p.catch(() => this.dirReady.delete(prefix));
    }
    return p;
  }

  /** @internal */
  syncDir(dir: string): Promise<void> {
    return this.dirSyncer.sync(dir);
  }

  createWriter(opts: BlobWriteOptions): BlobWriter {
    return new FileBlobWriter(this, opts);
  }

  write(source: AsyncIterable<Uint8Array> | Uint8Array, opts: BlobWriteOptions): Promise<StoredBlob> {
    return writeSource(this.createWriter(opts), source);
  }

  read(blobId: string, range?: { start: number; end?: number }): Readable {
    const file = this.pathOf(blobId);
    const start = range?.start ?? 0;
    const end = range?.end;
    if (
      !Number.isSafeInteger(start) ||
      start < 0 ||
      (end !== undefined && (!Number.isSafeInteger(end) || end < 0))
    ) {
      throw new StoreError('INVALID_ARGUMENT', 'invalid byte range');
    }
    return new BlobReadStream(file, start, end);
  }

  async readAll(blobId: string, opts: { size?: number } = {}): Promise<Buffer> {
    try {
      const size = opts.size;
      if (size !== undefined && size > 0 && size <= ONE_READ_MAX) {
        // The size is known (the store has it): open, one read, close — three thread-pool
        // round trips instead of readFile's four or more (POP3 RETR and IMAP SEARCH read many
        // small files; readFile's extra fstat and read showed in their profiles).
        const bytes = await readKnownSize(this.pathOf(blobId), size);
        if (bytes !== null) return bytes;
      }
      return await fsp.readFile(this.pathOf(blobId));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new StoreError('NOT_FOUND', `blob ${blobId} not found`);
      throw err;
    }
  }

  readSmallSync(blobId: string, size: number): Buffer | null {
    if (size <= 0 || size > SMALL_SYNC_MAX) return null;
    const buf = Buffer.allocUnsafe(size + 1);
    return this.readSmallSyncInto(blobId, size, buf) ? buf.subarray(0, size) : null;
  }

  /**
   * readSmallSync into the caller's buffer, for a caller that reads many blobs into one (POP3
   * RETR: no new buffer, so no garbage, per message). `target` must have at least size + 1
   * bytes, so that a longer file shows. True when the blob has exactly `size` bytes, now in
   * target[0, size); false when it has not, or when size or target is out of range.
   */
  readSmallSyncInto(blobId: string, size: number, target: Buffer): boolean {
    if (size <= 0 || size > SMALL_SYNC_MAX || target.length < size + 1) return false;
    let fd: number;
    try {
      fd = fs.openSync(this.pathOf(blobId), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new StoreError('NOT_FOUND', `blob ${blobId} not found`);
      throw err;
    }
    try {
      return fs.readSync(fd, target, 0, size + 1, 0) === size;
    } finally {
      fs.closeSync(fd);
    }
  }

  async exists(blobId: string): Promise<boolean> {
    try {
      await fsp.access(this.pathOf(blobId));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  async remove(blobId: string, opts: { graceMs: number }): Promise<number> {
    const file = this.pathOf(blobId);
    let st;
    try {
      st = await fsp.stat(file, { bigint: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return 0;
      throw err;
    }
    if (opts.graceMs > 0 && Date.now() - Number(st.mtimeMs) < opts.graceMs) return 0;
    return this.removeUnchanged(blobId, { mtimeNs: st.mtimeNs, graceMs: opts.graceMs });
  }

  /**
   * Removes a blob's file if its mtime is still `mtimeNs` (and, with graceMs, older than that).
   * A writer that finds the file present refreshes its mtime and then relies on it. Move the
   * file aside first, then look again: a refresh that landed before the move shows in the moved
   * file (put it back); one after the move fails with ENOENT and the writer renames its own
   * copy into place. Returns the bytes freed.
   * @internal used by remove() and by a writer's discard()
   */
  async removeUnchanged(blobId: string, opts: { mtimeNs: bigint; graceMs: number }): Promise<number> {
    const file = this.pathOf(blobId);
    await this.init();
    const aside = this.newTempPath();
    try {
      const before = await fsp.stat(file, { bigint: true });
      if (before.mtimeNs !== opts.mtimeNs) return 0;
      await fsp.rename(file, aside);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return 0;
      throw err;
    }
    const again = await fsp.stat(aside, { bigint: true });
    if (
      again.mtimeNs !== opts.mtimeNs ||
      (opts.graceMs > 0 && Date.now() - Number(again.mtimeMs) < opts.graceMs)
    ) {
      // Same bytes whoever wins: a writer's own copy at `file` is identical. The writer that
      // refreshed the file may already rely on its entry: make the put-back durable.
      await fsp.rename(aside, file);
      await this.syncDir(path.dirname(file));
      return 0;
    }
    await fsp.unlink(aside);
    return Number(again.size);
  }

  /**
   * Removes files no metadata row names: blob files older than `olderThanMs` for which
   * `referenced` (asked in batches) does not return the id, and temp files older than that (a
   * writer's temp file is touched by every write, so an old one belongs to nobody). Used by
   * garbage collection for the files a crash or a failed delivery left behind.
   */
  async sweepOrphans(opts: {
    olderThanMs: number;
    referenced: (blobIds: string[]) => Promise<ReadonlySet<string>>;
  }): Promise<{ files: number; bytes: number }> {
    await this.init();
    let files = 0;
    let bytes = 0;
    const cutoff = Date.now() - opts.olderThanMs;
    const old = async (file: string): Promise<{ size: number } | null> => {
      try {
        const st = await fsp.stat(file);
        return st.isFile() && st.mtimeMs <= cutoff ? { size: st.size } : null;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return null;
        throw err;
      }
    };
    for (const prefix of (await fsp.readdir(this.blobsDir)).sort()) {
      if (!PREFIX.test(prefix)) continue;
      let names: string[];
      try {
        names = await fsp.readdir(path.join(this.blobsDir, prefix));
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) continue;
        throw err;
      }
      const candidates: string[] = [];
      for (const name of names) {
        if (!BLOB_ID.test(name) || !name.startsWith(prefix)) continue;
        if ((await old(path.join(this.blobsDir, prefix, name))) !== null) candidates.push(name);
      }
      if (candidates.length === 0) continue;
      const known = await opts.referenced(candidates);
      for (const id of candidates) {
        if (known.has(id)) continue;
        // remove() looks at the age again after moving the file aside: a delivery that reused
        // it meanwhile refreshed its mtime, and the file stays.
        const freed = await this.remove(id, { graceMs: opts.olderThanMs });
        if (freed > 0) {
          files++;
          bytes += freed;
        }
      }
    }
    for (const name of await fsp.readdir(this.tmpDir)) {
      const file = path.join(this.tmpDir, name);
      const st = await old(file);
      if (st === null) continue;
      try {
        await fsp.unlink(file);
        files++;
        bytes += st.size;
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    return { files, bytes };
  }
}

type WriterState = 'open' | 'finishing' | 'done' | 'aborted';

class FileBlobWriter implements BlobWriter {
  private readonly store: FileBlobStore;
  private readonly maxSize: number;
  private readonly tempPath: string;
  private readonly hash: Hash;
  private readonly indexer: MimeIndexer;
  private readonly fh: Promise<FileHandle>;
  private state: WriterState = 'open';
  private failure: unknown = null;
  private written = 0;
  private inFlight = 0;
  /** Small chunks gathered for one write, starting at file offset stagePos. */
  private stage: Buffer | null = null;
  private stageLen = 0;
  private stagePos = 0;
  private chain: Promise<void>;
  private aborting: Promise<void> | null = null;
  private finishing: Promise<StoredBlob> | null = null;
  /** The blob this writer stored, and the mtime of its file when this writer created it (not a dedupe). */
  private stored: { blobId: string; createdMtimeNs: bigint | null } | null = null;
  private discarding: Promise<void> | null = null;

  constructor(store: FileBlobStore, opts: BlobWriteOptions) {
    this.store = store;
    this.maxSize = opts.maxSize;
    this.tempPath = store.newTempPath();
    this.hash = createHash('sha256');
    this.indexer = new MimeIndexer(opts.mimeLimits);
    // 'wx': never reuse someone else's file; 0o600: mail is private.
    this.fh = store.init().then(() => fsp.open(this.tempPath, 'wx', 0o600));
    this.chain = this.fh.then(
      () => undefined,
      (err: unknown) => this.fail(err),
    );
  }

  get size(): number {
    return this.written;
  }

  private fail(err: unknown): void {
    if (this.failure === null) this.failure = err;
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') {
      return Promise.reject(new StoreError('INVALID_ARGUMENT', `blob writer is ${this.state}`));
    }
    if (this.failure !== null) return Promise.reject(this.failure);
    if (chunk.length === 0) return Promise.resolve();
    if (this.written + chunk.length > this.maxSize) {
      const err = new StoreError('TOO_LARGE', `message exceeds ${this.maxSize} bytes`);
      return this.abort().then(() => Promise.reject(err));
    }
    try {
      this.indexer.write(chunk);
    } catch (err) {
      // The indexer is not supposed to throw; if it does, the blob is not stored.
      return this.abort().then(() => Promise.reject(err));
    }
    this.hash.update(chunk);
    const len = chunk.length;
    const position = this.written;
    this.written += len;
    if (len < STAGE_BYTES) {
      // Small chunks (a protocol parser's pieces) are gathered so the file sees few, large writes.
      if (this.stage !== null && this.stageLen + len > STAGE_BYTES) this.flushStage();
      if (this.stage === null) {
        this.stage = Buffer.allocUnsafe(STAGE_BYTES);
        this.stageLen = 0;
        this.stagePos = position;
      }
      this.stage.set(chunk, this.stageLen);
      this.stageLen += len;
      if (this.stageLen === STAGE_BYTES) this.flushStage();
      return this.inFlight > WRITE_AHEAD_BYTES ? this.drained() : Promise.resolve();
    }
    this.flushStage();
    // Past the write-ahead window the caller waits for the file write, so its buffer can be
    // used as is; below it we resolve early and the caller may reuse its buffer: copy.
    const waits = this.inFlight + len > WRITE_AHEAD_BYTES;
    this.enqueue(waits ? chunk : Buffer.from(chunk), position);
    return waits ? this.drained() : Promise.resolve();
  }

  /** Resolves once every queued write is done (rejects if one failed). */
  private drained(): Promise<void> {
    return this.chain.then(() => {
      if (this.failure !== null) throw this.failure;
    });
  }

  private flushStage(): void {
    if (this.stage === null) return;
    if (this.stageLen > 0) this.enqueue(this.stage.subarray(0, this.stageLen), this.stagePos);
    this.stage = null;
    this.stageLen = 0;
  }

  /** Queues a positional write of data that nobody else will modify. */
  private enqueue(data: Uint8Array, position: number): void {
    const len = data.length;
    this.inFlight += len;
    this.chain = this.chain.then(async () => {
      try {
        if (this.failure === null && this.state !== 'aborted')
          await writeFully(await this.fh, data, position);
      } catch (err) {
        this.fail(err);
      } finally {
        this.inFlight -= len;
      }
    });
  }

  finish(): Promise<StoredBlob> {
    if (this.finishing !== null) return this.finishing;
    if (this.state !== 'open') {
      return Promise.reject(new StoreError('INVALID_ARGUMENT', `blob writer is ${this.state}`));
    }
    this.state = 'finishing';
    this.finishing = this.doFinish().then(
      (blob) => {
        this.state = 'done';
        return blob;
      },
      async (err: unknown) => {
        this.state = 'open'; // so that abort() cleans up
        await this.abort();
        throw err;
      },
    );
    return this.finishing;
  }

  private async doFinish(): Promise<StoredBlob> {
    this.flushStage();
    await this.chain;
    if (this.failure !== null) throw this.failure;
    const fh = await this.fh;
    const mime = this.indexer.end();
    const blobId = this.hash.digest('hex');
    await this.store.fsync(fh, { path: this.tempPath, kind: 'file' });
    // The rename keeps this mtime: discard() tells by it whether another writer reused the file.
    const { mtimeNs } = await fh.stat({ bigint: true });
    await fh.close();
    const prefix = blobId.slice(0, 2);
    const finalPath = this.store.pathOf(blobId);
    const dir = path.dirname(finalPath);
    await this.store.ensureDir(prefix);
    let present = false;
    try {
      // Dedupe: the same bytes are already stored. Refreshing the mtime tells a concurrent
      // garbage collection (see remove()) that a delivery is about to refer to the file.
      const now = new Date();
      await fsp.utimes(finalPath, now, now);
      present = true;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    if (present) {
      await fsp.unlink(this.tempPath);
    } else {
      await fsp.rename(this.tempPath, finalPath);
    }
    // Also when the file was already there: the writer that renamed it may not have fsynced
    // its directory entry yet, and our caller is about to acknowledge a message naming it. A
    // directory fsync that starts now covers every rename made before it.
    await this.store.syncDir(dir);
    this.stored = { blobId, createdMtimeNs: present ? null : mtimeNs };
    return { blobId, size: this.written, mime };
  }

  discard(): Promise<void> {
    if (this.state !== 'done') return this.abort();
    if (this.discarding === null) {
      const stored = this.stored;
      this.discarding =
        stored === null || stored.createdMtimeNs === null
          ? Promise.resolve() // a dedupe: the file is someone else's (GC removes it if unused)
          : this.store
              .removeUnchanged(stored.blobId, { mtimeNs: stored.createdMtimeNs, graceMs: 0 })
              .then(() => undefined);
    }
    return this.discarding;
  }

  abort(): Promise<void> {
    if (this.state === 'done') return Promise.resolve();
    if (this.state === 'finishing' && this.finishing !== null) {
      // Let finish() settle: on success the blob stays (garbage collection removes it if unused).
      return this.finishing.then(
        () => undefined,
        () => undefined,
      );
    }
    if (this.aborting === null) {
      this.state = 'aborted';
      this.aborting = this.doAbort();
    }
    return this.aborting;
  }

  private async doAbort(): Promise<void> {
    await this.chain.catch(() => undefined);
    try {
      const fh = await this.fh;
      await fh.close().catch(() => undefined);
    } catch {
      // never opened
    }
    await fsp.rm(this.tempPath, { force: true });
  }
}

/** Bytes [start, end) of a file, read on demand with positional reads (backpressure from the consumer). */
class BlobReadStream extends Readable {
  private readonly file: string;
  private pos: number;
  private end: number | undefined;
  private fh: FileHandle | null = null;

  constructor(file: string, start: number, end: number | undefined) {
    super({ highWaterMark: READ_CHUNK_BYTES });
    this.file = file;
    this.pos = start;
    this.end = end;
  }

  override _construct(callback: (err?: Error | null) => void): void {
    fsp.open(this.file, 'r').then(
      async (fh) => {
        this.fh = fh;
        const size = (await fh.stat()).size;
        this.end = this.end === undefined ? size : Math.min(this.end, size);
        callback();
      },
      (err: unknown) => {
        callback(
          isErrno(err, 'ENOENT')
            ? new StoreError('NOT_FOUND', `blob ${path.basename(this.file)} not found`)
            : (err as Error),
        );
      },
    );
  }

  override _read(size: number): void {
    const fh = this.fh;
    const end = this.end ?? 0;
    if (fh === null || this.pos >= end) {
      this.push(null);
      return;
    }
    const n = Math.min(Math.max(size, 1), READ_CHUNK_BYTES, end - this.pos);
    const buf = Buffer.allocUnsafe(n);
    fh.read(buf, 0, n, this.pos).then(
      ({ bytesRead }) => {
        if (bytesRead === 0) {
          this.push(null);
          return;
        }
        this.pos += bytesRead;
        this.push(buf.subarray(0, bytesRead));
      },
      (err: unknown) => this.destroy(err as Error),
    );
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = null;
    if (fh === null) {
      callback(err);
      return;
    }
    fh.close().then(
      () => callback(err),
      () => callback(err),
    );
  }
}
