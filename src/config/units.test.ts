import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSize, formatSizeExact, parseDurationMs, parseDurationSeconds, parseSize } from './units.js';

void test('parseSize accepts integers and binary-suffixed strings, and nothing else', () => {
  assert.equal(parseSize(0), 0);
  assert.equal(parseSize('0'), 0);
  assert.equal(parseSize(1234), 1234);
  assert.equal(parseSize('500M'), 500 * 1024 ** 2);
  assert.equal(parseSize('2G'), 2 * 1024 ** 3);
  assert.equal(parseSize('64k'), 65536);
  assert.equal(parseSize('1.5 MB'), 1572864);
  assert.equal(parseSize('10MiB'), 10 * 1024 ** 2);
  for (const bad of [
    '',
    'M',
    '5X',
    '-1',
    '1e9',
    '1.2.3',
    ' ',
    '5 M B',
    'x'.repeat(100),
    -5,
    1.5,
    true,
    null,
    [1],
  ]) {
    assert.equal(parseSize(bad), null, JSON.stringify(bad));
  }
});

void test('durations: seconds by default, milliseconds for the ms parser', () => {
  assert.equal(parseDurationSeconds(30), 30);
  assert.equal(parseDurationSeconds('30s'), 30);
  assert.equal(parseDurationSeconds('5m'), 300);
  assert.equal(parseDurationSeconds('1h'), 3600);
  assert.equal(parseDurationSeconds('1d'), 86400);
  assert.equal(parseDurationSeconds('1ms'), null);
  assert.equal(parseDurationSeconds('0.5s'), null);
  assert.equal(parseDurationMs(250), 250);
  assert.equal(parseDurationMs('1s'), 1000);
  assert.equal(parseDurationMs('250ms'), 250);
});

void test('formatSize and formatSizeExact', () => {
  assert.equal(formatSize(0), '0 B');
  assert.equal(formatSize(1023), '1023 B');
  assert.equal(formatSize(3.2 * 1024 * 1024), '3.2 MB');
  assert.equal(formatSize(500 * 1024 ** 3), '500 GB');
  assert.equal(formatSizeExact(50 * 1024 ** 2), '50M');
  assert.equal(formatSizeExact(1000), '1000');
  assert.equal(formatSizeExact(0), '0');
  assert.equal(parseSize(formatSizeExact(8192)), 8192);
});
