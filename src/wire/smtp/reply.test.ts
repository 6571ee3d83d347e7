import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatReply } from './reply.js';

void describe('formatReply', () => {
  void it('single line, with and without an enhanced code', () => {
    assert.equal(formatReply(250, '2.1.0', 'Ok'), '250 2.1.0 Ok\r\n');
    assert.equal(formatReply(220, null, 'mx.example ESMTP Postern'), '220 mx.example ESMTP Postern\r\n');
    assert.equal(
      formatReply(354, null, 'End data with <CR><LF>.<CR><LF>'),
      '354 End data with <CR><LF>.<CR><LF>\r\n',
    );
    assert.equal(formatReply(250, null, ''), '250\r\n');
    assert.equal(formatReply(250, '2.0.0', ''), '250 2.0.0\r\n');
  });

  void it('multi-line replies use "-" on every line but the last (RFC 5321 §4.2.1)', () => {
    assert.equal(
      formatReply(250, null, ['mx.example', 'PIPELINING', 'SIZE 52428800', 'CHUNKING']),
      '250-mx.example\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250 CHUNKING\r\n',
    );
    assert.equal(
      formatReply(550, '5.7.1', ['Refused', 'see policy']),
      '550-5.7.1 Refused\r\n550 5.7.1 see policy\r\n',
    );
    assert.equal(formatReply(250, null, ['only']), '250 only\r\n');
    assert.equal(formatReply(250, null, []), '250\r\n');
  });

  void it('line breaks in the text start new lines; other controls cannot reach the wire', () => {
    assert.equal(
      formatReply(501, '5.5.4', 'a\r\n250 forged\nb'),
      '501-5.5.4 a\r\n501-5.5.4 250 forged\r\n501 5.5.4 b\r\n',
    );
    assert.equal(formatReply(500, null, 'x\u0000y\tz'), '500 x?y?z\r\n');
  });

  void it('refuses bad codes', () => {
    assert.throws(() => formatReply(99, null, 'x'), RangeError);
    assert.throws(() => formatReply(250.5, null, 'x'), RangeError);
    assert.throws(() => formatReply(250, '5.0.0', 'x'), RangeError);
    assert.throws(() => formatReply(250, '2.0', 'x'), RangeError);
    assert.throws(() => formatReply(354, '3.0.0', 'x'), RangeError);
  });
  void it('keeps the space of an empty AUTH continuation (RFC 4954 §4)', () => {
    assert.equal(formatReply(334, null, ''), '334 \r\n');
    assert.equal(formatReply(334, null, 'VXNlcm5hbWU6'), '334 VXNlcm5hbWU6\r\n');
  });
});
