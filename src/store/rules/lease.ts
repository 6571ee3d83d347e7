// Mailbox leases (POP3's exclusive access, RFC 1939 §8): what an owner and a lifetime may be.

import { StoreError } from '../../core/errors.js';

export function checkLease(owner: string, ttlMs: number): void {
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > 200) {
    throw new StoreError('INVALID_ARGUMENT', 'lock owner must be 1 to 200 characters');
  }
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new StoreError('INVALID_ARGUMENT', 'lock ttlMs must be a positive integer');
  }
}
