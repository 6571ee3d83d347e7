import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodystructure, envelopeValue, formatBodystructure, formatEnvelope } from './bodystructure.js';
import { indexMessage } from './indexer.js';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'));

function bs(msg: Buffer, extended: boolean, utf8 = false): string {
  return formatBodystructure(bodystructure(indexMessage(msg), { extended, utf8 }), utf8);
}

void test('single part text/plain', () => {
  const msg = crlf([
    'From: a@example.com',
    'Subject: hi',
    'Content-Type: text/plain; charset=UTF-8',
    '',
    'Hello',
    'World',
    '',
  ]);
  const r = indexMessage(msg);
  assert.deepEqual(bodystructure(r, { extended: true }), [
    'TEXT',
    'PLAIN',
    ['charset', 'UTF-8'],
    null,
    null,
    '7BIT',
    14,
    2,
    null,
    null,
    null,
    null,
  ]);
  assert.equal(bs(msg, true), '("TEXT" "PLAIN" ("charset" "UTF-8") NIL NIL "7BIT" 14 2 NIL NIL NIL NIL)');
  assert.equal(bs(msg, false), '("TEXT" "PLAIN" ("charset" "UTF-8") NIL NIL "7BIT" 14 2)');
});

void test('multipart/alternative', () => {
  const msg = crlf([
    'Content-Type: multipart/alternative; boundary=XYZ',
    '',
    '--XYZ',
    'Content-Type: text/plain',
    '',
    'plain',
    '--XYZ',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<p>html</p>',
    '--XYZ--',
    '',
  ]);
  assert.equal(
    bs(msg, true),
    '(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)' +
      '("TEXT" "HTML" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 11 1 NIL NIL NIL NIL)' +
      ' "ALTERNATIVE" ("boundary" "XYZ") NIL NIL NIL)',
  );
  assert.equal(
    bs(msg, false),
    '(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 1)("TEXT" "HTML" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 11 1) "ALTERNATIVE")',
  );
});

void test('multipart/mixed with an attachment', () => {
  const msg = crlf([
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'See attachment.',
    '--b1',
    'Content-Type: application/pdf; name="r.pdf"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="r.pdf"',
    'Content-ID: <c1@x>',
    'Content-Description: Report',
    'Content-Language: en',
    '',
    'JVBERi0xLjQK',
    '--b1--',
    '',
  ]);
  assert.equal(
    bs(msg, true),
    '(("TEXT" "PLAIN" ("charset" "us-ascii") NIL NIL "7BIT" 15 1 NIL NIL NIL NIL)' +
      '("APPLICATION" "PDF" ("name" "r.pdf") "<c1@x>" "Report" "BASE64" 12 NIL ("ATTACHMENT" ("filename" "r.pdf")) "en" NIL)' +
      ' "MIXED" ("boundary" "b1") NIL NIL NIL)',
  );
});

void test('nested message/rfc822 with its own multipart', () => {
  const inner = [
    'From: "Inner Sender" <in@example.org>',
    'To: x@example.com',
    'Subject: inner subject',
    'Date: Mon, 7 Feb 1994 21:52:25 -0800',
    'Message-ID: <inner@example.org>',
    'Content-Type: multipart/alternative; boundary=i',
    '',
    '--i',
    'Content-Type: text/plain',
    '',
    'hi',
    '--i--',
  ];
  const msg = crlf([
    'Subject: outer',
    'Content-Type: multipart/mixed; boundary=o',
    '',
    '--o',
    '',
    'Body text',
    '--o',
    'Content-Type: message/rfc822',
    '',
    ...inner,
    '--o--',
    '',
  ]);
  const innerSize = Buffer.byteLength(inner.join('\r\n'));
  assert.equal(innerSize, 246); // 224 bytes of text in 12 lines, 11 CRLF
  const env =
    '("Mon, 7 Feb 1994 21:52:25 -0800" "inner subject" (("Inner Sender" NIL "in" "example.org"))' +
    ' (("Inner Sender" NIL "in" "example.org")) (("Inner Sender" NIL "in" "example.org"))' +
    ' ((NIL NIL "x" "example.com")) NIL NIL NIL "<inner@example.org>")';
  assert.equal(
    bs(msg, true),
    '(("TEXT" "PLAIN" ("charset" "us-ascii") NIL NIL "7BIT" 9 1 NIL NIL NIL NIL)' +
      `("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 246 ${env}` +
      ' (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 2 1 NIL NIL NIL NIL) "ALTERNATIVE" ("boundary" "i") NIL NIL NIL)' +
      ' 12 NIL NIL NIL NIL) "MIXED" ("boundary" "o") NIL NIL NIL)',
  );
  assert.equal(
    bs(msg, false),
    '(("TEXT" "PLAIN" ("charset" "us-ascii") NIL NIL "7BIT" 9 1)' +
      `("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 246 ${env}` +
      ' (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 2 1) "ALTERNATIVE") 12) "MIXED")',
  );
  const r = indexMessage(msg);
  assert.equal(formatEnvelope(envelopeValue(r.envelope)), '(NIL "outer" NIL NIL NIL NIL NIL NIL NIL NIL)');
});

void test('placeholders keep the grammar valid: empty multipart, unparsed message/rfc822', () => {
  const empty = crlf(['Content-Type: multipart/mixed; boundary=never', '', 'text', '']);
  assert.equal(bs(empty, false), '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) "MIXED")');
  const encoded = crlf([
    'Content-Type: message/rfc822',
    'Content-Transfer-Encoding: base64',
    '',
    'U3ViamVjdDogeA0KDQp4',
    '',
  ]);
  assert.equal(
    bs(encoded, false),
    '("MESSAGE" "RFC822" NIL NIL NIL "BASE64" 22 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)' +
      ' ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) 1)',
  );
});

void test('non-ASCII parameters: RFC 2231 form unless the client accepts UTF-8', () => {
  const msg = crlf([
    'Content-Type: application/octet-stream',
    "Content-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9.txt",
    'Content-Description: "quoted" \\ text',
    '',
    'x',
  ]);
  assert.equal(
    bs(msg, true),
    '("APPLICATION" "OCTET-STREAM" NIL NIL "\\"quoted\\" \\\\ text" "7BIT" 1 NIL ("ATTACHMENT" ("filename*" "utf-8\'\'%C3%A9t%C3%A9.txt")) NIL NIL)',
  );
  assert.equal(
    bs(msg, true, true),
    '("APPLICATION" "OCTET-STREAM" NIL NIL "\\"quoted\\" \\\\ text" "7BIT" 1 NIL ("ATTACHMENT" ("filename" "été.txt")) NIL NIL)',
  );
});
