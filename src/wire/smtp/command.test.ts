import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseCommand,
  parseDecimal,
  isDomain,
  isAddressLiteral,
  xtextDecode,
  xtextEncode,
  SmtpSyntaxError,
  type SmtpCommand,
  type SmtpPath,
} from './command.js';

const ASCII = { smtputf8: false };
const UTF8 = { smtputf8: true };

function parse(line: string | Buffer, opts = ASCII): SmtpCommand | SmtpSyntaxError {
  return parseCommand(typeof line === 'string' ? Buffer.from(line, 'utf8') : line, opts);
}

function ok(line: string | Buffer, opts = ASCII): SmtpCommand {
  const result = parse(line, opts);
  if (result instanceof SmtpSyntaxError) {
    assert.fail(
      `${JSON.stringify(line.toString())} refused: ${result.code} ${result.enhanced} ${result.message}`,
    );
  }
  return result;
}

function refused(line: string | Buffer, code: number, enhanced: string, opts = ASCII): void {
  const result = parse(line, opts);
  assert.ok(result instanceof SmtpSyntaxError, `${JSON.stringify(line.toString())} should be refused`);
  assert.equal(`${result.code} ${result.enhanced}`, `${code} ${enhanced}`, JSON.stringify(line.toString()));
}

function pathOf(line: string, opts = ASCII): SmtpPath {
  const cmd = ok(line, opts);
  assert.ok(cmd.verb === 'MAIL' || cmd.verb === 'RCPT');
  return cmd.path;
}

