import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MTA_STS_MAX_AGE, mxAllowed, parseStsPolicy, parseStsTxt } from './mta-sts-policy.js';

void test('the _mta-sts TXT record (RFC 8461 §3.1)', () => {
  assert.deepEqual(parseStsTxt(['v=STSv1; id=20160831085700Z;']), { id: '20160831085700Z' });
  assert.deepEqual(parseStsTxt(['other', 'v=STSv1;id=abc']), { id: 'abc' });
  assert.equal(parseStsTxt(['v=spf1 -all']), null);
  assert.equal(parseStsTxt([]), null);
  assert.ok('error' in (parseStsTxt(['v=STSv1; id=a', 'v=STSv1; id=b']) ?? {}), 'two records: none');
  assert.ok('error' in (parseStsTxt(['v=STSv1; id=no-dashes']) ?? {}));
  assert.ok('error' in (parseStsTxt(['v=STSv1;']) ?? {}));
  assert.ok('error' in (parseStsTxt([`v=STSv1; id=${'a'.repeat(33)}`]) ?? {}));
});

void test('the policy file (§3.2): fields, CRLF or LF, bounds', () => {
  const p = parseStsPolicy(
    'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.Example.NET.\r\nmax_age: 604800\r\nextra: ignored\r\n',
    'id1',
  );
  assert.ok(!('error' in p));
  assert.equal(p.mode, 'enforce');
  assert.deepEqual(p.mx, ['mail.example.com', '*.example.net']);
  assert.equal(p.maxAge, 604800);
  assert.equal(p.id, 'id1');
  const big = parseStsPolicy('version: STSv1\nmode: testing\nmx: a.test\nmax_age: 99999999999', 'x');
  assert.ok('error' in big, 'more than 10 digits');
  const capped = parseStsPolicy('version: STSv1\nmode: testing\nmx: a.test\nmax_age: 9999999999', 'x');
  assert.ok(!('error' in capped) && capped.maxAge === MTA_STS_MAX_AGE);
  const none = parseStsPolicy('version: STSv1\nmode: none\nmax_age: 86400\n', 'x');
  assert.ok(!('error' in none) && none.mode === 'none' && none.mx.length === 0);
  for (const bad of [
    'mode: enforce\nmx: a.test\nmax_age: 1',
    'version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1',
    'version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1',
    'version: STSv1\nmode: enforce\nmax_age: 1',
    'version: STSv1\nmode: enforce\nmx: a.test',
    'version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 1',
    'version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1',
    '<html>not a policy</html>',
  ]) {
    assert.ok('error' in parseStsPolicy(bad, 'x'), bad);
  }
});

void test('MX matching (§4.1): exact names, one-label wildcards, case and final dots', () => {
  const policy = { mx: ['mail.example.com', '*.example.net'] };
  assert.equal(mxAllowed(policy, 'mail.example.com'), true);
  assert.equal(mxAllowed(policy, 'MAIL.Example.com.'), true);
  assert.equal(mxAllowed(policy, 'mx1.example.net'), true);
  assert.equal(mxAllowed(policy, 'example.net'), false, 'the wildcard needs a label');
  assert.equal(mxAllowed(policy, 'a.b.example.net'), false, 'only one label');
  assert.equal(mxAllowed(policy, 'other.example.com'), false);
  assert.equal(mxAllowed(policy, 'mail.example.com.evil.test'), false);
});
