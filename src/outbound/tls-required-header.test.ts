import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasTlsRequiredNo, HEADER_SCAN_LIMIT } from './tls-required-header.js';

async function* chunks(text: string | Buffer, size: number): AsyncIterable<Uint8Array> {
  const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

void test('TLS-Required: No is found in the header section, in any case, folded, split at any byte', async () => {
  const yes = 'From: a@example.org\r\nTLS-Required:\r\n  NO \r\nSubject: x\r\n\r\nbody\r\n';
  const lower = 'tls-required: no\r\n\r\n';
  const lf = 'Subject: x\ntls-required: No\n\nbody';
  for (const text of [yes, lower, lf]) {
    for (let size = 1; size <= text.length; size++) {
      assert.equal(await hasTlsRequiredNo(chunks(text, size)), true, `${JSON.stringify(text)} by ${size}`);
    }
  }
});

void test('absent, another value, or only in the body: not found; the body is never read', async () => {
  assert.equal(await hasTlsRequiredNo(chunks('Subject: x\r\n\r\nTLS-Required: No\r\n', 7)), false);
  assert.equal(await hasTlsRequiredNo(chunks('TLS-Required: Yes\r\n\r\n', 7)), false);
  assert.equal(await hasTlsRequiredNo(chunks('X-TLS-Required: No\r\n\r\n', 7)), false);
  assert.equal(await hasTlsRequiredNo(chunks('', 7)), false);
  let read = 0;
  async function* counted(): AsyncIterable<Uint8Array> {
    yield Buffer.from('Subject: x\r\n\r\n');
    read++;
    yield Buffer.alloc(1 << 20, 0x61);
    read++;
  }
  assert.equal(await hasTlsRequiredNo(counted()), false);
  assert.equal(read, 0, 'stopped at the end of the header section');
  // A header section beyond the limit: scanning stops there.
  const huge = Buffer.concat([
    Buffer.from('X: '),
    Buffer.alloc(HEADER_SCAN_LIMIT, 0x61),
    Buffer.from('\r\nTLS-Required: No\r\n\r\n'),
  ]);
  assert.equal(await hasTlsRequiredNo(chunks(huge, 65536)), false);
});
