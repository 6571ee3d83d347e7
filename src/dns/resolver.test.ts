import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import { startDnsServer, type DnsTestServer } from '../../test/helpers/dns-server.js';
import { DnsError, DnsResolver, dnsFailureKind, normalizeName, reverseName } from './resolver.js';

let dns: DnsTestServer;
const longTxt = `v=DKIM1; k=rsa; p=${'A'.repeat(600)}`;
const hugeTxt = 'x'.repeat(3000);

before(async () => {
  dns = await startDnsServer({
    'example.test': {
      A: ['192.0.2.1', '192.0.2.2'],
      AAAA: ['2001:db8::1'],
      MX: [
        { exchange: 'mx1.example.test', priority: 10 },
        { exchange: 'mx2.example.test', priority: 20 },
      ],
      TXT: ['v=spf1 ip4:192.0.2.0/24 -all', ['part one ', 'part two']],
      ttl: 2,
    },
    'long.example.test': { TXT: [longTxt] },
    'huge.example.test': { TXT: [hugeTxt] },
    'alias.example.test': { CNAME: 'example.test' },
    '1.2.0.192.in-addr.arpa': { PTR: ['mail.example.test'] },
    'mail.example.test': { A: ['192.0.2.1'] },
    '2.2.0.192.in-addr.arpa': { PTR: ['liar.example.test'] },
    'liar.example.test': { A: ['198.51.100.7'] },
    'fail.example.test': { fail: 'servfail' },
    'slow.example.test': { fail: 'drop' },
  });
});
after(async () => {
  await dns.close();
});

