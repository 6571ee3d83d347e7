import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Mutf7Error, decodeMutf7, encodeMutf7, isValidMutf7 } from './mutf7.js';

void describe('modified UTF-7', () => {
  void it('encodes and decodes the RFC 3501 §5.1.3 examples', () => {
    const name = '~peter/mail/台北/日本語';
    assert.equal(encodeMutf7(name), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    assert.equal(decodeMutf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-'), name);
    assert.equal(encodeMutf7('R&D'), 'R&-D');
    assert.equal(decodeMutf7('R&-D'), 'R&D');
    assert.equal(encodeMutf7('Entwürfe'), 'Entw&APw-rfe');
  });

  void it('round-trips non-BMP characters and mixed runs', () => {
    for (const s of ['😀 mail', 'a&b€c&', 'Ünïcødé/ and/ascii', '中文&-']) {
      assert.equal(decodeMutf7(encodeMutf7(s)), s);
    }
  });

  void it('rejects non-canonical and invalid forms', () => {
    const bad = [
      '&', // unterminated
      '&U,BTFw', // unterminated run
      '&AGE-', // "a" must not be encoded
      '&U,BTFw-&ZeVnLIqe-', // adjacent runs
      '&U,BTF-', // non-zero padding bits
      '&U,BTFwA-', // leftover bits >= 6
      '&2D0-', // lone high surrogate (U+D83D)
      '&3gA-', // lone low surrogate
      '&U*B-', // invalid base64 character
      'caf\u00e9', // raw 8-bit
      'a\tb', // control
    ];
    for (const b of bad) {
      assert.throws(() => decodeMutf7(b), Mutf7Error, b);
      assert.equal(isValidMutf7(b), false, b);
    }
    assert.throws(() => encodeMutf7('a\u0000b'), Mutf7Error);
    assert.throws(() => encodeMutf7('a\ud800b'), Mutf7Error);
    assert.equal(isValidMutf7('INBOX.Sent'), true);
  });
});
