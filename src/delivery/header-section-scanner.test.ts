import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeaderSectionScanner, type HeaderSection } from './header-section-scanner.js';

const OURS = 'mail.example.test';

function scan(parts: Uint8Array[], maxBytes = 100 * 1024, maxFromBytes?: number): HeaderSection {
  const s = new HeaderSectionScanner({ maxBytes, authservId: OURS, maxFromBytes });
  for (const p of parts) s.push(p);
  return s.finish();
}

/** Every way of cutting `bytes` in two, and one byte at a time: all give `expected`. */
function assertEverySplit(bytes: Buffer, expected: HeaderSection, maxBytes?: number): void {
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(scan([bytes.subarray(0, i), bytes.subarray(i)], maxBytes), expected, `split at ${i}`);
  }
  const ones: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) ones.push(bytes.subarray(i, i + 1));
  assert.deepEqual(scan(ones, maxBytes), expected, 'one byte at a time');
}

const forged1 = 'Authentication-Results: Mail.Example.TEST;\r\n\tdmarc=pass header.from=example.test\r\n';
const forged2 =
  'authentication-results : (a (nested) comment \\) here)\r\n "mail.example.test" 1; spf=pass\r\n';
const forged3 = 'Authentication-Results:mail.example.test; none\r\n';
const theirs = 'Authentication-Results: mx.other.example; dkim=pass\r\n';
const prefixed = 'Authentication-Results: mail.example.test.evil; dkim=pass\r\n';
const header =
  'Received: from a by b; Fri, 27 Nov 2026 09:00:00 +0000\r\n' +
  forged1 +
  'RECEIVED: from c\r\n\tby d; Fri, 27 Nov 2026 09:00:00 +0000\r\n' +
  theirs +
  'From: Alice <alice@example.test>,\r\n bob@example.test\r\n' +
  forged2 +
  'X-Received: not counted\r\n' +
  prefixed +
  'Received : obsolete spacing still counts\r\n' +
  'Subject: test\r\n' +
  forged3;
const body =
  'Received: in the body, not counted\r\n' + 'Authentication-Results: mail.example.test; in the body\r\n';

function rangeOf(text: string, part: string): [number, number] {
  const start = text.indexOf(part);
  assert.ok(start >= 0);
  return [start, start + part.length];
}

void test('counts Received:, finds our Authentication-Results, reads From:, at every split', () => {
  const bytes = Buffer.from(`${header}\r\n${body}`);
  const expected: HeaderSection = {
    size: header.length,
    tooLarge: false,
    received: 3,
    ourAuthResults: [rangeOf(header, forged1), rangeOf(header, forged2), rangeOf(header, forged3)],
    from: ['Alice <alice@example.test>, bob@example.test'],
  };
  assert.deepEqual(scan([bytes]), expected);
  assertEverySplit(bytes, expected);
});

void test('bare LF line endings, a message that is all header, and an empty header section', () => {
  const lf = Buffer.from(
    'Received: x\nFrom: a@b.test\nAuthentication-Results: mail.example.test; x\n\nbody\n',
  );
  const text = lf.toString();
  assertEverySplit(lf, {
    size: text.indexOf('\n\n') + 1,
    tooLarge: false,
    received: 1,
    ourAuthResults: [rangeOf(text, 'Authentication-Results: mail.example.test; x\n')],
    from: ['a@b.test'],
  });
  // No empty line, no final CRLF: the last field ends with the message.
  const all = Buffer.from('From: c@d.test\r\nAuthentication-Results: mail.example.test');
  assertEverySplit(all, {
    size: all.length,
    tooLarge: false,
    received: 0,
    ourAuthResults: [[16, all.length]],
    from: ['c@d.test'],
  });
  assertEverySplit(Buffer.from('\r\nReceived: body\r\n'), {
    size: 0,
    tooLarge: false,
    received: 0,
    ourAuthResults: [],
    from: [],
  });
});

void test('the size limit: a section of exactly maxBytes passes, one byte more is too large', () => {
  const fields = 'Subject: ' + 'x'.repeat(100) + '\r\n';
  const max = fields.length;
  const exact = Buffer.from(`${fields}\r\nbody\r\n`);
  assertEverySplit(exact, { size: max, tooLarge: false, received: 0, ourAuthResults: [], from: [] }, max);
  const over = Buffer.from(`${fields}X\r\n\r\nbody`);
  const verdict = scan([over], max);
  assert.equal(verdict.tooLarge, true);
  assert.deepEqual(verdict.ourAuthResults, [], 'nothing to hand on');
  for (let i = 0; i <= over.length; i++) {
    assert.equal(scan([over.subarray(0, i), over.subarray(i)], max).tooLarge, true, `split at ${i}`);
  }
  // A message without a body whose fields reach the limit with no empty line is not too large.
  assert.equal(scan([Buffer.from(fields)], max).tooLarge, false);
});

void test('From: beyond its bound is reported as unknown (null), not cut', () => {
  const long = Buffer.from(`From: ${'a'.repeat(200)}@example.test\r\n\r\n`);
  const s = new HeaderSectionScanner({ maxBytes: 1024, authservId: null, maxFromBytes: 100 });
  s.push(long);
  assert.equal(s.finish().from, null);
  // authservId null: nothing is removed.
  const t = new HeaderSectionScanner({ maxBytes: 1024, authservId: null });
  t.push(Buffer.from(forged1 + '\r\n'));
  assert.deepEqual(t.finish().ourAuthResults, []);
});

void test('hostile input: the id after 50,000 nested comments is still found', () => {
  const big = Buffer.from(
    'Authentication-Results: ' + '('.repeat(50_000) + ')'.repeat(50_000) + ' mail.example.test;\r\n\r\n',
  );
  const r = scan([big], 200 * 1024);
  assert.deepEqual(r.ourAuthResults, [[0, big.length - 2]], 'the id after a long comment is still found');
});
