import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Pop3Reader, type Pop3Input } from './reader.js';

type Event = { kind: 'line'; text: string } | { kind: 'lineTooLong' };

function collect(reader: Pop3Reader, events: Event[]): void {
  for (let input: Pop3Input | null; (input = reader.next()) !== null;) {
    events.push(input.kind === 'line' ? { kind: 'line', text: input.line.toString('latin1') } : input);
  }
}

function drive(pieces: readonly Buffer[], maxLineLength = 255): { events: Event[]; maxBuffered: number } {
  const reader = new Pop3Reader({ maxLineLength });
  const events: Event[] = [];
  let maxBuffered = 0;
  for (const piece of pieces) {
    reader.push(piece);
    maxBuffered = Math.max(maxBuffered, reader.buffered);
    collect(reader, events);
  }
  return { events, maxBuffered };
}

/** The input whole, split at every byte boundary, and one byte at a time: all must agree. */
function allSplits(input: string, maxLineLength = 255): Event[] {
  const buf = Buffer.from(input, 'latin1');
  const whole = drive([buf], maxLineLength).events;
  for (let i = 1; i < buf.length; i++) {
    assert.deepEqual(
      drive([buf.subarray(0, i), buf.subarray(i)], maxLineLength).events,
      whole,
      `split at ${i}`,
    );
  }
  const bytes: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
  assert.deepEqual(drive(bytes, maxLineLength).events, whole, 'byte at a time');
  return whole;
}

void describe('Pop3Reader', () => {
  void it('splits CRLF and bare LF lines, keeps a partial line', () => {
    assert.deepEqual(allSplits('USER bob\r\nPASS a b \r\nSTAT\nNOOP'), [
      { kind: 'line', text: 'USER bob' },
      { kind: 'line', text: 'PASS a b ' },
      { kind: 'line', text: 'STAT' },
    ]);
  });

  void it('returns empty lines and keeps a lone CR inside a line', () => {
    assert.deepEqual(allSplits('\r\n\nA\rB\r\n'), [
      { kind: 'line', text: '' },
      { kind: 'line', text: '' },
      { kind: 'line', text: 'A\rB' },
    ]);
  });

  void it('accepts a line of exactly the limit and refuses one byte more, then goes on', () => {
    const exact = 'X'.repeat(8) + '\r\n'; // 10 bytes
    const over = 'Y'.repeat(9) + '\r\n'; // 11 bytes
    assert.deepEqual(allSplits(exact + over + 'QUIT\r\n', 10), [
      { kind: 'line', text: 'X'.repeat(8) },
      { kind: 'lineTooLong' },
      { kind: 'line', text: 'QUIT' },
    ]);
  });

  void it('drops a huge line as it arrives (bounded memory) and reports it once', () => {
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const pieces: Buffer[] = [];
    for (let i = 0; i < 64; i++) pieces.push(chunk);
    pieces.push(Buffer.from('AAA\r\nNOOP\r\n'));
    const { events, maxBuffered } = drive(pieces, 255);
    assert.deepEqual(events, [{ kind: 'lineTooLong' }, { kind: 'line', text: 'NOOP' }]);
    assert.ok(maxBuffered <= 64 * 1024 + 255, `buffered ${maxBuffered}`);
  });

  void it('overlong line of many small pieces stays bounded', () => {
    const reader = new Pop3Reader({ maxLineLength: 255 });
    const events: Event[] = [];
    for (let i = 0; i < 10000; i++) {
      reader.push(Buffer.from('ABCDEFGH'));
      collect(reader, events);
      assert.ok(reader.buffered < 255 + 8);
    }
    reader.push(Buffer.from('\nCAPA\r\n'));
    collect(reader, events);
    assert.deepEqual(events, [{ kind: 'lineTooLong' }, { kind: 'line', text: 'CAPA' }]);
  });

  void it('discardBuffered drops pipelined input after STLS (RFC 2595 §4 injection)', () => {
    const reader = new Pop3Reader({ maxLineLength: 255 });
    reader.push(Buffer.from('STLS\r\nUSER evil\r\nPASS x'));
    const first = reader.next();
    assert.ok(first !== null && first.kind === 'line');
    assert.equal(first.line.toString(), 'STLS');
    reader.discardBuffered();
    assert.equal(reader.buffered, 0);
    assert.equal(reader.next(), null);
    reader.push(Buffer.from('CAPA\r\n'));
    const after = reader.next();
    assert.ok(after !== null && after.kind === 'line');
    assert.equal(after.line.toString(), 'CAPA');
  });

  void it('discardBuffered also ends the dropping of an overlong line', () => {
    const reader = new Pop3Reader({ maxLineLength: 10 });
    reader.push(Buffer.from('X'.repeat(50)));
    assert.equal(reader.next(), null);
    reader.discardBuffered();
    reader.push(Buffer.from('NOOP\r\n'));
    const input = reader.next();
    assert.ok(input !== null && input.kind === 'line');
    assert.equal(input.line.toString(), 'NOOP');
  });

  void it('rejects a nonsensical limit', () => {
    assert.throws(() => new Pop3Reader({ maxLineLength: 2 }), RangeError);
    assert.throws(() => new Pop3Reader({ maxLineLength: 1.5 }), RangeError);
  });
});
