import assert from 'node:assert/strict';
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { dkimSign } from 'mailauth';
import { startDnsServer, type DnsTestServer } from '../../test/helpers/dns-server.js';
import { DnsResolver } from '../dns/resolver.js';
import { MessageVerifier } from './message-verifier.js';
import {
  authenticationResults,
  evaluateAuthentication,
  headerSafe,
  receivedHeader,
  receivedProtocol,
  rfc5322Date,
} from './trace-headers.js';

let dns: DnsTestServer;
let privateKey: string;
const verifier = new MessageVerifier({ limits: { verifyThreads: 2, verifyTimeout: 30, dkimSignatures: 5 } });

before(async () => {
  const pair = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  dns = await startDnsServer({
    // A 2048-bit key record is ~400 bytes: served as several 255-byte character-strings.
    'sel._domainkey.signed.test': { TXT: [`v=DKIM1; k=rsa; p=${spki}`] },
    'signed.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all'], A: ['192.0.2.10'] },
    '_dmarc.signed.test': { TXT: ['v=DMARC1; p=reject'] },
    'nospf.test': { A: ['192.0.2.20'] },
    'soft.test': { TXT: ['v=spf1 include:inc.soft.test ~all'] },
    'inc.soft.test': { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] },
    'broken.test': { fail: 'servfail' },
  });
});
after(async () => {
  await dns.close();
  await verifier.close();
});

function resolver(): DnsResolver {
  return new DnsResolver({ servers: [dns.address], cacheSeconds: 60, timeoutMs: 300, tries: 1 });
}

function rawMessage(from: string): string {
  return [
    `From: Sender <${from}>`,
    'To: rcpt@mail.example.test',
    'Subject: authentication test',
    'Date: Fri, 27 Nov 2026 09:00:00 +0000',
    'Message-ID: <t1@signed.test>',
    '',
    'Hello, this body is covered by the DKIM body hash.',
    '',
  ].join('\r\n');
}

async function signed(from: string): Promise<Buffer> {
  const raw = rawMessage(from);
  const r = await dkimSign(raw, {
    signatureData: [
      { signingDomain: 'signed.test', selector: 'sel', privateKey, canonicalization: 'relaxed/relaxed' },
    ],
  } as Parameters<typeof dkimSign>[1]);
  assert.match(r.signatures, /^DKIM-Signature: /);
  assert.deepEqual(r.errors, []);
  return Buffer.from(r.signatures + raw);
}

void test('DKIM pass with the key from our DNS server, SPF pass, DMARC pass', async () => {
  const msg = await signed('alice@signed.test');
  const out = await evaluateAuthentication({
    verifier,
    resolver: resolver(),
    hostname: 'mail.example.test',
    clientIp: '192.0.2.10',
    helo: 'out.signed.test',
    mailFrom: 'alice@signed.test',
    message: Readable.from([msg.subarray(0, 100), msg.subarray(100)]),
  });
  assert.equal(out.spf, 'pass');
  assert.deepEqual(out.dkim, [{ domain: 'signed.test', result: 'pass' }]);
  assert.equal(out.dmarc, 'pass');
  assert.equal(out.dmarcPolicy, null);
  assert.match(out.headers, /^Authentication-Results: mail\.example\.test;/m);
  assert.match(out.headers, /dkim=pass/);
  assert.match(out.headers, /spf=pass/);
  assert.match(out.headers, /dmarc=pass/);
  assert.match(out.headers, /^Received-SPF: pass/m);
  assert.ok(out.headers.endsWith('\r\n'));
  assert.ok(!out.headers.includes('\r\n\r\n'), 'no empty line inside the header block');
  for (const line of out.headers.split('\r\n')) assert.ok(!line.includes('\n'), 'CRLF only');
  assert.ok(dns.log.includes('TXT sel._domainkey.signed.test'), 'the key came from the test server');
  assert.ok(dns.log.includes('TXT _dmarc.signed.test'));
});

