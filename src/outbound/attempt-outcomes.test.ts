import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_OUTBOUND } from '../config/schema.js';
import type { QueuedMessageHead, QueuedRecipient } from '../store/types.js';
import { attemptOutcomes } from './attempt-outcomes.js';
import type { RecipientResult } from './domain-attempt.js';

const HOUR = 3_600_000;
const queuedAt = new Date('2026-12-01T00:00:00Z');
const message: QueuedMessageHead = {
  id: 7,
  blobId: 'b',
  size: 10,
  mailFrom: 's@example.test',
  envid: null,
  ret: null,
  body: '7BIT',
  smtputf8: false,
  accountId: null,
  queuedAt,
  nextAttemptAt: queuedAt,
  attempts: 0,
};
const schedule = { ...DEFAULT_OUTBOUND, retryJitter: 0 };

function recipient(id: number, over: Partial<QueuedRecipient> = {}): QueuedRecipient {
  return {
    id,
    messageId: 7,
    address: `r${id}@remote.test`,
    domain: 'remote.test',
    notify: null,
    orcpt: null,
    status: 'queued',
    attempts: 0,
    lastAttemptAt: null,
    nextAttemptAt: queuedAt,
    lastReply: null,
    remoteMta: null,
    delayWarnedAt: null,
    leaseOwner: 'w',
    leaseExpiresAt: null,
    ...over,
  };
}

function result(
  r: QueuedRecipient,
  kind: RecipientResult['kind'],
  code: number,
  enhanced: string | null,
  relayed = false,
): RecipientResult {
  return {
    recipient: r,
    kind,
    reply: { code, enhanced, text: 'text' },
    remoteMta: 'mx.remote.test',
    relayed,
  };
}

void test('delivered, failed and deferred map to outcomes; notices follow NOTIFY and the schedule', () => {
  const now = new Date(queuedAt.getTime() + 5 * HOUR);
  const { outcomes, reports } = attemptOutcomes(
    [
      result(recipient(1), 'delivered', 250, '2.0.0'),
      result(recipient(2, { notify: ['SUCCESS'] }), 'delivered', 250, null, true),
      result(recipient(3), 'failed', 550, '5.1.1'),
      result(recipient(4, { notify: ['NEVER'] }), 'failed', 550, null),
      result(recipient(5, { notify: ['DELAY'], attempts: 2 }), 'deferred', 451, '4.7.1'),
      result(recipient(6, { attempts: 2 }), 'deferred', 421, null),
      result(recipient(7, { notify: ['DELAY'], delayWarnedAt: queuedAt }), 'deferred', 451, null),
    ],
    { message, schedule, now },
  );
  assert.deepEqual(
    outcomes.map((o) => o.kind),
    ['delivered', 'delivered', 'failed', 'failed', 'deferred', 'deferred', 'deferred'],
  );
  const five = outcomes[4]!;
  assert.ok(five.kind === 'deferred' && five.delayWarned === true);
  assert.equal(five.until.getTime(), now.getTime() + 20 * 60_000, 'third wait: 5 min doubled twice');
  assert.deepEqual(
    [...reports].map(([id, d]) => [id, d.action, d.status]),
    [
      [2, 'relayed', '2.0.0'],
      [3, 'failed', '5.1.1'],
      [5, 'delayed', '4.7.1'],
    ],
  );
  assert.equal(reports.get(3)!.diagnostic, '550 5.1.1 text');
  assert.equal(reports.get(5)!.willRetryUntil!.getTime(), queuedAt.getTime() + 5 * 24 * HOUR);
});

void test('a temporary failure after the lifetime is an expired failure (5.4.7), reported unless NOTIFY says no', () => {
  const now = new Date(queuedAt.getTime() + 5 * 24 * HOUR);
  const { outcomes, reports } = attemptOutcomes(
    [
      result(recipient(1), 'deferred', 452, '4.2.2'),
      result(recipient(2, { notify: ['SUCCESS'] }), 'deferred', 452, '4.2.2'),
    ],
    { message, schedule, now },
  );
  assert.deepEqual(
    outcomes.map((o) => o.kind),
    ['failed', 'failed'],
  );
  assert.deepEqual([...reports.keys()], [1]);
  assert.equal(reports.get(1)!.status, '5.4.7');
  assert.equal(reports.get(1)!.diagnostic, '452 4.2.2 text (delivery time expired)');
  // A failure with a 4.x.x enhanced code from a 5xx reply still reports a class-5 status.
  const odd = attemptOutcomes([result(recipient(3), 'failed', 554, '4.4.7')], { message, schedule, now });
  assert.equal(odd.reports.get(3)!.status, '5.0.0');
});
