// Local delivery: the one path by which a message enters mailboxes (SMTP after recipient
// resolution, IMAP APPEND, import). Invariants:
// - the bytes are stored exactly as given, streamed through a size-limited blob writer;
// - metadata is committed only after the blob is durable (BlobStore.finish), or in the same
//   transaction as its bytes (a small message carries them: StoredBlob.inline), so a committed
//   message never points at bytes a crash could lose;
// - a blob that no target ends up referring to is left for garbage collection, never deleted here
//   (another delivery may be sharing the same content-addressed file).

import type { Limits } from '../core/limits.js';
import { StoreError } from '../core/errors.js';
import type { BlobStore, BlobWriteOptions } from '../store/blob/types.js';
import type { AppendOutcome, AppendTarget } from '../store/types.js';
import type { Messages } from '../store/roles.js';
import type { CommitTicket } from './commit-order.js';

export interface LocalDeliveryInput {
  store: Messages;
  blobs: BlobStore;
  limits: Limits;
  /** Exactly the bytes to store. */
  source: AsyncIterable<Uint8Array> | Uint8Array;
  /** Mailbox ids, flags, internal date. */
  targets: AppendTarget[];
  /** One failing target fails them all (IMAP MULTIAPPEND, RFC 3502). */
  allOrNothing?: boolean;
  /** Commit in ticket order (see commit-order.ts); the ticket is released in every case. */
  order?: CommitTicket;
}

/** The blob writer options for a message under these limits. */
export function messageBlobOptions(limits: Limits): BlobWriteOptions {
  return {
    maxSize: limits.messageSize,
    mimeLimits: { mimeDepth: limits.mimeDepth, mimeParts: limits.mimeParts, headerSize: limits.headerSize },
  };
}

/**
 * Stores the message once and appends it to every target. Resolves with one outcome per target
 * (in target order) once the metadata is committed; rejects with StoreError TOO_LARGE when the
 * source exceeds limits.messageSize (nothing is stored then).
 */
export async function deliverLocal(input: LocalDeliveryInput): Promise<AppendOutcome[]> {
  const { order } = input;
  try {
    if (input.targets.length === 0) {
      throw new StoreError('INVALID_ARGUMENT', 'local delivery needs at least one target mailbox');
    }
    const blob = await input.blobs.write(input.source, messageBlobOptions(input.limits));
    if (order !== undefined) await order.turn();
    const committed = input.store.append({
      blob,
      targets: input.targets,
      allOrNothing: input.allOrNothing === true,
    });
    order?.release(); // the append is queued: later tickets may queue theirs behind it
    return await committed;
  } finally {
    order?.release();
  }
}
