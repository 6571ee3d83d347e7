// THREAD=REFERENCES (RFC 5256 §3) on hand-made mailboxes: the structure of the RFC's thread-list
// example, references to messages that are not there (dummies kept at the top, promoted below
// it), loops in References, duplicate and missing Message-IDs, In-Reply-To without References,
// merging by base subject, and a reply chain far deeper than the JavaScript stack.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractBaseSubject } from '../../mail/mime/base-subject.js';
import type { SortRecord } from './sort-keys.js';
import { orderedSubjectThreads } from './thread-ordered-subject.js';
import { referencesThreads } from './thread-references.js';
import { renderThread } from './thread-tree.js';
import { casemapKey } from './unicode-casemap.js';

interface Spec {
  seq: number;
  id?: string | null;
  refs?: string[];
  irt?: string;
  subject?: string;
  /** Sent date (default: the sequence number, so siblings sort by number). */
  sent?: number;
}

function rec(s: Spec): SortRecord {
  const base = extractBaseSubject(s.subject ?? `subject ${s.seq}`);
  return {
    uid: s.seq * 10,
    seq: s.seq,
    arrival: 0,
    sent: s.sent ?? s.seq,
    size: 0,
    subjectKey: casemapKey(base.subject),
    replyOrForward: base.replyOrForward,
    messageId: s.id === undefined ? `<${s.seq}@x>` : s.id,
    inReplyTo: s.irt ?? null,
    references: s.refs ?? [],
    keys: {},
  };
}

const noPause = (): Promise<void> => Promise.resolve();

async function thread(specs: Spec[]): Promise<string> {
  const records = specs.map(rec).sort((a, b) => a.seq - b.seq);
  const roots = await referencesThreads(records, noPause);
  return roots.map((r) => renderThread(r, (x) => x.seq)).join('');
}

void test('the RFC 5256 §4 example structure: (2)(3 6 (4 23)(44 7 96))', async () => {
  const out = await thread([
    { seq: 2 },
    { seq: 3 },
    { seq: 6, refs: ['<3@x>'] },
    { seq: 4, refs: ['<3@x>', '<6@x>'] },
    { seq: 23, refs: ['<3@x>', '<6@x>', '<4@x>'] },
    { seq: 44, refs: ['<3@x>', '<6@x>'] },
    { seq: 7, refs: ['<44@x>'], irt: '<44@x>' }, // a short References: 44 was linked under 6 already
    { seq: 96, irt: '<7@x>' }, // In-Reply-To only
  ]);
  assert.equal(out, '(2)(3 6 (4 23)(44 7 96))');
});

void test('UIDs instead of sequence numbers', async () => {
  const roots = await referencesThreads([rec({ seq: 1 }), rec({ seq: 2, refs: ['<1@x>'] })], noPause);
  assert.equal(
    renderThread(roots[0]!, (x) => x.uid),
    '(10 20)',
  );
});

void test('missing parents: a dummy with two children stays at the top, one child is promoted', async () => {
  // 3 and 5 answer a message that is not there: ((3)(5)), as in RFC 5256 §4.
  assert.equal(
    await thread([
      { seq: 3, refs: ['<gone@x>'] },
      { seq: 5, refs: ['<gone@x>'] },
    ]),
    '((3)(5))',
  );
  // Only one answer: no dummy.
  assert.equal(await thread([{ seq: 3, refs: ['<gone@x>'] }]), '(3)');
  // A missing message between two present ones: the dummy below the top is removed.
  assert.equal(await thread([{ seq: 1 }, { seq: 2, refs: ['<1@x>', '<gone@x>'] }]), '(1 2)');
  // Two missing levels with two answers below them, under a present root.
  assert.equal(
    await thread([
      { seq: 1 },
      { seq: 2, refs: ['<1@x>', '<g1@x>', '<g2@x>'] },
      { seq: 3, refs: ['<1@x>', '<g1@x>'] },
    ]),
    '(1 (2)(3))',
  );
});

