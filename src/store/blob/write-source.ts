// BlobStore.write() for every blob store: a whole source through one of its writers.

import type { BlobWriter } from './types.js';
import type { StoredBlob } from '../types.js';

/** Bytes handed to a writer at once from one big buffer, so its in-flight bound holds for it too. */
const WRITE_SLICE_BYTES = 1024 * 1024;

/** Writes `source` through `writer` and finishes it; on any failure the writer is aborted. */
export async function writeSource(
  writer: BlobWriter,
  source: AsyncIterable<Uint8Array> | Uint8Array,
): Promise<StoredBlob> {
  try {
    if (source instanceof Uint8Array) {
      for (let i = 0; i < source.length; i += WRITE_SLICE_BYTES) {
        await writer.write(source.subarray(i, i + WRITE_SLICE_BYTES));
      }
    } else {
      for await (const chunk of source) await writer.write(chunk);
    }
    return await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
