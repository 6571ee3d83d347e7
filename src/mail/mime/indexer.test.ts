import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS } from '../../core/limits.js';
import { MimeIndexer, indexMessage } from './indexer.js';
import { sectionRange } from './section.js';
import { corpus } from './testing/messages.js';
import { generate } from './testing/corpus.js';
import type { MimeRecord } from './types.js';

const cases = corpus();

function slice(bytes: Uint8Array, a: number, b: number): string {
  return Buffer.from(bytes.subarray(a, b)).toString('latin1');
}

function indexSplit(bytes: Uint8Array, points: number[]): MimeRecord {
  const ix = new MimeIndexer(DEFAULT_LIMITS);
  let last = 0;
  for (const p of points) {
    ix.write(bytes.subarray(last, p));
    last = p;
  }
  ix.write(bytes.subarray(last));
  return ix.end();
}

for (const c of cases) {
  void test(`corpus: ${c.name}: part numbers, offsets and line counts`, () => {
    const { bytes, expected } = c.gen;
    const r = indexMessage(bytes);
    assert.equal(r.size, bytes.length);
    assert.equal(r.parts.length, expected.length, 'number of entities');
    expected.forEach((x, i) => {
      const p = r.parts[i];
      assert.equal(p.part, x.part, `part number of entity ${i}`);
      assert.equal(p.kind, x.kind, `kind of ${x.part}`);
      assert.equal(
        slice(bytes, p.headerStart, p.headerEnd),
        slice(bytes, x.headerStart, x.headerEnd),
        `header bytes of ${x.part}`,
      );
      assert.equal(
        slice(bytes, p.headerEnd, p.bodyEnd),
        slice(bytes, x.headerEnd, x.bodyEnd),
        `body bytes of ${x.part}`,
      );
      assert.deepEqual([p.headerStart, p.headerEnd, p.bodyEnd], [x.headerStart, x.headerEnd, x.bodyEnd]);
      assert.equal(p.headerSize, x.headerEnd - x.headerStart);
      assert.equal(p.bodySize, x.bodyEnd - x.headerEnd);
      assert.equal(p.bodyLines, x.lines, `lines of ${x.part}`);
    });
    if (c.subject !== undefined) assert.equal(r.headers.subject, c.subject);
    if (c.baseSubject !== undefined) assert.equal(r.headers.baseSubject, c.baseSubject);
    if (c.preview !== undefined) assert.equal(r.preview, c.preview);
    assert.equal(r.truncated, c.truncated ?? false);
    // Plain JSON data: survives a round trip unchanged.
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
  });

  void test(`corpus: ${c.name}: every split gives the same record`, () => {
    const { bytes } = c.gen;
    const whole = indexMessage(bytes);
    for (let k = 0; k <= bytes.length; k++) assert.deepEqual(indexSplit(bytes, [k]), whole, `split at ${k}`);
    const oneByOne: number[] = [];
    for (let k = 1; k < bytes.length; k++) oneByOne.push(k);
    assert.deepEqual(indexSplit(bytes, oneByOne), whole, 'one byte at a time');
    for (let k = 1; k + 7 < bytes.length; k += 13) {
      assert.deepEqual(indexSplit(bytes, [k, k + 3, k + 7]), whole, `three splits from ${k}`);
    }
  });
}

function byName(name: string): Uint8Array {
  const c = cases.find((x) => x.name.startsWith(name));
  assert.ok(c !== undefined, name);
  return c.gen.bytes;
}

