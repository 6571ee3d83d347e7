import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddressList } from './address.js';
import { baseSubject } from './base-subject.js';
import { parseMailDate } from './date.js';
import { parseHeaderBlock } from './header-block.js';
import { decodeQuotedPrintable } from './preview.js';

void test('RFC 5256 §2.1 base subject', () => {
  const cases: Array<[string, string]> = [
    ['Re: hello', 'hello'],
    ['RE: Re: re: hello', 'hello'],
    ['Fwd: Fw: hello', 'hello'],
    ['[list] Re: hello', 'hello'],
    ['Re [list]: hello', 'hello'],
    ['Re: [PATCH] fix', 'fix'],
    ['[PATCH] fix', 'fix'],
    ['[PATCH]', '[PATCH]'],
    ['hello (fwd)', 'hello'],
    ['hello (fwd) (FWD)  ', 'hello'],
    ['[fwd: hello]', 'hello'],
    ['[Fwd: Re: [list] hello (fwd)]', 'hello'],
    ['Re:\thello   world', 'hello world'],
    ['', ''],
    ['Re:', ''],
    ['Reply: not a prefix', 'Reply: not a prefix'],
  ];
  for (const [input, want] of cases) assert.equal(baseSubject(input), want, input);
});

void test('base subject stays linear on hostile subjects (a whole 256 KiB header each)', () => {
  const start = performance.now();
  assert.equal(baseSubject('[a]'.repeat(80_000) + 'x'), 'x');
  assert.equal(baseSubject('re: '.repeat(60_000) + 'x'), 'x');
  assert.equal(baseSubject('['.repeat(250_000)), '['.repeat(250_000));
  assert.equal(baseSubject('[fwd: '.repeat(20_000) + 'x' + ']'.repeat(20_000)), 'x');
  assert.ok(performance.now() - start < 2000);
});

void test('RFC 5322 dates, including obsolete forms', () => {
  assert.equal(parseMailDate('Tue, 1 Jul 2003 10:52:37 +0200'), Date.UTC(2003, 6, 1, 8, 52, 37));
  assert.equal(parseMailDate('1 Jul 03 10:52 GMT'), Date.UTC(2003, 6, 1, 10, 52, 0));
  assert.equal(
    parseMailDate('Thu, 13 Feb 1969 23:32 -0330 (Newfoundland Time)'),
    Date.UTC(1969, 1, 14, 3, 2, 0),
  );
  assert.equal(parseMailDate('21 Nov 97 09:55:06 PST'), Date.UTC(1997, 10, 21, 17, 55, 6));
  assert.equal(parseMailDate('Fri Nov 21 09:55:06 1997'), Date.UTC(1997, 10, 21, 9, 55, 6));
  assert.equal(parseMailDate('garbage'), null);
  assert.equal(parseMailDate('32 Jan 2020 00:00 +0000'), null);
  assert.equal(parseMailDate('1 Jan 2020 25:00 +0000'), null);
  assert.equal(parseMailDate('('.repeat(100_000)), null);
});

void test('address lists: quoting, comments, routes, groups, broken input', () => {
  assert.deepEqual(parseAddressList('"Doe, John" <john@x.test>, Jane <jane@y.test>'), [
    { name: 'Doe, John', adl: null, mailbox: 'john', host: 'x.test' },
    { name: 'Jane', adl: null, mailbox: 'jane', host: 'y.test' },
  ]);
  assert.deepEqual(parseAddressList('"a b"@quoted.test'), [
    { name: null, adl: null, mailbox: '"a b"', host: 'quoted.test' },
  ]);
  assert.deepEqual(parseAddressList('=?utf-8?Q?J=C3=BCrgen?= <j@x.test>'), [
    { name: '=?utf-8?Q?J=C3=BCrgen?=', adl: null, mailbox: 'j', host: 'x.test' },
  ]);
  assert.deepEqual(parseAddressList('user@[192.0.2.1]'), [
    { name: null, adl: null, mailbox: 'user', host: '[192.0.2.1]' },
  ]);
  assert.equal(parseAddressList(''), null);
  assert.equal(parseAddressList(' , ,'), null);
  // Unclosed constructs never throw.
  assert.ok(parseAddressList('"unterminated <a@b') !== undefined);
  assert.ok(parseAddressList('(unterminated comment a@b') !== undefined);
  assert.ok(parseAddressList('<a@b') !== undefined);
  const start = performance.now();
  parseAddressList('('.repeat(100_000));
  parseAddressList('a@b,'.repeat(50_000));
  parseAddressList('g:'.repeat(50_000));
  assert.ok(performance.now() - start < 2000);
});

void test('header blocks: folding, 8-bit, missing colon, __proto__ names', () => {
  const block = Buffer.concat([
    Buffer.from('Subject: one\r\n two\r\n\tthree\r\n'),
    Buffer.from('no colon here\r\n'),
    Buffer.from('__proto__: p\r\n'),
    Buffer.from('X-Utf8: Grüße\n'),
    Buffer.from([0x58, 0x2d, 0x42, 0x61, 0x64, 0x3a, 0x20, 0xe9, 0xff, 0x0d, 0x0a]),
    Buffer.from('Key : spaced\r\n\r\nBody: not a header\r\n'),
  ]);
  const fields = parseHeaderBlock(block);
  assert.deepEqual(
    fields.map((f) => [f.key, f.value]),
    [
      ['subject', 'one two\tthree'],
      ['__proto__', 'p'],
      ['x-utf8', 'Grüße'],
      ['x-bad', 'éÿ'],
      ['key', 'spaced'],
    ],
  );
});

void test('quoted-printable decoding is lenient', () => {
  const dec = (s: string): string =>
    Buffer.from(decodeQuotedPrintable(Buffer.from(s, 'latin1'))).toString('latin1');
  assert.equal(dec('a=3Db=\r\nc= \nd'), 'a=bcd');
  assert.equal(dec('bad =ZZ escape ='), 'bad =ZZ escape ');
});
