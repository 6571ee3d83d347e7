import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  parsePop3Command,
  parsePop3Number,
  parseSaslResponse,
  Pop3Err,
  type Pop3Command,
  type Pop3ErrReason,
  type Pop3State,
} from './command.js';

function parse(line: string | Buffer, state: Pop3State = 'transaction'): Pop3Command | Pop3Err {
  return parsePop3Command(typeof line === 'string' ? Buffer.from(line, 'utf8') : line, { state });
}

function ok(line: string, state: Pop3State, expected: Pop3Command): void {
  const got = parse(line, state);
  assert.ok(!(got instanceof Pop3Err), `${line}: ${got instanceof Pop3Err ? got.message : ''}`);
  assert.deepEqual(got, expected);
}

function bad(line: string | Buffer, state: Pop3State, reason: Pop3ErrReason): Pop3Err {
  const got = parse(line, state);
  assert.ok(got instanceof Pop3Err, `${String(line)} should be refused`);
  assert.equal(got.reason, reason, `${String(line)}: ${got.message}`);
  return got;
}

void describe('parsePop3Command: AUTHORIZATION state', () => {
  void it('USER / PASS / APOP', () => {
    ok('USER bob@example.org', 'authorization', { verb: 'USER', name: 'bob@example.org' });
    ok('user  bob ', 'authorization', { verb: 'USER', name: 'bob' });
    // RFC 1939 §7: PASS takes the rest of the line, spaces included.
    ok('PASS  my secret  ', 'authorization', { verb: 'PASS', password: ' my secret  ' });
    ok('pass pässwört', 'authorization', { verb: 'PASS', password: 'pässwört' });
    ok('APOP mrose C4C9334BAC560ECC979E58001B3E22FB', 'authorization', {
      verb: 'APOP',
      name: 'mrose',
      digest: 'c4c9334bac560ecc979e58001b3e22fb',
    });
    bad('USER', 'authorization', 'syntax');
    bad('USER a b', 'authorization', 'syntax');
    bad('PASS', 'authorization', 'syntax');
    bad('PASS ', 'authorization', 'syntax');
    bad('APOP mrose c4c9334bac560ecc979e58001b3e22f', 'authorization', 'syntax');
    bad('APOP mrose c4c9334bac560ecc979e58001b3e22fg', 'authorization', 'syntax');
  });

  void it('AUTH with and without mechanism and initial response (RFC 5034)', () => {
    ok('AUTH', 'authorization', { verb: 'AUTH', mechanism: null, initialResponse: null });
    ok('auth plain', 'authorization', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: null });
    ok('AUTH PLAIN AGJvYgBzZWNyZXQ=', 'authorization', {
      verb: 'AUTH',
      mechanism: 'PLAIN',
      initialResponse: 'AGJvYgBzZWNyZXQ=',
    });
    ok('AUTH EXTERNAL =', 'authorization', { verb: 'AUTH', mechanism: 'EXTERNAL', initialResponse: '' });
    ok('AUTH SCRAM-SHA-256', 'authorization', {
      verb: 'AUTH',
      mechanism: 'SCRAM-SHA-256',
      initialResponse: null,
    });
    bad('AUTH PLAIN abc', 'authorization', 'syntax');
    bad('AUTH PLAIN a=bc', 'authorization', 'syntax');
    bad('AUTH PLAIN ===A', 'authorization', 'syntax');
    bad('AUTH PL@IN', 'authorization', 'syntax');
    bad('AUTH ' + 'A'.repeat(21), 'authorization', 'syntax');
    bad('AUTH PLAIN AAAA BBBB', 'authorization', 'syntax');
  });

  void it('STLS, UTF8, CAPA, QUIT, LANG take their arguments', () => {
    ok('STLS', 'authorization', { verb: 'STLS' });
    ok('utf8', 'authorization', { verb: 'UTF8' });
    ok('CAPA', 'authorization', { verb: 'CAPA' });
    ok('QUIT', 'authorization', { verb: 'QUIT' });
    ok('LANG', 'authorization', { verb: 'LANG', tag: null });
    ok('LANG en-US', 'authorization', { verb: 'LANG', tag: 'en-US' });
    ok('LANG *', 'authorization', { verb: 'LANG', tag: '*' });
    bad('STLS now', 'authorization', 'syntax');
    bad('UTF8 x', 'authorization', 'syntax');
    bad('LANG en--US', 'authorization', 'syntax');
    bad('LANG -en', 'authorization', 'syntax');
    bad('LANG abcdefghi', 'authorization', 'syntax');
    bad('LANG en_US', 'authorization', 'syntax');
  });

  void it('refuses transaction commands before login', () => {
    for (const line of ['STAT', 'LIST', 'RETR 1', 'DELE 1', 'NOOP', 'RSET', 'TOP 1 0', 'UIDL']) {
      bad(line, 'authorization', 'wrongState');
    }
  });
});

