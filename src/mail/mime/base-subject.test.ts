// RFC 5256 §2.1 base subject: the RFC's rules one by one, their repetition, the reply/forward
// mark THREAD=REFERENCES uses, and hostile input that must stay linear.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseSubject, extractBaseSubject } from './base-subject.js';

const CASES: Array<[input: string, base: string, replyOrForward: boolean]> = [
  ['Meeting notes', 'Meeting notes', false],
  // Step 1: whitespace runs, tabs and line breaks become one space.
  ['  spaced \t  out\r\n\tsubject  ', 'spaced out subject', false],
  // Step 2: trailers, repeated.
  ['report (fwd)', 'report', true],
  ['report (FWD) (fwd)  ', 'report', true],
  ['(fwd)', '', true],
  // Step 3: leaders, in any case, with blobs before the re/fw/fwd and inside it.
  ['Re: report', 'report', true],
  ['RE: Re: re: report', 'report', true],
  ['Fwd: report', 'report', true],
  ['fw: report', 'report', true],
  ['Re[2]: report', 'report', true],
  ['Re : report', 'report', true],
  ['Re:Re:report', 'report', true],
  ['[list] Re: report', 'report', true],
  ['[list][other] fw: report', 'report', true],
  ['Re:', '', true],
  // Not leaders.
  ['Reply: report', 'Reply: report', false],
  ['Fwd report', 'Fwd report', false],
  ['Regarding: x', 'Regarding: x', false],
  // Step 4: a blob is removed only when something remains.
  ['[list] report', 'report', false],
  ['[only-a-blob]', '[only-a-blob]', false],
  ['[a] [b]', '[b]', false],
  ['[PATCH 1/2] Fix it', 'Fix it', false],
  // Step 5: leaders and blobs alternate.
  ['[list] report Re: x', 'report Re: x', false],
  ['Re: [list] Fwd: [x] report', 'report', true],
  // Step 6: the [fwd: ...] wrapper, then everything again.
  ['[Fwd: report]', 'report', true],
  ['[fwd: [fwd: Re: report (fwd)]]', 'report', true],
  ['Fwd: [fwd: Nested forward]', 'Nested forward', true],
  ['[fwd: report', '[fwd: report', false],
  // Decoded non-ASCII text is kept as it is (case is the collation's business).
  ['Re: Ошибка в отчёте', 'Ошибка в отчёте', true],
  ['', '', false],
];

void test('RFC 5256 §2.1 base subjects', () => {
  for (const [input, base, rf] of CASES) {
    assert.deepEqual(extractBaseSubject(input), { subject: base, replyOrForward: rf }, JSON.stringify(input));
    assert.equal(baseSubject(input), base);
  }
});

void test('hostile subjects are handled in linear time', () => {
  const inputs = [
    '[a]'.repeat(100_000) + 'x',
    '[a] '.repeat(100_000),
    're: '.repeat(100_000) + 'x',
    '[fwd: '.repeat(50_000) + 'x' + ']'.repeat(50_000),
    'x' + ' (fwd)'.repeat(100_000),
    '['.repeat(200_000),
  ];
  for (const s of inputs) {
    const t = Date.now();
    const r = extractBaseSubject(s);
    assert.ok(typeof r.subject === 'string');
    // Generous: quadratic behaviour on these inputs would take minutes.
    assert.ok(Date.now() - t < 2000, `${s.slice(0, 12)}... took ${Date.now() - t} ms`);
  }
  assert.equal(extractBaseSubject('re: '.repeat(1000) + 'x').subject, 'x');
  assert.equal(extractBaseSubject('[a]'.repeat(1000) + 'x').subject, 'x');
});
