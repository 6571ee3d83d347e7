// The rules of MailStore.append() every backend applies: what a request must hold before it is
// queued, what each target may carry, and what all-or-nothing means for the outcomes.

import { StoreError } from '../../core/errors.js';
import type { AppendOutcome, AppendRequest, AppendTarget } from '../types.js';
import { isCount } from './count.js';
import { parseFlags, type ParsedFlags } from './flags.js';
import { validateOutboundEnvelope } from './outbound-envelope.js';

/** Fixed length, no alternation: cannot backtrack. */
const BLOB_ID = /^[0-9a-f]{64}$/;

/** Refuses (INVALID_ARGUMENT) a request that cannot be stored whatever the store holds. */
export function checkAppendRequest(req: AppendRequest): void {
  const blob = req?.blob;
  if (blob === undefined || typeof blob.blobId !== 'string' || !BLOB_ID.test(blob.blobId)) {
    throw new StoreError('INVALID_ARGUMENT', 'blobId must be a sha256 hex digest');
  }
  if (!isCount(blob.size))
    throw new StoreError('INVALID_ARGUMENT', 'blob size must be a non-negative integer');
  if (blob.inline !== undefined && (!(blob.inline instanceof Uint8Array) || blob.inline.length !== blob.size))
    throw new StoreError('INVALID_ARGUMENT', 'inline blob bytes must be `size` bytes');
  if (!Array.isArray(req.targets)) throw new StoreError('INVALID_ARGUMENT', 'targets must be an array');
  if (req.outbound !== undefined) validateOutboundEnvelope(req.outbound);
  if (req.targets.length === 0 && req.outbound === undefined) {
    throw new StoreError('INVALID_ARGUMENT', 'an append needs at least one target or an outbound copy');
  }
}

export type ParsedTarget =
  { ok: true; flags: ParsedFlags; internalDate: number } | { ok: false; error: StoreError };

/**
 * One target's flags and internal date (`now` when not given), or why it fails on its own:
 * a failing target fails alone unless the request is all-or-nothing.
 */
export function parseAppendTarget(target: AppendTarget, now: number): ParsedTarget {
  let error: StoreError | null = null;
  let flags: ParsedFlags = { bits: 0, keywords: [] };
  try {
    flags = parseFlags(target.flags ?? []);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    error = err;
  }
  const internalDate = target.internalDate === undefined ? now : target.internalDate.getTime();
  if (error === null && !Number.isFinite(internalDate))
    error = new StoreError('INVALID_ARGUMENT', 'invalid internalDate');
  return error === null ? { ok: true, flags, internalDate } : { ok: false, error };
}

/**
 * Thrown inside an all-or-nothing request's transaction (or savepoint) to roll it back; the
 * outcomes say every target failed, with the first failure's error.
 */
export class AppendRequestFailed extends Error {
  readonly outcomes: AppendOutcome[];

  constructor(outcomes: readonly AppendOutcome[], firstError: StoreError) {
    super('append request failed');
    this.outcomes = outcomes.map((o) =>
      o.ok ? { ok: false, mailboxId: o.mailboxId, error: firstError } : o,
    );
  }
}
