import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImapReader, type ImapToken } from './reader.js';
import { FetchParseError, parseFetchItems, type FetchRequest } from './fetch.js';

function readArgs(pieces: readonly Buffer[]): ImapToken[] {
  const reader = new ImapReader({
    maxLineLength: 100000,
    maxLiteralSize: 1000,
    maxListDepth: 64,
    maxTokensPerCommand: 100000,
  });
  for (const p of pieces) {
    reader.push(p);
    for (let x = reader.next(); x !== null; x = reader.next()) {
      if (x.kind === 'needContinuation') reader.acceptLiteral();
      else if (x.kind === 'command') return x.args;
      else assert.fail(`unexpected ${x.kind}: ${x.kind === 'bad' ? x.reason : ''}`);
    }
  }
  return assert.fail('no command');
}

/** Parses `t FETCH 1:* <args>` fed whole and split at every byte boundary; all agree. */
function fetch(args: string, rev2 = true): FetchRequest {
  const buf = Buffer.from(`t FETCH 1:* ${args}\r\n`, 'utf8');
  const whole = parseFetchItems(readArgs([buf]).slice(1), { rev2 });
  for (let i = 1; i < buf.length; i++) {
    assert.deepEqual(
      parseFetchItems(readArgs([buf.subarray(0, i), buf.subarray(i)]).slice(1), { rev2 }),
      whole,
    );
  }
  return whole;
}

function bad(args: string, pattern?: RegExp): void {
  const tokens = readArgs([Buffer.from(`t FETCH 1 ${args}\r\n`)]).slice(1);
  assert.throws(
    () => parseFetchItems(tokens, { rev2: true }),
    (err: unknown) => err instanceof FetchParseError && (pattern === undefined || pattern.test(err.message)),
    args,
  );
}

const names = (r: FetchRequest): string[] => r.items.map((i) => i.name);

