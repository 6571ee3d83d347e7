// What the store refuses of an app password before any storage is touched. The label is shown
// to the user (CLI table, web page), so it is bounded and printable; the secret hash is opaque
// to the store (src/auth/app-passwords.ts makes it) but bounded all the same.

import { StoreError } from '../../core/errors.js';
import { isCount } from './count.js';

/** Most app passwords one account may hold: one per device is the idea, not thousands. */
export const MAX_APP_PASSWORDS = 100;

/** Longest label, in code points. */
export const MAX_APP_PASSWORD_LABEL = 64;

const MAX_SECRET_HASH = 256;

// No control, format (bidi overrides), private-use, unassigned or surrogate code points, nor
// line or paragraph separators: a label is one line of visible text. One character class, so
// the check is linear whatever the input.
const PRINTABLE = /^[^\p{C}\p{Zl}\p{Zp}]+$/u;

/** Why a label is refused, or null when it is acceptable as it is. */
export function appPasswordLabelProblem(label: string): string | null {
  if (typeof label !== 'string') return 'the label must be a string';
  if (label.length === 0) return 'the label must not be empty';
  // Checked on UTF-16 units first so that a huge string is refused without being walked.
  if (label.length > MAX_APP_PASSWORD_LABEL * 2 || [...label].length > MAX_APP_PASSWORD_LABEL)
    return `the label must be at most ${MAX_APP_PASSWORD_LABEL} characters`;
  if (!PRINTABLE.test(label)) return 'the label must be printable text on one line';
  if (label.trim() !== label) return 'the label must not start or end with spaces';
  return null;
}

export function checkAppPasswordLabel(label: string): void {
  const problem = appPasswordLabelProblem(label);
  if (problem !== null) throw new StoreError('INVALID_ARGUMENT', problem);
}

export function checkAppPasswordHash(secretHash: string): void {
  if (
    typeof secretHash !== 'string' ||
    secretHash.length === 0 ||
    secretHash.length > MAX_SECRET_HASH ||
    !/^[\x21-\x7e]+$/.test(secretHash)
  ) {
    throw new StoreError(
      'INVALID_ARGUMENT',
      `the secret hash must be 1 to ${MAX_SECRET_HASH} printable ASCII characters`,
    );
  }
}

export function checkAppPasswordId(id: number): void {
  if (!isCount(id))
    throw new StoreError('INVALID_ARGUMENT', 'an app password id must be a non-negative integer');
}
