// The sink of one SMTP message (DATA or BDAT chunks). Invariants:
// - memory stays bounded: the first MEMORY_LIMIT bytes are kept in memory (most mail is smaller,
//   and then no spool file is created, written, read back and deleted); past that everything
//   goes to a spool file in <dataDir>/tmp (named <pid>-<random>.spool, so the blob store's
//   start-up sweep removes spools of dead processes);
// - limits.messageSize is enforced while streaming (RFC 1870 §6: the server may refuse once the
//   size is exceeded): the first byte over the limit fails with StoreError TOO_LARGE, nothing more
//   is written, and commit() fails the same way;
// - commit() writes prefix + body as one content-addressed blob (a file fsynced by the
//   BlobStore, or a small message's bytes carried into the append), then makes ONE store.append that stores every local target and queues the outbound copy in the
//   same transaction, so the message is either accepted for everyone or for no one;
// - the spool file is removed after commit() and abort(), whatever happens;
// - the top-level header section is scanned as it streams (HeaderSectionScanner: size, Received
//   count, our own Authentication-Results fields, From:); a section over limits.messageHeaderSize
//   is never handed on (bodyStream() and commit() refuse it), and the Authentication-Results
//   fields carrying our authserv-id (RFC 8601 §5) are left out of both.

import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Limits } from '../core/limits.js';
import { StoreError } from '../core/errors.js';
import type { BlobStore } from '../store/blob/types.js';
import type { AppendOutcome, AppendTarget, MailStore, OutboundEnvelope } from '../store/types.js';
import { HeaderSectionScanner, type HeaderSection } from './header-section-scanner.js';
import { messageBlobOptions } from './message-blob-options.js';
import { SlicedWrite } from './sliced-write.js';

/** Bytes of one message held in memory before it spills to a spool file. */
const MEMORY_LIMIT = 256 * 1024;

/** Bytes of header section scanned in one turn of the event loop. */
const SCAN_SLICE = 8 * 1024;

/** The trace header block prepended at commit is ours, but bounded all the same. */
const MAX_PREFIX_BYTES = 256 * 1024;

export interface InboundMessageOptions {
  store: MailStore;
  blobs: BlobStore;
  limits: Limits;
  dataDir: string;
  /** Bytes kept in memory before spilling to a spool file (default MEMORY_LIMIT). */
  memoryLimit?: number;
  /**
   * Our authserv-id (the host name): Authentication-Results fields of the message naming it are
   * removed (RFC 8601 §5). Null or absent: none is removed.
   */
  authservId?: string | null;
}

export interface InboundCommit {
  /** Header lines to prepend (Received, Authentication-Results...), each ending in CRLF. */
  prefix: string;
  /** Local mailboxes. */
  local: AppendTarget[];
  /** The copy for remote recipients, or null. */
  outbound: OutboundEnvelope | null;
}

type SpoolState = 'open' | 'committing' | 'done';

export class InboundMessage {
  private readonly store: MailStore;
  private readonly blobs: BlobStore;
  private readonly limits: Limits;
  private readonly memoryLimit: number;
  private readonly spoolPath: string;
  private handle: fsp.FileHandle | null = null;
  private opening: Promise<fsp.FileHandle> | null = null;
  private bytes = 0;
  /** After commit(): the stored blob, when some target or the outbound queue took it. */
  committedBlob: { blobId: string; size: number } | null = null;
  /** True once the spool file was (or is being) created. */
  private spooled = false;
  /** The body while it is small; null once it spilled to the spool file. */
  private memory: Buffer[] | null = [];
  private tooLarge = false;
  private state: SpoolState = 'open';
  /** Writes are serialised: a second write waits for the first (callers should await anyway). */
  private tail: Promise<void> = Promise.resolve();
  private readonly scanner: HeaderSectionScanner;