void test('a modified body does not pass DKIM; with SPF failing too, DMARC fails with policy reject', async () => {
  const msg = await signed('alice@signed.test');
  const tampered = Buffer.from(msg.toString().replace('Hello,', 'Hullo,'));
  const out = await evaluateAuthentication({
    verifier,
    resolver: resolver(),
    hostname: 'mail.example.test',
    clientIp: '198.51.100.1',
    helo: 'evil.example',
    mailFrom: 'alice@signed.test',
    message: tampered,
  });
  assert.equal(out.spf, 'fail');
  // mailauth reports a body hash mismatch as "neutral" (RFC 6376 §6.1.3 leaves the label open).
  assert.ok(['fail', 'neutral'].includes(out.dkim[0]?.result ?? ''), out.dkim[0]?.result);
  assert.equal(out.dmarc, 'fail');
  assert.equal(out.dmarcPolicy, 'reject');
  assert.match(out.headers, /spf=fail/);
  assert.match(out.headers, /dmarc=fail/);
});

void test('SPF none without a record, softfail through include, temperror on SERVFAIL; no DKIM is none', async () => {
  const r = resolver();
  const base = { verifier, resolver: r, hostname: 'mail.example.test', helo: 'client.test' };
  const none = await evaluateAuthentication({
    ...base,
    clientIp: '192.0.2.20',
    mailFrom: 'bob@nospf.test',
    message: Buffer.from(rawMessage('bob@nospf.test')),
  });
  assert.equal(none.spf, 'none');
  assert.ok(
    none.dkim.every((d) => d.result === 'none'),
    'an unsigned message has no DKIM pass',
  );
  assert.match(none.headers, /dkim=none/);
  assert.equal(none.dmarc, 'none');

  const soft = await evaluateAuthentication({
    ...base,
    clientIp: '192.0.2.99',
    mailFrom: 'c@soft.test',
    message: Buffer.from(rawMessage('c@soft.test')),
  });
  assert.equal(soft.spf, 'softfail');
  const included = await evaluateAuthentication({
    ...base,
    clientIp: '203.0.113.5',
    mailFrom: 'c@soft.test',
    message: Buffer.from(rawMessage('c@soft.test')),
  });
  assert.equal(included.spf, 'pass');

  const broken = await evaluateAuthentication({
    ...base,
    clientIp: '192.0.2.99',
    mailFrom: 'd@broken.test',
    message: Buffer.from(rawMessage('d@broken.test')),
  });
  assert.equal(broken.spf, 'temperror');

  // The null sender: SPF checks the HELO identity (RFC 7208 §2.4).
  const bounce = await authenticationResults({
    ...base,
    helo: 'signed.test',
    clientIp: '192.0.2.10',
    mailFrom: '',
    message: Buffer.from(rawMessage('mailer-daemon@signed.test')),
  });
  assert.match(bounce, /spf=pass/);
});

/** `count` DKIM-Signature fields with distinct d= and the right body hash (so each costs a key lookup). */
function extraSignatures(msg: Buffer, count: number): string {
  const bh = /bh=([^;\s]+)/.exec(msg.toString())?.[1] ?? '';
  let out = '';
  for (let i = 0; i < count; i++) {
    out +=
      `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=d${i}.attacker.test; s=sel;\r\n` +
      ` h=from:subject; bh=${bh};\r\n b=${Buffer.from(`sig${i}`).toString('base64')}\r\n`;
  }
  return out;
}

