import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpReader, type SmtpInput } from './reader.js';

type Event =
  | { kind: 'line'; text: string }
  | { kind: 'lineTooLong' }
  | { kind: 'data'; text: string }
  | { kind: 'dataEnd'; error: null | 'bareLineEnding' }
  | { kind: 'bdat'; text: string }
  | { kind: 'bdatEnd' };

interface DriveOptions {
  bare?: 'reject' | 'normalize';
  maxLineLength?: number;
}

/**
 * Plays the session: after a "DATA" line it switches to data mode, after "BDAT n" to bdat
 * mode. Consecutive data (or BDAT) chunks are joined so that any split compares equal.
 */
function drive(pieces: readonly Buffer[], opts: DriveOptions = {}): Event[] {
  const reader = new SmtpReader({ maxLineLength: opts.maxLineLength ?? 512 });
  const events: Event[] = [];
  const add = (input: SmtpInput): void => {
    const last = events[events.length - 1];
    switch (input.kind) {
      case 'line': {
        const text = input.line.toString('latin1');
        events.push({ kind: 'line', text });
        const upper = text.toUpperCase();
        if (upper === 'DATA') reader.setMode({ kind: 'data', bareLineEndings: opts.bare ?? 'reject' });
        else if (upper.startsWith('BDAT '))
          reader.setMode({ kind: 'bdat', size: Number(upper.split(' ')[1]) });
        break;
      }
      case 'data':
        assert.ok(input.chunk.length > 0, 'no empty data chunks');
        if (last?.kind === 'data') last.text += input.chunk.toString('latin1');
        else events.push({ kind: 'data', text: input.chunk.toString('latin1') });
        break;
      case 'bdatChunk':
        assert.ok(input.chunk.length > 0, 'no empty BDAT chunks');
        if (last?.kind === 'bdat') last.text += input.chunk.toString('latin1');
        else events.push({ kind: 'bdat', text: input.chunk.toString('latin1') });
        break;
      case 'dataEnd':
        events.push({ kind: 'dataEnd', error: input.error });
        break;
      case 'lineTooLong':
      case 'bdatEnd':
        events.push({ kind: input.kind });
        break;
    }
  };
  for (const piece of pieces) {
    reader.push(piece);
    for (let input = reader.next(); input !== null; input = reader.next()) add(input);
  }
  return events;
}

/** Every way of cutting `input` that the brief asks for: whole, every 2- and 3-piece split, bytes. */
function* splits(input: Buffer): Generator<Buffer[]> {
  yield [input];
  for (let i = 1; i < input.length; i++) yield [input.subarray(0, i), input.subarray(i)];
  if (input.length <= 160) {
    for (let i = 1; i < input.length; i++) {
      for (let j = i + 1; j < input.length; j++) {
        yield [input.subarray(0, i), input.subarray(i, j), input.subarray(j)];
      }
    }
  }
  yield [...input].map((b) => Buffer.from([b]));
}

/** Asserts that every split of `text` gives `expected`. */
function check(text: string, expected: Event[], opts: DriveOptions = {}): void {
  const input = Buffer.from(text, 'latin1');
  assert.ok(input.length <= 300, 'inputs of the split test stay small');
  assert.deepEqual(drive([input], opts), expected, `whole input ${JSON.stringify(text)}`);
  for (const pieces of splits(input)) {
    const got = drive(pieces, opts);
    assert.deepEqual(got, expected, `split ${JSON.stringify(pieces.map((p) => p.toString('latin1')))}`);
  }
}

const line = (text: string): Event => ({ kind: 'line', text });
const data = (text: string): Event => ({ kind: 'data', text });
const end = (error: null | 'bareLineEnding' = null): Event => ({ kind: 'dataEnd', error });