function resolver(opts: { cacheSeconds?: number; maxEntries?: number } = {}): DnsResolver {
  return new DnsResolver({
    servers: [dns.address],
    cacheSeconds: opts.cacheSeconds ?? 300,
    maxEntries: opts.maxEntries,
    timeoutMs: 200,
    tries: 1,
  });
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DnsError, `expected a DnsError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected the lookup to fail');
}

void test('A, AAAA, MX, TXT (split and long), PTR, CNAME answers from the loopback server', async () => {
  const r = resolver();
  assert.deepEqual((await r.resolve('example.test', 'A')).sort(), ['192.0.2.1', '192.0.2.2']);
  assert.deepEqual(await r.resolve('Example.Test.', 'AAAA'), ['2001:db8::1']);
  const mx = await r.resolve('example.test', 'MX');
  assert.deepEqual(
    mx.sort((a, b) => a.priority - b.priority),
    [
      { exchange: 'mx1.example.test', priority: 10 },
      { exchange: 'mx2.example.test', priority: 20 },
    ],
  );
  const txt = await r.resolve('example.test', 'TXT');
  assert.deepEqual(txt.map((t) => t.join('')).sort(), ['part one part two', 'v=spf1 ip4:192.0.2.0/24 -all']);
  const long = await r.resolve('long.example.test', 'TXT');
  assert.equal(long.length, 1);
  assert.ok(long[0]!.length >= 3, 'split in 255-byte character-strings');
  assert.ok(long[0]!.every((s) => Buffer.byteLength(s) <= 255));
  assert.equal(long[0]!.join(''), longTxt);
  assert.deepEqual(await r.resolve('1.2.0.192.in-addr.arpa', 'PTR'), ['mail.example.test']);
  assert.deepEqual(await r.reverse('192.0.2.1'), ['mail.example.test']);
  assert.deepEqual(await r.resolve('alias.example.test', 'CNAME'), ['example.test']);
  assert.deepEqual((await r.resolve('alias.example.test', 'A')).sort(), ['192.0.2.1', '192.0.2.2']);
});

void test('an answer too large for UDP is truncated and fetched again over TCP', async () => {
  const r = resolver();
  const txt = await r.resolve('huge.example.test', 'TXT');
  assert.equal(txt[0]!.join(''), hugeTxt);
});

void test('NXDOMAIN is ENOTFOUND, NODATA is ENODATA, SERVFAIL is ESERVFAIL, silence is ETIMEOUT', async () => {
  const r = resolver();
  assert.equal(await code(r.resolve('nowhere.example.test', 'A')), 'ENOTFOUND');
  assert.equal(await code(r.resolve('long.example.test', 'MX')), 'ENODATA');
  assert.equal(await code(r.resolve('fail.example.test', 'TXT')), 'ESERVFAIL');
  const started = Date.now();
  assert.equal(await code(r.resolve('slow.example.test', 'A')), 'ETIMEOUT');
  assert.ok(Date.now() - started < 3000);
  assert.equal(await code(r.resolve('a..b', 'A')), 'EBADNAME');
  assert.equal(await code(r.resolve('x'.repeat(64) + '.test', 'A')), 'EBADNAME');
});

void test('dnsFailureKind: NXDOMAIN and bad names, NODATA, and everything else temporary', async () => {
  const r = resolver();
  const kind = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
      return 'answered';
    } catch (err) {
      return dnsFailureKind(err);
    }
  };
  assert.equal(await kind(r.resolve('nowhere.example.test', 'MX')), 'nxdomain');
  assert.equal(await kind(r.resolve('a..b', 'MX')), 'nxdomain');
  assert.equal(await kind(r.resolve('long.example.test', 'MX')), 'nodata');
  assert.equal(await kind(r.resolve('fail.example.test', 'MX')), 'temporary');
  assert.equal(await kind(r.resolve('slow.example.test', 'MX')), 'temporary');
  assert.equal(dnsFailureKind(new Error('no code')), 'temporary');
});

void test('answers are cached within the TTL, negative answers too, temporary failures are not', async () => {
  const r = resolver();
  const before = dns.log.length;
  await r.resolve('mail.example.test', 'A');
  await r.resolve('MAIL.example.test', 'A');
  assert.equal(dns.log.length - before, 1, 'second lookup served from the cache');
  assert.equal(r.queries, 1);

  await code(r.resolve('missing.example.test', 'TXT'));
  await code(r.resolve('missing.example.test', 'TXT'));
  assert.equal(r.queries, 2, 'NXDOMAIN cached');

  await code(r.resolve('fail.example.test', 'A'));
  await code(r.resolve('fail.example.test', 'A'));
  assert.equal(r.queries, 4, 'SERVFAIL not cached');

  // example.test has TTL 2: the A answer expires before cacheSeconds.
  await r.resolve('example.test', 'A');
  const q = r.queries;
  await r.resolve('example.test', 'A');
  assert.equal(r.queries, q);
  dns.set('example.test', { A: ['192.0.2.99'], ttl: 2 });
  await new Promise((resolve) => setTimeout(resolve, 2100));
  assert.deepEqual(await r.resolve('example.test', 'A'), ['192.0.2.99']);
  assert.equal(r.queries, q + 1);
  dns.set('example.test', {
    A: ['192.0.2.1', '192.0.2.2'],
    AAAA: ['2001:db8::1'],
    MX: [
      { exchange: 'mx1.example.test', priority: 10 },
      { exchange: 'mx2.example.test', priority: 20 },
    ],
    TXT: ['v=spf1 ip4:192.0.2.0/24 -all', ['part one ', 'part two']],
    ttl: 2,
  });
});

void test('cacheSeconds 0 disables the cache; the cache is bounded in entries', async () => {
  const off = resolver({ cacheSeconds: 0 });
  await off.resolve('mail.example.test', 'A');
  await off.resolve('mail.example.test', 'A');
  assert.equal(off.queries, 2);

  const small = resolver({ maxEntries: 2 });
  await small.resolve('mail.example.test', 'A');
  await small.resolve('liar.example.test', 'A');
  await small.resolve('example.test', 'MX');
  assert.equal(small.queries, 3);
  await small.resolve('example.test', 'MX'); // still cached
  assert.equal(small.queries, 3);
  await small.resolve('mail.example.test', 'A'); // evicted: asked again
  assert.equal(small.queries, 4);
});

void test('concurrent identical queries share one request; callers get their own copies', async () => {
  const r = resolver();
  const results = await Promise.all(Array.from({ length: 20 }, () => r.resolve('example.test', 'MX')));
  assert.equal(r.queries, 1);
  results[0]!.push({ exchange: 'mutated', priority: 0 });
  assert.equal(results[1]!.length, 2);
  assert.equal((await r.resolve('example.test', 'MX')).length, 2);
});

void test('verifiedReverse confirms the PTR name forward, or gives null', async () => {
  const r = resolver();
  assert.equal(await r.verifiedReverse('192.0.2.1'), 'mail.example.test');
  assert.equal(await r.verifiedReverse('192.0.2.2'), null, 'PTR name does not resolve back');
  assert.equal(await r.verifiedReverse('192.0.2.3'), null, 'no PTR');
});

void test('mailauthResolver behaves like dns.promises.resolve', async () => {
  const resolve = resolver().mailauthResolver();
  assert.deepEqual(await resolve('mail.example.test', 'A'), ['192.0.2.1']);
  assert.deepEqual(await resolve('mail.example.test', 'a'), ['192.0.2.1']);
  await assert.rejects(resolve('missing.example.test', 'TXT'), { code: 'ENOTFOUND' });
  await assert.rejects(resolve('mail.example.test', 'TXT'), { code: 'ENODATA' });
  await assert.rejects(resolve('mail.example.test', 'SRV'), { code: 'ENOTIMP' });
  await assert.rejects(resolve('bad selector._domainkey.example.test', 'TXT'), { code: 'ENOTFOUND' });
});

void test('a server that sends nothing back gives ETIMEOUT within the bound', async () => {
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  try {
    const r = new DnsResolver({
      servers: [`127.0.0.1:${silent.address().port}`],
      cacheSeconds: 300,
      timeoutMs: 100,
      tries: 2,
    });
    const started = Date.now();
    assert.equal(await code(r.resolve('example.test', 'A')), 'ETIMEOUT');
    assert.ok(Date.now() - started < 2000);
  } finally {
    silent.close();
  }
});

void test('names: normalised, refused when they cannot be DNS names; reverse names', () => {
  assert.equal(normalizeName('Foo.EXAMPLE.'), 'foo.example');
  assert.equal(normalizeName('_dmarc.example.test'), '_dmarc.example.test');
  assert.equal(normalizeName(''), null);
  assert.equal(normalizeName('.'), null);
  assert.equal(normalizeName('a b.test'), null);
  assert.equal(normalizeName(`${'a'.repeat(63)}.test`), `${'a'.repeat(63)}.test`);
  assert.equal(normalizeName('a.'.repeat(127) + 'ab'), null);
  assert.equal(reverseName('192.0.2.1'), '1.2.0.192.in-addr.arpa');
  assert.equal(
    reverseName('2001:db8::1'),
    '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
  );
  assert.equal(reverseName('::ffff:192.0.2.1')?.startsWith('1.0.2.0.0.0.0.c.f.f.f.f.'), true);
  assert.equal(reverseName('mail.example.test'), null);
});
