import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDnsServer, type DnsTestEntry, type DnsTestServer } from '../../test/helpers/dns-server.js';
import { DnsResolver } from '../dns/resolver.js';
import { resolveRoute, toAsciiDomain, type Route, type RouteHop, type RouteOptions } from './route.js';

let dns: DnsTestServer;

const manyMx: DnsTestEntry = {
  MX: Array.from({ length: 15 }, (_, i) => ({ exchange: `h${i}.many.test`, priority: i })),
};

before(async () => {
  const records: Record<string, DnsTestEntry> = {
    'pref.test': {
      MX: [
        { exchange: 'b.pref.test', priority: 10 },
        { exchange: 'late.pref.test', priority: 20 },
        { exchange: 'a.pref.test', priority: 10 },
        { exchange: 'first.pref.test', priority: 5 },
        { exchange: 'c.pref.test', priority: 10 },
      ],
    },
    'a.pref.test': { A: ['192.0.2.1'] },
    'b.pref.test': { A: ['192.0.2.2'] },
    'c.pref.test': { A: ['192.0.2.3'] },
    'first.pref.test': { A: ['192.0.2.4', '192.0.2.5'], AAAA: ['2001:db8::4'] },
    'late.pref.test': { A: ['192.0.2.6'] },
    'implicit.test': { A: ['192.0.2.10'], AAAA: ['2001:db8::10'], TXT: ['not mail'] },
    'noaddr.test': { TXT: ['nothing here'] },
    'nullmx.test': { MX: [{ exchange: '.', priority: 0 }], A: ['192.0.2.11'] },
    'nullmixed.test': {
      MX: [
        { exchange: '.', priority: 0 },
        { exchange: 'a.pref.test', priority: 10 },
      ],
    },
    'servfail.test': { fail: 'servfail' },
    'refused.test': { fail: 'refused' },
    'timeout.test': { fail: 'drop' },
    'halfbad.test': {
      MX: [
        { exchange: 'broken.halfbad.test', priority: 10 },
        { exchange: 'a.pref.test', priority: 20 },
      ],
    },
    'broken.halfbad.test': { fail: 'servfail' },
    'allbad.test': { MX: [{ exchange: 'broken.halfbad.test', priority: 10 }] },
    'gone.test': { MX: [{ exchange: 'nowhere.gone.test', priority: 10 }] },
    'literal.test': { MX: [{ exchange: '192.0.2.99', priority: 10 }] },
    'literalmixed.test': {
      MX: [
        { exchange: '192.0.2.99', priority: 5 },
        { exchange: 'b.pref.test', priority: 10 },
      ],
    },
    'cnamemx.test': { MX: [{ exchange: 'alias.cnamemx.test', priority: 10 }] },
    'alias.cnamemx.test': { CNAME: 'real.cnamemx.test' },
    'real.cnamemx.test': { A: ['192.0.2.20'] },
    'aliasdomain.test': { CNAME: 'pref.test' },
    'xn--bcher-kva.test': { MX: [{ exchange: 'mx.xn--bcher-kva.test', priority: 1 }] },
    'mx.xn--bcher-kva.test': { AAAA: ['2001:db8::30'] },
    'us.test': {
      MX: [
        { exchange: 'other.us.test', priority: 10 },
        { exchange: 'mail.ourselves.test', priority: 20 },
        { exchange: 'third.us.test', priority: 30 },
      ],
    },
    'loop.test': {
      MX: [
        { exchange: 'mail.ourselves.test', priority: 10 },
        { exchange: 'third.us.test', priority: 20 },
      ],
    },
    'other.us.test': { A: ['192.0.2.40'] },
    'third.us.test': { A: ['192.0.2.41'] },
    'many.test': manyMx,
    'wide.test': { MX: [{ exchange: 'wide.wide.test', priority: 0 }] },
    'wide.wide.test': {
      A: Array.from({ length: 10 }, (_, i) => `198.51.100.${i + 1}`),
      AAAA: Array.from({ length: 10 }, (_, i) => `2001:db8::${i + 1}`),
    },
    'dup.test': {
      MX: [
        { exchange: 'a.pref.test', priority: 10 },
        { exchange: 'A.pref.test', priority: 30 },
        { exchange: 'same.dup.test', priority: 20 },
      ],
    },
    'same.dup.test': { A: ['192.0.2.1', '192.0.2.50'] },
  };
  for (let i = 0; i < 15; i++) records[`h${i}.many.test`] = { A: [`203.0.113.${i + 1}`] };
  dns = await startDnsServer(records);
});
after(async () => {
  await dns.close();
});

function resolver(): DnsResolver {
  return new DnsResolver({ servers: [dns.address], cacheSeconds: 0, timeoutMs: 200, tries: 1 });
}

async function route(domain: string, opts: Partial<RouteOptions> = {}): Promise<Route> {
  return resolveRoute(domain, { resolver: resolver(), random: () => 0, ...opts });
}

