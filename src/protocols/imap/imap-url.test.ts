import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseImapUrl } from './imap-url.js';

void test('parseImapUrl: the CATENATE forms of RFC 4469 and RFC 5092', () => {
  assert.deepEqual(parseImapUrl('/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME'), {
    user: null,
    host: null,
    mailbox: 'Drafts',
    uidValidity: 385759045,
    uid: 20,
    part: [1],
    text: 'MIME',
    partial: null,
  });
  assert.deepEqual(
    parseImapUrl('imap://a%40b.test;AUTH=*@Mail.Example:143/Caf%C3%A9%2Fx/;UID=7/;PARTIAL=10.5'),
    {
      user: 'a@b.test',
      host: 'mail.example',
      mailbox: 'Café/x',
      uidValidity: null,
      uid: 7,
      part: [],
      text: '',
      partial: { offset: 10, length: 5 },
    },
  );
  const sections: Array<[string, number[], string]> = [
    ['HEADER', [], 'HEADER'],
    ['text', [], 'TEXT'],
    ['2.1.3', [2, 1, 3], ''],
    ['4.HEADER', [4], 'HEADER'],
  ];
  for (const [s, part, text] of sections) {
    const u = parseImapUrl(`/INBOX/;UID=1/;SECTION=${s}`);
    assert.deepEqual([u?.part, u?.text], [part, text], s);
  }
});

void test('parseImapUrl refuses what CATENATE cannot resolve', () => {
  for (const bad of [
    '',
    'INBOX/;UID=1',
    '/INBOX',
    '/INBOX/;UID=0',
    '/INBOX/;UID=x',
    '/INBOX/;UID=99999999999',
    '/INBOX;UIDVALIDITY=/;UID=1',
    '/INBOX/;UID=1;URLAUTH=anonymous:internal:0123',
    '/INBOX/;UID=1/;SECTION=MIME',
    '/INBOX/;UID=1/;SECTION=0',
    '/INBOX/;UID=1/;SECTION=1.HEADER.FIELDS%20(From)',
    '/INBOX/;UID=1/;SECTION=1/;SECTION=2',
    '/INBOX/;UID=1/;PARTIAL=1.0',
    '/IN%ZZBOX/;UID=1',
    '/%FF/;UID=1',
    '/IN BOX/;UID=1',
    'imap://host',
    'imap:///INBOX/;UID=1',
    `/${'a'.repeat(5000)}/;UID=1`,
  ]) {
    assert.equal(parseImapUrl(bad), null, bad);
  }
});
