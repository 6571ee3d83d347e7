// Local delivery in one call: a whole message (bytes or a stream) into mailboxes through a
// Delivery (delivery.ts, source 'import'), for callers that have the message at once (import's
// tests, benchmarks, fixtures). Invariants are the Delivery's: the bytes are stored exactly as
// given through a size-limited blob writer; metadata is committed only after the blob is
// durable (or with its bytes, for a small message); a blob that no target ends up referring to
// is left for garbage collection, never deleted here (another delivery may share the file).

import { StoreError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import type { BlobStore } from '../store/blob/types.js';
import type { AppendOutcome, AppendTarget, MailStore } from '../store/types.js';
import type { CommitTicket } from './commit-order.js';
import { Delivery } from './delivery.js';
import type { QuotaWarningSettings } from './quota-warning.js';

export { messageBlobOptions } from './message-blob-options.js';

export interface LocalDeliveryInput {
  store: MailStore;
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
  /** Quota warnings after the commit (store.quota_warnings); absent: none. */
  quotaWarnings?: QuotaWarningSettings;
}

/**
 * Stores the message once and appends it to every target. Resolves with one outcome per target
 * (in target order) once the metadata is committed; rejects with StoreError TOO_LARGE when the
 * source exceeds limits.messageSize (nothing is stored then).
 */
export async function deliverLocal(input: LocalDeliveryInput): Promise<AppendOutcome[]> {
  if (input.targets.length === 0) {
    input.order?.release();
    throw new StoreError('INVALID_ARGUMENT', 'local delivery needs at least one target mailbox');
  }
  const delivery = Delivery.start(input, { kind: 'import' });
  try {
    for (const target of input.targets) delivery.addTarget(target);
    await delivery.writeAll(input.source);
  } catch (err) {
    input.order?.release();
    await delivery.abort();
    throw err;
  }
  const opts = {
    ...(input.order !== undefined ? { order: input.order } : {}),
    ...(input.allOrNothing === true ? { allOrNothing: true } : {}),
  };
  return (await delivery.commit(opts)).targets;
}