  constructor(opts: InboundMessageOptions) {
    this.store = opts.store;
    this.blobs = opts.blobs;
    this.limits = opts.limits;
    this.memoryLimit = opts.memoryLimit ?? MEMORY_LIMIT;
    this.spoolPath = path.join(
      opts.dataDir,
      'tmp',
      `${process.pid}-${randomBytes(12).toString('hex')}.spool`,
    );
    this.scanner = new HeaderSectionScanner({
      maxBytes: this.limits.messageHeaderSize,
      authservId: opts.authservId ?? null,
    });
  }

  /**
   * What the scan of the top-level header section found. Call it once the last write() resolved
   * (at end of data): a field still open then ends with the message.
   */
  headerSection(): HeaderSection {
    return this.scanner.finish();
  }

  /** Body bytes received so far (not counting bytes refused for size). */
  get size(): number {
    return this.bytes;
  }

  /** True once the body went over limits.messageSize. */
  get exceededSize(): boolean {
    return this.tooLarge;
  }

  /** Appends body bytes to the spool. Rejects with StoreError TOO_LARGE past limits.messageSize. */
  write(chunk: Uint8Array): Promise<void> {
    const run = this.tail.then(() => this.writeNow(chunk));
    // The chain itself never rejects, so one failed write does not poison later calls' ordering.
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async writeNow(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') throw new StoreError('INVALID_ARGUMENT', 'the message is closed');
    if (this.tooLarge) throw tooLargeError(this.limits.messageSize);
    if (this.bytes + chunk.length > this.limits.messageSize) {
      this.tooLarge = true;
      throw tooLargeError(this.limits.messageSize);
    }
    if (chunk.length === 0) return;
    await this.scan(chunk);
    if (this.memory !== null) {
      if (this.bytes + chunk.length <= this.memoryLimit) {
        this.memory.push(Buffer.from(chunk)); // a copy: the caller may reuse its buffer
        this.bytes += chunk.length;
        return;
      }
      const held = this.memory;
      this.memory = null;
      const spill = await this.open();
      for (const b of held) await writeAll(spill, b);
    }
    const handle = await this.open();
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, off, chunk.length - off);
      off += bytesWritten;
    }
    this.bytes += chunk.length;
  }

  /**
   * Feeds the header scan in slices with a turn of the event loop between them, so a hostile
   * header section never holds the loop for long; past the section a chunk costs nothing.
   */
  private async scan(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.length && !this.scanner.finished) {
      if (off > 0) await yieldToLoop();
      const end = Math.min(chunk.length, off + SCAN_SLICE);
      this.scanner.push(chunk.subarray(off, end));
      off = end;
    }
    if (off < chunk.length) this.scanner.push(chunk.subarray(off));
  }

  /**
   * The body received so far, from the spool (for DKIM/DMARC evaluation before commit). Await
   * the last write() first; the stream sees exactly the bytes written before this call.
   */
  bodyStream(): Readable {
    const section = this.headerSection();
    if (section.tooLarge) throw headerTooLargeError(this.limits.messageHeaderSize);
    return Readable.from(withoutRanges(this.rawChunks(), section.ourAuthResults));
  }

  /** The bytes received, in order, from memory or from the spool file. */
  private rawChunks(): Iterable<Buffer> | AsyncIterable<Buffer> {
    if (this.memory !== null) return [...this.memory];
    if (this.bytes === 0 || !this.spooled) return [];
    return createReadStream(this.spoolPath, { start: 0, end: this.bytes - 1, highWaterMark: 256 * 1024 });
  }

  /**
   * Stores prefix + body once: every local target and the outbound copy in one transaction.
   * Resolves with one outcome per local target (in order) after the commit is on disk.
   */
  async commit(opts: InboundCommit): Promise<AppendOutcome[]> {
    await this.tail;
    if (this.state !== 'open') throw new StoreError('INVALID_ARGUMENT', 'the message is closed');
    this.state = 'committing';
    try {
      if (this.tooLarge) throw tooLargeError(this.limits.messageSize);
      const section = this.headerSection();
      if (section.tooLarge) throw headerTooLargeError(this.limits.messageHeaderSize);
      if (opts.local.length === 0 && opts.outbound === null) {
        throw new StoreError('INVALID_ARGUMENT', 'a message needs a local target or an outbound copy');
      }
      // Checked before the blob is written: a refused append would leave an unreferenced file.
      if (opts.outbound !== null && opts.outbound.recipients.length === 0) {
        throw new StoreError('INVALID_ARGUMENT', 'an outbound copy needs at least one recipient');
      }
      const prefix = Buffer.from(opts.prefix, 'utf8');
      if (prefix.length > MAX_PREFIX_BYTES) {
        throw new StoreError('INVALID_ARGUMENT', 'the trace header block is too large');
      }
      await this.closeHandle();
      // The limit applies to what the client sent; our trace headers come on top of it.
      const base = messageBlobOptions(this.limits);
      const writer = this.blobs.createWriter({ ...base, maxSize: this.limits.messageSize + prefix.length });
      // MIME indexing runs inside write(): sliced, so other connections are served meanwhile.
      const sliced = new SlicedWrite(writer);
      let blob;
      try {
        if (prefix.length > 0) await writer.write(prefix);
        for await (const chunk of withoutRanges(this.rawChunks(), section.ourAuthResults)) {
          await sliced.write(chunk);
        }
        blob = await writer.finish();
      } catch (err) {
        await writer.abort();
        throw err;
      }
      const outcomes = await this.store.append({
        blob,
        targets: opts.local,
        outbound: opts.outbound ?? undefined,
      });
      if (outcomes.some((o) => o.ok) || opts.outbound !== null) {
        this.committedBlob = { blobId: blob.blobId, size: blob.size };
      }
      return outcomes;
    } finally {
      this.state = 'done';
      await this.removeSpool();
    }
  }

  /** Discards the message; safe to call at any time, more than once (also after commit). */
  async abort(): Promise<void> {
    if (this.state === 'committing') return; // commit() cleans up itself
    this.state = 'done';
    await this.tail;
    await this.removeSpool();
  }

  private open(): Promise<fsp.FileHandle> {
    if (this.handle !== null) return Promise.resolve(this.handle);
    this.spooled = true;
    this.opening ??= (async () => {
      await fsp.mkdir(path.dirname(this.spoolPath), { recursive: true });
      const h = await fsp.open(this.spoolPath, 'wx', 0o600);
      this.handle = h;
      return h;
    })();
    return this.opening;
  }

  private async closeHandle(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    this.opening = null;
    if (h !== null) await h.close();
  }

  private async removeSpool(): Promise<void> {
    this.memory = null;
    const hadFile = this.spooled;
    try {
      await this.closeHandle();
    } catch {
      // closing a spool we are deleting: nothing to keep
    }
    if (hadFile) await fsp.rm(this.spoolPath, { force: true });
  }
}