void test('200 DKIM signatures with distinct d=: at most limits.dkim_signatures key lookups, the rest neutral', async () => {
  const msg = await signed('alice@signed.test');
  // The real signature first (the most recent is on top, RFC 6376 §5.6), then 200 the sender made up.
  const end = msg.indexOf('\r\nFrom:') + 2;
  const hostile = Buffer.concat([
    msg.subarray(0, end),
    Buffer.from(extraSignatures(msg, 200)),
    msg.subarray(end),
  ]);
  const logStart = dns.log.length;
  const out = await evaluateAuthentication({
    verifier,
    resolver: resolver(),
    hostname: 'mail.example.test',
    clientIp: '192.0.2.10',
    helo: 'out.signed.test',
    mailFrom: 'alice@signed.test',
    message: hostile,
  });
  const keyLookups = dns.log.slice(logStart).filter((q) => q.includes('._domainkey.'));
  assert.ok(keyLookups.length <= 5, `${keyLookups.length} key lookups: ${keyLookups.slice(0, 8).join(', ')}`);
  assert.ok(keyLookups.includes('TXT sel._domainkey.signed.test'));
  assert.equal(out.dkimSkipped, 196);
  assert.equal(out.timedOut, false);
  assert.deepEqual(out.dkim[0], { domain: 'signed.test', result: 'pass' });
  assert.equal(out.dkim.filter((d) => d.result === 'neutral').length, 4 + 50);
  assert.equal(out.dkim[5]?.domain, 'd4.attacker.test');
  assert.equal(out.dmarc, 'pass');
  assert.match(out.headers, /dkim=neutral \(too many signatures\)/);
  assert.equal(out.headers.match(/dkim=/g)?.length, 6, 'five verified, one row for the rest');
  assert.ok(out.headers.length < 8192, `header block of ${out.headers.length} bytes`);
});

void test('with limits.dkim_signatures = 0 no signature is verified and none is looked up', async () => {
  const none = new MessageVerifier({ limits: { verifyThreads: 1, verifyTimeout: 30, dkimSignatures: 0 } });
  try {
    const msg = await signed('alice@signed.test');
    const logStart = dns.log.length;
    const out = await evaluateAuthentication({
      verifier: none,
      resolver: resolver(),
      hostname: 'mail.example.test',
      clientIp: '192.0.2.10',
      helo: 'out.signed.test',
      mailFrom: 'alice@signed.test',
      message: msg,
    });
    assert.deepEqual(out.dkim, [{ domain: 'signed.test', result: 'neutral' }]);
    assert.equal(out.dkimSkipped, 1);
    assert.ok(!dns.log.slice(logStart).some((q) => q.includes('._domainkey.')));
    assert.match(out.headers, /dkim=neutral \(too many signatures\)/);
    assert.doesNotMatch(out.headers, /dkim=none/);
    assert.equal(out.spf, 'pass');
  } finally {
    await none.close();
  }
});

void test('verification over limits.verify_timeout is cut off: timedOut, temperror, and the pool goes on', async () => {
  const quick = new MessageVerifier({
    limits: { verifyThreads: 1, verifyTimeout: 30, dkimSignatures: 5 },
    budgetMs: 2000,
  });
  try {
    // A 2 MB header field folded over 27,000 lines: mailauth's header parser is quadratic in it.
    const fold = ` ${'x'.repeat(72)}\r\n`.repeat(27_000);
    const msg = Buffer.from(`From: a@signed.test\r\nX-Fold: a\r\n${fold}Subject: s\r\n\r\nbody\r\n`);
    const t0 = Date.now();
    const out = await evaluateAuthentication({
      verifier: quick,
      resolver: resolver(),
      hostname: 'mail.example.test',
      clientIp: '192.0.2.10',
      helo: 'out.signed.test',
      mailFrom: 'a@signed.test',
      message: msg,
    });
    const took = Date.now() - t0;
    assert.equal(out.timedOut, true);
    assert.equal(out.spf, 'temperror');
    assert.match(out.headers, /^Authentication-Results: mail\.example\.test;/);
    assert.ok(took >= 1900 && took < 6000, `cut off after ${took} ms`);
    assert.equal(quick.pool.timedOut, 1);
    // A normal message after: a fresh worker (loaded first, as start-up is not what is measured).
    await quick.pool.warm();
    const next = await evaluateAuthentication({
      verifier: quick,
      resolver: resolver(),
      hostname: 'mail.example.test',
      clientIp: '192.0.2.10',
      helo: 'out.signed.test',
      mailFrom: 'alice@signed.test',
      message: await signed('alice@signed.test'),
    });
    assert.equal(next.timedOut, false);
    assert.deepEqual(next.dkim, [{ domain: 'signed.test', result: 'pass' }]);
  } finally {
    await quick.close();
  }
});

