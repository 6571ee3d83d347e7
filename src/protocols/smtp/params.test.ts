// MAIL and RCPT parameter parsing (RFC 1870, RFC 6152, RFC 3030, RFC 6531, RFC 3461) and the
// xtext helpers, without a socket.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMailParams } from './commands/mail.js';
import { parseRcptParams } from './commands/rcpt.js';
import { SmtpReply } from './reply.js';
import { decodeXtext, isDecimal, isXtext } from './syntax.js';
import { plaintextAuthAllowed } from './session.js';
import { listenerPolicy } from './handler.js';

const opts = { extended: true, messageSize: 1000 };

function params(entries: Array<[string, string | null]>): Map<string, string | null> {
  return new Map(entries);
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SmtpReply);
    return `${err.code} ${err.enhanced}`;
  }
  assert.fail('expected a refusal');
}

void test('MAIL parameters: values parsed, defaults filled', () => {
  assert.deepEqual(parseMailParams(params([]), opts), {
    size: null,
    body: '7BIT',
    smtputf8: false,
    ret: null,
    envid: null,
    requireTls: false,
  });
  assert.deepEqual(
    parseMailParams(
      params([
        ['SIZE', '1000'],
        ['BODY', 'binarymime'],
        ['SMTPUTF8', null],
        ['RET', 'hdrs'],
        ['ENVID', 'QQ+2B314159'],
        ['AUTH', '<>'],
      ]),
      opts,
    ),
    { size: 1000, body: 'BINARYMIME', smtputf8: true, ret: 'HDRS', envid: 'QQ+2B314159', requireTls: false },
  );
});

void test('MAIL parameters: REQUIRETLS only on a TLS session (RFC 8689)', () => {
  assert.equal(parseMailParams(params([['REQUIRETLS', null]]), { ...opts, tls: true }).requireTls, true);
  assert.equal(
    refusal(() => parseMailParams(params([['REQUIRETLS', null]]), opts)),
    '530 5.7.10',
  );
  assert.equal(
    refusal(() => parseMailParams(params([['REQUIRETLS', 'yes']]), { ...opts, tls: true })),
    '501 5.5.4',
  );
});

void test('MAIL parameters: refusals carry the right codes', () => {
  assert.equal(
    refusal(() => parseMailParams(params([['SIZE', '1001']]), opts)),
    '552 5.3.4',
  );
  assert.equal(
    refusal(() => parseMailParams(params([['SIZE', '9'.repeat(400)]]), opts)),
    '552 5.3.4',
  );
  assert.equal(
    refusal(() => parseMailParams(params([['SIZE', '-1']]), opts)),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseMailParams(params([['SIZE', null]]), opts)),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseMailParams(params([['BODY', '8BIT']]), opts)),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseMailParams(params([['SMTPUTF8', 'yes']]), opts)),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseMailParams(params([['ENVID', 'x'.repeat(101)]]), opts)),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseMailParams(params([['ENVID', 'a+zz']]), opts)),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseMailParams(params([['__proto__', 'x']]), opts)),
    '555 5.5.4',
  );
  assert.equal(
    refusal(() => parseMailParams(params([['SIZE', '1']]), { ...opts, extended: false })),
    '555 5.5.4',
  );
});

void test('RCPT parameters: NOTIFY and ORCPT', () => {
  assert.deepEqual(parseRcptParams(params([])), { notify: null, orcpt: null });
  assert.deepEqual(parseRcptParams(params([['NOTIFY', 'failure,Delay']])), {
    notify: ['FAILURE', 'DELAY'],
    orcpt: null,
  });
  assert.deepEqual(parseRcptParams(params([['NOTIFY', 'NEVER']])).notify, ['NEVER']);
  assert.equal(parseRcptParams(params([['ORCPT', 'rfc822;a+40b@c']])).orcpt, 'rfc822;a+40b@c');
  assert.equal(
    refusal(() => parseRcptParams(params([['NOTIFY', 'NEVER,FAILURE']]))),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseRcptParams(params([['NOTIFY', '']]))),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseRcptParams(params([['ORCPT', ';x']]))),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseRcptParams(params([['ORCPT', 'rfc822;a=b']]))),
    '501 5.5.4',
  );
  assert.equal(
    refusal(() => parseRcptParams(params([['SIZE', '1']]))),
    '555 5.5.4',
  );
});

