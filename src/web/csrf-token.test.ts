// CSRF tokens: the same for one session (any process derives it), different between sessions,
// and refused when absent, altered, truncated or another session's.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { checkCsrfToken, csrfToken } from './csrf-token.js';

const a = randomBytes(32).toString('base64url');
const b = randomBytes(32).toString('base64url');

void test('a session has one token; another session has another', () => {
  assert.equal(csrfToken(a), csrfToken(a));
  assert.notEqual(csrfToken(a), csrfToken(b));
  assert.match(csrfToken(a), /^[A-Za-z0-9_-]{43}$/);
  assert.ok(!csrfToken(a).includes(a), 'the token does not contain the session id');
});

void test('only the session own token passes', () => {
  const token = csrfToken(a);
  assert.equal(checkCsrfToken(a, token), true);
  assert.equal(checkCsrfToken(a, undefined), false);
  assert.equal(checkCsrfToken(a, ''), false);
  assert.equal(checkCsrfToken(a, csrfToken(b)), false, "another session's token");
  assert.equal(checkCsrfToken(a, token.slice(0, -1)), false, 'truncated');
  assert.equal(checkCsrfToken(a, token + 'A'), false, 'extended');
  const flipped = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
  assert.equal(checkCsrfToken(a, flipped), false, 'one character changed');
  assert.equal(checkCsrfToken(a, 'é'.repeat(43)), false, 'same length in characters, not in bytes');
});
