import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError, StoreError } from '../../core/errors.js';
import type { AppendRequest, OutboundEnvelope } from '../types.js';
import { AppendRequestFailed, checkAppendRequest, parseAppendTarget } from './append-request.js';

const blob = { blobId: 'a'.repeat(64), size: 10, mime: {} as AppendRequest['blob']['mime'] };
const envelope: OutboundEnvelope = {
  mailFrom: 'a@example.org',
  recipients: [{ address: 'b@example.net', notify: null, orcpt: null }],
  envid: null,
  ret: null,
  body: '8BITMIME',
  smtputf8: false,
  accountId: null,
};

void test('a request needs a sha256 blob id, a size, and a target or an outbound copy', () => {
  checkAppendRequest({ blob, targets: [{ mailboxId: 1 }] });
  checkAppendRequest({ blob, targets: [], outbound: envelope });
  const bad: AppendRequest[] = [
    { blob: { ...blob, blobId: 'A'.repeat(64) }, targets: [{ mailboxId: 1 }] },
    { blob: { ...blob, size: -1 }, targets: [{ mailboxId: 1 }] },
    { blob, targets: [] },
    { blob, targets: [], outbound: { ...envelope, recipients: [] } },
    { blob, targets: [], outbound: { ...envelope, ret: 'ALL' as 'FULL' } },
  ];
  for (const req of bad)
    assert.throws(
      () => checkAppendRequest(req),
      (e) => isStoreError(e, 'INVALID_ARGUMENT'),
    );
});

void test('a target with bad flags or a bad date fails alone; the date defaults to now', () => {
  const ok = parseAppendTarget({ mailboxId: 1, flags: ['\\Seen', 'Work'] }, 1234);
  assert.deepEqual(ok, { ok: true, flags: { bits: 1, keywords: ['Work'] }, internalDate: 1234 });
  const flags = parseAppendTarget({ mailboxId: 1, flags: ['\\Bogus'] }, 1234);
  assert.equal(flags.ok === false && isStoreError(flags.error, 'INVALID_ARGUMENT'), true);
  const date = parseAppendTarget({ mailboxId: 1, internalDate: new Date(Number.NaN) }, 1234);
  assert.equal(date.ok === false && isStoreError(date.error, 'INVALID_ARGUMENT'), true);
});

void test('all-or-nothing: every outcome carries the first failure', () => {
  const first = new StoreError('OVER_QUOTA', 'over');
  const failed = new AppendRequestFailed(
    [
      {
        ok: true,
        mailboxId: 1,
        accountId: 1,
        uid: 5,
        modseq: 6,
        uidValidity: 7,
        usage: { quotaBytes: 0, usedBytes: 0, quotaMessages: 0, usedMessages: 0, warnedLevel: 0 },
      },
      { ok: false, mailboxId: 2, error: first },
      { ok: false, mailboxId: 3, error: new StoreError('NOT_FOUND', 'gone') },
    ],
    first,
  );
  assert.deepEqual(
    failed.outcomes.map((o) => (o.ok ? 'ok' : `${o.mailboxId}:${o.error.code}`)),
    ['1:OVER_QUOTA', '2:OVER_QUOTA', '3:NOT_FOUND'],
  );
});