void describe('FETCH item parser', () => {
  void it('expands the macros ALL, FAST and FULL', () => {
    assert.deepEqual(names(fetch('ALL')), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']);
    assert.deepEqual(names(fetch('fast')), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    assert.deepEqual(names(fetch('Full', false)), [
      'FLAGS',
      'INTERNALDATE',
      'RFC822.SIZE',
      'ENVELOPE',
      'BODY',
    ]);
    assert.equal(fetch('FULL').setsSeen, false);
    // A macro is not a fetch-att: not inside a list.
    bad('(ALL)', /unknown/);
  });

  void it('parses simple items, single or in a list', () => {
    const r = fetch(
      '(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE RFC822 RFC822.HEADER RFC822.TEXT MODSEQ)',
    );
    assert.deepEqual(
      r.items.map((i) => i.kind),
      [
        'uid',
        'flags',
        'internalDate',
        'rfc822Size',
        'envelope',
        'body',
        'bodyStructure',
        'rfc822',
        'rfc822Header',
        'rfc822Text',
        'modseq',
      ],
    );
    assert.equal(r.setsSeen, true);
    assert.equal(r.changedSince, null);
    assert.deepEqual(names(fetch('uid')), ['UID']);
    // Repeats are answered once.
    assert.deepEqual(names(fetch('(FLAGS flags UID)')), ['FLAGS', 'UID']);
  });

  void it('marks implicit \\Seen only for non-PEEK content items', () => {
    assert.equal(fetch('RFC822.HEADER').setsSeen, false);
    assert.equal(fetch('BODY.PEEK[]').setsSeen, false);
    assert.equal(fetch('BINARY.PEEK[1]').setsSeen, false);
    assert.equal(fetch('BINARY.SIZE[1]').setsSeen, false);
    assert.equal(fetch('(UID BODY[HEADER])').setsSeen, true);
    assert.equal(fetch('BINARY[]').setsSeen, true);
    assert.equal(fetch('RFC822').setsSeen, true);
    assert.equal(fetch('RFC822.TEXT').setsSeen, true);
  });

  void it('parses sections and echoes them for the response', () => {
    const r = fetch(
      '(BODY[] BODY.PEEK[HEADER] body[text] BODY[1.2.MIME] BODY[1.2] BODY[3.HEADER] BODY[4.TEXT])',
    );
    assert.deepEqual(names(r), [
      'BODY[]',
      'BODY[HEADER]',
      'BODY[TEXT]',
      'BODY[1.2.MIME]',
      'BODY[1.2]',
      'BODY[3.HEADER]',
      'BODY[4.TEXT]',
    ]);
    assert.deepEqual(r.items[3], {
      kind: 'bodySection',
      peek: false,
      section: { part: [1, 2], text: { kind: 'mime' } },
      partial: null,
      name: 'BODY[1.2.MIME]',
    });
    assert.deepEqual(r.items[0], {
      kind: 'bodySection',
      peek: false,
      section: { part: [], text: { kind: 'full' } },
      partial: null,
      name: 'BODY[]',
    });
  });

  void it('parses HEADER.FIELDS lists, keeping field names as given', () => {
    const r = fetch('BODY.PEEK[header.fields (From to "X-Spam-Flag" __proto__)]<0.1024>');
    assert.deepEqual(r.items, [
      {
        kind: 'bodySection',
        peek: true,
        section: {
          part: [],
          text: { kind: 'headerFields', not: false, fields: ['From', 'to', 'X-Spam-Flag', '__proto__'] },
        },
        partial: { offset: 0, length: 1024 },
        name: 'BODY[HEADER.FIELDS (From to X-Spam-Flag __proto__)]<0>',
      },
    ]);
    const n = fetch('(UID BODY[2.1.HEADER.FIELDS.NOT (Received)])');
    assert.deepEqual(n.items[1], {
      kind: 'bodySection',
      peek: false,
      section: { part: [2, 1], text: { kind: 'headerFields', not: true, fields: ['Received'] } },
      partial: null,
      name: 'BODY[2.1.HEADER.FIELDS.NOT (Received)]',
    });
    // Quoted names are unescaped; the echo quotes them again only when they are not atoms.
    const q = fetch('BODY.PEEK[HEADER.FIELDS ("FROM" "a\\"b")]');
    assert.deepEqual(q.items[0]?.kind === 'bodySection' ? q.items[0].section.text : null, {
      kind: 'headerFields',
      not: false,
      fields: ['FROM', 'a"b'],
    });
    assert.deepEqual(names(q), ['BODY[HEADER.FIELDS (FROM "a\\"b")]']);
  });

  void it('parses BINARY, BINARY.PEEK and BINARY.SIZE (RFC 3516)', () => {
    const r = fetch('(BINARY[1.2]<100.50> BINARY.PEEK[] BINARY.SIZE[3] BINARY.SIZE[])');
    assert.deepEqual(r.items, [
      {
        kind: 'binary',
        peek: false,
        part: [1, 2],
        partial: { offset: 100, length: 50 },
        name: 'BINARY[1.2]<100>',
      },
      { kind: 'binary', peek: true, part: [], partial: null, name: 'BINARY[]' },
      { kind: 'binarySize', part: [3], name: 'BINARY.SIZE[3]' },
      { kind: 'binarySize', part: [], name: 'BINARY.SIZE[]' },
    ]);
    bad('BINARY[HEADER]', /part number/);
    bad('BINARY[1.TEXT]', /part number/);
    bad('BINARY.SIZE[1]<0.10>', /partial/);
  });

  void it('bounds partials to 32-bit numbers with a non-zero length', () => {
    const r = fetch('BODY[]<4294967295.4294967295>');
    assert.deepEqual(r.items[0]?.kind === 'bodySection' ? r.items[0].partial : null, {
      offset: 4294967295,
      length: 4294967295,
    });
    bad('BODY[]<4294967296.1>', /partial/);
    bad('BODY[]<0.0>', /partial/);
    bad('BODY[]<0>', /partial/);
    bad('BODY[]<1.2', /partial/);
    bad('BODY[]<a.2>', /partial/);
    bad('BODY[]<1.2>x', /partial/);
    bad('BODY[]<.2>', /partial/);
  });

  void it('parses CHANGEDSINCE and VANISHED modifiers (RFC 7162)', () => {
    const r = fetch('(FLAGS) (CHANGEDSINCE 12345)');
    assert.equal(r.changedSince, 12345n);
    assert.equal(r.vanished, false);
    // CHANGEDSINCE implies MODSEQ in every response.
    assert.deepEqual(names(r), ['FLAGS', 'MODSEQ']);
    assert.deepEqual(names(fetch('(MODSEQ UID) (changedsince 0)')), ['MODSEQ', 'UID']);
    const v = fetch('FLAGS (VANISHED CHANGEDSINCE 9223372036854775807)');
    assert.equal(v.vanished, true);
    assert.equal(v.changedSince, 9223372036854775807n);
    bad('FLAGS (CHANGEDSINCE 9223372036854775808)', /mod-sequence/);
    bad('FLAGS (CHANGEDSINCE)', /mod-sequence/);
    bad('FLAGS (CHANGEDSINCE -1)', /mod-sequence/);
    bad('FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)', /twice/);
    bad('FLAGS (VANISHED)', /requires CHANGEDSINCE/);
    bad('FLAGS (FOO 1)', /modifier/);
    bad('FLAGS ()', /modifiers/);
    bad('FLAGS CHANGEDSINCE', /modifiers/);
    bad('FLAGS (CHANGEDSINCE 1) (X)', /unexpected/);
  });

  void it('refuses malformed items and sections with a message for BAD', () => {
    assert.throws(() => parseFetchItems([], { rev2: true }), /missing FETCH items/);
    bad('()', /empty/);
    bad('(FLAGS "UID")', /invalid FETCH item/);
    bad('"FLAGS"', /invalid FETCH items/);
    bad('FOO', /unknown FETCH item FOO/);
    bad('BODY.PEEK', /unknown/);
    bad('RFC822.PEEK[]', /unknown/);
    bad('BODY<0.1>', /unknown/);
    bad('BODY[MIME]', /invalid section/);
    bad('BODY[HEADERS]', /invalid section/);
    bad('BODY[1.]', /invalid section/);
    bad('BODY[0]', /part number/);
    bad('BODY[01]', /part number/);
    bad('BODY[1..2]', /invalid section/);
    bad('BODY[.1]', /invalid section/);
    bad('BODY[4294967296]', /part number/);
    bad('BODY[1X]', /invalid section/);
    bad('BODY[TEXT ]', /invalid section/);
    bad('BODY[HEADER.FIELDS]', /list of field names/);
    bad('BODY[HEADER.FIELDS ()]', /header field name/);
    bad('BODY[HEADER.FIELDS (From  To)]', /header field/);
    bad('BODY[HEADER.FIELDS (From )]', /header field list/);
    bad('BODY[HEADER.FIELDS From]', /header field list/);
    bad('BODY[HEADER.FIELDS (Fr:om)]', /header field name/);
    bad('BODY[HEADER.FIELDS ("")]', /header field name/);
    bad('BODY[HEADER.FIELDS ("From)]', /unterminated/);
    bad('BODY[HEADER.FIELDS ("F\\x")]', /escape/);
    bad('BODY[HEADER.FIELDS (F*)]', /header field/);
    bad('BODY[TEXT.HEADER]', /invalid section/);
  });

  void it('bounds items, header field names and part depth', () => {
    const many = Array.from({ length: 65 }, (_, i) => `BODY[${i + 1}]`).join(' ');
    bad(`(${many})`, /too many FETCH items/);
    const fields = Array.from({ length: 101 }, (_, i) => `X-${i}`).join(' ');
    bad(`BODY[HEADER.FIELDS (${fields})]`, /too many header field names/);
    const ok = Array.from({ length: 100 }, (_, i) => `X-${i}`).join(' ');
    const r = fetch(`BODY[HEADER.FIELDS (${ok})]`);
    assert.equal(r.items[0]?.kind === 'bodySection' && r.items[0].section.text.kind === 'headerFields', true);
    bad(`BODY[${Array.from({ length: 33 }, () => '1').join('.')}]`, /too deeply/);
    const tokens = readArgs([Buffer.from('t FETCH 1 (UID FLAGS ENVELOPE)\r\n')]).slice(1);
    assert.throws(() => parseFetchItems(tokens, { rev2: false, maxItems: 2 }), /too many FETCH items/);
    assert.equal(parseFetchItems(tokens, { rev2: false, maxItems: 3 }).items.length, 3);
  });

  void it('parses PREVIEW with and without (LAZY) (RFC 8970), SAVEDATE (RFC 8514), EMAILID and THREADID (RFC 8474)', () => {
    const kinds = (r: FetchRequest): string[] => r.items.map((i) => i.kind);
    assert.deepEqual(kinds(fetch('PREVIEW')), ['preview']);
    assert.deepEqual(kinds(fetch('PREVIEW (LAZY)')), ['preview']);
    assert.deepEqual(kinds(fetch('(UID PREVIEW (LAZY) SAVEDATE EMAILID THREADID)')), [
      'uid',
      'preview',
      'saveDate',
      'emailId',
      'threadId',
    ]);
    // The list after a lone PREVIEW is its modifiers; after another item, FETCH's own.
    assert.equal(fetch('PREVIEW (LAZY) (CHANGEDSINCE 5)').changedSince, 5n);
    bad('(PREVIEW (EAGER))', /PREVIEW modifier/);
    bad('(PREVIEW ())');
  });
});
