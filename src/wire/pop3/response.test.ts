import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authChallenge, DotStuffer, err, multiline, ok, TopCutter } from './response.js';

function stuff(pieces: readonly Buffer[]): string {
  const s = new DotStuffer();
  const out: Buffer[] = [];
  for (const p of pieces) out.push(...s.push(p));
  out.push(s.end());
  return Buffer.concat(out).toString('latin1');
}

function splits(buf: Buffer): Buffer[][] {
  const all: Buffer[][] = [[buf]];
  for (let i = 1; i < buf.length; i++) all.push([buf.subarray(0, i), buf.subarray(i)]);
  const bytes: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
  all.push(bytes);
  // Empty pushes between pieces must change nothing.
  all.push([Buffer.alloc(0), buf, Buffer.alloc(0)]);
  return all;
}

/** Stuffs at every split and checks all give `expected`. */
function stuffAll(input: string, expected: string): void {
  for (const pieces of splits(Buffer.from(input, 'latin1'))) {
    assert.equal(stuff(pieces), expected, `pieces ${pieces.map((p) => p.length).join('+')}`);
  }
}

/** Unstuffs a multi-line body like a client (RFC 1939 §3) and checks it is well formed. */
function unstuff(wire: string): string {
  assert.ok(wire.endsWith('\r\n.\r\n') || wire === '.\r\n', 'ends with .CRLF');
  const lines = wire.slice(0, -2).split('\r\n');
  assert.equal(lines.pop(), '.');
  for (const line of lines) {
    assert.ok(!line.includes('\n'), 'no bare LF');
    assert.ok(line === '' || line[0] !== '.' || line.length > 1, 'no lone dot inside');
  }
  return (
    lines.map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n') + (lines.length > 0 ? '\r\n' : '')
  );
}

void describe('status lines', () => {
  void it('ok / err with and without response codes (RFC 2449 §8)', () => {
    assert.equal(ok('2 320').toString(), '+OK 2 320\r\n');
    assert.equal(ok('').toString(), '+OK\r\n');
    assert.equal(err('maildrop locked', 'IN-USE').toString(), '-ERR [IN-USE] maildrop locked\r\n');
    assert.equal(err('try later', 'SYS/TEMP').toString(), '-ERR [SYS/TEMP] try later\r\n');
    assert.equal(ok('welcome', null).toString(), '+OK welcome\r\n');
    assert.equal(err('wait', 'LOGIN-DELAY').toString(), '-ERR [LOGIN-DELAY] wait\r\n');
  });

  void it('refuses CR / LF in text and malformed codes', () => {
    assert.throws(() => ok('a\r\n+OK forged'), RangeError);
    assert.throws(() => err('a\nb'), RangeError);
    assert.throws(() => err('x', 'A]B'), RangeError);
    assert.throws(() => err('x', 'SYS/'), RangeError);
    assert.throws(() => err('x', ''), RangeError);
    assert.throws(() => err('x', 'A B'), RangeError);
  });

  void it('authChallenge (RFC 5034 §4)', () => {
    assert.equal(authChallenge(Buffer.alloc(0)).toString(), '+ \r\n');
    assert.equal(authChallenge(Buffer.from('<1.2@host>')).toString(), '+ PDEuMkBob3N0Pg==\r\n');
  });
});

void describe('multiline', () => {
  void it('stuffs string lines and terminates', () => {
    assert.equal(
      multiline(['1 120', '.hidden', '..', '.']).toString(),
      '1 120\r\n..hidden\r\n...\r\n..\r\n.\r\n',
    );
    assert.equal(multiline([]).toString(), '.\r\n');
    assert.throws(() => multiline(['a\r\n.']), RangeError);
  });

  void it('stuffs a Buffer like a stored message', () => {
    assert.equal(multiline(Buffer.from('a\r\n.b\r\n')).toString(), 'a\r\n..b\r\n.\r\n');
  });
});