void test('xtext and decimals', () => {
  assert.ok(isXtext('abc+2B+3D'));
  assert.ok(!isXtext('abc+2b'), 'hex digits are upper case (RFC 3461 §4)');
  assert.ok(!isXtext('a b'));
  assert.ok(!isXtext('a+'));
  assert.equal(decodeXtext('a+2Bb+3Dc'), 'a+b=c');
  assert.ok(isDecimal('0123'));
  assert.ok(!isDecimal(''));
  assert.ok(!isDecimal('1e3'));
});

void test('plaintext AUTH: TLS everywhere, loopback only on submission', () => {
  const allowed = (
    listener: 'smtp' | 'submission' | 'submissions',
    secure: boolean,
    remoteAddress: string,
    fromLoopback = true,
  ): boolean => plaintextAuthAllowed({ listener, secure, remoteAddress }, { fromLoopback });
  assert.equal(allowed('submission', false, '192.0.2.7'), false, '587 needs STARTTLS first');
  assert.equal(allowed('submission', true, '192.0.2.7'), true);
  assert.equal(allowed('submission', false, '127.0.0.1'), true);
  assert.equal(allowed('submission', false, '::1'), true);
  assert.equal(allowed('smtp', false, '127.0.0.1'), false, 'port 25 only after TLS');
  assert.equal(allowed('smtp', true, '192.0.2.7'), true);
  assert.equal(allowed('submissions', true, '192.0.2.7'), true);
  // auth.plaintext_from_loopback = false: loopback is treated like any other client.
  assert.equal(allowed('submission', false, '127.0.0.1', false), false);
  assert.equal(allowed('submission', false, '::1', false), false);
  assert.equal(allowed('submission', true, '127.0.0.1', false), true);
});

void test('listener policies: unauthorised pipelining refused on the MX by default, for loopback too', () => {
  assert.equal(listenerPolicy({ listener: 'smtp', remoteAddress: '127.0.0.1' }).forbidUnauthPipelining, true);
  assert.equal(listenerPolicy({ listener: 'smtp', remoteAddress: '::1' }).forbidUnauthPipelining, true);
  assert.equal(
    listenerPolicy({ listener: 'submission', remoteAddress: '192.0.2.7' }).forbidUnauthPipelining,
    false,
  );
  assert.equal(
    listenerPolicy({ listener: 'submissions', remoteAddress: '192.0.2.7' }).forbidUnauthPipelining,
    false,
  );
  const chosen = { forbidUnauthPipelining: ['submission'] as const };
  assert.equal(
    listenerPolicy({ listener: 'smtp', remoteAddress: '192.0.2.7' }, chosen).forbidUnauthPipelining,
    false,
  );
  assert.equal(
    listenerPolicy({ listener: 'submission', remoteAddress: '192.0.2.7' }, chosen).forbidUnauthPipelining,
    true,
  );
  assert.equal(
    listenerPolicy({ listener: 'smtp', remoteAddress: '192.0.2.7' }, { forbidUnauthPipelining: [] })
      .forbidUnauthPipelining,
    false,
  );
});

void test('listener policies: AUTH required on submission, banner delay on the MX except for loopback', () => {
  const mx = listenerPolicy({ listener: 'smtp', remoteAddress: '192.0.2.7' });
  assert.equal(mx.requireAuth, false);
  assert.equal(mx.greetingDelayMs, 1000);
  assert.equal(mx.commandTimeoutSeconds, 300);
  assert.equal(mx.dataTimeoutSeconds, 600);
  assert.equal(listenerPolicy({ listener: 'smtp', remoteAddress: '127.0.0.1' }).greetingDelayMs, 0);
  assert.equal(
    listenerPolicy({ listener: 'smtp', remoteAddress: '127.0.0.1' }, { greetingDelayForLoopback: true })
      .greetingDelayMs,
    1000,
  );
  assert.equal(
    listenerPolicy({ listener: 'smtp', remoteAddress: '192.0.2.7' }, { greetingDelayMs: 0 }).greetingDelayMs,
    0,
  );
  for (const listener of ['submission', 'submissions'] as const) {
    const p = listenerPolicy({ listener, remoteAddress: '192.0.2.7' });
    assert.equal(p.requireAuth, true);
    assert.equal(p.greetingDelayMs, 0);
  }
});
