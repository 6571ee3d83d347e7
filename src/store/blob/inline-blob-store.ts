// Small messages without a file: a blob of at most `inlineMaxBytes` is buffered by its writer,
// hashed and indexed, and handed to the append as bytes (StoredBlob.inline), which the metadata
// backend stores in the transaction of the message rows. The WAL fsync that acknowledges the
// append then makes the bytes durable too: no temp file, no file fsync, no rename, no directory
// fsync. Larger blobs go to the file store as before. Reads ask the backend first
// (InlineBlobSource), then the files.
// Invariants:
// - the same bytes give the same StoredBlob (id, size, MIME record) whichever way they are
//   stored, so dedupe works across both (the backend stores inline bytes only for a blob it
//   does not already hold);
// - a writer holds at most inlineMaxBytes in memory; the first write past that hands what it
//   holds to a file writer, in order, and every later chunk goes there;
// - inline blobs are removed with their rows by garbage collection; remove() and sweepOrphans()
//   are about files only.

import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { StoreError } from '../../core/errors.js';
import { MimeIndexer } from '../../mail/mime/index.js';
import type { StoredBlob } from '../types.js';
import type { BlobStore, BlobStoreStats, BlobWriteOptions, BlobWriter, InlineBlobSource } from './types.js';
import { writeSource } from './write-source.js';

/** Messages up to this size are stored in the database by default (most mail is smaller). */
export const DEFAULT_INLINE_MAX_BYTES = 32 * 1024;

export interface InlineBlobStoreOptions {
  /** Where blobs larger than inlineMaxBytes go (and blobs stored before inline storage). */
  files: BlobStore;
  /** The backend's table of inline blobs. */
  inline: InlineBlobSource;
  /** Blobs of at most this many bytes are stored inline (default DEFAULT_INLINE_MAX_BYTES; 0: none). */
  inlineMaxBytes?: number;
}

function checkRange(range: { start: number; end?: number } | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (
    !Number.isSafeInteger(start) ||
    start < 0 ||
    (end !== undefined && (!Number.isSafeInteger(end) || end < 0))
  ) {
    throw new StoreError('INVALID_ARGUMENT', 'invalid byte range');
  }
}

/** Bytes [start, end) of a buffer as a byte stream. */
function bufferStream(bytes: Buffer, range: { start: number; end?: number } | undefined): Readable {
  const start = range?.start ?? 0;
  const end = Math.min(range?.end ?? bytes.length, bytes.length);
  const slice = start < end ? bytes.subarray(start, end) : null;
  return Readable.from(slice === null ? [] : [slice], { objectMode: false });
}

export class InlineBlobStore implements BlobStore {
  readonly files: BlobStore;
  readonly inline: InlineBlobSource;
  readonly inlineMaxBytes: number;

  constructor(opts: InlineBlobStoreOptions) {
    const max = opts.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new StoreError('INVALID_ARGUMENT', 'inlineMaxBytes must be a non-negative integer');
    }
    this.files = opts.files;
    this.inline = opts.inline;
    this.inlineMaxBytes = max;
  }

  /** The file store's fsync counters (an inline blob makes none). */
  get stats(): Readonly<BlobStoreStats> | undefined {
    return this.files.stats;
  }

  createWriter(opts: BlobWriteOptions): BlobWriter {
    if (this.inlineMaxBytes === 0) return this.files.createWriter(opts);
    return new InlineBlobWriter(this, opts);
  }

  write(source: AsyncIterable<Uint8Array> | Uint8Array, opts: BlobWriteOptions): Promise<StoredBlob> {
    return writeSource(this.createWriter(opts), source);
  }

  /** The backend's bytes of a blob at once: null when it has none, undefined when it cannot say at once. */
  private inlineNow(blobId: string): Buffer | null | undefined {
    return this.inline.getSync === undefined ? undefined : this.inline.getSync(blobId);
  }

  private async inlineBytes(blobId: string): Promise<Buffer | null> {
    const now = this.inlineNow(blobId);
    return now !== undefined ? now : this.inline.get(blobId);
  }

  read(blobId: string, range?: { start: number; end?: number }): Readable {
    checkRange(range);
    const now = this.inlineNow(blobId);
    if (now === null) return this.files.read(blobId, range);
    if (now !== undefined) return bufferStream(now, range);
    // A backend that answers asynchronously: the stream starts once it has.
    const { inline, files } = this;
    return Readable.from(
      (async function* () {
        const bytes = await inline.get(blobId);
        if (bytes !== null) yield* bufferStream(bytes, range);
        else yield* files.read(blobId, range);
      })(),
      { objectMode: false },
    );
  }

  async readAll(blobId: string, opts: { size?: number } = {}): Promise<Buffer> {
    return (await this.inlineBytes(blobId)) ?? this.files.readAll(blobId, opts);
  }

  readSmallSync(blobId: string, size: number): Buffer | null {
    const bytes = this.inlineNow(blobId);
    if (bytes === undefined) return null; // readAll asks the backend
    if (bytes !== null) return bytes.length === size ? bytes : null;
    return this.files.readSmallSync?.(blobId, size) ?? null;
  }

  readSmallSyncInto(blobId: string, size: number, target: Buffer): boolean {
    const bytes = this.inlineNow(blobId);
    if (bytes === undefined) return false; // readAll asks the backend
    if (bytes !== null) {
      // The same contract as for files: room for one byte more than expected.
      if (bytes.length !== size || target.length < size + 1) return false;
      bytes.copy(target, 0, 0, size);
      return true;
    }
    return this.files.readSmallSyncInto?.(blobId, size, target) ?? false;
  }

  async exists(blobId: string): Promise<boolean> {
    return (await this.inlineBytes(blobId)) !== null || this.files.exists(blobId);
  }

  /** The file only: an inline blob goes with its row (garbage collection deletes both). */
  remove(blobId: string, opts: { graceMs: number }): Promise<number> {
    return this.files.remove(blobId, opts);
  }

  /** Files only: inline bytes cannot outlive their row. */
  sweepOrphans(opts: {
    olderThanMs: number;
    referenced: (blobIds: string[]) => Promise<ReadonlySet<string>>;
  }): Promise<{ files: number; bytes: number }> {
    return this.files.sweepOrphans(opts);
  }
}

