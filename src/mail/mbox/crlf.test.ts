import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toCrlf } from './crlf.js';

async function convert(input: string, split: number): Promise<string> {
  const data = Buffer.from(input, 'latin1');
  async function* src(): AsyncGenerator<Buffer> {
    for (let off = 0; off < data.length; off += split) yield data.subarray(off, off + split);
  }
  const out: Buffer[] = [];
  for await (const c of toCrlf(src())) out.push(c);
  return Buffer.concat(out).toString('latin1');
}

void test('bare LF becomes CRLF, existing CRLF and lone CR are kept, at every chunk size', async () => {
  const input = 'a\nb\r\nc\rd\n\n\r\n\r\re\n';
  const expected = 'a\r\nb\r\nc\rd\r\n\r\n\r\n\r\re\r\n';
  for (let split = 1; split <= input.length; split++)
    assert.equal(await convert(input, split), expected, `split ${split}`);
});

void test('empty input gives empty output', async () => {
  assert.equal(await convert('', 1), '');
});
