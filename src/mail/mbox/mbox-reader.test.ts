import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readMbox, MboxFormatError, type MboxMessage } from './mbox-reader.js';
import { parseFromLineDate } from './from-line-date.js';

async function* chunked(data: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let off = 0;
  let i = 0;
  while (off < data.length) {
    const n = sizes[i++ % sizes.length] ?? data.length;
    yield data.subarray(off, off + n);
    off += n;
  }
}

async function read(
  data: Buffer | string,
  sizes: number[] = [1 << 20],
  maxMessageSize = 1 << 30,
): Promise<MboxMessage[]> {
  const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const out: MboxMessage[] = [];
  for await (const m of readMbox(chunked(buf, sizes), { maxMessageSize })) out.push(m);
  return out;
}

const text = (m: MboxMessage): string => Buffer.concat(m.chunks).toString('latin1');

const SAMPLE =
  'From alice@example.org Thu Jan  4 10:11:12 2024\n' +
  'Subject: one\n' +
  '\n' +
  'Hello\n' +
  '>From the start\n' +
  '>>From deeper\n' +
  'From not a separator (no blank line before)\n' +
  '\n' +
  'From bob@example.org Fri Feb  2 03:04:05 2024\n' +
  'Subject: two\r\n' +
  '\r\n' +
  'crlf body\r\n' +
  '\n' +
  'From carol@example.org Sat Mar  2 00:00:00 2024\n' +
  'Subject: three\n' +
  '\n' +
  'no trailing newline';

void test('splits on From_ lines after a blank line, unescapes mboxrd, converts LF to CRLF', async () => {
  const msgs = await read(SAMPLE);
  assert.equal(msgs.length, 3);
  assert.equal(
    text(msgs[0]!),
    'Subject: one\r\n\r\nHello\r\nFrom the start\r\n>From deeper\r\nFrom not a separator (no blank line before)\r\n',
  );
  assert.equal(text(msgs[1]!), 'Subject: two\r\n\r\ncrlf body\r\n');
  assert.equal(text(msgs[2]!), 'Subject: three\r\n\r\nno trailing newline');
  assert.deepEqual(
    msgs.map((m) => m.index),
    [0, 1, 2],
  );
  assert.equal(msgs[0]!.fromLine, 'alice@example.org Thu Jan  4 10:11:12 2024');
  assert.equal(msgs[0]!.internalDate?.toISOString(), '2024-01-04T10:11:12.000Z');
  assert.equal(msgs[1]!.internalDate?.toISOString(), '2024-02-02T03:04:05.000Z');
  for (const m of msgs) {
    assert.equal(m.size, Buffer.concat(m.chunks).length);
    assert.equal(m.oversized, false);
  }
  assert.equal(msgs[2]!.inputOffset, Buffer.byteLength(SAMPLE, 'latin1'));
});

void test('gives the same messages whatever the chunk boundaries (every split, and 1-byte chunks)', async () => {
  const whole = (await read(SAMPLE)).map(text);
  const data = Buffer.from(SAMPLE, 'latin1');
  assert.deepEqual((await read(data, [1])).map(text), whole);
  for (let split = 1; split < data.length; split++) {
    const got = (await read(data, [split, data.length])).map(text);
    assert.deepEqual(got, whole, `split at ${split}`);
  }
});

void test('an empty file, or one with only blank lines, has no messages', async () => {
  assert.deepEqual(await read(''), []);
  assert.deepEqual(await read('\n\n\r\n'), []);
});

void test('a file that does not start with a From_ line is refused', async () => {
  await assert.rejects(read('Subject: hi\n\nbody\n'), MboxFormatError);
});

void test('leading blank lines before the first From_ line are skipped', async () => {
  const msgs = await read('\n\nFrom a@b Mon Jan  1 00:00:00 2024\nX: y\n\nz\n');
  assert.equal(msgs.length, 1);
  assert.equal(text(msgs[0]!), 'X: y\r\n\r\nz\r\n');
});