type WriterState = 'open' | 'finishing' | 'done' | 'aborted';

/** Buffers up to the store's inlineMaxBytes; past that, a file writer takes over. */
class InlineBlobWriter implements BlobWriter {
  private readonly store: InlineBlobStore;
  private readonly opts: BlobWriteOptions;
  private state: WriterState = 'open';
  /** Copies of the chunks written, while the blob is small. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes taken so far (buffered, or handed on to the file writer). */
  private written = 0;
  private readonly hash: Hash = createHash('sha256');
  private readonly indexer: MimeIndexer;
  /** The file writer once the blob outgrew inline storage; `tail` orders the chunks handed to it. */
  private file: BlobWriter | null = null;
  private tail: Promise<void> = Promise.resolve();
  private finishing: Promise<StoredBlob> | null = null;
  private aborting: Promise<void> | null = null;

  constructor(store: InlineBlobStore, opts: BlobWriteOptions) {
    this.store = store;
    this.opts = opts;
    this.indexer = new MimeIndexer(opts.mimeLimits);
  }

  get size(): number {
    return this.written;
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') {
      return Promise.reject(new StoreError('INVALID_ARGUMENT', `blob writer is ${this.state}`));
    }
    const file = this.file;
    if (file !== null) {
      this.written += chunk.length;
      return (this.tail = this.tail.then(() => file.write(chunk)));
    }
    if (chunk.length === 0) return Promise.resolve();
    const total = this.buffered + chunk.length;
    if (total > this.opts.maxSize) {
      const err = new StoreError('TOO_LARGE', `message exceeds ${this.opts.maxSize} bytes`);
      return this.abort().then(() => Promise.reject(err));
    }
    if (total > this.store.inlineMaxBytes) return this.spill(chunk);
    try {
      this.indexer.write(chunk);
    } catch (err) {
      // As in the file writer: the indexer is not supposed to throw; if it does, nothing is stored.
      return this.abort().then(() => Promise.reject(err));
    }
    this.hash.update(chunk);
    this.chunks.push(Buffer.from(chunk)); // the caller may reuse its buffer once we resolve
    this.buffered = total;
    this.written = total;
    return Promise.resolve();
  }

  /** Hands what is buffered, then `chunk`, to a new file writer, which takes every later chunk. */
  private spill(chunk: Uint8Array): Promise<void> {
    const file = this.store.files.createWriter(this.opts);
    this.file = file;
    const held = this.chunks;
    this.chunks = [];
    this.buffered = 0;
    this.written += chunk.length;
    const first = held.length === 0 ? null : held.length === 1 ? held[0] : Buffer.concat(held);
    this.tail = (async () => {
      if (first !== null) await file.write(first);
      await file.write(chunk);
    })();
    return this.tail;
  }

  finish(): Promise<StoredBlob> {
    if (this.finishing !== null) return this.finishing;
    if (this.state !== 'open') {
      return Promise.reject(new StoreError('INVALID_ARGUMENT', `blob writer is ${this.state}`));
    }
    this.state = 'finishing';
    const file = this.file;
    this.finishing =
      file !== null
        ? this.tail.then(() => file.finish())
        : new Promise<StoredBlob>((resolve) => {
            const bytes =
              this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
            this.chunks = [];
            resolve({
              blobId: this.hash.digest('hex'),
              size: bytes.length,
              mime: this.indexer.end(),
              inline: bytes,
            });
          });
    this.finishing = this.finishing.then(
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

  discard(): Promise<void> {
    if (this.state !== 'done') return this.abort();
    // An inline blob leaves nothing behind; a file follows its writer's rules.
    return this.file === null ? Promise.resolve() : this.file.discard();
  }

  abort(): Promise<void> {
    if (this.state === 'done') return Promise.resolve();
    if (this.state === 'finishing' && this.finishing !== null) {
      return this.finishing.then(
        () => undefined,
        () => undefined,
      );
    }
    if (this.aborting === null) {
      this.state = 'aborted';
      this.chunks = [];
      this.buffered = 0;
      const file = this.file;
      this.aborting =
        file === null
          ? Promise.resolve()
          : this.tail.then(
              () => file.abort(),
              () => file.abort(),
            );
    }
    return this.aborting;
  }
}
