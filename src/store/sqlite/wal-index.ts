// How much of a WAL waits for a checkpoint, read from the wal-index (the "-shm" file) without a
// connection or a lock: SQLite's documented WAL-index format (walformat.html, "the WAL-index
// header") holds two copies of a 48-byte header, each with mxFrame (the last valid frame) at
// byte 16, then the checkpoint information with nBackfill (frames already copied into the
// database file) at byte 96, all in the host's byte order. The numbers only advise (when to
// checkpoint); a header being rewritten (copies differ) or a missing file reads as null.

import { closeSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';

/** Both header copies and nBackfill. */
const HEAD_BYTES = 100;
const HEADER_COPY = 48;
const MX_FRAME = 16;
const N_BACKFILL = 96;

export interface WalIndexState {
  /** Frames in the WAL (mxFrame). */
  frames: number;
  /** Frames of it already in the database file (nBackfill). */
  backfilled: number;
}

export class WalIndexReader {
  private fd: number | null = null;
  private readonly head = Buffer.alloc(HEAD_BYTES);
  private readonly littleEndian = endianness() === 'LE';

  constructor(private readonly file: string) {}

  read(): WalIndexState | null {
    const head = this.head;
    try {
      this.fd ??= openSync(this.file, 'r');
      if (readSync(this.fd, head, 0, HEAD_BYTES, 0) < HEAD_BYTES) return null;
    } catch {
      // Not there yet (no write so far), or gone: opened again next time.
      this.close();
      return null;
    }
    if (head.compare(head, 0, HEADER_COPY, HEADER_COPY, 2 * HEADER_COPY) !== 0) return null;
    const u32 = (at: number): number => (this.littleEndian ? head.readUInt32LE(at) : head.readUInt32BE(at));
    return { frames: u32(MX_FRAME), backfilled: u32(N_BACKFILL) };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
