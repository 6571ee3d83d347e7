// CSRF tokens of the user's page: every POST form carries one, bound to the session. The token
// is an HMAC-SHA256 of a fixed label keyed by the session id itself, so it needs no server
// secret and no storage (every process and node derives the same one), changes with every
// login, and reveals nothing of the id (the cookie is HttpOnly; the token is in the page).
// Checked in constant time. A POST without the right token gets 403.

import { createHmac, timingSafeEqual } from 'node:crypto';

const LABEL = 'postern web csrf v1';

export function csrfToken(sessionId: string): string {
  return createHmac('sha256', sessionId).update(LABEL).digest('base64url');
}

/** Whether `given` (the form's field, possibly absent) is the session's token. */
export function checkCsrfToken(sessionId: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const expected = Buffer.from(csrfToken(sessionId));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
