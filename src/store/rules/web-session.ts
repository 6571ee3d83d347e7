// Web sessions (the user's page, src/web): what a stored session may hold.

import { StoreError } from '../../core/errors.js';
import type { WebSession } from '../types.js';

const ID_HASH = /^[0-9a-f]{64}$/;

/** A SHA-256 in lower-case hex: the only form of a session id the store ever sees. */
export function checkWebSessionIdHash(idHash: string): void {
  if (typeof idHash !== 'string' || !ID_HASH.test(idHash)) {
    throw new StoreError('INVALID_ARGUMENT', 'a web session id hash is 64 lower-case hex digits');
  }
}

export function checkWebSession(session: WebSession, maxPerAccount: number): void {
  checkWebSessionIdHash(session.idHash);
  if (!Number.isSafeInteger(session.accountId) || session.accountId <= 0) {
    throw new StoreError('INVALID_ARGUMENT', 'a web session needs an account id');
  }
  if (session.expiresAt.getTime() <= session.createdAt.getTime()) {
    throw new StoreError('INVALID_ARGUMENT', 'a web session must expire after it is created');
  }
  if (!Number.isSafeInteger(maxPerAccount) || maxPerAccount <= 0) {
    throw new StoreError('INVALID_ARGUMENT', 'maxPerAccount must be a positive integer');
  }
}