void describe('parseCommand verbs', () => {
  void it('parses every verb, case-insensitively', () => {
    assert.deepEqual(ok('EHLO client.example.org'), { verb: 'EHLO', domain: 'client.example.org' });
    assert.deepEqual(ok('helo [192.0.2.1]'), { verb: 'HELO', domain: '[192.0.2.1]' });
    assert.deepEqual(ok('ehlo WIN_PC-01'), { verb: 'EHLO', domain: 'WIN_PC-01' });
    for (const verb of ['DATA', 'RSET', 'QUIT', 'STARTTLS'] as const) {
      assert.deepEqual(ok(verb.toLowerCase()), { verb });
      assert.deepEqual(ok(`${verb}  `), { verb }, 'trailing spaces tolerated');
      refused(`${verb} now`, 501, '5.5.4');
    }
    assert.deepEqual(ok('NOOP'), { verb: 'NOOP' });
    assert.deepEqual(ok('noop anything at all'), { verb: 'NOOP' });
    assert.deepEqual(ok('VRFY postmaster'), { verb: 'VRFY', arg: 'postmaster' });
    assert.deepEqual(ok('expn staff list'), { verb: 'EXPN', arg: 'staff list' });
    assert.deepEqual(ok('HELP'), { verb: 'HELP', arg: '' });
    assert.deepEqual(ok('help MAIL'), { verb: 'HELP', arg: 'MAIL' });
    refused('VRFY', 501, '5.5.4');
  });

  void it('refuses unknown verbs, empty lines and garbage', () => {
    refused('FOO bar', 500, '5.5.1');
    refused('', 500, '5.5.1');
    refused('MAILFROM:<a@b.example>', 500, '5.5.1');
    refused('GET / HTTP/1.1', 500, '5.5.1');
  });

  void it('refuses NUL and other control characters anywhere', () => {
    refused('NOOP\u0000', 500, '5.5.2');
    refused('RCPT TO:<a\u0000b@c.example>', 500, '5.5.2');
    refused('EHLO\tx', 500, '5.5.2');
    refused('RSET\rMAIL FROM:<x@y.example>', 500, '5.5.2');
    refused('QUIT\u007f', 500, '5.5.2');
  });

  void it('EHLO / HELO need one well-formed argument', () => {
    refused('EHLO', 501, '5.5.4');
    refused('EHLO a b', 501, '5.5.4');
    refused('EHLO <script>', 501, '5.5.4');
    refused('EHLO host;rm -rf', 501, '5.5.4');
    refused('EHLO [300.1.1.1]', 501, '5.5.4');
    refused('EHLO h\u00e9llo', 501, '5.5.4', UTF8);
    assert.deepEqual(ok('EHLO [IPv6:::1]'), { verb: 'EHLO', domain: '[IPv6:::1]' });
  });

  void it('BDAT forms (RFC 3030)', () => {
    assert.deepEqual(ok('BDAT 1000'), { verb: 'BDAT', size: 1000, last: false });
    assert.deepEqual(ok('bdat 0 last'), { verb: 'BDAT', size: 0, last: true });
    assert.deepEqual(ok('BDAT 007 LAST'), { verb: 'BDAT', size: 7, last: true });
    assert.deepEqual(ok('BDAT 9007199254740991'), {
      verb: 'BDAT',
      size: Number.MAX_SAFE_INTEGER,
      last: false,
    });
    refused('BDAT', 501, '5.5.4');
    refused('BDAT -1', 501, '5.5.4');
    refused('BDAT 1e3', 501, '5.5.4');
    refused('BDAT +5', 501, '5.5.4');
    refused('BDAT 0x10', 501, '5.5.4');
    refused('BDAT 10 FIRST', 501, '5.5.4');
    refused('BDAT 10 LAST extra', 501, '5.5.4');
    refused('BDAT 9007199254740992', 552, '5.3.4');
    refused('BDAT 99999999999999999999', 552, '5.3.4');
  });

  void it('AUTH forms (RFC 4954)', () => {
    assert.deepEqual(ok('AUTH PLAIN'), { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: null });
    assert.deepEqual(ok('auth plain AGFsaWNlAHNlY3JldA=='), {
      verb: 'AUTH',
      mechanism: 'PLAIN',
      initialResponse: 'AGFsaWNlAHNlY3JldA==',
    });
    assert.deepEqual(ok('AUTH PLAIN ='), { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: '=' });
    assert.deepEqual(ok('AUTH LOGIN dXNlcg=='), {
      verb: 'AUTH',
      mechanism: 'LOGIN',
      initialResponse: 'dXNlcg==',
    });
    assert.deepEqual(ok('AUTH SCRAM-SHA-256'), {
      verb: 'AUTH',
      mechanism: 'SCRAM-SHA-256',
      initialResponse: null,
    });
    refused('AUTH', 501, '5.5.4');
    refused('AUTH PLAIN a b', 501, '5.5.4');
    refused('AUTH PL@IN', 501, '5.5.4');
    refused('AUTH ' + 'X'.repeat(21), 501, '5.5.4');
    refused('AUTH PLAIN \u00e9', 501, '5.5.2', UTF8);
  });

  void it('refuses invalid and truncated UTF-8 whatever the options', () => {
    const truncated = Buffer.concat([
      Buffer.from('RCPT TO:<j'),
      Buffer.from([0xc3]),
      Buffer.from('@x.example>'),
    ]);
    refused(truncated, 500, '5.5.2', UTF8);
    refused(
      Buffer.concat([Buffer.from('MAIL FROM:<a@b.example'), Buffer.from([0xe2, 0x82])]),
      500,
      '5.5.2',
      UTF8,
    );
    refused(Buffer.from([0x4e, 0x4f, 0x4f, 0x50, 0x20, 0xff]), 500, '5.5.2', UTF8);
    // an overlong encoding of "/"
    refused(Buffer.concat([Buffer.from('VRFY '), Buffer.from([0xc0, 0xaf])]), 500, '5.5.2', UTF8);
  });
});

