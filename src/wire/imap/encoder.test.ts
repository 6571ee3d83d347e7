import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ResponseEncoder,
  atom,
  codes,
  continuation,
  literal8,
  raw,
  tagged,
  untagged,
  type ImapData,
} from './encoder.js';
import { ImapReader, type ImapToken } from './reader.js';
import { SequenceSet } from './sequence-set.js';

const text = (b: Buffer): string => b.toString('latin1');

/** Parses encoded data back with the command reader (as `t X <data>`), fed byte by byte. */
function reparse(data: ImapData, utf8Accept = false): ImapToken[] {
  const enc = new ResponseEncoder({ utf8Accept }).data(data).take();
  const input = Buffer.concat([Buffer.from('t X '), enc, Buffer.from('\r\n')]);
  const reader = new ImapReader({
    maxLineLength: 10000,
    maxLiteralSize: 100000,
    maxListDepth: 10,
    maxTokensPerCommand: 100,
  });
  for (let i = 0; i < input.length; i++) {
    reader.push(input.subarray(i, i + 1));
    for (let x = reader.next(); x !== null; x = reader.next()) {
      if (x.kind === 'needContinuation') reader.acceptLiteral();
      else if (x.kind === 'command') return x.args;
      else assert.fail(`unexpected ${x.kind}`);
    }
  }
  return assert.fail('no command');
}

void describe('response encoder', () => {
  void it('chooses quoted, escaped, literal and literal8 forms', () => {
    assert.equal(text(untagged(['plain'])), '* "plain"\r\n');
    assert.equal(text(untagged(['a"b\\c'])), '* "a\\"b\\\\c"\r\n');
    assert.equal(text(untagged(['a\r\nb'])), '* {4}\r\na\r\nb\r\n');
    assert.equal(text(untagged(['caf\u00e9'])), '* {5}\r\ncaf\u00c3\u00a9\r\n');
    assert.equal(untagged(['caf\u00e9'], { utf8Accept: true }).toString('utf8'), '* "caf\u00e9"\r\n');
    assert.equal(text(untagged(['a\u0000b'])), '* ~{3}\r\na\u0000b\r\n');
    assert.equal(text(untagged([Buffer.from([0x66, 0xff])], { utf8Accept: true })), '* {2}\r\nf\u00ff\r\n');
    assert.equal(text(untagged([literal8(Buffer.from('xy'))])), '* ~{2}\r\nxy\r\n');
    assert.equal(text(untagged([''])), '* ""\r\n');
    assert.equal(text(untagged(['x'.repeat(2000)])).slice(0, 10), '* {2000}\r\n');
  });

  void it('encodes atoms, NIL, numbers, lists, sets and raw bytes', () => {
    const set = SequenceSet.fromNumbers([1, 2, 3, 7]);
    assert.equal(
      text(
        untagged([
          12,
          atom('FETCH'),
          [atom('UID'), 4294967295, atom('FLAGS'), [atom('\\Seen')], atom('X'), null],
        ]),
      ),
      '* 12 FETCH (UID 4294967295 FLAGS (\\Seen) X NIL)\r\n',
    );
    assert.equal(text(untagged([atom('SEARCH'), set, 10n, raw('(r)')])), '* SEARCH 1:3,7 10 (r)\r\n');
    assert.throws(() => untagged([-1]), RangeError);
  });

  void it('encodes status responses with codes, and continuations', () => {
    assert.equal(
      text(tagged('a1', 'OK', codes.uidValidity(3857529045), 'SELECT done')),
      'a1 OK [UIDVALIDITY 3857529045] SELECT done\r\n',
    );
    assert.equal(
      text(tagged('a2', 'OK', codes.appendUid(38505, 3955), 'APPEND completed')),
      'a2 OK [APPENDUID 38505 3955] APPEND completed\r\n',
    );
    const from = SequenceSet.fromNumbers([304, 319, 320]);
    const to = SequenceSet.fromNumbers([3956, 3957, 3958]);
    assert.equal(
      text(tagged('a3', 'OK', codes.copyUid(38505, from, to), 'Done')),
      'a3 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n',
    );
    assert.equal(
      text(tagged('a4', 'NO', codes.simple('TRYCREATE'), 'no\r\nsuch')),
      'a4 NO [TRYCREATE] no  such\r\n',
    );
    assert.equal(
      text(
        new ResponseEncoder().status('*', 'OK', codes.permanentFlags(['\\Seen', '\\*']), 'Limited').take(),
      ),
      '* OK [PERMANENTFLAGS (\\Seen \\*)] Limited\r\n',
    );
    assert.equal(text(continuation('go ahead')), '+ go ahead\r\n');
  });

  void it('produces what the reader parses back', () => {
    const samples = ['plain', 'q"uo\\te', 'line\r\nbreak', 'tab\there', 'ünï', 'NIL'];
    for (const s of samples) {
      const [tok] = reparse(s);
      assert.equal(tok?.kind, 'string', s);
      if (tok?.kind === 'string') assert.equal(tok.value.toString('utf8'), s);
    }
    const [lst] = reparse([atom('A'), ['x\ny', null], 5]);
    assert.deepEqual(lst, {
      kind: 'list',
      items: [
        { kind: 'atom', value: 'A' },
        {
          kind: 'list',
          items: [{ kind: 'string', value: Buffer.from('x\ny'), form: 'literal' }, { kind: 'nil' }],
        },
        { kind: 'atom', value: '5' },
      ],
    });
  });

  void it('encodes 100,000 FETCH responses quickly', () => {
    const enc = new ResponseEncoder();
    const FETCH = atom('FETCH');
    const UID = atom('UID');
    const FLAGS = atom('FLAGS');
    const flags = [atom('\\Seen'), atom('$Junk')];
    const t0 = performance.now();
    for (let i = 1; i <= 100000; i++) enc.untagged(i, FETCH, [UID, i + 1000, FLAGS, flags]);
    const out = enc.take();
    const ms = performance.now() - t0;
    assert.ok(out.toString('latin1').startsWith('* 1 FETCH (UID 1001 FLAGS (\\Seen $Junk))\r\n'));
    assert.ok(ms < 2000, `took ${ms} ms`);
  });
});
