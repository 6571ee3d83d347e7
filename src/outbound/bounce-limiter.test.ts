import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BounceLimiter } from './bounce-limiter.js';

void test('at most perHour per address in any sliding hour, case-insensitive; 0 is no limit', () => {
  let now = 0;
  const limiter = new BounceLimiter({ perHour: 2, now: () => now });
  assert.equal(limiter.take('A@x.test'), true);
  now = 30 * 60_000;
  assert.equal(limiter.take('a@X.TEST'), true);
  assert.equal(limiter.take('a@x.test'), false, 'third within the hour');
  assert.equal(limiter.take('b@x.test'), true, 'another address counts apart');
  now = 60 * 60_000;
  assert.equal(limiter.take('a@x.test'), true, 'the first one left the window');
  assert.equal(limiter.take('a@x.test'), false);
  const open = new BounceLimiter({ perHour: 0 });
  for (let i = 0; i < 100; i++) assert.equal(open.take('c@x.test'), true);
});

void test('the addresses tracked are bounded: the least recently used is forgotten', () => {
  const limiter = new BounceLimiter({ perHour: 1, maxAddresses: 2, now: () => 0 });
  assert.equal(limiter.take('a@x.test'), true);
  assert.equal(limiter.take('b@x.test'), true);
  assert.equal(limiter.take('c@x.test'), true); // a is forgotten
  assert.equal(limiter.take('c@x.test'), false);
  assert.equal(limiter.take('a@x.test'), true);
});
