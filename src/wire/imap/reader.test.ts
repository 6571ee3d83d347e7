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
          events.push(['tooLong', x.tag]);
          break;
        case 'unframed':
          events.push(['unframed']);
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
      ['tooLong', 'a'],
      ['command', 'b', 'NOOP', []],
      ['tooLong', 'c'],
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

  void it('takes [ as an atom character outside a fetch section (RFC 9051 §9 ATOM-CHAR)', () => {
    check('a SELECT !#$&\'+,-.0123456789:;<=>?@^_`|[}\r\nb LIST "" a[b]c\r\nc CREATE x[y\r\n', [
      ['command', 'a', 'SELECT', ["!#$&'+,-.0123456789:;<=>?@^_`|[}"]],
      ['command', 'b', 'LIST', [{ s: '' }, 'a[b]c']],
      ['command', 'c', 'CREATE', ['x[y']],
    ]);
    check(
      'd FETCH 1 (body.peek[HEADER.FIELDS (A B)]<0.10> BINARY[1] BINARY.SIZE[2])\r\ne FETCH 1 BODY[1\r\n',
      [
        [
          'command',
          'd',
          'FETCH',
          ['1', ['body.peek[HEADER.FIELDS (A B)]<0.10>', 'BINARY[1]', 'BINARY.SIZE[2]']],
        ],
        ['bad', 'e', 'unterminated ['],
      ],
    );
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

  void it('keeps memory bounded on an endless line, and closes on one without a tag', () => {
    const reader = new ImapReader({
      maxLineLength: 100,
      maxLiteralSize: 10,
      maxListDepth: 3,
      maxTokensPerCommand: 10,
    });
    const junk = Buffer.alloc(10000, 0x61);
    reader.push(junk);
    // No `tag SP` within the limit: nothing can be answered with a tag.
    assert.equal(reader.next()?.kind, 'unframed');
    for (let i = 0; i < 100; i++) {
      reader.push(junk);
      assert.equal(reader.next(), null);
      assert.equal(reader.buffered, 0);
    }
    reader.push(Buffer.from('\r\na NOOP\r\n'));
    assert.equal(reader.next()?.kind, 'command');
  });

  void it('answers an overlong line with its tag the moment the limit is crossed, holding nothing', () => {
    const reader = new ImapReader({
      maxLineLength: 100,
      maxLiteralSize: 1000,
      maxListDepth: 3,
      maxTokensPerCommand: 10,
    });
    reader.push(Buffer.from('a1 ID ('));
    assert.equal(reader.next(), null);
    // Piece by piece: refused once 100 bytes are held, before any line end.
    let refusal = null;
    for (let i = 0; i < 40 && refusal === null; i++) {
      reader.push(Buffer.from('(((('));
      refusal = reader.next();
    }
    assert.deepEqual(refusal, { kind: 'lineTooLong', tag: 'a1', reason: 'Command line too long' });
    for (let i = 0; i < 1000; i++) {
      reader.push(Buffer.from('((((x LOGOUT\r'.repeat(10)));
      assert.equal(reader.next(), null);
      assert.equal(reader.buffered, 0);
    }
    // A {n+} at the end of the overlong line: its bytes are drained, and so is a {n+} later
    // in the same command; the line after them is the next command.
    reader.push(Buffer.from(' {12+}\r\nb DELETE x\r\n more {3+}\r\nc X\r\n'));
    assert.equal(reader.next(), null);
    assert.equal(reader.buffered, 0);
    reader.push(Buffer.from('d NOOP\r\n'));
    assert.deepEqual(reader.next(), { kind: 'command', tag: 'd', name: 'NOOP', args: [] });
  });

  void it('refuses overlong lines with their tag in any split, skipping literals of the rest', () => {
    const long = '('.repeat(300);
    check(`a ID ${long} {5+}\r\nx NOO ({2+}\r\n\r\n)\r\nb NOOP\r\n${'c'.repeat(250)}\r\nd NOOP\r\n`, [
      ['tooLong', 'a'],
      ['command', 'b', 'NOOP', []],
      ['unframed'],
      ['command', 'd', 'NOOP', []],
    ]);
    // A tag is read only within the limit; a {n} ending a skipped line ends the command (the
    // client, already answered, sends no literal).
    check(`${'t'.repeat(200)} X\r\na X ${'x'.repeat(200)} {5}\r\nb NOOP\r\n`, [
      ['unframed'],
      ['tooLong', 'a'],
      ['command', 'b', 'NOOP', []],
    ]);
    // A line after a literal is refused with the command's tag.
    check(`a X {2+}\r\nab ${'y'.repeat(250)}\r\nb NOOP\r\n`, [
      ['tooLong', 'a'],
      ['command', 'b', 'NOOP', []],
    ]);
  });

  void it('bounds a whole command: lines plus literals', () => {
    const opts = { maxLineLength: 200, maxCommandSize: 60 };
    const lit = (n: number): string => `{20+}\r\n${`${n}x DELETE INBOX\r\n`.padEnd(20, 'z')}`;
    // 11 + 20 + 8 bytes so far: the second literal would leave no room for the line end.
    check(
      `a X ${lit(1)} ${lit(2)} ${lit(3)} x DELETE INBOX ${lit(4)}\r\nb NOOP\r\n`,
      [
        ['tooLarge', 'a', 20],
        ['command', 'b', 'NOOP', []],
      ],
      { opts },
    );
    // The same with {n}: refused before `+`, so the client sends no more of it.
    check(
      'a X {10}\r\n0123456789 {10}\r\nb NOOP\r\n',
      [
        ['cont', 'a', 10],
        ['tooLarge', 'a', 10],
        ['command', 'b', 'NOOP', []],
      ],
      { opts: { ...opts, maxCommandSize: 30 } },
    );
    // A line that does not fit in what is left of the budget is refused with the tag.
    check(
      'a X {10}\r\n0123456789 {10}\r\n0123456789 {10}\r\nb NOOP\r\n',
      [
        ['cont', 'a', 10],
        ['cont', 'a', 10],
        ['tooLong', 'a'],
        ['command', 'b', 'NOOP', []],
      ],
      { opts: { ...opts, maxCommandSize: 40 } },
    );
    // The first line alone: the command bound is the tighter one.
    check(
      `a X ${'z'.repeat(60)}\r\nb NOOP\r\n`,
      [
        ['tooLong', 'a'],
        ['command', 'b', 'NOOP', []],
      ],
      {
        opts,
      },
    );
  });

  void it('streams a literal of a streaming command rather than refuse it for the command bound', () => {
    const stream = { above: 100, maxSize: 1000, commands: ['APPEND'] };
    const body = 'm'.repeat(50);
    check(
      `a APPEND INBOX {50+}\r\n${body}\r\nb X {50+}\r\n${body}\r\nc NOOP\r\n`,
      [
        ['start', 'a', 'APPEND', ['INBOX'], 50],
        ['end', body, false],
        ['command', 'a', 'APPEND', ['INBOX', { streamed: 50 }]],
        ['tooLarge', 'b', 50],
        ['command', 'c', 'NOOP', []],
      ],
      { opts: { maxCommandSize: 40, stream } },
    );
  });

  void it('refuses an overlong raw line without a tag, and a literal on a line without a tag', () => {
    check(
      `a IDLE\r\n${'D'.repeat(250)} {3+}\r\nabc\r\nb NOOP\r\n`,
      [
        ['command', 'a', 'IDLE', []],
        ['tooLong', null],
        ['command', 'b', 'NOOP', []],
      ],
      { rawAfter: ['IDLE'] },
    );
    check('+ X {3}\r\n', [['unframed']]);
    check('(x) {3+}\r\nabc\r\n', [['unframed']]);
  });

  void it('drains the {n+} literals of the rest of a command refused for NUL or nesting', () => {
    check('a X {3+}\r\na\x00b {8+}\r\nc DELETE {4+}\r\nd X \r\nb NOOP\r\n', [
      ['bad', 'a', 'NUL in literal'],
      ['command', 'b', 'NOOP', []],
    ]);
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
      '{20+}',
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
    for (let round = 0; round < 300; round++) {
      let s = '';
      const count = 5 + rnd(40);
      for (let i = 0; i < count; i++) s += pieces[rnd(pieces.length)];
      const buf = Buffer.from(s, 'utf8');
      // Every other round also bounds the whole command.
      const opts = {
        maxLineLength: 40,
        maxListDepth: 3,
        maxTokensPerCommand: 8,
        maxCommandSize: round % 2 === 0 ? undefined : 50,
      };
      const whole = run([buf], { opts });
      const bytes: Buffer[] = [];
      for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
      assert.deepEqual(run(bytes, { opts }), whole, s);
      const cut = rnd(buf.length + 1);
      assert.deepEqual(run([buf.subarray(0, cut), buf.subarray(cut)], { opts }), whole, s);
    }
  });

  void it('maps astring tokens', () => {
    assert.equal(astring({ kind: 'nil' }), 'NIL');
    assert.equal(astring({ kind: 'atom', value: 'INBOX' }), 'INBOX');
    assert.equal(astring({ kind: 'list', items: [] }), null);
  });
});
