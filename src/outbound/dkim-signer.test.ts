import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { authenticate, type DNSResolver } from 'mailauth';
import { startDnsServer, type DnsTestServer } from '../../test/helpers/dns-server.js';
import { DnsResolver } from '../dns/resolver.js';
import { openFixture, type StoreFixture } from '../store/sqlite/store-fixture.js';
import type { DkimKey } from '../store/types.js';
import { createDkimKeys, dkimRecordName, dkimRecordValue } from './dkim-keys.js';
import { createDkimSigner, fromDomainOf, headerFields, isSubmittedByLocalUser } from './dkim-signer.js';

let fx: StoreFixture;
let dns: DnsTestServer;
let keys: DkimKey[];

before(async () => {
  fx = await openFixture();
  await fx.store.createDomain('signed.test');
  keys = await createDkimKeys(fx.store, 'signed.test', { now: new Date('2026-12-07T00:00:00Z') });
  dns = await startDnsServer({});
  for (const k of keys) dns.set(dkimRecordName(k), { TXT: [dkimRecordValue(k)] });
  dns.set('signed.test', { TXT: ['v=spf1 ip4:192.0.2.10 -all'], A: ['192.0.2.10'] });
  dns.set('_dmarc.signed.test', { TXT: ['v=DMARC1; p=reject'] });
});
after(async () => {
  await dns.close();
  await fx.cleanup();
});

function message(opts: { from?: string; body?: string; extraHeader?: string } = {}): Buffer {
  return Buffer.from(
    [
      `From: Alice <${opts.from ?? 'alice@signed.test'}>`,
      'To: Bob <bob@remote.test>',
      'Subject:  a   folded',
      '\tsubject line',
      'Date: Mon, 07 Dec 2026 01:00:00 +0000',
      'Message-ID: <m1@signed.test>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'X-Unsigned: not covered',
      ...(opts.extraHeader === undefined ? [] : [opts.extraHeader]),
      '',
      opts.body ?? 'Hello Bob,  \t with trailing space   \r\n\r\n\r\n',
    ].join('\r\n'),
  );
}

async function verify(signed: Buffer): Promise<Array<{ selector: string; result: string }>> {
  const resolver = new DnsResolver({ servers: [dns.address], cacheSeconds: 0, timeoutMs: 1000, tries: 2 });
  const r = await authenticate(Readable.from([signed]), {
    ip: '192.0.2.10',
    helo: 'mail.signed.test',
    sender: 'alice@signed.test',
    mta: 'mx.remote.test',
    resolver: resolver.mailauthResolver() as unknown as DNSResolver,
    disableBimi: true,
  });
  return (r.dkim.results ?? []).map((x) => ({
    selector: String(x.selector ?? ''),
    result: String(x.status?.result ?? ''),
  }));
}

void test('every active key signs; mailauth verifies both signatures against the DNS records', async () => {
  const signer = createDkimSigner(fx.store);
  const msg = message();
  const out = await signer.signWithOutcome(msg);
  assert.equal(out.signed, true);
  assert.deepEqual(out.selectors.sort(), ['p2026a-ed', 'p2026a-rsa']);
  assert.match(out.headers, /^DKIM-Signature: [^]*\r\nDKIM-Signature: [^]*\r\n$/);
  assert.doesNotMatch(out.headers, /\r\n(?![ \t]|DKIM-Signature:|$)/, 'only folded lines inside');
  assert.match(out.headers, /c=relaxed\/relaxed/);
  assert.match(out.headers, /a=ed25519-sha256/);
  assert.match(out.headers, /a=rsa-sha256/);
  // From oversigned: h= names it twice though the message has one.
  const h = /h=([^;]+);/.exec(out.headers.replace(/\r\n[ \t]/g, ''))![1]!;
  assert.deepEqual(
    h
      .split(':')
      .map((x) => x.trim().toLowerCase())
      .filter((x) => x === 'from'),
    ['from', 'from'],
  );
  assert.ok(!h.toLowerCase().includes('x-unsigned'));

  const results = await verify(Buffer.concat([Buffer.from(out.headers), msg]));
  assert.deepEqual(results.map((r) => [r.selector, r.result]).sort(), [
    ['p2026a-ed', 'pass'],
    ['p2026a-rsa', 'pass'],
  ]);
});

void test('a From: added after signing, or a changed body, fails both signatures', async () => {
  const signer = createDkimSigner(fx.store);
  const msg = message();
  const headers = await signer.sign(msg);
  const withSecondFrom = Buffer.concat([
    Buffer.from(headers),
    Buffer.from('From: mallory@signed.test\r\n'),
    msg,
  ]);
  for (const r of await verify(withSecondFrom))
    assert.notEqual(r.result, 'pass', `${r.selector} after a From: was added`);
  const changed = Buffer.from(
    Buffer.concat([Buffer.from(headers), msg])
      .toString('latin1')
      .replace('Hello Bob', 'Hello Eve'),
    'latin1',
  );
  const results = await verify(changed);
  assert.equal(results.length, 2);
  // mailauth reports a body hash mismatch as neutral (RFC 6376 §6.3 leaves it to the verifier).
  for (const r of results) assert.notEqual(r.result, 'pass', `${r.selector} after the body changed`);
});