void describe('SmtpReader lines', () => {
  void it('splits CRLF and bare LF lines, keeps a CR that is not before LF', () => {
    check('EHLO client.example\r\nNOOP\nNO\rOP\r\n\r\nRSET', [
      line('EHLO client.example'),
      line('NOOP'),
      line('NO\rOP'),
      line(''),
    ]);
  });

  void it('accepts a line of exactly maxLineLength bytes with its CRLF, refuses one more', () => {
    const ok = 'A'.repeat(30) + '\r\n';
    const tooLong = 'B'.repeat(31) + '\r\n';
    check(ok + tooLong + 'QUIT\r\n', [line('A'.repeat(30)), { kind: 'lineTooLong' }, line('QUIT')], {
      maxLineLength: 32,
    });
    check('C'.repeat(100) + '\nQUIT\n', [{ kind: 'lineTooLong' }, line('QUIT')], { maxLineLength: 32 });
  });

  void it('drops a 1 MiB line without LF incrementally and reports it once', () => {
    const max = 8192;
    const reader = new SmtpReader({ maxLineLength: max });
    const piece = Buffer.alloc(64 * 1024, 0x61);
    const events: SmtpInput[] = [];
    for (let sent = 0; sent < 1024 * 1024; sent += piece.length) {
      reader.push(piece);
      assert.ok(reader.buffered < max + piece.length, `buffered ${reader.buffered}`);
      for (let input = reader.next(); input !== null; input = reader.next()) events.push(input);
      assert.ok(reader.buffered < max, `buffered after next ${reader.buffered}`);
    }
    assert.equal(events.length, 0, 'nothing before the LF');
    reader.push(Buffer.from('aaaa\r\nNOOP\r\n'));
    for (let input = reader.next(); input !== null; input = reader.next()) events.push(input);
    assert.deepEqual(
      events.map((e) => (e.kind === 'line' ? e.line.toString() : e.kind)),
      ['lineTooLong', 'NOOP'],
    );
    assert.equal(reader.buffered, 0);
  });

  void it('STARTTLS: discardBuffered drops pipelined commands', () => {
    const reader = new SmtpReader({ maxLineLength: 512 });
    reader.push(Buffer.from('STARTTLS\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<a@b.example>\r\n'));
    const first = reader.next();
    assert.equal(first?.kind === 'line' && first.line.toString(), 'STARTTLS');
    assert.ok(reader.buffered > 0);
    reader.discardBuffered();
    assert.equal(reader.buffered, 0);
    assert.equal(reader.next(), null);
    reader.push(Buffer.from('EHLO x\r\n'));
    const after = reader.next();
    assert.equal(after?.kind === 'line' && after.line.toString(), 'EHLO x');
  });

  void it('returns lines without copying when they sit in one chunk', () => {
    const reader = new SmtpReader({ maxLineLength: 512 });
    const chunk = Buffer.from('NOOP\r\nQUIT\r\n');
    reader.push(chunk);
    const input = reader.next();
    assert.ok(input?.kind === 'line');
    assert.equal(input.line.buffer, chunk.buffer, 'a view of the received chunk');
  });
});

