import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError } from '../../core/errors.js';
import { exceedsQuota, QuotaReservations } from './quota.js';

void test('a quota of 0 is unlimited; reaching the quota exactly is allowed', () => {
  assert.equal(exceedsQuota(0, 10 ** 12, 10 ** 12), false);
  assert.equal(exceedsQuota(100, 60, 40), false);
  assert.equal(exceedsQuota(100, 60, 41), true);
});

void test('reservations add up per account until released; release is idempotent', () => {
  const r = new QuotaReservations();
  const account = { quotaBytes: 100, usedBytes: 40 };
  const a = r.reserve(1, 30, account);
  const b = r.reserve(1, 30, account);
  assert.throws(
    () => r.reserve(1, 1, account),
    (e) => isStoreError(e, 'OVER_QUOTA'),
  );
  r.reserve(2, 60, account).release(); // another account has its own room
  a.release();
  a.release();
  const c = r.reserve(1, 30, account);
  assert.throws(
    () => r.reserve(1, 1, account),
    (e) => isStoreError(e, 'OVER_QUOTA'),
  );
  b.release();
  c.release();
  r.reserve(1, 60, account);
});