void test('a stream in small chunks signs the same as a Buffer; a rotation switches keys', async () => {
  const fixed = new Date('2026-12-07T01:02:03Z');
  const signer = createDkimSigner(fx.store, { now: () => fixed, keyCacheMs: 0 });
  const msg = message({ body: 'line one\r\n'.repeat(5000) });
  const fromBuffer = await signer.sign(msg);
  const pieces: Buffer[] = [];
  for (let i = 0; i < msg.length; i += 7) pieces.push(msg.subarray(i, i + 7));
  const fromStream = await signer.sign(Readable.from(pieces));
  assert.equal(fromStream, fromBuffer);
  // Ed25519 is deterministic, so the same input and time give the same signature bytes.
  assert.match(fromBuffer, /t=1796605323/);

  const fx2 = await openFixture();
  try {
    await fx2.store.createDomain('rotated.test');
    const first = await createDkimKeys(fx2.store, 'rotated.test');
    const second = await createDkimKeys(fx2.store, 'rotated.test', { rotate: true });
    const s2 = createDkimSigner(fx2.store, { keyCacheMs: 0 });
    const out = await s2.signWithOutcome(message({ from: 'x@rotated.test' }));
    assert.equal(out.signed, true);
    assert.deepEqual(out.selectors.sort(), second.map((k) => k.selector).sort());
    for (const k of first) assert.ok(!out.selectors.includes(k.selector));
  } finally {
    await fx2.cleanup();
  }
});

void test('no signature without a single local From: domain with keys; fromDomain overrides', async () => {
  const signer = createDkimSigner(fx.store);
  assert.deepEqual(await signer.signWithOutcome(message({ from: 'x@remote.test' })), {
    signed: false,
    reason: 'no-keys',
    domain: 'remote.test',
    headers: '',
  });
  const twoFroms = message({ extraHeader: 'From: other@signed.test' });
  assert.equal((await signer.signWithOutcome(twoFroms)).signed, false);
  const mixed = Buffer.from('From: a@signed.test, b@remote.test\r\n\r\nhi\r\n');
  assert.equal((await signer.signWithOutcome(mixed)).signed, false);
  assert.equal(await signer.sign(Buffer.from('Subject: none\r\n\r\nhi\r\n')), '');
  // A stream left unread is destroyed.
  const stream = Readable.from([Buffer.from('Subject: none\r\n\r\n'), Buffer.from('body')]);
  assert.equal(await signer.sign(stream), '');
  assert.equal(stream.destroyed, true);
  // The caller names the domain: a From: of another domain is then not looked at.
  const forced = await signer.signWithOutcome(message({ from: 'x@remote.test' }), 'SIGNED.test');
  assert.equal(forced.signed, true);
  // Only what local users submitted is signed; mail forwarded for others is not.
  assert.equal(isSubmittedByLocalUser({ accountId: 7 }), true);
  assert.equal(isSubmittedByLocalUser({ accountId: null }), false);
  const tooBig = createDkimSigner(fx.store, { maxHeaderBytes: 64 });
  assert.equal((await tooBig.signWithOutcome(message())).signed, false);
});

void test('header fields are split raw and linearly; the From: domain is read as stored', () => {
  const fields = headerFields(
    Buffer.from('From: =?utf-8?q?A?= <a@B\u00fccher.TEST>\r\nSubject: x\r\n y\r\n\r\nbody'),
  );
  assert.deepEqual(
    fields.map((f) => [f.key, f.line.toString('utf8')]),
    [
      ['from', 'From: =?utf-8?q?A?= <a@B\u00fccher.TEST>'],
      ['subject', 'Subject: x\r\n y'],
    ],
  );
  assert.equal(fromDomainOf(fields), 'xn--bcher-kva.test');
  assert.equal(fromDomainOf(headerFields(Buffer.from('From: a@Example.ORG\r\n\r\n'))), 'example.org');
  assert.equal(fromDomainOf(headerFields(Buffer.from('From: undisclosed:;\r\n\r\n'))), null);
  assert.equal(fromDomainOf(headerFields(Buffer.from('To: a@example.org\r\n\r\n'))), null);
  // 50,000 continuation lines of one field: one pass.
  const big = Buffer.from('Subject: x' + '\r\n y'.repeat(50_000) + '\r\n\r\n');
  const t0 = performance.now();
  assert.equal(headerFields(big).length, 1);
  assert.ok(performance.now() - t0 < 2000);
});

void test('a body of one long line (1 MiB, no line break) verifies', async () => {
  const signer = createDkimSigner(fx.store);
  const msg = message({ body: 'x y\t z '.repeat(131_072) + '\r\n' });
  const results = await verify(Buffer.concat([Buffer.from(await signer.sign(msg)), msg]));
  assert.deepEqual(
    results.map((r) => r.result),
    ['pass', 'pass'],
  );
});

void test('signing time of a 5 KiB and a 10 MiB message, and the longest event-loop gap meanwhile', async () => {
  const signer = createDkimSigner(fx.store);
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  for (const [label, size] of [
    ['5 KiB', 5 * 1024],
    ['10 MiB', 10 * 1024 * 1024],
  ] as const) {
    const msg = message({ body: line.repeat(Math.ceil(size / line.length)) });
    let longestGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const t = performance.now();
      longestGap = Math.max(longestGap, t - last);
      last = t;
    }, 1);
    const t0 = performance.now();
    const headers = await signer.sign(msg);
    const ms = performance.now() - t0;
    clearInterval(timer);
    longestGap = Math.max(longestGap, performance.now() - last);
    // A log line, not a timed assertion: the machine is shared.
    console.log(
      `dkim sign ${label} (${msg.length} bytes, 2 keys): ${ms.toFixed(1)} ms, longest event-loop gap ${longestGap.toFixed(1)} ms`,
    );
    const results = await verify(Buffer.concat([Buffer.from(headers), msg]));
    assert.deepEqual(
      results.map((r) => r.result),
      ['pass', 'pass'],
    );
  }
});
