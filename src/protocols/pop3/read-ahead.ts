// Read-ahead of the next message: POP3 clients download in order (RETR 1, RETR 2, ...), so
// while message n goes out, message n+1 is read from the blob store. Its bytes are then ready
// when the client asks, and the file system's round trips (open, stat, read, close on libuv's
// thread pool) leave the critical path. Invariants:
// - at most one message is held ahead, and only one of at most SMALL_MESSAGE bytes, so memory
//   per session stays bounded;
// - a failed read-ahead is forgotten: the message is read again when asked for, and its error
//   (if it persists) is reported then;
// - never a stale answer: a message is matched by its blob id (content address), whose bytes
//   never change.

import type { BlobStore } from '../../store/blob/types.js';

export class ReadAhead {
  private ahead: { blobId: string; bytes: Promise<Buffer | null> } | null = null;

  constructor(private readonly blobs: BlobStore) {}

  /** The bytes of a blob: the read-ahead's when it is that blob, else a fresh read. */
  async read(blobId: string, size?: number): Promise<Buffer> {
    const ahead = this.ahead;
    this.ahead = null;
    if (ahead !== null && ahead.blobId === blobId) {
      const bytes = await ahead.bytes;
      if (bytes !== null) return bytes;
    }
    return this.blobs.readAll(blobId, { size });
  }

  /** Starts reading a blob that is likely asked for next. */
  prefetch(blobId: string, size?: number): void {
    if (this.ahead?.blobId === blobId) return;
    this.ahead = {
      blobId,
      bytes: this.blobs.readAll(blobId, { size }).catch(() => null),
    };
  }

  clear(): void {
    this.ahead = null;
  }
}