void test('loops in References never make a cycle', async () => {
  // 1 says 2 is its parent (linked to 2's container), then 2 says 1 is: that link would close a
  // loop and is not made, so 2 stays the root above 1.
  assert.equal(
    await thread([
      { seq: 1, refs: ['<2@x>'] },
      { seq: 2, refs: ['<1@x>'] },
    ]),
    '(2 1)',
  );
  // A message that references itself, and a References list that repeats an id.
  assert.equal(await thread([{ seq: 1, refs: ['<1@x>'] }]), '(1)');
  // 1 -> 2 is linked, 2 -> 1 would be a loop; 3's parent is its last reference, 1.
  assert.equal(
    await thread([{ seq: 1 }, { seq: 2 }, { seq: 3, refs: ['<1@x>', '<2@x>', '<1@x>'] }]),
    '(1 (2)(3))',
  );
  // A three-message ring.
  const ring = await thread([
    { seq: 1, refs: ['<3@x>'] },
    { seq: 2, refs: ['<1@x>'] },
    { seq: 3, refs: ['<2@x>'] },
  ]);
  for (const n of ['1', '2', '3']) assert.equal(ring.split(/[ ()]+/).filter((x) => x === n).length, 1, ring);
});

void test('duplicate Message-IDs: the first message keeps the id, later ones stand alone', async () => {
  const out = await thread([
    { seq: 1, id: '<dup@x>' },
    { seq: 2, id: '<dup@x>' },
    { seq: 3, refs: ['<dup@x>'] },
  ]);
  assert.equal(out, '(1 3)(2)');
  // Missing Message-IDs: each message is its own thread.
  assert.equal(
    await thread([
      { seq: 1, id: null },
      { seq: 2, id: null },
    ]),
    '(1)(2)',
  );
});

void test('the references win over In-Reply-To, which is used only without References', async () => {
  assert.equal(await thread([{ seq: 1 }, { seq: 2 }, { seq: 3, refs: ['<1@x>'], irt: '<2@x>' }]), '(1 3)(2)');
});

void test('threads with the same base subject are merged (RFC 5256 step 5)', async () => {
  // A reply without references joins the original as its child.
  assert.equal(
    await thread([
      { seq: 1, subject: 'Plans' },
      { seq: 2, subject: 'Re: plans' },
    ]),
    '(1 2)',
  );
  // Two non-replies with one subject: a dummy holds both.
  assert.equal(
    await thread([
      { seq: 1, subject: 'Plans' },
      { seq: 2, subject: 'PLANS' },
    ]),
    '((1)(2))',
  );
  // Both replies: a dummy too.
  assert.equal(
    await thread([
      { seq: 1, subject: 'Re: Plans' },
      { seq: 2, subject: 'Fwd: Plans' },
    ]),
    '((1)(2))',
  );
  // A dummy thread (two answers to a lost message) takes a later message with the same subject.
  assert.equal(
    await thread([
      { seq: 1, subject: 'Re: Plans', refs: ['<lost@x>'] },
      { seq: 2, subject: 'Re: Plans', refs: ['<lost@x>'] },
      { seq: 3, subject: 'Plans' },
    ]),
    '((1)(2)(3))',
  );
  // Empty base subjects are never merged.
  assert.equal(
    await thread([
      { seq: 1, subject: 'Re:' },
      { seq: 2, subject: '' },
    ]),
    '(1)(2)',
  );
});

void test('siblings and threads are ordered by sent date, then sequence number', async () => {
  const out = await thread([
    { seq: 1, sent: 50 },
    { seq: 2, sent: 10 },
    { seq: 3, refs: ['<1@x>'], sent: 90 },
    { seq: 4, refs: ['<1@x>'], sent: 60 },
    { seq: 5, refs: ['<1@x>'], sent: 60 },
  ]);
  assert.equal(out, '(2)(1 (4)(5)(3))');
});

void test('a reply chain of 100,000 messages does not overflow the stack', async () => {
  const specs: Spec[] = [{ seq: 1 }];
  for (let i = 2; i <= 100_000; i++) specs.push({ seq: i, irt: `<${i - 1}@x>` });
  const out = await thread(specs);
  assert.ok(out.startsWith('(1 2 3 4 '));
  assert.ok(out.endsWith(' 99999 100000)'));
});

void test('ORDEREDSUBJECT: one thread per base subject, children of the first message', async () => {
  const records = [
    rec({ seq: 1, subject: 'b', sent: 5 }),
    rec({ seq: 2, subject: 'Re: a', sent: 3 }),
    rec({ seq: 3, subject: 'A', sent: 1 }),
    rec({ seq: 4, subject: 'Re: B', sent: 9 }),
    rec({ seq: 5, subject: 'a', sent: 2 }),
    rec({ seq: 6, subject: 'c', sent: 4 }),
  ];
  const roots = await orderedSubjectThreads(records, noPause);
  assert.equal(roots.map((r) => renderThread(r, (x) => x.seq)).join(''), '(3 (5)(2))(6)(1 4)');
});
