import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkQuotaThresholds, describeQuotaUsage, quotaPercent, reachedThreshold } from './quota-warning.js';

const usage = (usedBytes: number, quotaBytes: number, usedMessages = 0, quotaMessages = 0) => ({
  usedBytes,
  quotaBytes,
  usedMessages,
  quotaMessages,
});

void test('the fuller of the two quotas counts; unlimited counts as empty', () => {
  assert.equal(quotaPercent(usage(50, 100, 9, 10)), 90);
  assert.equal(quotaPercent(usage(95, 100, 1, 10)), 95);
  assert.equal(quotaPercent(usage(10_000, 0, 5, 0)), 0);
  assert.equal(quotaPercent(usage(10_000, 0, 5, 10)), 50);
});

void test('the highest threshold reached, whatever the order given', () => {
  assert.equal(reachedThreshold(usage(79, 100), [80, 90, 100]), 0);
  assert.equal(reachedThreshold(usage(80, 100), [100, 80, 90]), 80);
  assert.equal(reachedThreshold(usage(99, 100), [80, 90, 100]), 90);
  assert.equal(reachedThreshold(usage(101, 100), [80, 90, 100]), 100);
  assert.equal(reachedThreshold(usage(101, 100), []), 0);
});

void test('thresholds are whole percentages 1-100, deduplicated and sorted', () => {
  assert.deepEqual(checkQuotaThresholds([90, 80, 90]), [80, 90]);
  for (const bad of [0, 101, 85.5, '90', null]) assert.throws(() => checkQuotaThresholds([bad]), /1-100/);
});

void test('the usage line names both quotas with their figures', () => {
  assert.equal(describeQuotaUsage(usage(9_200_000, 10_000_000)), '92% full: 9.2 MB of 10 MB');
  assert.equal(
    describeQuotaUsage(usage(512, 1000, 40, 50)),
    '80% full: 512 bytes of 1 KB, 40 of 50 messages',
  );
});
