// The blob writer options of a message: the size limit and the MIME indexer's bounds.

import type { Limits } from '../core/limits.js';
import type { BlobWriteOptions } from '../store/blob/types.js';

/** The blob writer options for a message under these limits. */
export function messageBlobOptions(limits: Limits): BlobWriteOptions {
  return {
    maxSize: limits.messageSize,
    mimeLimits: { mimeDepth: limits.mimeDepth, mimeParts: limits.mimeParts, headerSize: limits.headerSize },
  };
}