void describe('parseCommand paths', () => {
  void it('MAIL FROM and RCPT TO with and without one space before <', () => {
    assert.deepEqual(pathOf('MAIL FROM:<alice@example.org>'), {
      address: 'alice@example.org',
      localPart: 'alice',
      domain: 'example.org',
    });
    assert.deepEqual(pathOf('mail from: <Alice@Example.ORG>'), {
      address: 'Alice@Example.ORG',
      localPart: 'Alice',
      domain: 'Example.ORG',
    });
    assert.equal(pathOf('RCPT TO:<bob@example.net>').address, 'bob@example.net');
    assert.equal(pathOf('rcpt to: <bob@example.net>').address, 'bob@example.net');
    refused('RCPT TO:  <bob@example.net>', 501, '5.5.4');
    refused('MAIL FROM :<a@b.example>', 501, '5.5.4');
    refused('MAIL <a@b.example>', 501, '5.5.4');
    refused('RCPT', 501, '5.5.4');
  });

  void it('a path without angle brackets is a syntax error', () => {
    refused('MAIL FROM:alice@example.org', 501, '5.5.4');
    refused('RCPT TO:bob@example.net', 501, '5.5.4');
    refused('RCPT TO:<bob@example.net', 501, '5.5.4');
    refused('RCPT TO:<bob@example.net>>', 501, '5.5.4');
    refused('RCPT TO:<bob <x>@example.net>', 501, '5.5.4');
    refused('RCPT TO:<bob@example.net>SIZE=1', 501, '5.5.4');
  });

  void it('<> is the null reverse-path for MAIL only', () => {
    const cmd = ok('MAIL FROM:<> SIZE=100');
    assert.ok(cmd.verb === 'MAIL');
    assert.deepEqual(cmd.path, { address: '', localPart: '', domain: '' });
    assert.equal(cmd.params.get('SIZE'), '100');
    refused('RCPT TO:<>', 553, '5.1.3');
  });

  void it('RCPT TO:<Postmaster> without a domain (RFC 5321 §4.1.1.3)', () => {
    assert.deepEqual(pathOf('RCPT TO:<Postmaster>'), {
      address: 'Postmaster',
      localPart: 'Postmaster',
      domain: '',
    });
    assert.deepEqual(pathOf('RCPT TO:<postmaster>'), {
      address: 'postmaster',
      localPart: 'postmaster',
      domain: '',
    });
    refused('MAIL FROM:<postmaster>', 553, '5.1.7');
    refused('RCPT TO:<bob>', 553, '5.1.3');
  });

  void it('quoted local parts are decoded; the address keeps the shortest form', () => {
    assert.deepEqual(pathOf('RCPT TO:<"bob"@example.net>'), {
      address: 'bob@example.net',
      localPart: 'bob',
      domain: 'example.net',
    });
    assert.deepEqual(pathOf('RCPT TO:<"john doe"@example.net>'), {
      address: '"john doe"@example.net',
      localPart: 'john doe',
      domain: 'example.net',
    });
    // a relay attempt: the "@" stays inside the local part, the domain is the last one
    assert.deepEqual(pathOf('RCPT TO:<"victim@elsewhere.example"@local.example>'), {
      address: '"victim@elsewhere.example"@local.example',
      localPart: 'victim@elsewhere.example',
      domain: 'local.example',
    });
    assert.deepEqual(pathOf('RCPT TO:<"a\\"b\\\\c>"@example.net>'), {
      address: '"a\\"b\\\\c>"@example.net',
      localPart: 'a"b\\c>',
      domain: 'example.net',
    });
    refused('RCPT TO:<bob@local.example@elsewhere.example>', 553, '5.1.3');
    refused('RCPT TO:<"unterminated@example.net>', 501, '5.5.4');
    refused('RCPT TO:<"a"b@example.net>', 553, '5.1.3');
    refused('RCPT TO:<"a"b"@example.net>', 501, '5.5.4');
    refused('RCPT TO:<"a\\', 501, '5.5.4');
  });

  void it('% and ! are ordinary local-part characters, never routing', () => {
    assert.deepEqual(pathOf('RCPT TO:<victim%elsewhere.example@local.example>'), {
      address: 'victim%elsewhere.example@local.example',
      localPart: 'victim%elsewhere.example',
      domain: 'local.example',
    });
    assert.deepEqual(pathOf('RCPT TO:<elsewhere.example!victim@local.example>'), {
      address: 'elsewhere.example!victim@local.example',
      localPart: 'elsewhere.example!victim',
      domain: 'local.example',
    });
    refused('RCPT TO:<elsewhere.example!victim>', 553, '5.1.3');
    refused('RCPT TO:<victim%elsewhere.example>', 553, '5.1.3');
  });

  void it('source routes are accepted and dropped', () => {
    assert.deepEqual(pathOf('RCPT TO:<@relay.example,@[192.0.2.7]:user@final.example>'), {
      address: 'user@final.example',
      localPart: 'user',
      domain: 'final.example',
    });
    assert.equal(pathOf('MAIL FROM:<@a.example:x@y.example>').address, 'x@y.example');
    refused('RCPT TO:<@relay.example:>', 553, '5.1.3');
    refused('RCPT TO:<@relay.example,user@final.example>', 553, '5.1.3');
    refused('RCPT TO:<@bad_domain:user@final.example>', 553, '5.1.3');
    refused('RCPT TO:<@relay.example,,@b.example:user@final.example>', 553, '5.1.3');
  });

  void it('address literals', () => {
    assert.deepEqual(pathOf('RCPT TO:<user@[127.0.0.1]>'), {
      address: 'user@[127.0.0.1]',
      localPart: 'user',
      domain: '[127.0.0.1]',
    });
    assert.equal(pathOf('RCPT TO:<user@[IPv6:2001:db8::1]>').domain, '[IPv6:2001:db8::1]');
    assert.equal(pathOf('RCPT TO:<user@[ipv6:::ffff:192.0.2.1]>').domain, '[ipv6:::ffff:192.0.2.1]');
    assert.equal(pathOf('RCPT TO:<user@[IPv6:1:2:3:4:5:6:7:8]>').domain, '[IPv6:1:2:3:4:5:6:7:8]');
    for (const bad of [
      '[256.0.0.1]',
      '[1.2.3]',
      '[1.2.3.4.5]',
      '[IPv6:1:2:3:4:5:6:7:8:9]',
      '[IPv6:1::2::3]',
      '[IPv6:12345::1]',
      '[IPv6:g::1]',
      '[IPv6:1:2:3:4:5:6:7]',
      '[x-tag:foo]',
      '[]',
      '[127.0.0.1',
    ]) {
      refused(`RCPT TO:<user@${bad}>`, 553, '5.1.3');
    }
  });

  void it('refuses malformed local parts and domains', () => {
    for (const bad of [
      'a..b@example.net',
      '.a@example.net',
      'a.@example.net',
      '@example.net',
      'a@',
      'a@-example.net',
      'a@example-.net',
      'a@exa_mple.net',
      'a@example..net',
      'a@example.net.',
      'a(b)@example.net',
      'a,b@example.net',
      'a;rm -rf@example.net',
      `a@${'l'.repeat(64)}.example`,
    ]) {
      const result = parse(`RCPT TO:<${bad}>`);
      assert.ok(result instanceof SmtpSyntaxError, bad);
      assert.ok(result.code === 553 || result.code === 501, bad);
    }
    // shell metacharacters that are atext are syntactically valid; the session looks them up
    assert.equal(pathOf('RCPT TO:<a|b`c$d&e@example.net>').localPart, 'a|b`c$d&e');
  });

  void it('enforces RFC 5321 §4.5.3.1 sizes', () => {
    assert.equal(pathOf(`RCPT TO:<${'a'.repeat(64)}@example.net>`).localPart.length, 64);
    refused(`RCPT TO:<${'a'.repeat(65)}@example.net>`, 553, '5.1.3');
    const label = 'd'.repeat(60);
    refused(`RCPT TO:<a@${[label, label, label, label, label].join('.')}>`, 553, '5.1.3');
  });

  void it('8-bit addresses need SMTPUTF8 (RFC 6531)', () => {
    refused('RCPT TO:<jos\u00e9@example.net>', 553, '5.6.7');
    refused('RCPT TO:<jose@ex\u00e4mple.net>', 553, '5.6.7');
    assert.deepEqual(pathOf('RCPT TO:<jos\u00e9@\u00e4x.example>', UTF8), {
      address: 'jos\u00e9@\u00e4x.example',
      localPart: 'jos\u00e9',
      domain: '\u00e4x.example',
    });
    // MAIL: allowed only when the SMTPUTF8 parameter is on the same line
    refused('MAIL FROM:<jos\u00e9@example.net>', 553, '5.6.7', UTF8);
    refused('MAIL FROM:<jos\u00e9@example.net> SMTPUTF8', 553, '5.6.7', ASCII);
    assert.equal(pathOf('MAIL FROM:<jos\u00e9@example.net> SMTPUTF8', UTF8).localPart, 'jos\u00e9');
    assert.equal(pathOf('RCPT TO:<"\u4e2d \u6587"@example.net>', UTF8).localPart, '\u4e2d \u6587');
    // the 64-octet limit counts UTF-8 octets
    refused(`RCPT TO:<${'\u00e9'.repeat(33)}@example.net>`, 553, '5.1.3', UTF8);
    refused('VRFY jos\u00e9', 553, '5.6.7');
    assert.deepEqual(ok('VRFY jos\u00e9', UTF8), { verb: 'VRFY', arg: 'jos\u00e9' });
  });
});

