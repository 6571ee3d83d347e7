import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImapReader, astring, type ImapReaderOptions, type ImapToken } from './reader.js';

type Tok = string | null | Tok[] | { s: string } | { streamed: number };

function simplify(t: ImapToken): Tok {
  switch (t.kind) {
    case 'atom':
      return t.value;
    case 'nil':
      return null;
    case 'string':
      return { s: t.value.toString('latin1') };
    case 'list':
      return t.items.map(simplify);
    case 'streamed':
      return { streamed: t.size };
  }
}

interface Drive {
  /** Decides a synchronizing literal: true sends `+`. */
  accept?: (size: number) => boolean;
  opts?: Partial<ImapReaderOptions>;
  /** Command names after which the next line is read raw. */
  rawAfter?: string[];
}

function run(pieces: readonly Buffer[], d: Drive = {}): unknown[] {
  const reader = new ImapReader({
    maxLineLength: 200,
    maxLiteralSize: 1000,
    maxListDepth: 5,
    maxTokensPerCommand: 50,
    ...d.opts,
  });
  const events: unknown[] = [];
  let streamed = '';
  for (const piece of pieces) {
    reader.push(piece);
    for (let x = reader.next(); x !== null; x = reader.next()) {
      switch (x.kind) {
        case 'command':
          events.push(['command', x.tag, x.name, x.args.map(simplify)]);
          if (d.rawAfter?.includes(x.name)) reader.expectRawLine();
          break;
        case 'needContinuation':
          events.push(['cont', x.tag, x.size]);
          if ((d.accept ?? (() => true))(x.size)) reader.acceptLiteral();
          else reader.rejectLiteral();
          break;
        case 'literalStart':
          events.push(['start', x.tag, x.name, x.args.map(simplify), x.size]);
          streamed = '';
          break;
        case 'literalChunk':
          assert.ok(x.data.length > 0);
          streamed += x.data.toString('latin1');
          break;
        case 'literalEnd':
          events.push(['end', streamed, x.containsNul]);
          break;
        case 'line':
          events.push(['line', x.line.toString('latin1')]);
          break;
        case 'literalTooLarge':
          events.push(['tooLarge', x.tag, x.size]);
          break;
        case 'lineTooLong':
          events.push(['tooLong']);
          break;
        case 'bad':
          events.push(['bad', x.tag, x.reason]);
          break;
      }
    }
  }
  return events;
}

/** Runs the input whole, split at every byte boundary, and one byte at a time; all must agree. */
function check(input: string | Buffer, expected: unknown[], d: Drive = {}): void {
  const buf = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  assert.deepEqual(run([buf], d), expected, 'whole');
  for (let i = 1; i < buf.length; i++) {
    assert.deepEqual(run([buf.subarray(0, i), buf.subarray(i)], d), expected, `split at ${i}`);
  }
  const bytes: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
  assert.deepEqual(run(bytes, d), expected, 'byte by byte');
}

