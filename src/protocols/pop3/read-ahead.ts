// How RETR and TOP get the bytes of a small message (at most SMALL_MESSAGE bytes). By what the
// blob store offers, best first:
// - a store that reads into the caller's buffer (FileBlobStore.readSmallSyncInto) fills one
//   buffer shared by every session of the process, synchronously, when the message is asked
//   for; the caller copies the bytes out (byte-stuffed) before it next yields. No buffer is
//   allocated per message: two fresh buffers per RETR (the bytes and the response) drove a
//   full garbage collection every ~150 ms at 5,000 messages/s;
// - a store with readSmallSync is read synchronously into a new buffer;
// - any other store is read ahead: clients download in order (RETR 1, RETR 2, ...), so while
//   message n goes out, message n+1 is read, and its bytes are ready when the client asks.
// Why synchronous: a page-cached file of a few KB takes microseconds to open, read and close,
// against three round trips through libuv's thread pool (each a thread wake-up and a callback),
// which were the largest CPU cost per RETR (bench/pop3-download.ts). A file not in the page
// cache blocks the event loop for one disk read, as IMAP SEARCH's readSmallSync does.
// Invariants:
// - at most one message is held ahead, and only one of at most SMALL_MESSAGE bytes, so memory
//   per session stays bounded; the shared buffer is one per process (SMALL_MESSAGE + 1 bytes);
// - the shared buffer's bytes are valid only until the caller yields to the event loop;
// - a failed read-ahead is forgotten: the message is read again when asked for, and its error
//   (if it persists) is reported then;
// - never a stale answer: a message is matched by its blob id (content address), whose bytes
//   never change.

import type { BlobStore } from '../../store/blob/types.js';

/**
 * Messages up to this size are read whole and sent in one write (the largest the file blob
 * store reads synchronously); larger ones are streamed (commands/retrieve.ts).
 */
export const SMALL_MESSAGE = 256 * 1024;

/** The buffer shared by every session of the process; grown on demand up to the largest asked for. */
let shared = Buffer.allocUnsafeSlow(0);

export class ReadAhead {
  private ahead: { blobId: string; bytes: Promise<Buffer | null> } | null = null;
  /** Reads small blobs synchronously (so nothing is read ahead). */
  private readonly sync: boolean;

  constructor(private readonly blobs: BlobStore) {
    this.sync = blobs.readSmallSyncInto !== undefined || blobs.readSmallSync !== undefined;
  }

  /**
   * The bytes of a blob of `size` bytes in the process's shared buffer, valid until the caller
   * next yields (await); null when the store cannot read into it (then use read()). Throws the
   * store's error (NOT_FOUND for a missing blob).
   */
  readShared(blobId: string, size: number): Buffer | null {
    if (this.blobs.readSmallSyncInto === undefined || size > SMALL_MESSAGE) return null;
    if (shared.length < size + 1) shared = Buffer.allocUnsafeSlow(size + 1);
    return this.blobs.readSmallSyncInto(blobId, size, shared) ? shared.subarray(0, size) : null;
  }

  /** The bytes of a blob: the read-ahead's when it is that blob, else a fresh read. */
  async read(blobId: string, size?: number): Promise<Buffer> {
    const ahead = this.ahead;
    this.ahead = null;
    if (ahead !== null && ahead.blobId === blobId) {
      const bytes = await ahead.bytes;
      if (bytes !== null) return bytes;
    }
    if (size !== undefined && this.blobs.readSmallSync !== undefined) {
      // null: too large for a synchronous read, or not `size` bytes (readAll then decides).
      const bytes = this.blobs.readSmallSync(blobId, size);
      if (bytes !== null) return bytes;
    }
    return this.blobs.readAll(blobId, { size });
  }

  /** Starts reading a blob that is likely asked for next (unless reads are synchronous). */
  prefetch(blobId: string, size?: number): void {
    if (this.sync || this.ahead?.blobId === blobId) return;
    this.ahead = {
      blobId,
      bytes: this.blobs.readAll(blobId, { size }).catch(() => null),
    };
  }

  clear(): void {
    this.ahead = null;
  }
}