void test('blank lines that end a message are kept, except the one separator line', async () => {
  const msgs = await read(
    'From a Mon Jan  1 00:00:00 2024\nA: 1\n\nbody\n\n\n\nFrom b Mon Jan  1 00:00:00 2024\nB: 2\n\n',
  );
  assert.equal(msgs.length, 2);
  assert.equal(text(msgs[0]!), 'A: 1\r\n\r\nbody\r\n\r\n\r\n');
  assert.equal(text(msgs[1]!), 'B: 2\r\n');
});

void test('a CRLF mbox: blank CRLF lines separate, CRLF is kept, not doubled', async () => {
  const msgs = await read(
    'From a Mon Jan  1 00:00:00 2024\r\nA: 1\r\n\r\nx\r\n\r\nFrom b Mon Jan  1 00:00:00 2024\r\nB: 2\r\n',
  );
  assert.deepEqual(msgs.map(text), ['A: 1\r\n\r\nx\r\n', 'B: 2\r\n']);
});

void test('a huge line (3 MB without a newline) passes through intact, in small chunks too', async () => {
  const huge = 'x'.repeat(3 * 1024 * 1024);
  const input = `From a Mon Jan  1 00:00:00 2024\nA: 1\n\n${huge}\n\nFrom b Mon Jan  1 00:00:00 2024\n>${huge.slice(0, 10)}\n`;
  for (const sizes of [[1 << 20], [4093]]) {
    const msgs = await read(input, sizes);
    assert.equal(msgs.length, 2);
    assert.equal(text(msgs[0]!), `A: 1\r\n\r\n${huge}\r\n`);
    assert.equal(text(msgs[1]!), `>${huge.slice(0, 10)}\r\n`);
  }
});

void test('a long line that begins with >From is still unescaped', async () => {
  const long = '>From ' + 'y'.repeat(200_000);
  const msgs = await read(`From a Mon Jan  1 00:00:00 2024\nA: 1\n\n${long}\n`, [7777]);
  assert.equal(text(msgs[0]!), `A: 1\r\n\r\n${long.slice(1)}\r\n`);
});

void test('a message over maxMessageSize is reported oversized without its bytes; the next is intact', async () => {
  const big = 'z'.repeat(5000);
  const msgs = await read(
    `From a Mon Jan  1 00:00:00 2024\n${big}\n\nFrom b Mon Jan  1 00:00:00 2024\nok\n`,
    [100],
    1000,
  );
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0]!.oversized, true);
  assert.deepEqual(msgs[0]!.chunks, []);
  assert.equal(msgs[0]!.size, 5002);
  assert.equal(msgs[1]!.oversized, false);
  assert.equal(text(msgs[1]!), 'ok\r\n');
});

void test('From_ line dates: asctime, with zones, and garbage', () => {
  assert.equal(
    parseFromLineDate('MAILER-DAEMON Fri Jul  8 12:08:34 2011')?.toISOString(),
    '2011-07-08T12:08:34.000Z',
  );
  assert.equal(
    parseFromLineDate('a@b Fri Jul  8 12:08:34 2011 +0200')?.toISOString(),
    '2011-07-08T10:08:34.000Z',
  );
  assert.equal(
    parseFromLineDate('a@b Fri Jul  8 12:08:34 -0100 2011')?.toISOString(),
    '2011-07-08T13:08:34.000Z',
  );
  assert.equal(parseFromLineDate('a@b Fri Jul  8 12:08 2011')?.toISOString(), '2011-07-08T12:08:00.000Z');
  assert.equal(parseFromLineDate('a@b'), null);
  assert.equal(parseFromLineDate('a@b Fri Jul 99 12:08:34 2011'), null);
  assert.equal(parseFromLineDate('a@b Fri Jul 8 12:08:34'), null);
  assert.equal(parseFromLineDate('a@b ' + 'Jul '.repeat(10_000)), null);
});