void describe('ImapReader', () => {
  void it('reads atoms, quoted strings, NIL and nested lists', () => {
    check('a1 login "jo\\"e" "p\\\\w"\r\nA2 NOOP\r\nA3 select NIL\r\nA4 X (a (b c) () "d")\r\n', [
      ['command', 'a1', 'LOGIN', [{ s: 'jo"e' }, { s: 'p\\w' }]],
      ['command', 'A2', 'NOOP', []],
      ['command', 'A3', 'SELECT', [null]],
      ['command', 'A4', 'X', [['a', ['b', 'c'], [], { s: 'd' }]]],
    ]);
  });

  void it('joins UID with its command and keeps FETCH sections as one atom', () => {
    check('t uid fetch 1:* (UID BODY.PEEK[HEADER.FIELDS (From To)]<0.100> FLAGS)\r\n', [
      ['command', 't', 'UID FETCH', ['1:*', ['UID', 'BODY.PEEK[HEADER.FIELDS (From To)]<0.100>', 'FLAGS']]],
    ]);
  });

  void it('reads synchronizing, non-synchronizing and literal8 literals', () => {
    check('a LOGIN {3}\r\nj\ro {2+}\r\npw\r\nb APPEND INBOX (\\Seen) ~{3}\r\na\x00b\r\n', [
      ['cont', 'a', 3],
      ['command', 'a', 'LOGIN', [{ s: 'j\ro' }, { s: 'pw' }]],
      ['cont', 'b', 3],
      ['command', 'b', 'APPEND', ['INBOX', ['\\Seen'], { s: 'a\x00b' }]],
    ]);
  });

  void it('reads a literal inside a list', () => {
    check('c X (a {1+}\r\nb c)\r\n', [['command', 'c', 'X', [['a', { s: 'b' }, 'c']]]]);
  });

  void it('refuses a synchronizing literal when the session rejects it, and one over the limit', () => {
    check(
      'a LOGIN {3}\r\nb NOOP\r\nc X {5000}\r\nd NOOP\r\n',
      [
        ['cont', 'a', 3],
        ['command', 'b', 'NOOP', []],
        ['tooLarge', 'c', 5000],
        ['command', 'd', 'NOOP', []],
      ],
      { accept: () => false },
    );
  });

  void it('drains a refused {n+} without executing its bytes', () => {
    const payload = 'x DELETE INBOX\r\n'.repeat(80); // 1280 bytes > maxLiteralSize
    check(`a APPEND INBOX {${payload.length}+}\r\n${payload} {3+}\r\nabc\r\nb NOOP\r\n`, [
      ['tooLarge', 'a', payload.length],
      ['command', 'b', 'NOOP', []],
    ]);
  });

  void it('reports an overlong line once and drains a {n+} at its end', () => {
    const long = 'a'.repeat(300);
    check(`a X ${long}\r\nb NOOP\r\nc X ${long} {10+}\r\nd DELETE x\r\ne NOOP\r\n`, [
      ['tooLong'],
      ['command', 'b', 'NOOP', []],
      ['tooLong'],
      ['command', 'e', 'NOOP', []],
    ]);
  });

  void it('reports syntax errors and discards the rest of the line', () => {
    check('a X "un\r\nb X (a\r\nc X a)\r\n+ X\r\nd\r\ne X "a\\qb"\r\nf X  a\r\ng NOOP\r\n', [
      ['bad', 'a', 'unterminated quoted string'],
      ['bad', 'b', 'unclosed parenthesis'],
      ['bad', 'c', 'unbalanced parenthesis'],
      ['bad', null, 'invalid tag'],
      ['bad', 'd', 'missing command'],
      ['bad', 'e', 'invalid escape in quoted string'],
      ['bad', 'f', 'unexpected space'],
      ['command', 'g', 'NOOP', []],
    ]);
  });

  void it('rejects NUL in quoted strings and in literals', () => {
    check('a X "a\x00b"\r\nb X {3+}\r\na\x00b c\r\nc NOOP\r\n', [
      ['bad', 'a', 'NUL, CR or LF in quoted string'],
      ['bad', 'b', 'NUL in literal'],
      ['command', 'c', 'NOOP', []],
    ]);
  });

  void it('bounds list depth and token count, and drains a {n+} after the error', () => {
    check('a X ((((((x))))))\r\nb X ((((((x {4+}\r\nDONE))))))\r\nc NOOP\r\n', [
      ['bad', 'a', 'lists nested too deeply'],
      ['bad', 'b', 'lists nested too deeply'],
      ['command', 'c', 'NOOP', []],
    ]);
    const many = Array.from({ length: 60 }, () => 'x').join(' ');
    check(`a X ${many}\r\n`, [['bad', 'a', 'too many arguments']]);
  });

  void it('streams large literals of streaming commands', () => {
    const body = 'Subject: hi\r\n\r\n' + 'y'.repeat(40);
    check(
      `a APPEND INBOX (\\Seen) {${body.length}}\r\n${body} {3+}\r\nabc\r\nb APPEND INBOX ~{3+}\r\nx\x00y\r\n`,
      [
        ['cont', 'a', body.length],
        ['start', 'a', 'APPEND', ['INBOX', ['\\Seen']], body.length],
        ['end', body, false],
        ['command', 'a', 'APPEND', ['INBOX', ['\\Seen'], { streamed: body.length }, { s: 'abc' }]],
        ['command', 'b', 'APPEND', ['INBOX', { s: 'x\x00y' }]],
      ],
      { opts: { stream: { above: 10, maxSize: 100, commands: ['APPEND'] } } },
    );
  });

  void it('refuses a streamed literal over its limit and reports NUL in a streamed literal', () => {
    const stream = { above: 4, maxSize: 20, commands: ['APPEND'] };
    const big = 'z'.repeat(30);
    check(
      `a APPEND INBOX {30+}\r\n${big}\r\nb APPEND INBOX {30}\r\nc APPEND INBOX {6+}\r\nab\x00cde\r\n`,
      [
        ['tooLarge', 'a', 30],
        ['tooLarge', 'b', 30],
        ['start', 'c', 'APPEND', ['INBOX'], 6],
        ['end', 'ab\x00cde', true],
        ['command', 'c', 'APPEND', ['INBOX', { streamed: 6 }]],
      ],
      { opts: { stream } },
    );
  });

  void it('reads raw lines on request (IDLE DONE)', () => {
    check(
      'a IDLE\r\nDONE\r\nb NOOP\r\n',
      [
        ['command', 'a', 'IDLE', []],
        ['line', 'DONE'],
        ['command', 'b', 'NOOP', []],
      ],
      {
        rawAfter: ['IDLE'],
      },
    );
  });

  void it('keeps memory bounded on an endless line', () => {
    const reader = new ImapReader({
      maxLineLength: 100,
      maxLiteralSize: 10,
      maxListDepth: 3,
      maxTokensPerCommand: 10,
    });
    const junk = Buffer.alloc(10000, 0x61);
    for (let i = 0; i < 100; i++) {
      reader.push(junk);
      assert.equal(reader.next(), null);
      assert.ok(reader.buffered <= 10000);
    }
    reader.push(Buffer.from('\r\na NOOP\r\n'));
    assert.deepEqual(reader.next(), { kind: 'lineTooLong' });
    assert.equal(reader.next()?.kind, 'command');
  });

  void it('applies the LITERAL- limit to {n+} only', () => {
    check(
      'a X {6+}\r\nabcdef\r\nb X {6}\r\nabcdef\r\n',
      [
        ['tooLarge', 'a', 6],
        ['cont', 'b', 6],
        ['command', 'b', 'X', [{ s: 'abcdef' }]],
      ],
      { opts: { maxNonSyncLiteral: 5 } },
    );
  });

  void it('gives the same outputs for random hostile input in any split', () => {
    const pieces = [
      'a ',
      'X ',
      'NOOP',
      ' ',
      '(',
      ')',
      '"',
      '\\',
      '{3}',
      '{2+}',
      '~{1}',
      '\r\n',
      '\n',
      '\x00',
      'é',
      '[',
      ']',
      'BODY[',
      '*',
      'NIL',
      'ab',
    ];
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 150; round++) {
      let s = '';
      const count = 5 + rnd(40);
      for (let i = 0; i < count; i++) s += pieces[rnd(pieces.length)];
      const buf = Buffer.from(s, 'utf8');
      const whole = run([buf], { opts: { maxLineLength: 40, maxListDepth: 3, maxTokensPerCommand: 8 } });
      const bytes: Buffer[] = [];
      for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
      assert.deepEqual(
        run(bytes, { opts: { maxLineLength: 40, maxListDepth: 3, maxTokensPerCommand: 8 } }),
        whole,
        s,
      );
      const cut = rnd(buf.length + 1);
      assert.deepEqual(
        run([buf.subarray(0, cut), buf.subarray(cut)], {
          opts: { maxLineLength: 40, maxListDepth: 3, maxTokensPerCommand: 8 },
        }),
        whole,
        s,
      );
    }
  });

  void it('maps astring tokens', () => {
    assert.equal(astring({ kind: 'nil' }), 'NIL');
    assert.equal(astring({ kind: 'atom', value: 'INBOX' }), 'INBOX');
    assert.equal(astring({ kind: 'list', items: [] }), null);
  });
});