function hops(r: Route): RouteHop[] {
  assert.equal(r.kind, 'hops', r.kind === 'failure' ? r.text : '');
  return r.kind === 'hops' ? r.hops : [];
}

function failed(r: Route, temporary: boolean, enhanced: string, text: RegExp): void {
  assert.equal(r.kind, 'failure', 'expected a failure');
  if (r.kind !== 'failure') return;
  assert.equal(r.temporary, temporary, r.text);
  assert.equal(r.enhanced, enhanced, r.text);
  assert.match(r.text, text);
  assert.match(r.text, /^[\x20-\x7e]+$/);
}

/** A seeded generator (LCG), so a run is reproducible. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

void test('MX records are used by preference, IPv6 before IPv4 per exchange, equal preferences shuffled', async () => {
  const r = await route('pref.test', { random: () => 0 });
  const list = hops(r);
  assert.deepEqual(list.slice(0, 3), [
    { host: 'first.pref.test', ip: '2001:db8::4', preference: 5 },
    { host: 'first.pref.test', ip: '192.0.2.4', preference: 5 },
    { host: 'first.pref.test', ip: '192.0.2.5', preference: 5 },
  ]);
  assert.deepEqual(
    list.slice(3, 6).map((h) => h.preference),
    [10, 10, 10],
  );
  assert.deepEqual(
    new Set(list.slice(3, 6).map((h) => h.host)),
    new Set(['a.pref.test', 'b.pref.test', 'c.pref.test']),
  );
  assert.deepEqual(list[6], { host: 'late.pref.test', ip: '192.0.2.6', preference: 20 });
  assert.equal(list.length, 7);
  assert.equal(r.kind === 'hops' && r.implicitMx, false);

  // The injected random source decides the order among equal preferences, and every order occurs.
  const orders = new Set<string>();
  const rand = seeded(12345);
  for (let i = 0; i < 60; i++) {
    const l = hops(await route('pref.test', { random: rand }));
    assert.equal(l[0]?.host, 'first.pref.test');
    assert.equal(l[6]?.host, 'late.pref.test');
    orders.add(
      l
        .slice(3, 6)
        .map((h) => h.host[0])
        .join(''),
    );
  }
  assert.deepEqual([...orders].sort(), ['abc', 'acb', 'bac', 'bca', 'cab', 'cba']);
  // Same random sequence, same order.
  const once = hops(await route('pref.test', { random: seeded(7) })).map((h) => h.host);
  const twice = hops(await route('pref.test', { random: seeded(7) })).map((h) => h.host);
  assert.deepEqual(once, twice);
});

void test('no MX: the implicit MX is the domain itself at preference 0 (RFC 5321 §5.1)', async () => {
  const r = await route('implicit.test');
  assert.deepEqual(hops(r), [
    { host: 'implicit.test', ip: '2001:db8::10', preference: 0 },
    { host: 'implicit.test', ip: '192.0.2.10', preference: 0 },
  ]);
  assert.equal(r.kind === 'hops' && r.implicitMx, true);
  failed(await route('noaddr.test'), false, '5.4.4', /noaddr\.test has no MX and no address/);
});

void test('a null MX is a permanent failure, 5.1.10, without looking up addresses (RFC 7505)', async () => {
  const before = dns.log.length;
  failed(await route('nullmx.test'), false, '5.1.10', /null MX/);
  assert.deepEqual(dns.log.slice(before), ['MX nullmx.test']);
  // Beside real exchanges the null target is ignored.
  assert.deepEqual(hops(await route('nullmixed.test')), [
    { host: 'a.pref.test', ip: '192.0.2.1', preference: 10 },
  ]);
});

void test('NXDOMAIN is permanent (5.1.2); SERVFAIL, REFUSED and timeouts are temporary (4.4.3)', async () => {
  failed(await route('nonexistent.test'), false, '5.1.2', /does not exist/);
  failed(await route('servfail.test'), true, '4.4.3', /ESERVFAIL/);
  failed(await route('refused.test'), true, '4.4.3', /MX of refused\.test/);
  const t0 = Date.now();
  failed(await route('timeout.test'), true, '4.4.3', /ETIMEOUT/);
  assert.ok(Date.now() - t0 < 5000, 'the timeout is bounded by the resolver');
});

void test('exchanges whose lookup fails are skipped; only failures of every one decide the outcome', async () => {
  const r = await route('halfbad.test');
  assert.deepEqual(hops(r), [{ host: 'a.pref.test', ip: '192.0.2.1', preference: 20 }]);
  assert.deepEqual(r.kind === 'hops' && r.temporaryFailures, ['broken.halfbad.test']);
  failed(await route('allbad.test'), true, '4.4.3', /broken\.halfbad\.test/);
  failed(await route('gone.test'), false, '5.4.4', /no address for the MX hosts of gone\.test/);
});

void test('an MX naming an address is not used; a CNAME at the MX or the domain is followed', async () => {
  failed(await route('literal.test'), false, '5.4.4', /is an address/);
  assert.deepEqual(hops(await route('literalmixed.test')), [
    { host: 'b.pref.test', ip: '192.0.2.2', preference: 10 },
  ]);
  // RFC 2181 §10.3 forbids it, but the alias is resolved; the hop keeps the MX name.
  assert.deepEqual(hops(await route('cnamemx.test')), [
    { host: 'alias.cnamemx.test', ip: '192.0.2.20', preference: 10 },
  ]);
  // RFC 5321 §5.1: a CNAME at the domain is processed as the target domain.
  assert.equal(hops(await route('aliasdomain.test'))[0]?.host, 'first.pref.test');
});

void test('a U-label domain is looked up in A-label form', async () => {
  const before = dns.log.length;
  assert.deepEqual(hops(await route('Bücher.test.')), [
    { host: 'mx.xn--bcher-kva.test', ip: '2001:db8::30', preference: 1 },
  ]);
  assert.ok(dns.log.slice(before).includes('MX xn--bcher-kva.test'));
  assert.equal(toAsciiDomain('bücher.TEST'), 'xn--bcher-kva.test');
});

void test('address literals go to the address; bad domains fail permanently without a query', async () => {
  assert.deepEqual(hops(await route('[127.0.0.1]')), [
    { host: '[127.0.0.1]', ip: '127.0.0.1', preference: 0 },
  ]);
  assert.deepEqual(hops(await route('[IPv6:2001:DB8::1]')), [
    { host: '[IPv6:2001:DB8::1]', ip: '2001:db8::1', preference: 0 },
  ]);
  const before = dns.log.length;
  for (const bad of [
    '[127.0.0.1',
    '[300.1.1.1]',
    '[2001:db8::1]',
    '',
    'a..b',
    '1.2.3.4',
    'exa mple.test',
    'x'.repeat(70) + '.test',
    'a\r\nb.test',
  ]) {
    failed(await route(bad), false, '5.1.2', /bad (destination domain|address literal)/);
  }
  assert.deepEqual(dns.log.slice(before), []);
  failed(await route('[IPv6:::1]', { families: 'ipv4' }), false, '5.4.4', /disabled address family/);
});

void test('our own name as an MX: only better exchanges are used, none is a loop (5.4.6)', async () => {
  const ours = { localHostnames: ['Mail.Ourselves.test.'] };
  assert.deepEqual(hops(await route('us.test', ours)), [
    { host: 'other.us.test', ip: '192.0.2.40', preference: 10 },
  ]);
  assert.equal(
    hops(await route('us.test')).length,
    2,
    'without local names every exchange is a hop (ours has no address)',
  );
  failed(await route('loop.test', ours), false, '5.4.6', /loops back/);
});

void test('bounds: at most maxHosts exchanges and maxAddresses hops; each exchange and address once', async () => {
  const before = dns.log.length;
  const list = hops(await route('many.test'));
  assert.equal(list.length, 10);
  assert.deepEqual(
    list.map((h) => h.host),
    Array.from({ length: 10 }, (_, i) => `h${i}.many.test`),
  );
  const asked = dns.log.slice(before).filter((q) => q.startsWith('A '));
  assert.equal(asked.length, 10, 'no lookups beyond the bound');
  assert.equal(hops(await route('many.test', { maxHosts: 3 })).length, 3);
  await assert.rejects(route('many.test', { maxHosts: 0 }), /maxHosts must be an integer/);
  await assert.rejects(route('many.test', { maxAddresses: 1.5 }), /maxAddresses must be an integer/);

  const wide = hops(await route('wide.test'));
  assert.equal(wide.length, 8, '4 addresses per family');
  assert.deepEqual(
    wide.map((h) => h.ip),
    [
      '2001:db8::1',
      '2001:db8::2',
      '2001:db8::3',
      '2001:db8::4',
      '198.51.100.1',
      '198.51.100.2',
      '198.51.100.3',
      '198.51.100.4',
    ],
  );
  assert.equal(hops(await route('wide.test', { maxAddresses: 5 })).length, 5);
  assert.deepEqual(
    hops(await route('wide.test', { families: 'ipv4', maxAddressesPerHost: 2 })).map((h) => h.ip),
    ['198.51.100.1', '198.51.100.2'],
  );
  assert.deepEqual(
    hops(await route('wide.test', { families: 'ipv6', maxAddressesPerHost: 1 })).map((h) => h.ip),
    ['2001:db8::1'],
  );
  // a.pref.test twice (another case), 192.0.2.1 under two names: each once, best first.
  assert.deepEqual(hops(await route('dup.test')), [
    { host: 'a.pref.test', ip: '192.0.2.1', preference: 10 },
    { host: 'same.dup.test', ip: '192.0.2.50', preference: 20 },
  ]);
});
