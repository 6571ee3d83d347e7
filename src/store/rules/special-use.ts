// RFC 6154 special-use attributes a mailbox may carry.

import { StoreError } from '../../core/errors.js';
import { SPECIAL_USES, type SpecialUse } from '../types.js';

const KNOWN: ReadonlySet<string> = new Set<string>(SPECIAL_USES);

/** The attribute to store (null for none); INVALID_ARGUMENT for an unknown one. */
export function checkSpecialUse(value: SpecialUse | null | undefined): SpecialUse | null {
  const specialUse = value ?? null;
  if (specialUse !== null && !KNOWN.has(specialUse)) {
    throw new StoreError('INVALID_ARGUMENT', 'unknown special-use attribute');
  }
  return specialUse;
}
