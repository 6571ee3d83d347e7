import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { prng } from '../../test/helpers/prng.js';
import { RelaxedBodyHash } from './dkim-body-hash.js';

const requireCjs = createRequire(import.meta.url);
const { dkimBody } = requireCjs('mailauth/lib/dkim/body') as {
  dkimBody: (c: string, a: string, l: false) => { update(b: Buffer): void; digest(e: 'base64'): string };
};

function ours(body: Buffer, cuts: number[] = []): string {
  const h = new RelaxedBodyHash();
  let at = 0;
  for (const c of [...cuts, body.length]) {
    h.update(body.subarray(at, c));
    at = c;
  }
  return h.digest();
}

function mailauth(body: Buffer): string {
  const h = dkimBody('relaxed', 'sha256', false);
  h.update(body);
  return h.digest('base64');
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}

void test('RFC 6376 §3.4.4 and its examples', () => {
  // §3.4.6 example: " C \r\nD \t E\r\n\r\n\r\n" -> " C\r\nD E\r\n"
  assert.equal(ours(Buffer.from(' C \r\nD \t E\r\n\r\n\r\n')), sha(' C\r\nD E\r\n'));
  assert.equal(ours(Buffer.from('')), sha(''), 'an empty body hashes nothing');
  assert.equal(ours(Buffer.from('\r\n\r\n')), sha(''));
  assert.equal(ours(Buffer.from('a')), sha('a\r\n'), 'a CRLF is added');
  assert.equal(ours(Buffer.from('a  \t\r\n \r\nb')), sha('a\r\n\r\nb\r\n'));
  assert.equal(ours(Buffer.from('a\nb\n')), sha('a\r\nb\r\n'), 'bare LF ends a line');
  assert.equal(ours(Buffer.from('a\rb\r\n')), sha('a\rb\r\n'), 'a bare CR is a byte');
  assert.equal(ours(Buffer.from('a\r')), sha('a\r\r\n'));
  assert.equal(ours(Buffer.from('a\r\n ')), sha('a\r\n'), 'whitespace ending the last line is dropped too');
  assert.equal(ours(Buffer.from('a \r\nb \t')), sha('a\r\nb\r\n'));
});

void test('the same hash as mailauth on random bodies, split at random places', () => {
  // mailauth's hasher keeps whitespace ending a last line that has no CRLF ("a\r\n " hashes
  // as "a\r\n \r\n"); RFC 6376 §3.4.4 drops it, and so does every verifier once the message
  // went through SMTP, which ends it with CRLF: so bodies are compared as sent, ending in CRLF,
  // and ours must not change when that CRLF is added.
  const rnd = prng(12_021);
  const alphabet = ['a', 'b', ' ', '  ', '\t', '\r\n', '\r\n', '\r\n\r\n', 'xyz', ' \t '];
  for (let n = 0; n < 400; n++) {
    let text = '';
    const parts = Math.floor(rnd() * 60);
    for (let i = 0; i < parts; i++) text += alphabet[Math.floor(rnd() * alphabet.length)];
    const body = Buffer.from(text);
    const sent = text === '' || text.endsWith('\r\n') ? body : Buffer.from(text + '\r\n');
    const cuts = Array.from({ length: Math.floor(rnd() * 5) }, () =>
      Math.floor(rnd() * (body.length + 1)),
    ).sort((x, y) => x - y);
    assert.equal(ours(body, cuts), mailauth(sent), JSON.stringify(text));
    assert.equal(ours(sent), ours(body), JSON.stringify(text));
  }
  // Every split of one body, down to one byte at a time.
  const body = Buffer.from(' a \t b\r\n\r\n  \r\nc\t\r\n\r\n');
  const expected = mailauth(body);
  for (let i = 0; i <= body.length; i++) assert.equal(ours(body, [i]), expected);
  assert.equal(
    ours(
      body,
      Array.from({ length: body.length }, (_, i) => i),
    ),
    expected,
  );
});

void test('linear on one long line: 8 MiB without a line break in 64 KiB chunks', () => {
  const line = Buffer.alloc(8 * 1024 * 1024, 0x61);
  for (let i = 0; i < line.length; i += 4097) line[i] = 0x20;
  const h = new RelaxedBodyHash();
  let worst = 0;
  const t0 = performance.now();
  for (let at = 0; at < line.length; at += 65_536) {
    const t = performance.now();
    h.update(line.subarray(at, at + 65_536));
    worst = Math.max(worst, performance.now() - t);
  }
  const digest = h.digest();
  console.log(
    `relaxed body hash, 8 MiB in one line: ${(performance.now() - t0).toFixed(0)} ms, longest chunk ${worst.toFixed(1)} ms`,
  );
  assert.equal(digest, sha(line.toString('latin1') + '\r\n'));
});
