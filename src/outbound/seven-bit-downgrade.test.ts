// The 7-bit downgrade as a streaming transform: the same output whatever the input's split
// (one byte at a time, every split point of a small message), only 7-bit octets and lines of at
// most 76 characters in what it encodes, and refusals for what cannot be converted.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { DowngradeImpossible, planDowngrade, prepareDowngrade } from './seven-bit-downgrade.js';

const limits = {
  mimeDepth: DEFAULT_LIMITS.mimeDepth,
  mimeParts: DEFAULT_LIMITS.mimeParts,
  headerSize: DEFAULT_LIMITS.headerSize,
};

async function* chunks(bytes: Buffer, size: number | number[]): AsyncGenerator<Uint8Array> {
  const cuts = Array.isArray(size) ? size : [];
  let pos = 0;
  for (const cut of cuts) {
    yield bytes.subarray(pos, cut);
    pos = cut;
  }
  const step = Array.isArray(size) ? bytes.length : size;
  for (; pos < bytes.length; pos += step) yield bytes.subarray(pos, pos + step);
}

async function downgrade(bytes: Buffer, split: number | number[]): Promise<Buffer> {
  const plan = await planDowngrade(chunks(bytes, split), limits);
  const prepared = await prepareDowngrade(plan, () => chunks(bytes, split));
  const out: Uint8Array[] = [];
  for await (const c of prepared.body()) out.push(c);
  const all = Buffer.concat(out);
  assert.equal(all.length, prepared.size, 'the measured size is what is sent');
  return all;
}

const SMALL = Buffer.from(
  'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n' +
    'Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\nh\u00e9 =  \r\nx\r\n' +
    '--z\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: binary\r\n\r\n\u00ff\u0001\u00fe\r\n--z--\r\n',
  'latin1',
);

void test('the output is the same for every split of the input, 7-bit only', async () => {
  const whole = await downgrade(SMALL, SMALL.length);
  assert.ok(whole.every((b) => b < 0x80));
  assert.equal(
    whole.toString('latin1'),
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n' +
      'Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nh=E9 =3D =20\r\nx\r\n' +
      '--z\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n/wH+\r\n--z--\r\n',
  );
  assert.deepEqual(await downgrade(SMALL, 1), whole, 'one byte at a time');
  for (let cut = 1; cut < SMALL.length; cut++) {
    assert.deepEqual(await downgrade(SMALL, [cut]), whole, `split at ${cut}`);
  }
});

void test('long 8-bit lines become quoted-printable lines of at most 76 characters; base64 lines are 76', async () => {
  const text = '\u00e4'.repeat(500) + '\r\n' + 'a'.repeat(300);
  const bin = Buffer.alloc(1000, 0xc8);
  const msg = Buffer.concat([
    Buffer.from(
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n' +
        'Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
        text +
        '\r\n--q\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
      'latin1',
    ),
    bin,
    Buffer.from('\r\n--q--\r\n'),
  ]);
  const out = (await downgrade(msg, 7)).toString('latin1');
  for (const line of out.split('\r\n')) assert.ok(line.length <= 76, `${line.length}: ${line.slice(0, 30)}`);
  const b64 = out.split('Content-Transfer-Encoding: base64\r\n\r\n')[1]!.split('\r\n--q--')[0]!;
  assert.deepEqual(Buffer.from(b64.replace(/\r\n/g, ''), 'base64'), bin);
});

void test('refused: 8-bit in a header, 8-bit without MIME-Version, 8-bit in a preamble', async () => {
  for (const raw of [
    'MIME-Version: 1.0\r\nSubject: caf\u00e9\r\n\r\nplain\r\n',
    'Subject: x\r\n\r\ncaf\u00e9\r\n',
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\ncaf\u00e9\r\n--p\r\n\r\nx\r\n--p--\r\n',
  ]) {
    await assert.rejects(downgrade(Buffer.from(raw, 'latin1'), 5), DowngradeImpossible, raw);
  }
});