void test('envelope keeps raw values and splits addresses, groups included', () => {
  const r = indexMessage(byName('groups'));
  const e = r.envelope;
  assert.equal(e.subject, '[list] Re: [another] Fwd: Re: hello (fwd)');
  assert.deepEqual(e.from, [{ name: 'Pete', adl: null, mailbox: 'pete', host: 'silly.example' }]);
  assert.deepEqual(e.to, [
    { name: null, adl: null, mailbox: 'A Group', host: null },
    { name: 'Ed Jones', adl: null, mailbox: 'c', host: 'a.test' },
    { name: null, adl: null, mailbox: 'joe', host: 'where.test' },
    { name: 'John', adl: null, mailbox: 'jdoe', host: 'one.test' },
    { name: null, adl: null, mailbox: null, host: null },
    { name: null, adl: null, mailbox: 'undisclosed-recipients', host: null },
    { name: null, adl: null, mailbox: null, host: null },
  ]);
  assert.deepEqual(e.cc, [
    { name: 'Mary Smith: Personal Account', adl: null, mailbox: 'smith', host: 'home.example' },
    { name: null, adl: '@route1,@route2', mailbox: 'jeff', host: 'xyz.test' },
  ]);
  // Empty Reply-To takes From (RFC 9051 §7.5.2); old-style comment name on Sender; no host.
  assert.deepEqual(e.replyTo, e.from);
  assert.deepEqual(e.sender, [{ name: 'Bob Old-Style', adl: null, mailbox: 'bob', host: '' }]);
  assert.equal(e.inReplyTo, '<a@b> <c@d>');
  assert.equal(e.bcc, null);
  assert.equal(e.date, null);
  assert.equal(r.headers.inReplyTo, '<a@b>');
  assert.deepEqual(r.headers.references, ['<x@y>', '<a@b>']);
  assert.equal(r.headers.listId, 'list.example.org');
  // A group's start is kept (SEARCH TO matches its name), marked as not an address.
  assert.deepEqual(
    r.headers.to.map((a) => (a.group === true ? `group:${a.name}` : a.address)),
    ['group:A Group', 'c@a.test', 'joe@where.test', 'jdoe@one.test', 'group:undisclosed-recipients'],
  );
  assert.deepEqual(r.headers.names, [
    'from',
    'to',
    'cc',
    'reply-to',
    'sender',
    'subject',
    'in-reply-to',
    'references',
    'list-id',
  ]);
});

void test('encoded words stay raw in the envelope and are decoded for search', () => {
  const r = indexMessage(byName('simple (CRLF'));
  assert.equal(r.envelope.subject, 'Re: =?iso-8859-1?Q?=C7a_va=3F?=');
  assert.equal(r.envelope.from?.[0].name, '=?iso-8859-1?Q?Jos=E9_N=FA=F1ez?=');
  assert.deepEqual(r.headers.from, [{ name: 'José Núñez', address: 'jose@example.org' }]);
  assert.equal(r.headers.date, Date.UTC(2024, 5, 5, 13, 30, 0));
  assert.equal(r.headers.messageId, '<simple.1@example.org>');
  const m = indexMessage(byName('mixed'));
  assert.deepEqual(m.headers.to, [{ name: 'Müller', address: 'mueller@example.de' }]);
  const n = indexMessage(byName('nested'));
  const inner = n.parts.find((p) => p.message !== null && p.message.envelope.from?.[0].mailbox === 'inner');
  assert.ok(inner?.message);
  assert.equal(inner.message.envelope.subject, '=?koi8-r?B?8MXSxdPZzMvB?=');
});

void test('content fields: RFC 2231 filename, id, description, language, location, md5', () => {
  const r = indexMessage(byName('mixed'));
  const att = r.parts[2];
  assert.equal(att.part, '2');
  assert.equal(att.type, 'image');
  assert.equal(att.subtype, 'png');
  assert.equal(att.encoding, 'base64');
  assert.equal(att.id, '<img1@example.net>');
  assert.equal(att.description, 'A tiny picture');
  assert.deepEqual(att.language, ['de', 'en']);
  assert.equal(att.location, 'http://example.net/p.png');
  assert.equal(att.md5, 'Q2hlY2sgSW50ZWdyaXR5IQ==');
  assert.equal(att.filename, 'Übersicht März 2024.png');
  assert.deepEqual(att.disposition, {
    type: 'attachment',
    params: [['filename', 'Übersicht März 2024.png']],
  });
  assert.deepEqual(att.params, [['name', 'p.png']]);
  assert.equal(r.parts[1].charset, 'iso-8859-1');
  assert.equal(r.parts[0].params[0][1], '----=_Part_0_12345.678');
});