void describe('DotStuffer', () => {
  void it('adds a dot to lines starting with "." at every split', () => {
    stuffAll(
      '.start\r\nmid.dle\r\n.\r\n..two\r\nend\r\n',
      '..start\r\nmid.dle\r\n..\r\n...two\r\nend\r\n.\r\n',
    );
  });

  void it('adds the missing final CRLF', () => {
    stuffAll('Subject: x\r\n\r\nno newline', 'Subject: x\r\n\r\nno newline\r\n.\r\n');
    stuffAll('.', '..\r\n.\r\n');
    stuffAll('ends with CR\r', 'ends with CR\r\n.\r\n');
  });

  void it('writes bare LF as CRLF and stuffs after it', () => {
    stuffAll('a\n.b\n\n.\n', 'a\r\n..b\r\n\r\n..\r\n.\r\n');
    stuffAll('a\r\r\n.x\r.y', 'a\r\r\n..x\r.y\r\n.\r\n');
  });

  void it('an empty message is just the terminator', () => {
    assert.equal(stuff([]), '.\r\n');
    assert.equal(stuff([Buffer.alloc(0)]), '.\r\n');
  });

  void it('round-trips random messages at every split', () => {
    const alphabet = ['.', '\r', '\n', 'a', '\r\n', '\r\n.', '\r\n.\r\n'];
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 60; round++) {
      let msg = '';
      const len = rand(20);
      for (let i = 0; i < len; i++) msg += alphabet[rand(alphabet.length)];
      const whole = stuff([Buffer.from(msg, 'latin1')]);
      // The client sees the message with line endings made CRLF and a final CRLF.
      let normalized = msg.replace(/\r?\n/g, '\r\n');
      if (normalized.endsWith('\r')) normalized += '\n';
      else if (normalized.length > 0 && !normalized.endsWith('\r\n')) normalized += '\r\n';
      assert.equal(unstuff(whole), normalized, JSON.stringify(msg));
      stuffAll(msg, whole);
    }
  });

  void it('passes views of the input, not copies, when nothing is inserted', () => {
    const s = new DotStuffer();
    const input = Buffer.from('hello\r\nworld\r\n');
    const out = s.push(input);
    assert.equal(out.length, 1);
    assert.equal(out[0].buffer, input.buffer);
    assert.throws(() => {
      s.end();
      s.end();
    });
  });

  void it('handles a large message in bounded pieces', () => {
    const line = Buffer.from('.' + 'x'.repeat(76) + '\r\n');
    const chunk = Buffer.concat(Array.from({ length: 1000 }, () => line));
    const s = new DotStuffer();
    let total = 0;
    for (let i = 0; i < 20; i++) for (const p of s.push(chunk)) total += p.length;
    total += s.end().length;
    assert.equal(total, 20 * 1000 * (line.length + 1) + 3);
  });
});

void describe('TopCutter', () => {
  const msg = 'From: a\r\nSubject: b\r\n\r\nline1\r\nline2\r\n.line3\r\n';

  function top(input: string, lines: number, pieces: readonly Buffer[]): { text: string; done: boolean } {
    const cutter = new TopCutter(lines);
    const out: Buffer[] = [];
    for (const p of pieces) out.push(cutter.push(p));
    return { text: Buffer.concat(out).toString('latin1'), done: cutter.done };
  }

  function topAll(input: string, lines: number, expected: string): void {
    for (const pieces of splits(Buffer.from(input, 'latin1'))) {
      assert.equal(
        top(input, lines, pieces).text,
        expected,
        `pieces ${pieces.map((p) => p.length).join('+')}`,
      );
    }
  }

  void it('cuts after the header and n body lines at every split', () => {
    topAll(msg, 0, 'From: a\r\nSubject: b\r\n\r\n');
    topAll(msg, 1, 'From: a\r\nSubject: b\r\n\r\nline1\r\n');
    topAll(msg, 3, msg);
    topAll(msg, 100, msg);
  });

  void it('bare LF line endings and a header-only message', () => {
    topAll('A: 1\n\nb1\nb2\n', 1, 'A: 1\n\nb1\n');
    topAll('A: 1\r\nB: 2\r\n', 0, 'A: 1\r\nB: 2\r\n');
    topAll('\r\nbody\r\nmore\r\n', 1, '\r\nbody\r\n');
    // A header line that is only "\r" followed by more text is not blank.
    topAll('A: 1\r\n\rX\r\n\r\nb\r\n', 0, 'A: 1\r\n\rX\r\n\r\n');
  });

  void it('reports done and passes nothing afterwards', () => {
    const cutter = new TopCutter(0);
    assert.equal(cutter.push(Buffer.from('A: 1\r\n\r\nbody')).toString(), 'A: 1\r\n\r\n');
    assert.equal(cutter.done, true);
    assert.equal(cutter.push(Buffer.from('more')).length, 0);
    assert.throws(() => new TopCutter(-1), RangeError);
  });

  void it('feeds DotStuffer for a complete TOP response', () => {
    const cutter = new TopCutter(2);
    const s = new DotStuffer();
    const out = [...s.push(cutter.push(Buffer.from(msg + '.line4\r\n'))), s.end()];
    assert.equal(Buffer.concat(out).toString(), 'From: a\r\nSubject: b\r\n\r\nline1\r\nline2\r\n.\r\n');
    const cutter2 = new TopCutter(1);
    const s2 = new DotStuffer();
    const out2 = [...s2.push(cutter2.push(Buffer.from('A: 1\r\n\r\nno end'))), s2.end()];
    assert.equal(Buffer.concat(out2).toString(), 'A: 1\r\n\r\nno end\r\n.\r\n');
  });
});
