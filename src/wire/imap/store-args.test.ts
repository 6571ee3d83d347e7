import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImapReader, type ImapToken } from './reader.js';
import { StoreArgsError, parseStoreArgs, type StoreArgs } from './store-args.js';

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

/** Parses `t UID STORE 1:* <args>` fed whole and split at every byte boundary; all agree. */
function store(args: string): StoreArgs {
  const buf = Buffer.from(`t UID STORE 1:* ${args}\r\n`, 'utf8');
  const whole = parseStoreArgs(readArgs([buf]).slice(1));
  for (let i = 1; i < buf.length; i++) {
    assert.deepEqual(parseStoreArgs(readArgs([buf.subarray(0, i), buf.subarray(i)]).slice(1)), whole);
  }
  return whole;
}

function bad(args: string, pattern: RegExp): void {
  const tokens = readArgs([Buffer.from(`t STORE 1 ${args}\r\n`)]).slice(1);
  assert.throws(
    () => parseStoreArgs(tokens),
    (err: unknown) => err instanceof StoreArgsError && pattern.test(err.message),
    args,
  );
}

void describe('STORE argument parser', () => {
  void it('parses the modes and .SILENT', () => {
    assert.deepEqual(store('FLAGS (\\Seen)'), { mode: 'replace', silent: false, flags: ['\\Seen'] });
    assert.deepEqual(store('+flags.silent (\\Deleted)'), { mode: 'add', silent: true, flags: ['\\Deleted'] });
    assert.deepEqual(store('-FLAGS \\Flagged'), { mode: 'remove', silent: false, flags: ['\\Flagged'] });
    assert.deepEqual(store('FLAGS.SILENT ()'), { mode: 'replace', silent: true, flags: [] });
    assert.deepEqual(store('+FLAGS.SILENT $Forwarded'), { mode: 'add', silent: true, flags: ['$Forwarded'] });
  });

  void it('canonicalises system flags, keeps keywords as given, drops repeats', () => {
    assert.deepEqual(store('+FLAGS (\\SEEN \\answered \\Flagged \\deleted \\DrAfT $Junk Work)').flags, [
      '\\Seen',
      '\\Answered',
      '\\Flagged',
      '\\Deleted',
      '\\Draft',
      '$Junk',
      'Work',
    ]);
    // Flags without parentheses (RFC 9051 §9 store-att-flags), repeats once.
    assert.deepEqual(store('+FLAGS \\Seen \\seen $MDNSent $mdnsent __proto__').flags, [
      '\\Seen',
      '$MDNSent',
      '__proto__',
    ]);
  });

  void it('takes an atom spelled NIL as the keyword NIL', () => {
    assert.deepEqual(store('+FLAGS NIL').flags, ['NIL']);
    assert.deepEqual(store('FLAGS (nil \\Seen)').flags, ['NIL', '\\Seen']);
  });

  void it('parses UNCHANGEDSINCE (RFC 7162 §3.1.3)', () => {
    assert.deepEqual(store('(UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)'), {
      mode: 'add',
      silent: true,
      flags: ['\\Deleted'],
      unchangedSince: 320162338n,
    });
    assert.equal(store('(unchangedsince 0) FLAGS ()').unchangedSince, 0n);
    bad('(UNCHANGEDSINCE) FLAGS ()', /mod-sequence/);
    bad('(UNCHANGEDSINCE 9223372036854775808) FLAGS ()', /mod-sequence/);
    bad('(UNCHANGEDSINCE x) FLAGS ()', /mod-sequence/);
    bad('(UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()', /modifier/);
    bad('(FOO 1) FLAGS ()', /modifier/);
    bad('() FLAGS ()', /modifier/);
  });

  void it('refuses \\Recent, \\*, unknown system flags and invalid keywords', () => {
    bad('+FLAGS (\\Recent)', /Recent/);
    bad('+FLAGS (\\recent)', /Recent/);
    bad('+FLAGS (\\*)', /not a flag/);
    bad('+FLAGS (\\Important)', /unknown system flag/);
    bad('+FLAGS (a*b)', /invalid keyword/);
    bad('+FLAGS (a%b)', /invalid keyword/);
    bad('+FLAGS (a]b)', /invalid keyword/);
    bad('+FLAGS ("quoted")', /invalid flag/);
    bad('+FLAGS ((\\Seen))', /invalid flag/);
    bad('+FLAGS (\\Seen) (\\Deleted)', /invalid flag/);
    bad(`+FLAGS (${'k'.repeat(256)})`, /too long/);
    assert.equal(store(`+FLAGS (${'k'.repeat(255)})`).flags[0]?.length, 255);
  });

  void it('refuses a missing or unknown item and missing flags', () => {
    bad('FLAG (\\Seen)', /expected FLAGS/);
    bad('+FLAGS.LOUD (\\Seen)', /expected FLAGS/);
    bad('"FLAGS" (\\Seen)', /expected FLAGS/);
    bad('+FLAGS', /missing flags/);
    bad('(UNCHANGEDSINCE 5)', /expected FLAGS/);
    assert.throws(() => parseStoreArgs([]), StoreArgsError);
  });

  void it('bounds the number of flags', () => {
    const ok = Array.from({ length: 64 }, (_, i) => `k${i}`).join(' ');
    assert.equal(store(`+FLAGS (${ok})`).flags.length, 64);
    bad(`+FLAGS (${ok} k64)`, /too many flags/);
    bad(`+FLAGS ${ok} k64`, /too many flags/);
    const tokens = readArgs([Buffer.from('t STORE 1 +FLAGS (a b c)\r\n')]).slice(1);
    assert.throws(() => parseStoreArgs(tokens, { maxFlags: 2 }), /too many flags/);
    assert.throws(() => parseStoreArgs(tokens, { maxKeywordLength: 0 }), /too long/);
  });
});