void test('message/rfc822 parts reference the embedded message; numbering follows IMAP', () => {
  const r = indexMessage(byName('nested'));
  const numbers = r.parts.map((p) => `${p.kind === 'message' ? 'm' : 'p'}:${p.part}:${p.type}/${p.subtype}`);
  assert.deepEqual(numbers, [
    'm::multipart/mixed',
    'p:1:multipart/alternative',
    'p:1.1:text/plain',
    'p:1.2:multipart/related',
    'p:1.2.1:text/html',
    'p:1.2.2:image/gif',
    'p:2:message/rfc822',
    'm:2:multipart/mixed',
    'p:2.1:text/plain',
    'p:2.2:application/pdf',
    'p:3:message/rfc822',
    'm:3:text/plain',
  ]);
  assert.deepEqual(r.parts[6].children, [7]);
  assert.equal(r.parts[6].message?.root, 7);
  assert.deepEqual(r.parts[7].children, [8, 9]);
  assert.equal(r.parts[6].message?.envelope.from?.[0].name, 'Inner');
  const bytes = byName('nested');
  const text = (part: string, t: '' | 'MIME' | 'HEADER' | 'TEXT'): string | null => {
    const range = sectionRange(r, part, t);
    return range === null ? null : slice(bytes, range.start, range.end);
  };
  assert.equal(text('2.1', ''), 'inner text\r\n');
  assert.equal(
    text('2.2', 'MIME'),
    'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="a.pdf"\r\n\r\n',
  );
  assert.equal(text('3.1', ''), 'x\r\n');
  assert.equal(text('3', 'TEXT'), 'x\r\n');
  assert.equal(text('3', 'HEADER'), 'Subject: plain inner\r\n\r\n');
  assert.equal(text('3.1', 'MIME'), 'Subject: plain inner\r\n\r\n');
  assert.equal(text('1.2.2', ''), 'R0lGODlh');
  assert.equal(text('1.3', ''), null);
  assert.equal(text('2.1', 'HEADER'), null);
  assert.equal(text('4', ''), null);
  assert.equal(text('0', ''), null);
  assert.ok(text('2', 'HEADER')?.startsWith('From: Inner <inner@example.org>\r\n'));

  const digest = indexMessage(byName('multipart/digest'));
  assert.deepEqual(
    digest.parts.map((p) => `${p.part}:${p.type}/${p.subtype}`),
    [':multipart/digest', '1:message/rfc822', '1:text/plain', '2:message/rfc822', '2:text/plain'],
  );

  const top = indexMessage(byName('top-level'));
  assert.deepEqual(
    top.parts.map((p) => `${p.kind}:${p.part}`),
    ['message:', 'message:1', 'part:1.1', 'part:1.2'],
  );
  const tb = byName('top-level');
  const range = sectionRange(top, '1.2', '');
  assert.ok(range);
  assert.equal(slice(tb, range.start, range.end), 'b\r\n');
  const h = sectionRange(top, '1', 'HEADER');
  assert.ok(h);
  assert.equal(
    slice(tb, h.start, h.end),
    'Subject: wrapped\r\nContent-Type: multipart/mixed; boundary=w\r\n\r\n',
  );
});

void test('8-bit headers decode as UTF-8; invalid bytes fall back without throwing', () => {
  const r = indexMessage(byName('8-bit'));
  assert.deepEqual(r.headers.from, [{ name: 'Jürgen Groß', address: 'jürgen@bücher.example' }]);
  assert.equal(r.envelope.subject, 'Grüße — 日本語');
  assert.ok(r.headers.names.includes('x-latin1'));
});

void test('broken input gives a valid best-effort structure', () => {
  const never = indexMessage(byName('broken: boundary never seen'));
  assert.equal(never.parts.length, 1);
  assert.equal(never.parts[0].type, 'multipart');
  assert.deepEqual(never.parts[0].children, []);
  const b64 = indexMessage(byName('broken: base64 message/rfc822'));
  assert.equal(b64.parts[1].opaque, true);
  assert.equal(b64.parts[1].message, null);
  const invalid = indexMessage(byName('broken: invalid content-type'));
  assert.equal(`${invalid.parts[0].type}/${invalid.parts[0].subtype}`, 'text/plain');
  const empty = indexMessage(new Uint8Array(0));
  assert.equal(empty.parts.length, 1);
  assert.equal(empty.size, 0);
  assert.equal(empty.preview, '');
  // A close delimiter without a final line break, then end of input.
  const noFinalBreak = Buffer.from('Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nhi\r\n--z--');
  const r = indexMessage(noFinalBreak);
  assert.equal(r.parts.length, 2);
  assert.equal(slice(noFinalBreak, r.parts[1].headerEnd, r.parts[1].bodyEnd), 'hi');
  assert.equal(r.parts[1].bodyLines, 1);
  // A delimiter is the last line, with no break: the part after it is empty.
  const lastDelim = Buffer.from('Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nhi\r\n--z');
  const l = indexMessage(lastDelim);
  assert.equal(l.parts.length, 3);
  assert.equal(l.parts[2].headerStart, lastDelim.length);
  assert.equal(l.parts[2].bodySize, 0);
});

