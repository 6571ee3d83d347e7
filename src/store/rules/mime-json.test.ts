import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexMessage } from '../../mail/mime/indexer.js';
import { corpus } from '../../mail/mime/testing/messages.js';
import { decodeMime, encodeMime } from './mime-json.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'utf8');

/** Shapes the corpus may lack: groups, empty and explicit Sender/Reply-To, nested messages. */
const EXTRA = [
  'From: a@x.test\nTo: g: g1@d1.org, g2@d2.org;, h: ;\nCc: "foo": ;\nSender: s@x.test\nReply-To: a@x.test\nSubject:\n\nbody\n',
  'Subject: no addresses at all\nDate: garbage\nMessage-ID: <m@x>\nReferences: <a@x> <b@x>\nIn-Reply-To: <b@x>\n\n',
  'From: =?UTF-8?Q?=C3=89mile?= <e@x.test>, "Bob B" <b@x.test>\nTo: undisclosed-recipients:;\nBcc: x@y\n' +
    'Content-Type: multipart/mixed; boundary=b\nContent-Language: en, de\nContent-Location: http://x/\n\n' +
    '--b\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename="m.eml"\n\n' +
    'From: inner@x.test\nSubject: inner\n\ninner body\n--b\nContent-Type: text/plain; charset=utf-8\n' +
    'Content-ID: <c@x>\nContent-Description: d\nContent-MD5: abc\nContent-Transfer-Encoding: quoted-printable\n\nq=3D\n--b--\n',
  '',
  'X: only a header\n',
].map(crlf);

void test('decodeMime(encodeMime(r)) is r for every corpus message and the extra shapes', () => {
  const records = [...corpus().map((c) => indexMessage(c.gen.bytes)), ...EXTRA.map((b) => indexMessage(b))];
  assert.ok(records.length > 20);
  for (const r of records) {
    const text = encodeMime(r);
    assert.deepEqual(decodeMime(text), r, text);
    assert.ok(text.length <= JSON.stringify(r).length);
  }
});

void test('the full form (records stored before the compact one) reads back as it was', () => {
  for (const b of EXTRA) {
    const r = indexMessage(b);
    assert.deepEqual(decodeMime(JSON.stringify(r)), r);
  }
});

void test('a tiny message takes about half the bytes', () => {
  const r = indexMessage(
    crlf(
      'From: <sent@example.test>\nTo: <a@example.test>\nSubject: tiny 1\nMessage-ID: <t.1@x.test>\n\nA short note.\n',
    ),
  );
  const full = JSON.stringify(r).length;
  const compact = encodeMime(r).length;
  assert.ok(compact < 0.6 * full, `${compact} of ${full}`);
});