void describe('SmtpReader DATA', () => {
  void it('pipelining: commands, DATA, body and more commands in one chunk', () => {
    check(
      'MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n',
      [
        line('MAIL FROM:<a@b.example>'),
        line('RCPT TO:<c@d.example>'),
        line('DATA'),
        data('Subject: x\r\n\r\nbody\r\n'),
        end(),
        line('QUIT'),
      ],
    );
  });

  void it('an empty body ends at once', () => {
    check('DATA\r\n.\r\nQUIT\r\n', [line('DATA'), end(), line('QUIT')]);
  });

  void it('unstuffs dots (RFC 5321 §4.5.2), including on the first line', () => {
    check('DATA\r\n..first\r\nmid.dle\r\n..\r\n...\r\n.x\r\n.\r\nNOOP\r\n', [
      line('DATA'),
      data('.first\r\nmid.dle\r\n.\r\n..\r\nx\r\n'),
      end(),
      line('NOOP'),
    ]);
  });

  void it('a legit CRLF ".." CRLF unstuffs to CRLF "." CRLF in the body', () => {
    check('DATA\r\na\r\n..\r\nb\r\n.\r\n', [line('DATA'), data('a\r\n.\r\nb\r\n'), end()]);
  });

  const smuggling: Array<[string, string]> = [
    ['\n.\n', '\r\n.\r\n'],
    ['\r\n.\n', '\r\n.\r\n'],
    ['\n.\r\n', '\r\n.\r\n'],
    ['\r.\r', '\r\n.\r\n'],
    ['\r\n.\r', '\r\n.\r\n'],
    ['\r\n.\r\r\n', '\r\n.\r\n\r\n'],
  ];
  for (const [seq, normalized] of smuggling) {
    void it(`smuggling ${JSON.stringify(seq)} does not end DATA`, () => {
      const smuggled = 'MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@local.example>\r\nDATA\r\n';
      const text = `DATA\r\nSubject: hi\r\n\r\nhello${seq}${smuggled}forged\r\n.\r\nQUIT\r\n`;
      // reject: the whole thing is one body, flagged at the real end
      check(text, [line('DATA'), data(text.slice(6, text.length - 9)), end('bareLineEnding'), line('QUIT')]);
      // normalize: bare CR / LF become CRLF, and the body still runs to the real end
      check(
        text,
        [
          line('DATA'),
          data(`Subject: hi\r\n\r\nhello${normalized}${smuggled}forged\r\n`),
          end(),
          line('QUIT'),
        ],
        { bare: 'normalize' },
      );
    });
  }

  void it('normalize turns every bare CR and LF into CRLF, unstuffing after them', () => {
    check(
      'DATA\r\na\rb\nc\r\r\nd\n..e\r\n.\r\n',
      [line('DATA'), data('a\r\nb\r\nc\r\n\r\nd\r\n.e\r\n'), end()],
      { bare: 'normalize' },
    );
  });

  void it('reject passes bytes through and flags the end', () => {
    check('DATA\r\nx\ry\r\n.\r\n', [line('DATA'), data('x\ry\r\n'), end('bareLineEnding')]);
    check('DATA\r\nclean\r\n.\r\n', [line('DATA'), data('clean\r\n'), end()]);
  });

  void it('keeps 8-bit and NUL bytes of the body as they are', () => {
    check('DATA\r\n\u00e9\u0000\u00ff\r\n.\r\n', [line('DATA'), data('\u00e9\u0000\u00ff\r\n'), end()]);
  });

  void it('emits large chunks: about one per received chunk', () => {
    const reader = new SmtpReader({ maxLineLength: 512 });
    reader.setMode({ kind: 'data', bareLineEndings: 'reject' });
    const lineText = 'x'.repeat(76) + '\r\n';
    const piece = Buffer.from(lineText.repeat(Math.floor(65536 / lineText.length)));
    let outputs = 0;
    let bytes = 0;
    for (let i = 0; i < 16; i++) {
      reader.push(piece);
      for (let input = reader.next(); input !== null; input = reader.next()) {
        assert.equal(input.kind, 'data');
        if (input.kind === 'data') bytes += input.chunk.length;
        outputs++;
      }
    }
    assert.equal(bytes, piece.length * 16);
    assert.equal(outputs, 16);
    reader.push(Buffer.from('.\r\n'));
    assert.deepEqual(reader.next(), { kind: 'dataEnd', error: null });
    assert.equal(reader.currentMode.kind, 'line');
  });

  void it('stays linear on hostile bodies (bare CRs, bare LFs, stuffed dots)', () => {
    for (const unit of ['\r', '\n', '\r\n..', 'a\n.\r', '\r\n', 'x.\r\n\n..x\r']) {
      for (const bare of ['reject', 'normalize'] as const) {
        const reader = new SmtpReader({ maxLineLength: 512 });
        reader.setMode({ kind: 'data', bareLineEndings: bare });
        const piece = Buffer.from(unit.repeat(Math.ceil(65536 / unit.length)));
        const started = process.hrtime.bigint();
        let bytes = 0;
        for (let i = 0; i < 16; i++) {
          reader.push(piece);
          for (let input = reader.next(); input !== null; input = reader.next()) {
            assert.equal(input.kind, 'data');
            if (input.kind === 'data') bytes += input.chunk.length;
          }
          assert.ok(reader.buffered <= piece.length, 'nothing accumulates');
        }
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        assert.ok(bytes > 0);
        assert.ok(ms < 5000, `${JSON.stringify(unit)} ${bare}: 1 MiB took ${ms} ms`);
      }
    }
  });
});

/**
 * A plain reference for DATA: the body ends at the first CRLF "." CRLF (the body starts as if
 * after CRLF); each line (ended by CRLF, bare CR or bare LF) that starts with "." and has more
 * characters loses the dot; normalize writes every ending as CRLF; reject passes everything
 * after the first bare ending raw.
 */
