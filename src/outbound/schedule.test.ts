import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_OUTBOUND } from '../config/schema.js';
import {
  afterTemporaryFailure,
  delayWarningAt,
  delayWarningDue,
  expiresAt,
  isExpired,
  retryDelayMs,
  type RetrySchedule,
} from './schedule.js';

const S: RetrySchedule = DEFAULT_OUTBOUND;
const MID = (): number => 0.5; // no jitter
const LOW = (): number => 0;
const HIGH = (): number => 0.999999;
const MIN = 60_000;

void test('defaults: 5, 10, 20, 40 minutes, then one hour; jitter moves each by at most 20%', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 50, 10_000].map((n) => retryDelayMs(S, n, MID) / MIN),
    [5, 10, 20, 40, 60, 60, 60, 60],
  );
  assert.equal(retryDelayMs(S, 1, LOW), 4 * MIN);
  assert.ok(Math.abs(retryDelayMs(S, 1, HIGH) - 6 * MIN) <= 1);
  assert.equal(retryDelayMs(S, 9, LOW), 48 * MIN);
  for (let i = 0; i < 200; i++) {
    const d = retryDelayMs(S, 3);
    assert.ok(d >= 16 * MIN && d <= 24 * MIN, String(d));
  }
});

void test('a factor of 1 is a fixed interval; a wait is never under one second', () => {
  const fixed = { ...S, retryFirst: 120, retryFactor: 1, retryMax: 3600, retryJitter: 0 };
  assert.deepEqual(
    [1, 2, 10].map((n) => retryDelayMs(fixed, n)),
    [120_000, 120_000, 120_000],
  );
  const tiny = { ...S, retryFirst: 1, retryMax: 1, retryJitter: 1 };
  assert.equal(retryDelayMs(tiny, 1, LOW), 1000);
  assert.throws(() => retryDelayMs(S, 0), RangeError);
  assert.throws(() => retryDelayMs(S, 1.5), RangeError);
});

void test('retries stop at the lifetime: the last wait ends at expiry, then the message is expired', () => {
  const queuedAt = new Date('2026-01-01T00:00:00Z');
  const expiry = expiresAt(S, queuedAt);
  assert.equal(expiry.toISOString(), '2026-01-06T00:00:00.000Z');
  const early = afterTemporaryFailure(S, { queuedAt, attempts: 1, now: queuedAt }, MID);
  assert.deepEqual(early, { kind: 'retry', at: new Date(queuedAt.getTime() + 5 * MIN) });
  const late = new Date(expiry.getTime() - 10 * MIN);
  assert.deepEqual(afterTemporaryFailure(S, { queuedAt, attempts: 80, now: late }, MID), {
    kind: 'retry',
    at: expiry,
  });
  assert.deepEqual(afterTemporaryFailure(S, { queuedAt, attempts: 81, now: expiry }, MID), {
    kind: 'expired',
  });
  assert.equal(isExpired(S, queuedAt, late), false);
  assert.equal(isExpired(S, queuedAt, expiry), true);

  // Shortened by config, as tests of the sender will: 2 s first retry, 10 s lifetime.
  const short = { ...S, retryFirst: 2, retryMax: 4, retryJitter: 0, maxQueueLifetime: 10 };
  const times: number[] = [];
  let now = queuedAt.getTime();
  for (let attempts = 1; attempts < 100; attempts++) {
    const d = afterTemporaryFailure(short, { queuedAt, attempts, now: new Date(now) });
    if (d.kind === 'expired') break;
    now = d.at.getTime();
    times.push((now - queuedAt.getTime()) / 1000);
  }
  assert.deepEqual(times, [2, 6, 10]);
});

void test('the delayed notice: due after 4 hours, once, only for NOTIFY=DELAY', () => {
  const queuedAt = new Date('2026-01-01T00:00:00Z');
  assert.equal(delayWarningAt(S, queuedAt)!.toISOString(), '2026-01-01T04:00:00.000Z');
  const at4h = new Date('2026-01-01T04:00:00Z');
  const before = new Date(at4h.getTime() - 1);
  const due = (over: Partial<Parameters<typeof delayWarningDue>[1]>): boolean =>
    delayWarningDue(S, { queuedAt, now: at4h, warnedAt: null, notify: ['FAILURE', 'DELAY'], ...over });
  assert.equal(due({}), true);
  assert.equal(due({ now: before }), false);
  assert.equal(due({ warnedAt: at4h }), false, 'sent once');
  assert.equal(due({ notify: null }), false);
  assert.equal(due({ notify: ['NEVER'] }), false);
  assert.equal(delayWarningAt({ ...S, delayWarning: 0 }, queuedAt), null, '0 turns it off');
  assert.equal(
    delayWarningAt({ ...S, delayWarning: S.maxQueueLifetime }, queuedAt),
    null,
    'no warning at or after expiry',
  );
});
