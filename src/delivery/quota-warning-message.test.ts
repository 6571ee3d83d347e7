import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildQuotaWarning, quotaWarningSubject } from './quota-warning-message.js';

const claim = {
  accountId: 1,
  address: 'alice@example.org',
  threshold: 90,
  usage: { quotaBytes: 1_000_000, usedBytes: 905_000, quotaMessages: 0, usedMessages: 12 },
};

void test('the warning: postmaster of the domain, subject with the threshold, RFC 3834 auto-generated, text/plain', () => {
  const text = buildQuotaWarning({
    claim,
    hostname: 'mail.example.org',
    date: new Date(Date.UTC(2026, 11, 7, 8, 0, 0)),
    messageId: 'q1@mail.example.org',
  }).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const head = text.slice(0, end);
  const body = text.slice(end + 4);
  assert.deepEqual(head.split('\r\n'), [
    'From: Mail System <postmaster@example.org>',
    'To: <alice@example.org>',
    'Subject: Your mailbox is 90% full',
    'Date: Mon, 7 Dec 2026 08:00:00 +0000',
    'Message-ID: <q1@mail.example.org>',
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
  ]);
  assert.match(body, /^Your mailbox alice@example\.org is 90% full: 905 KB of 1 MB\.\r\n/);
  assert.ok(body.endsWith('\r\n'));
  assert.ok(!/[^\r]\n/.test(text), 'CRLF line endings only');
  assert.ok(
    text.split('\r\n').every((l) => l.length <= 998),
    'RFC 5322 §2.1.1 line length',
  );
  assert.equal(quotaWarningSubject(100), 'Your mailbox is 100% full');
});

void test('an SMTPUTF8 address makes the part UTF-8, 8bit (RFC 6532)', () => {
  const text = buildQuotaWarning({
    claim: { ...claim, address: 'jörg@example.org' },
    hostname: 'h',
  }).toString('utf8');
  assert.match(text, /\r\nContent-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n/);
  assert.match(text, /\r\nTo: <jörg@example\.org>\r\n/);
});