void describe('parsePop3Command: TRANSACTION state', () => {
  void it('commands without arguments', () => {
    for (const verb of ['STAT', 'NOOP', 'RSET', 'QUIT', 'CAPA'] as const) {
      ok(verb.toLowerCase(), 'transaction', { verb });
      bad(`${verb} 1`, 'transaction', 'syntax');
    }
  });

  void it('LIST / UIDL with optional message number', () => {
    ok('LIST', 'transaction', { verb: 'LIST', msg: null });
    ok('LIST 2', 'transaction', { verb: 'LIST', msg: 2 });
    ok('UIDL', 'transaction', { verb: 'UIDL', msg: null });
    ok('uidl 2147483647', 'transaction', { verb: 'UIDL', msg: 2147483647 });
    bad('LIST 1 2', 'transaction', 'syntax');
    bad('UIDL 2147483648', 'transaction', 'syntax');
  });

  void it('RETR / DELE / TOP validate numbers', () => {
    ok('RETR 1', 'transaction', { verb: 'RETR', msg: 1 });
    ok('DELE 17', 'transaction', { verb: 'DELE', msg: 17 });
    ok('TOP 3 0', 'transaction', { verb: 'TOP', msg: 3, lines: 0 });
    ok('TOP 3 10', 'transaction', { verb: 'TOP', msg: 3, lines: 10 });
    for (const arg of ['0', '-1', '+1', '1.0', '1e3', '0x1', '', '12345678901', '١']) {
      bad(`RETR ${arg}`, 'transaction', 'syntax');
    }
    bad('RETR', 'transaction', 'syntax');
    bad('DELE 1 2', 'transaction', 'syntax');
    bad('TOP 1', 'transaction', 'syntax');
    bad('TOP 0 1', 'transaction', 'syntax');
    bad('TOP 1 -1', 'transaction', 'syntax');
  });

  void it('refuses authorization commands after login', () => {
    for (const line of [
      'USER bob',
      'PASS x',
      'APOP a 00000000000000000000000000000000',
      'AUTH',
      'STLS',
      'UTF8',
    ]) {
      bad(line, 'transaction', 'wrongState');
    }
    ok('LANG', 'transaction', { verb: 'LANG', tag: null });
  });
});

void describe('parsePop3Command: hostile input', () => {
  void it('unknown and odd keywords', () => {
    for (const line of [
      '',
      ' ',
      'XYZZY',
      'RETR1',
      '__proto__',
      'constructor',
      'toString 1',
      'A'.repeat(100),
    ]) {
      bad(line, 'transaction', 'unknownCommand');
    }
    // A leading space leaves an empty keyword.
    bad(' STAT', 'transaction', 'unknownCommand');
  });

  void it('control characters, NUL and invalid UTF-8', () => {
    bad('PASS a\0b', 'authorization', 'syntax');
    bad('USER a\tb', 'authorization', 'syntax');
    bad(Buffer.from([0x55, 0x53, 0x45, 0x52, 0x20, 0xff, 0xfe]), 'authorization', 'syntax');
    bad('STAT\x7f', 'transaction', 'syntax');
  });
});

void describe('parsePop3Number', () => {
  void it('accepts bounded unsigned decimals only', () => {
    assert.equal(parsePop3Number('0'), 0);
    assert.equal(parsePop3Number('007'), 7);
    assert.equal(parsePop3Number('2147483647'), 2147483647);
    assert.equal(parsePop3Number('2147483648'), null);
    assert.equal(parsePop3Number('99999999999'), null);
    assert.equal(parsePop3Number(' 1'), null);
    assert.equal(parsePop3Number(''), null);
  });
});

void describe('parseSaslResponse', () => {
  void it('decodes base64, "*" cancels, empty line is an empty response', () => {
    assert.deepEqual(parseSaslResponse(Buffer.from('*')), { kind: 'cancel' });
    assert.deepEqual(parseSaslResponse(Buffer.from('')), { kind: 'response', data: Buffer.alloc(0) });
    assert.deepEqual(parseSaslResponse(Buffer.from('AGJvYgBzZWNyZXQ=')), {
      kind: 'response',
      data: Buffer.from('\0bob\0secret'),
    });
    const e = parseSaslResponse(Buffer.from('not base64!'));
    assert.ok(e instanceof Pop3Err);
    assert.equal(e.reason, 'syntax');
    assert.ok(parseSaslResponse(Buffer.from('AB=C')) instanceof Pop3Err);
  });
});
