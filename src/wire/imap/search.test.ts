import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImapReader, type ImapToken } from './reader.js';
import { SearchError, parseSearch, parseSearchDate, type SearchProgram } from './search.js';

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
      else assert.fail(`unexpected ${x.kind}`);
    }
  }
  return assert.fail('no command');
}

/** Parses `t SEARCH <criteria>` fed whole, split at every boundary and byte by byte; all agree. */
function search(criteria: string): SearchProgram {
  const buf = Buffer.from(`t SEARCH ${criteria}\r\n`, 'utf8');
  const whole = parseSearch(readArgs([buf]));
  for (let i = 1; i < buf.length; i++) {
    assert.deepEqual(parseSearch(readArgs([buf.subarray(0, i), buf.subarray(i)])), whole);
  }
  const bytes: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
  assert.deepEqual(parseSearch(readArgs(bytes)), whole);
  return whole;
}

const b = (s: string): Buffer => Buffer.from(s);

void describe('SEARCH parser', () => {
  void it('parses flags, headers, dates, sizes, sets and groups', () => {
    const p = search(
      'RETURN (MIN COUNT) CHARSET utf-8 1:5,* UNSEEN FROM "bob" (OR SMALLER 10 LARGER 20) NOT KEYWORD $Junk SINCE 1-Feb-1994',
    );
    assert.deepEqual(p.returnOptions, ['MIN', 'COUNT']);
    assert.equal(p.charset, 'UTF-8');
    assert.deepEqual(p.criteria, {
      kind: 'and',
      keys: [
        {
          kind: 'seq',
          set: {
            kind: 'ranges',
            ranges: [
              { from: 1, to: 5 },
              { from: '*', to: '*' },
            ],
          },
        },
        { kind: 'flag', flag: '\\Seen', set: false },
        { kind: 'header', field: 'From', value: b('bob') },
        {
          kind: 'or',
          left: { kind: 'size', op: 'smaller', size: 10 },
          right: { kind: 'size', op: 'larger', size: 20 },
        },
        { kind: 'not', key: { kind: 'keyword', keyword: '$Junk', set: true } },
        { kind: 'date', field: 'internal', op: 'since', date: { year: 1994, month: 2, day: 1 } },
      ],
    });
  });

  void it('knows every RFC 3501 and RFC 9051 key', () => {
    const all =
      'ALL ANSWERED BCC a BEFORE 1-Jan-2000 BODY b CC c DELETED DRAFT FLAGGED FROM f HEADER X-A v KEYWORD k ' +
      'LARGER 1 NEW NOT SEEN OLD ON "31-Dec-1999" OR SEEN DRAFT RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 ' +
      'SENTSINCE 1-Jan-2000 SINCE 1-Jan-2000 SMALLER 9 SUBJECT s TEXT t TO o UID 1:* UNANSWERED UNDELETED UNDRAFT ' +
      'UNFLAGGED UNKEYWORD k UNSEEN $ MODSEQ 620162338 MODSEQ "/flags/\\\\draft" all 5';
    const p = search(all);
    assert.equal(p.criteria.kind, 'and');
    if (p.criteria.kind === 'and') assert.equal(p.criteria.keys.length, 38);
    assert.equal(p.returnOptions, null);
    assert.deepEqual(search('BODY {4}\r\nx\r\ny').criteria, { kind: 'body', value: b('x\r\ny') });
    assert.deepEqual(search('HEADER Message-ID "<a@b>"').criteria, {
      kind: 'header',
      field: 'Message-ID',
      value: b('<a@b>'),
    });
    assert.deepEqual(search('MODSEQ "/flags/\\\\draft" all 5').criteria, {
      kind: 'modseq',
      modseq: 5n,
      entry: { name: '/flags/\\draft', type: 'all' },
    });
    assert.deepEqual(search('RETURN () ALL').returnOptions, ['ALL']);
    assert.deepEqual(search('RETURN (SAVE) $').returnOptions, ['SAVE']);
  });

  void it('rejects malformed criteria with a clear error', () => {
    for (const bad of [
      'FOO',
      'FROM',
      'SINCE 31-Feb-2000',
      'SINCE 1-Foo-2000',
      'LARGER x',
      'LARGER 99999999999',
      'UID 0',
      'OR SEEN',
      '()',
      'RETURN (BOGUS) ALL',
      'CHARSET UTF-8',
      'MODSEQ "/flags/x" weird 5',
      'KEYWORD "x"',
    ]) {
      assert.throws(() => parseSearch(readArgs([Buffer.from(`t SEARCH ${bad}\r\n`)])), SearchError, bad);
    }
  });

  void it('bounds nesting: parenthesis, NOT and OR bombs', () => {
    const bombs = [
      '('.repeat(40) + 'ALL' + ')'.repeat(40),
      'NOT '.repeat(5000) + 'ALL',
      'OR ALL '.repeat(5000) + 'ALL',
    ];
    for (const bomb of bombs) {
      assert.throws(() => parseSearch(readArgs([Buffer.from(`t SEARCH ${bomb}\r\n`)])), /nested too deeply/);
    }
    assert.equal(
      parseSearch(readArgs([Buffer.from(`t SEARCH ${'NOT '.repeat(30)}ALL\r\n`)])).criteria.kind,
      'not',
    );
  });

  void it('parses dates strictly', () => {
    assert.deepEqual(parseSearchDate('29-feb-2024'), { year: 2024, month: 2, day: 29 });
    for (const bad of [
      '29-Feb-2023',
      '0-Jan-2000',
      '123-Jan-2000',
      '1-Jan-20000',
      '1-Jan-',
      '1Jan2000',
      '',
    ]) {
      assert.equal(parseSearchDate(bad), null, bad);
    }
  });

  void it('parses WITHIN (RFC 5032), the SAVEDATE keys (RFC 8514) and EMAILID/THREADID (RFC 8474)', () => {
    assert.deepEqual(search('YOUNGER 259200 OLDER 60').criteria, {
      kind: 'and',
      keys: [
        { kind: 'age', op: 'younger', seconds: 259200 },
        { kind: 'age', op: 'older', seconds: 60 },
      ],
    });
    assert.deepEqual(search('SAVEDSINCE 1-Feb-2026').criteria, {
      kind: 'date',
      field: 'saved',
      op: 'since',
      date: { year: 2026, month: 2, day: 1 },
    });
    assert.deepEqual(search('SAVEDATESUPPORTED').criteria, { kind: 'all' });
    assert.deepEqual(search('EMAILID M0123abc').criteria, {
      kind: 'objectId',
      field: 'email',
      id: 'M0123abc',
    });
    assert.deepEqual(search('THREADID T_1-2').criteria, { kind: 'objectId', field: 'thread', id: 'T_1-2' });
    for (const bad of [
      'YOUNGER 0',
      'OLDER',
      'OLDER -5',
      'YOUNGER 99999999999',
      'EMAILID "a.b"',
      `EMAILID ${'x'.repeat(256)}`,
    ]) {
      assert.throws(() => parseSearch(readArgs([Buffer.from(`t SEARCH ${bad}\r\n`)])), SearchError, bad);
    }
  });
});
