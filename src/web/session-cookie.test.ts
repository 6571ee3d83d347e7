// The session cookie: its attributes (HttpOnly, SameSite=Strict, Path=/, Secure only over TLS),
// the Cookie header parsed as RFC 6265 §5.4 says, and malformed ids ignored.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  SESSION_COOKIE,
  clearedSessionCookie,
  isSessionId,
  parseCookieHeader,
  sessionCookie,
  sessionIdOf,
} from './session-cookie.js';

const ID = 'a'.repeat(40) + '-_b';

function attributes(setCookie: string): string[] {
  return setCookie.split('; ').slice(1);
}

void test('a new session cookie: HttpOnly, SameSite=Strict, Path=/, no expiry; Secure only over TLS', () => {
  const plain = sessionCookie(ID, { secure: false });
  assert.equal(plain.split('; ')[0], `${SESSION_COOKIE}=${ID}`);
  assert.deepEqual(attributes(plain).sort(), ['HttpOnly', 'Path=/', 'SameSite=Strict']);
  const tls = sessionCookie(ID, { secure: true });
  assert.deepEqual(attributes(tls).sort(), ['HttpOnly', 'Path=/', 'SameSite=Strict', 'Secure']);
  assert.throws(() => sessionCookie('short', { secure: false }));
});

void test('the cleared cookie has the same attributes and Max-Age=0', () => {
  assert.deepEqual(attributes(clearedSessionCookie({ secure: true })).sort(), [
    'HttpOnly',
    'Max-Age=0',
    'Path=/',
    'SameSite=Strict',
    'Secure',
  ]);
  assert.equal(clearedSessionCookie({ secure: false }).split('; ')[0], `${SESSION_COOKIE}=`);
});

void test('Cookie header: pairs split on ";", values trimmed and unquoted, the first of a name wins', () => {
  const c = parseCookieHeader(`a=1;  b = "two" ; junk; a=3; =x; ${SESSION_COOKIE}=${ID}`);
  assert.equal(c.get('a'), '1');
  assert.equal(c.get('b'), 'two');
  assert.equal(c.get(SESSION_COOKIE), ID);
  assert.equal(c.has('junk'), false);
  assert.equal(c.has(''), false);
  assert.equal(parseCookieHeader(undefined).size, 0);
});

void test('the session id is taken only when well formed (43 base64url characters)', () => {
  assert.equal(isSessionId(ID), true);
  assert.equal(sessionIdOf(`${SESSION_COOKIE}=${ID}`), ID);
  assert.equal(sessionIdOf(`${SESSION_COOKIE}=${ID}x`), null, 'too long');
  assert.equal(sessionIdOf(`${SESSION_COOKIE}=${ID.slice(1)}+`), null, 'not base64url');
  assert.equal(sessionIdOf(`${SESSION_COOKIE}=../../etc`), null);
  assert.equal(sessionIdOf('other=1'), null);
  assert.equal(sessionIdOf(undefined), null);
});