void test('Received: clauses, protocol keyword, one-recipient "for", sanitised client text', () => {
  const date = new Date(Date.UTC(2026, 10, 27, 9, 5, 7));
  const h = receivedHeader({
    helo: 'client.example',
    clientIp: '192.0.2.1',
    reverseName: 'host.example',
    hostname: 'mail.example.test',
    esmtp: true,
    tls: true,
    authenticated: false,
    smtputf8: false,
    id: 'Q1A2B3',
    recipients: ['bob@example.test'],
    tlsInfo: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    date,
  });
  assert.equal(
    h,
    'Received: from client.example (host.example [192.0.2.1])\r\n' +
      '\tby mail.example.test (Postern) with ESMTPS (version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)\r\n' +
      '\tid Q1A2B3\r\n' +
      '\tfor <bob@example.test>; Fri, 27 Nov 2026 09:05:07 +0000\r\n',
  );
  const hostile = receivedHeader({
    helo: 'evil\r\nX-Injected: yes (a)',
    clientIp: '2001:db8::5',
    reverseName: null,
    hostname: 'mail.example.test',
    esmtp: false,
    tls: false,
    authenticated: false,
    smtputf8: false,
    id: 'Q2',
    recipients: ['a@example.test', 'b@example.test'],
    date,
  });
  assert.ok(!/\r\n(?!\t)/.test(hostile.slice(0, -2)), 'every line break is a fold');
  assert.ok(!hostile.includes('\nX-Injected'));
  assert.match(hostile, /^Received: from evil\?\?X-Injected:yesa \(\[IPv6:2001:db8::5\]\)\r\n/);
  assert.match(hostile, /with SMTP\r\n/);
  assert.ok(!hostile.includes(' for <'), 'no "for" with two recipients (RFC 5321 §7.2)');
  const noHelo = receivedHeader({
    helo: null,
    clientIp: '192.0.2.1',
    reverseName: null,
    hostname: 'mail.example.test',
    esmtp: true,
    tls: false,
    authenticated: true,
    smtputf8: true,
    id: 'Q3',
    recipients: [],
    date,
  });
  assert.match(noHelo, /^Received: from \[192\.0\.2\.1\] \(\[192\.0\.2\.1\]\)/);
  assert.match(noHelo, /with UTF8SMTPA\r\n/);
});

void test('protocol keywords (RFC 3848, RFC 6531), dates, header-safe text', () => {
  const p = (esmtp: boolean, tls: boolean, authenticated: boolean, smtputf8: boolean): string =>
    receivedProtocol({ esmtp, tls, authenticated, smtputf8 });
  assert.equal(p(false, true, true, true), 'SMTP');
  assert.equal(p(true, false, false, false), 'ESMTP');
  assert.equal(p(true, true, false, false), 'ESMTPS');
  assert.equal(p(true, false, true, false), 'ESMTPA');
  assert.equal(p(true, true, true, false), 'ESMTPSA');
  assert.equal(p(true, true, true, true), 'UTF8SMTPSA');
  assert.equal(rfc5322Date(new Date(Date.UTC(2024, 1, 29, 23, 59, 59))), 'Thu, 29 Feb 2024 23:59:59 +0000');
  assert.equal(headerSafe('a\u0000b\u007fc\u0085d'), 'a?b?c?d');
  assert.equal(headerSafe('münchen.example'), 'münchen.example');
  assert.equal(headerSafe('x'.repeat(1000)).length, 255);
});
