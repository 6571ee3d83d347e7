// Feeding a large message to a blob writer without holding the event loop: the writer indexes
// MIME synchronously inside write() (src/mail/mime/indexer.ts), and one 256 KiB chunk of
// hostile structure (thousands of part headers, or 87,000 one-byte lines) costs tens of
// milliseconds, more on a busy machine. The chunk is written in slices, and between slices the
// loop is given back (setImmediate: I/O of other connections runs first) once a few
// milliseconds of work have been done.

import { setImmediate as nextTurn } from 'node:timers/promises';

/** Bytes handed to the writer at a time. */
export const SLICE_BYTES = 16 * 1024;

/** Milliseconds of work after which the event loop gets a turn. */
export const SLICE_BUDGET_MS = 4;

export interface SlicedWriter {
  write(chunk: Uint8Array): Promise<void>;
}

/** Writes `chunk` to `writer` in SLICE_BYTES pieces, yielding to the event loop every SLICE_BUDGET_MS. */
export class SlicedWrite {
  private since = performance.now();

  constructor(private readonly writer: SlicedWriter) {}

  async write(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; at += SLICE_BYTES) {
      await this.writer.write(chunk.subarray(at, Math.min(chunk.length, at + SLICE_BYTES)));
      if (performance.now() - this.since >= SLICE_BUDGET_MS) {
        await nextTurn();
        this.since = performance.now();
      }
    }
  }
}