function referenceData(
  raw: string,
  bare: 'reject' | 'normalize',
): { body: string; error: boolean; rest: string } {
  const endAt = ('\r\n' + raw).indexOf('\r\n.\r\n');
  assert.ok(endAt >= 0);
  const bodyRaw = raw.slice(0, endAt);
  const rest = raw.slice(endAt + 3);
  let body = '';
  let error = false;
  let i = 0;
  while (i < bodyRaw.length) {
    let j = i;
    while (j < bodyRaw.length && bodyRaw[j] !== '\r' && bodyRaw[j] !== '\n') j++;
    let lineText = bodyRaw.slice(i, j);
    let ending = '';
    if (bodyRaw.startsWith('\r\n', j)) ending = '\r\n';
    else if (j < bodyRaw.length) ending = bodyRaw[j];
    if (lineText.length > 1 && lineText[0] === '.') lineText = lineText.slice(1);
    body += lineText + (bare === 'normalize' && ending !== '' ? '\r\n' : ending);
    i = j + ending.length;
    if (ending.length === 1) {
      error = true;
      // reject: once refused, the rest of the body passes raw
      if (bare === 'reject') {
        body += bodyRaw.slice(i);
        break;
      }
    }
  }
  return { body, error: bare === 'reject' && error, rest };
}

void describe('SmtpReader DATA against a reference', () => {
  void it('random bodies over CR, LF, "." and text, in random splits', () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const alphabet = ['\r', '\n', '.', 'a', '\r\n', '\r\n.', '..', '\r\n..'];
    for (let round = 0; round < 3000; round++) {
      let raw = '';
      const length = random(40);
      for (let k = 0; k < length; k++) raw += alphabet[random(alphabet.length)];
      raw += '\r\n.\r\nQUIT\r\n';
      for (const bare of ['reject', 'normalize'] as const) {
        const ref = referenceData(raw, bare);
        const expected: Event[] = [line('DATA')];
        if (ref.body.length > 0) expected.push(data(ref.body));
        expected.push(end(ref.error ? 'bareLineEnding' : null));
        // after the body, lines end at LF (a CR before it is dropped)
        for (const l of ref.rest.split('\n').slice(0, -1))
          expected.push(line(l.endsWith('\r') ? l.slice(0, -1) : l));
        const input = Buffer.from('DATA\r\n' + raw, 'latin1');
        const pieces: Buffer[] = [];
        for (let at = 0; at < input.length;) {
          const size = 1 + random(8);
          pieces.push(input.subarray(at, at + size));
          at += size;
        }
        assert.deepEqual(drive(pieces, { bare }), expected, `${bare} ${JSON.stringify(raw)}`);
      }
    }
  });
});

void describe('SmtpReader BDAT', () => {
  void it('passes exactly size raw bytes, then lines again', () => {
    check('BDAT 7\r\nab\r\n.\r\nBDAT 0 LAST\r\nQUIT\r\n', [
      line('BDAT 7'),
      { kind: 'bdat', text: 'ab\r\n.\r\n' },
      { kind: 'bdatEnd' },
      line('BDAT 0 LAST'),
      { kind: 'bdatEnd' },
      line('QUIT'),
    ]);
  });

  void it('BDAT bytes are binary: bare LF and NUL pass untouched', () => {
    check('BDAT 4\r\n\n\u0000.\rBDAT 2 LAST\r\n\n.RSET\r\n', [
      line('BDAT 4'),
      { kind: 'bdat', text: '\n\u0000.\r' },
      { kind: 'bdatEnd' },
      line('BDAT 2 LAST'),
      { kind: 'bdat', text: '\n.' },
      { kind: 'bdatEnd' },
      line('RSET'),
    ]);
  });

  void it('refuses a size that is not a safe integer', () => {
    const reader = new SmtpReader({ maxLineLength: 512 });
    assert.throws(() => reader.setMode({ kind: 'bdat', size: -1 }), RangeError);
    assert.throws(() => reader.setMode({ kind: 'bdat', size: 2 ** 60 }), RangeError);
  });
});
