import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SaslError, createSaslServer, decodeSaslBase64, type SaslErrorCode, type SaslStep } from './sasl.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function expectError(fn: () => unknown, code: SaslErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof SaslError && err.code === code);
}

function done(step: SaslStep): { authcid: string; authzid: string; password: string } {
  assert.equal(step.kind, 'done');
  if (step.kind !== 'done') throw new Error('unreachable');
  return step.credentials;
}

void test('PLAIN with an initial response (RFC 4616)', () => {
  const s = createSaslServer('plain');
  assert.equal(s.mechanism, 'PLAIN');
  assert.deepEqual(done(s.start(b64('\0alice@example.com\0pässword'))), {
    authcid: 'alice@example.com',
    authzid: 'alice@example.com',
    password: 'pässword',
  });
  expectError(() => s.respond(b64('x')), 'UNEXPECTED');
});

void test('PLAIN without an initial response gets an empty challenge, then the response', () => {
  const s = createSaslServer('PLAIN');
  assert.deepEqual(s.start(), { kind: 'challenge', challenge: '' });
  const c = done(s.respond(b64('bob@example.com\0bob@example.com\0pw')));
  assert.equal(c.authcid, 'bob@example.com');
  assert.equal(c.password, 'pw');
});

void test('PLAIN authzid equal to authcid (any case) is accepted, a different one refused', () => {
  assert.equal(
    done(createSaslServer('PLAIN').start(b64('Bob@Example.com\0bob@example.com\0pw'))).authzid,
    'bob@example.com',
  );
  expectError(
    () => createSaslServer('PLAIN').start(b64('admin@example.com\0bob@example.com\0pw')),
    'AUTHZID_REFUSED',
  );
});

void test('PLAIN error cases', () => {
  expectError(() => createSaslServer('PLAIN').start('*'), 'CANCELLED');
  const s = createSaslServer('PLAIN');
  s.start();
  expectError(() => s.respond('*'), 'CANCELLED');
  expectError(() => s.respond(b64('\0a\0b')), 'UNEXPECTED'); // after the cancel, nothing more
  expectError(() => createSaslServer('PLAIN').start('not base64!'), 'BAD_BASE64');
  expectError(() => createSaslServer('PLAIN').start('YWJj='), 'BAD_BASE64'); // bad length
  expectError(() => createSaslServer('PLAIN').start('Y=Jj'), 'BAD_BASE64'); // padding inside
  expectError(() => createSaslServer('PLAIN').start(b64('only-one\0separator')), 'MALFORMED');
  expectError(() => createSaslServer('PLAIN').start(b64('nosep')), 'MALFORMED');
  expectError(() => createSaslServer('PLAIN').start(b64('\0\0pw')), 'MALFORMED'); // empty authcid
  expectError(() => createSaslServer('PLAIN').start(b64('\0user\0pass\0word')), 'NUL_IN_FIELD');
  expectError(() => createSaslServer('PLAIN').start('='), 'MALFORMED'); // empty initial response
  const invalidUtf8 = Buffer.from([0, 0x75, 0, 0xff, 0xfe]).toString('base64');
  expectError(() => createSaslServer('PLAIN').start(invalidUtf8), 'MALFORMED');
  const long = b64('\0user\0' + 'p'.repeat(4000));
  expectError(() => createSaslServer('PLAIN').start(long), 'TOO_LONG');
  expectError(
    () => createSaslServer('PLAIN', { maxResponseLength: 16 }).start(b64('\0user\0password1')),
    'TOO_LONG',
  );
  expectError(() => createSaslServer('CRAM-MD5'), 'UNSUPPORTED_MECHANISM');
});

void test('LOGIN: Username: and Password: challenges', () => {
  const s = createSaslServer('login');
  const first = s.start();
  assert.equal(first.kind, 'challenge');
  assert.equal(first.kind === 'challenge' && Buffer.from(first.challenge, 'base64').toString(), 'Username:');
  const second = s.respond(b64('carol@example.com'));
  assert.equal(
    second.kind === 'challenge' && Buffer.from(second.challenge, 'base64').toString(),
    'Password:',
  );
  assert.deepEqual(done(s.respond(b64('hunter2'))), {
    authcid: 'carol@example.com',
    authzid: 'carol@example.com',
    password: 'hunter2',
  });
  expectError(() => s.respond(b64('more')), 'UNEXPECTED');
});

void test('LOGIN with the user name as initial response (Outlook: AUTH LOGIN <base64 user>)', () => {
  const s = createSaslServer('LOGIN');
  const step = s.start(b64('dave@example.com'));
  assert.equal(step.kind === 'challenge' && Buffer.from(step.challenge, 'base64').toString(), 'Password:');
  assert.equal(done(s.respond(b64('pw'))).authcid, 'dave@example.com');
});

void test('LOGIN error cases: cancel at each step, NUL, bad base64, empty user', () => {
  let s = createSaslServer('LOGIN');
  s.start();
  expectError(() => s.respond('*'), 'CANCELLED');
  s = createSaslServer('LOGIN');
  s.start(b64('u'));
  expectError(() => s.respond('*'), 'CANCELLED');
  expectError(() => createSaslServer('LOGIN').start(b64('us\0er')), 'NUL_IN_FIELD');
  s = createSaslServer('LOGIN');
  s.start(b64('user'));
  expectError(() => s.respond(b64('pass\0word')), 'NUL_IN_FIELD');
  expectError(() => createSaslServer('LOGIN').start('%%%%'), 'BAD_BASE64');
  expectError(() => createSaslServer('LOGIN').start('='), 'MALFORMED');
  s = createSaslServer('LOGIN');
  s.start();
  expectError(() => s.respond(''), 'MALFORMED'); // empty user name
  s = createSaslServer('LOGIN');
  s.start(b64('user'));
  assert.equal(done(s.respond('')).password, ''); // an empty password is the authenticator's business
  expectError(() => s.start(), 'UNEXPECTED');
});

void test('strict base64 decoding', () => {
  assert.deepEqual(decodeSaslBase64('YWJj'), Buffer.from('abc'));
  assert.deepEqual(decodeSaslBase64('YWI='), Buffer.from('ab'));
  assert.deepEqual(decodeSaslBase64('YQ=='), Buffer.from('a'));
  assert.deepEqual(decodeSaslBase64('='), Buffer.alloc(0));
  expectError(() => decodeSaslBase64('YQ'), 'BAD_BASE64');
  expectError(() => decodeSaslBase64('Y Q=='), 'BAD_BASE64');
  expectError(() => decodeSaslBase64('YQ=\n'), 'BAD_BASE64');
  expectError(() => decodeSaslBase64('Y==='), 'BAD_BASE64');
});
