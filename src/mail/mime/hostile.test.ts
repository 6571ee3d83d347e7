// Hostile input: each case is streamed in 64 KiB chunks (nothing but the chunk is held by the test)
// and must finish within TIME_MS with heap growth (after GC) under HEAP_BYTES, with the default limits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULT_LIMITS } from '../../core/limits.js';
import { MimeIndexer } from './indexer.js';
import { bodystructure, formatBodystructure } from './bodystructure.js';
import type { MimeRecord } from './types.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TIME_MS = 2000;
const HEAP_BYTES = 64 * 1024 * 1024;
const MB10 = 10 * 1024 * 1024;

function measure(name: string, source: () => Iterable<Uint8Array>): MimeRecord {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = performance.now();
  const ix = new MimeIndexer(DEFAULT_LIMITS);
  let size = 0;
  for (const chunk of source()) {
    ix.write(chunk);
    size += chunk.length;
  }
  const record = ix.end();
  const elapsed = performance.now() - start;
  gc();
  const growth = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(elapsed < TIME_MS, `${name}: took ${Math.round(elapsed)} ms`);
  assert.ok(growth < HEAP_BYTES, `${name}: heap grew by ${Math.round(growth / 1e6)} MB`);
  assert.equal(record.size, size);
  // The record stays a valid structure that BODYSTRUCTURE can be written from.
  assert.ok(formatBodystructure(bodystructure(record, { extended: true })).startsWith('('));
  const root = record.parts[0];
  assert.equal(root.bodyEnd, size);
  return record;
}

const ascii = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** Repeats `unit` until `total` bytes, in chunks of about 64 KiB. */
function* repeat(unit: Uint8Array, count: number): Generator<Uint8Array> {
  const perChunk = Math.max(1, Math.floor(65536 / unit.length));
  const block = Buffer.concat(Array.from({ length: perChunk }, () => unit));
  let left = count;
  while (left > 0) {
    const n = Math.min(perChunk, left);
    yield n === perChunk ? block : block.subarray(0, n * unit.length);
    left -= n;
  }
}

void test('10,000-deep nested multiparts stop at mimeDepth', () => {
  const r = measure('deep nesting', function* () {
    for (let i = 0; i < 10_000; i++)
      yield ascii(`Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`);
    for (let i = 9_999; i >= 0; i--) yield ascii(`\r\n--b${i}--`);
  });
  assert.equal(r.truncated, true);
  assert.equal(r.parts.length, DEFAULT_LIMITS.mimeDepth + 1);
  assert.equal(Math.max(...r.parts.map((p) => p.depth)), DEFAULT_LIMITS.mimeDepth);
  assert.equal(r.parts[r.parts.length - 1].opaque, true);
});

void test('100,000 parts stop at mimeParts', () => {
  const r = measure('many parts', function* () {
    yield ascii('Content-Type: multipart/mixed; boundary=p\r\n\r\n');
    yield* repeat(ascii('--p\r\nContent-Type: text/plain\r\n\r\nx\r\n'), 100_000);
    yield ascii('--p--\r\n');
  });
  assert.equal(r.truncated, true);
  assert.equal(r.parts.length, DEFAULT_LIMITS.mimeParts);
  assert.equal(r.parts[r.parts.length - 1].part, String(DEFAULT_LIMITS.mimeParts - 1));
  assert.equal(r.parts[1].bodySize, 1);
});

void test('a 10 MB header made of one line', () => {
  const r = measure('one header line', function* () {
    yield ascii('Subject: ');
    yield* repeat(ascii('a'), MB10);
    yield ascii('\r\nFrom: a@b\r\n\r\nbody\r\n');
  });
  assert.equal(r.truncated, true);
  assert.equal(r.parts[0].headerEnd, 0);
});

void test('a 10 MB header made of many lines', () => {
  const line = ascii('X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n');
  const r = measure('many header lines', function* () {
    yield ascii('Subject: kept\r\n');
    yield* repeat(line, Math.ceil(MB10 / line.length));
    yield ascii('\r\nbody\r\n');
  });
  assert.equal(r.truncated, true);
  assert.ok(r.parts[0].headerSize <= DEFAULT_LIMITS.headerSize);
  assert.equal(r.envelope.subject, 'kept');
  assert.deepEqual(r.headers.names, ['subject', 'x-filler']);
});

void test('a 10 MB line without any LF, inside a multipart', () => {
  const r = measure('no line feed', function* () {
    yield ascii('Content-Type: multipart/mixed; boundary=n\r\n\r\n--n\r\n\r\n');
    yield* repeat(ascii('--n'), Math.ceil(MB10 / 3));
  });
  assert.equal(r.parts.length, 2);
  assert.equal(r.parts[1].bodyLines, 1);
});

void test('a boundary line repeated 1,000,000 times', () => {
  const r = measure('repeated delimiter', function* () {
    yield ascii('Content-Type: multipart/mixed; boundary=r\r\n\r\n');
    yield* repeat(ascii('--r\r\n'), 1_000_000);
  });
  assert.equal(r.truncated, true);
  assert.equal(r.parts.length, DEFAULT_LIMITS.mimeParts);
});

void test('a boundary-like line repeated 1,000,000 times under 32 active boundaries', () => {
  const r = measure('repeated near-delimiter', function* () {
    for (let i = 0; i < 32; i++)
      yield ascii(`Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`);
    yield ascii('\r\n');
    yield* repeat(ascii('--b31x \r\n'), 1_000_000);
  });
  // 32 multiparts (depths 0-31) and the text part of the innermost one.
  assert.equal(r.parts.length, 33);
  assert.equal(r.parts[32].bodyLines, 1_000_000);
  assert.equal(r.truncated, false);
});