async function writeAll(handle: fsp.FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, off, chunk.length - off);
    off += bytesWritten;
  }
}

/**
 * The chunks of `source` without the byte ranges `skip` ([start, end), ascending, not
 * overlapping, offsets into the whole stream). Yields views, never copies.
 */
export async function* withoutRanges(
  source: Iterable<Buffer> | AsyncIterable<Buffer>,
  skip: ReadonlyArray<readonly [number, number]>,
): AsyncGenerator<Buffer> {
  let offset = 0;
  let next = 0;
  for await (const chunk of source) {
    const end = offset + chunk.length;
    let at = offset;
    while (at < end) {
      const range = skip[next];
      if (range === undefined || range[0] >= end) {
        yield chunk.subarray(at - offset);
        at = end;
        break;
      }
      if (range[0] > at) yield chunk.subarray(at - offset, range[0] - offset);
      at = Math.max(at, Math.min(range[1], end));
      if (range[1] <= end) next++;
    }
    offset = end;
  }
}

function headerTooLargeError(limit: number): StoreError {
  return new StoreError('TOO_LARGE', `the header section exceeds the limit of ${limit} bytes`);
}

function tooLargeError(limit: number): StoreError {
  return new StoreError('TOO_LARGE', `the message exceeds the size limit of ${limit} bytes`);
}