void test('limits: depth, part count and header size set truncated and keep the structure valid', () => {
  const deep = generate({
    headers: ['Content-Type: multipart/mixed; boundary=a'],
    multipart: {
      boundary: 'a',
      parts: [
        {
          headers: ['Content-Type: multipart/mixed; boundary=b'],
          multipart: {
            boundary: 'b',
            parts: [
              {
                headers: ['Content-Type: multipart/mixed; boundary=c'],
                multipart: { boundary: 'c', parts: [{ headers: [], body: 'deep' }] },
              },
            ],
          },
        },
        { headers: [], body: 'after' },
      ],
    },
  });
  const d = indexMessage(deep.bytes, { mimeDepth: 2, mimeParts: 100, headerSize: 1000 });
  assert.equal(d.truncated, true);
  assert.deepEqual(
    d.parts.map((p) => `${p.part}:${p.opaque}`),
    [':false', '1:false', '1.1:true', '2:false'],
  );
  assert.equal(slice(deep.bytes, d.parts[3].headerEnd, d.parts[3].bodyEnd), 'after');
  const e = deep.expected.find((x) => x.part === '1.1');
  assert.ok(e);
  assert.equal(d.parts[2].bodyEnd, e.bodyEnd);

  const many = indexMessage(deep.bytes, { mimeDepth: 32, mimeParts: 3, headerSize: 1000 });
  assert.equal(many.truncated, true);
  assert.deepEqual(
    many.parts.map((p) => p.part),
    ['', '1', '1.1'],
  );
  assert.equal(many.parts[0].bodyEnd, deep.bytes.length);

  const big = Buffer.from(`Subject: ${'x'.repeat(500)}\r\nFrom: a@b\r\n\r\nbody\r\n`);
  const h = indexMessage(big, { mimeDepth: 32, mimeParts: 10, headerSize: 100 });
  assert.equal(h.truncated, true);
  assert.equal(h.parts[0].headerEnd, 0);
  assert.equal(h.parts[0].bodyEnd, big.length);
  assert.equal(h.envelope.subject, null);
});

void test('boundaries: nested reuse of the same boundary and prefix-like boundaries', () => {
  const same = generate({
    headers: ['Content-Type: multipart/mixed; boundary=s'],
    multipart: {
      boundary: 's',
      parts: [
        { headers: ['Content-Type: multipart/mixed; boundary=s'], multipart: { boundary: 's', parts: [] } },
      ],
    },
  });
  const r = indexMessage(same.bytes);
  assert.ok(r.parts.length >= 2);
  assert.equal(r.parts[0].bodyEnd, same.bytes.length);
  const prefix = generate({
    headers: ['Content-Type: multipart/mixed; boundary=ab'],
    multipart: {
      boundary: 'ab',
      parts: [
        {
          headers: ['Content-Type: multipart/mixed; boundary=abc'],
          multipart: {
            boundary: 'abc',
            parts: [
              { headers: [], body: 'x' },
              { headers: [], body: 'y' },
            ],
          },
        },
        { headers: [], body: 'z' },
      ],
    },
  });
  const p = indexMessage(prefix.bytes);
  assert.deepEqual(
    p.parts.map((x) => x.part),
    prefix.expected.map((x) => x.part),
  );
  p.parts.forEach((x, i) => assert.equal(x.bodyEnd, prefix.expected[i].bodyEnd));
});

