// The values the directory (domains, accounts, aliases, POP3 bookkeeping) refuses before any
// storage is touched; addresses and domains themselves are address.ts.

import { StoreError } from '../../core/errors.js';
import type { Alias } from '../types.js';
import { parseAddress, type ParsedAddress } from './address.js';
import { isPublicOwner } from './public-owner.js';
import { isCount } from './count.js';

export function checkPasswordHash(passwordHash: string): void {
  if (typeof passwordHash !== 'string')
    throw new StoreError('INVALID_ARGUMENT', 'passwordHash must be a string');
}

export function checkQuotaBytes(quotaBytes: number): void {
  if (!isCount(quotaBytes))
    throw new StoreError('INVALID_ARGUMENT', 'quotaBytes must be a non-negative integer');
}

export function checkQuotaMessages(quotaMessages: number): void {
  if (!isCount(quotaMessages))
    throw new StoreError('INVALID_ARGUMENT', 'quotaMessages must be a non-negative integer');
}

/** An alias's source (`local@domain` or the catch-all `@domain`) and destination, parsed. */
export function parseAlias(alias: Alias): { source: ParsedAddress; destination: ParsedAddress } {
  const source = parseAddress(alias.source, { allowCatchAll: true });
  const destination = parseAddress(alias.destination);
  if (source.address === destination.address) {
    throw new StoreError('INVALID_ARGUMENT', 'an alias cannot point to itself');
  }
  // The public-folder owner receives no mail (rules/public-owner.ts): no alias leads to it.
  if (isPublicOwner(source.address) || isPublicOwner(destination.address)) {
    throw new StoreError(
      'INVALID_ARGUMENT',
      'a public-folder owner cannot be an alias source or destination',
    );
  }
  return { source, destination };
}

/** APOP (RFC 1939 §7) needs the shared secret itself: null removes it. */
export function checkApopSecret(secret: string | null): void {
  if (secret !== null && (typeof secret !== 'string' || secret.length === 0 || secret.length > 1024)) {
    throw new StoreError('INVALID_ARGUMENT', 'the APOP secret must be 1 to 1024 characters');
  }
}

/** POP3 LOGIN-DELAY (RFC 2449 §6.5) interval. */
export function checkLoginInterval(minIntervalMs: number): void {
  if (!isCount(minIntervalMs)) throw new StoreError('INVALID_ARGUMENT', 'minIntervalMs must be a count');
}