void describe('parseCommand parameters', () => {
  function params(line: string, opts = ASCII): Map<string, string | null> {
    const cmd = ok(line, opts);
    assert.ok(cmd.verb === 'MAIL' || cmd.verb === 'RCPT');
    return cmd.params;
  }

  void it('parses keywords upper-cased, values as given', () => {
    const p = params(
      'MAIL FROM:<a@b.example> size=1000 body=8bitmime SMTPUTF8 ret=hdrs ENVID=QQ+2B1 AUTH=<>',
      UTF8,
    );
    assert.deepEqual(
      [...p],
      [
        ['SIZE', '1000'],
        ['BODY', '8BITMIME'],
        ['SMTPUTF8', null],
        ['RET', 'HDRS'],
        ['ENVID', 'QQ+2B1'],
        ['AUTH', '<>'],
      ],
    );
    const r = params(
      'RCPT TO:<c@d.example> NOTIFY=success,delay ORCPT=rfc822;c+40d.example  X-FOO=bar X-FLAG',
    );
    assert.deepEqual(
      [...r],
      [
        ['NOTIFY', 'SUCCESS,DELAY'],
        ['ORCPT', 'rfc822;c+40d.example'],
        ['X-FOO', 'bar'],
        ['X-FLAG', null],
      ],
    );
  });

  void it('SIZE: digits only, bounded', () => {
    assert.equal(params('MAIL FROM:<a@b.example> SIZE=0').get('SIZE'), '0');
    refused('MAIL FROM:<a@b.example> SIZE=-1', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> SIZE=1e9', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> SIZE=12.5', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> SIZE', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> SIZE=99999999999999999999', 552, '5.3.4');
    refused('MAIL FROM:<a@b.example> SIZE=9007199254740992', 552, '5.3.4');
  });

  void it('refuses duplicates, empty values and bad keywords', () => {
    refused('MAIL FROM:<a@b.example> SIZE=1 size=2', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> SIZE=', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> X-A=', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> =x', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> -X=1', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> X=a=b', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> X-A=\u00e9', 501, '5.5.4');
    assert.equal(params('MAIL FROM:<a@b.example> SMTPUTF8 X-A=\u00e9', UTF8).get('X-A'), '\u00e9');
  });

  void it('__proto__ and other prototype names are harmless', () => {
    refused('MAIL FROM:<a@b.example> __proto__=x', 501, '5.5.4');
    const p = params('MAIL FROM:<a@b.example> constructor=1 toString hasOwnProperty=2');
    assert.ok(p instanceof Map);
    assert.equal(p.get('CONSTRUCTOR'), '1');
    assert.equal(p.get('TOSTRING'), null);
    assert.equal(({} as Record<string, unknown>).x, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'CONSTRUCTOR'), false);
  });

  void it('checks the values of the parameters it knows', () => {
    refused('MAIL FROM:<a@b.example> BODY=9BIT', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> BODY', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> SMTPUTF8=yes', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> RET=ALL', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> ENVID=a+2', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> ENVID=a+zz', 501, '5.5.4');
    refused(`MAIL FROM:<a@b.example> ENVID=${'x'.repeat(101)}`, 501, '5.5.4');
    refused('RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS', 501, '5.5.4');
    refused('RCPT TO:<a@b.example> NOTIFY=SUCCESS,SUCCESS', 501, '5.5.4');
    refused('RCPT TO:<a@b.example> NOTIFY=', 501, '5.5.4');
    refused('RCPT TO:<a@b.example> NOTIFY=SUCCESS,', 501, '5.5.4');
    refused('RCPT TO:<a@b.example> ORCPT=rfc822', 501, '5.5.4');
    refused('RCPT TO:<a@b.example> ORCPT=;a@b', 501, '5.5.4');
    refused('RCPT TO:<a@b.example> ORCPT=rfc822;a+g0', 501, '5.5.4');
    refused('MAIL FROM:<a@b.example> AUTH=a+', 501, '5.5.4');
  });
});