void test('preview: HTML is used only without a text/plain part; attachments are skipped', () => {
  const html = generate({
    headers: ['Content-Type: multipart/mixed; boundary=h'],
    multipart: {
      boundary: 'h',
      parts: [
        {
          headers: ['Content-Type: text/plain', 'Content-Disposition: attachment; filename=a.txt'],
          body: 'nope',
        },
        {
          headers: ['Content-Type: text/html; charset=utf-8'],
          body: '<html><head><title>T</title><style>p{}</style></head><body><p>Hi&nbsp;there &amp; <b>you</b>&#33;</p><script>x()</script></body></html>',
        },
      ],
    },
  });
  assert.equal(indexMessage(html.bytes).preview, 'Hi there & you!');
  const long = generate({ headers: [], body: 'word '.repeat(100) });
  const pv = indexMessage(long.bytes).preview;
  assert.equal(pv.length, 199);
  assert.ok(pv.startsWith('word word'));
  const koi = generate({
    headers: ['Content-Type: text/plain; charset=koi8-r', 'Content-Transfer-Encoding: base64'],
    body: Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]).toString('base64'),
  });
  assert.equal(indexMessage(koi.bytes).preview, 'Привет');
});

void test('write after end is rejected; end is idempotent', () => {
  const ix = new MimeIndexer(DEFAULT_LIMITS);
  ix.write(Buffer.from('Subject: a\r\n\r\nb'));
  const r = ix.end();
  assert.equal(ix.end(), r);
  assert.throws(() => ix.write(Buffer.from('x')));
});

/** Structural invariants every record must satisfy, whatever the input. */
function checkInvariants(r: MimeRecord): void {
  assert.ok(r.parts.length >= 1 && r.parts.length <= DEFAULT_LIMITS.mimeParts);
  r.parts.forEach((p, i) => {
    assert.ok(
      p.headerStart <= p.headerEnd && p.headerEnd <= p.bodyEnd && p.bodyEnd <= r.size,
      `offsets of ${i}`,
    );
    assert.equal(p.headerSize, p.headerEnd - p.headerStart);
    assert.equal(p.bodySize, p.bodyEnd - p.headerEnd);
    assert.ok(p.bodyLines >= 0 && p.bodyLines <= p.bodySize);
    assert.ok(p.depth <= DEFAULT_LIMITS.mimeDepth);
    for (const c of p.children) {
      assert.ok(c > i && c < r.parts.length);
      assert.equal(r.parts[c].parent, i);
      assert.ok(
        r.parts[c].headerStart >= p.headerEnd && r.parts[c].bodyEnd <= p.bodyEnd,
        `child ${c} inside ${i}`,
      );
    }
  });
  assert.equal(r.parts[0].headerStart, 0);
  assert.equal(r.parts[0].bodyEnd, r.size);
}

void test('fuzz: mutated corpus messages never throw and keep the invariants in any split', () => {
  // Deterministic xorshift PRNG so that a failure can be replayed.
  let seed = 0x2545f491;
  const rnd = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const alphabet = Buffer.from('-\r\n:;="<>@()[] \tab\x00\xff');
  for (let round = 0; round < 400; round++) {
    const base = cases[rnd(cases.length)].gen.bytes;
    const bytes = Buffer.from(base);
    const edits = 1 + rnd(8);
    let mutated: Buffer = bytes;
    for (let e = 0; e < edits; e++) {
      const at = rnd(mutated.length + 1);
      const kind = rnd(3);
      if (kind === 0 && mutated.length > 0)
        mutated[Math.min(at, mutated.length - 1)] = alphabet[rnd(alphabet.length)];
      else if (kind === 1)
        mutated = Buffer.concat([mutated.subarray(0, at), mutated.subarray(at + 1 + rnd(20))]);
      else
        mutated = Buffer.concat([
          mutated.subarray(0, at),
          mutated.subarray(rnd(mutated.length + 1)).subarray(0, 40),
          mutated.subarray(at),
        ]);
    }
    const whole = indexMessage(mutated);
    checkInvariants(whole);
    const p1 = rnd(mutated.length + 1);
    const p2 = p1 + rnd(mutated.length - p1 + 1);
    assert.deepEqual(indexSplit(mutated, [p1, p2]), whole, `round ${round}`);
  }
});