void describe('helpers', () => {
  void it('parseDecimal', () => {
    assert.equal(parseDecimal('0'), 0);
    assert.equal(parseDecimal('000123'), 123);
    assert.equal(parseDecimal('9007199254740991'), Number.MAX_SAFE_INTEGER);
    assert.equal(parseDecimal('9007199254740992'), 'range');
    assert.equal(parseDecimal('1'.repeat(19)), 'range');
    for (const bad of ['', '-1', '+1', '1e3', ' 1', '1 ', '0x1', '١'])
      assert.equal(parseDecimal(bad), 'syntax', bad);
  });

  void it('xtextDecode / xtextEncode (RFC 3461 §4)', () => {
    assert.equal(xtextDecode('rfc822+3Ba+2Bb+3Dc@d.example'), 'rfc822;a+b=c@d.example');
    assert.equal(xtextDecode('caf+C3+A9'), 'caf\u00e9');
    assert.equal(xtextDecode(''), '');
    for (const bad of ['a+', 'a+4', 'a+4g', 'a+3b', 'a b', 'a=b', '+C3'])
      assert.equal(xtextDecode(bad), null, bad);
    for (const text of ['plain', 'a+b=c', 'sp ace', 'caf\u00e9', '']) {
      const encoded = xtextEncode(text);
      assert.equal(xtextDecode(encoded), text);
    }
    assert.equal(xtextEncode('a+b=c d'), 'a+2Bb+3Dc+20d');
  });

  void it('isDomain / isAddressLiteral', () => {
    assert.equal(isDomain('mail.example.org', false), true);
    assert.equal(isDomain('x', false), true);
    assert.equal(isDomain('1.2.3.4', false), true);
    assert.equal(isDomain('b\u00fccher.example', false), false);
    assert.equal(isDomain('b\u00fccher.example', true), true);
    assert.equal(isDomain('', false), false);
    assert.equal(isAddressLiteral('[10.0.0.1]'), true);
    assert.equal(isAddressLiteral('[IPv6:::]'), true);
    assert.equal(isAddressLiteral('[IPv6:fe80::1:2]'), true);
    assert.equal(isAddressLiteral('[IPv6:1::2:3:4:5:6]'), true);
    assert.equal(isAddressLiteral('[IPv6:1::2:3:4:5:6:7]'), false);
    assert.equal(isAddressLiteral('[IPv6:1:2:3:4:5:6:1.2.3.4]'), true);
    assert.equal(isAddressLiteral('[IPv6:1:2:3:4:5:6:7:1.2.3.4]'), false);
    assert.equal(isAddressLiteral('[IPv6:1:2::1.2.3.4]'), true);
    assert.equal(isAddressLiteral('[IPv6:1::2:3:4:5:6:7:8]'), false);
    assert.equal(isAddressLiteral('[IPv6:1:]'), false);
    assert.equal(isAddressLiteral('[IPv6::1]'), false);
    assert.equal(isAddressLiteral('10.0.0.1'), false);
  });
});
