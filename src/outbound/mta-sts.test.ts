// MTA-STS policies end to end over real sockets: the loopback DNS server publishes the
// `_mta-sts` TXT records and points mta-sts.DOMAIN at 127.0.0.1, where an HTTPS server with a
// certificate of a test CA serves the policies; the cache is a real SQLite store. Covers the
// fetch rules (no redirects, text/plain only, 64 KiB, the certificate verified, a timeout),
// the cache (memory, the store after a restart, refresh on a new id or after max_age, a failed
// refresh keeping the policy) and the failure reasons TLS-RPT reports.

import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { startDnsServer, type DnsTestServer } from '../../test/helpers/dns-server.js';
import { createTestCa } from '../../test/helpers/test-ca.js';
import { DnsResolver } from '../dns/resolver.js';
import { openFixture, type StoreFixture } from '../store/sqlite/store-fixture.js';
import { MtaStsPolicies } from './mta-sts.js';

const POLICY =
  'version: STSv1\r\nmode: enforce\r\nmx: mx.good.test\r\nmx: *.pool.good.test\r\nmax_age: 86400\r\n';

let dns: DnsTestServer;
let server: https.Server;
let port: number;
let ca: string;
let fx: StoreFixture;
const bodies = new Map<
  string,
  { status?: number; type?: string; body: string | Buffer; headers?: Record<string, string>; hang?: boolean }
>();
const hits: string[] = [];

const DOMAINS = ['good', 'redirect', 'html', 'huge', 'invalid', 'flaky', 'slow', 'none', 'wrongcert'];

before(async () => {
  const root = await createTestCa('MTA-STS Test Root');
  ca = root.cert;
  // The certificate names every policy host but mta-sts.wrongcert.test.
  const leaf = await root.issue(DOMAINS.filter((d) => d !== 'wrongcert').map((d) => `mta-sts.${d}.test`));
  server = https.createServer({ cert: leaf.chain, key: leaf.key }, (req, res) => {
    const host = (req.headers.host ?? '').split(':')[0] ?? '';
    hits.push(`${host} ${req.url ?? ''}`);
    const b = bodies.get(host);
    if (b === undefined || req.url !== '/.well-known/mta-sts.txt') {
      res.writeHead(404).end();
      return;
    }
    if (b.hang === true) return;
    res.writeHead(b.status ?? 200, { 'content-type': b.type ?? 'text/plain; charset=utf-8', ...b.headers });
    res.end(b.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  const records: Parameters<typeof startDnsServer>[0] = {};
  for (const d of DOMAINS) {
    records[`_mta-sts.${d}.test`] = { TXT: [`v=STSv1; id=${d}1;`] };
    records[`mta-sts.${d}.test`] = { A: ['127.0.0.1'] };
  }
  records['_mta-sts.nopolicy.test'] = { TXT: ['v=spf1 -all'] };
  dns = await startDnsServer(records);
  bodies.set('mta-sts.good.test', { body: POLICY });
  bodies.set('mta-sts.redirect.test', {
    status: 301,
    body: '',
    headers: { location: 'https://mta-sts.good.test/.well-known/mta-sts.txt' },
  });
  bodies.set('mta-sts.html.test', { type: 'text/html', body: POLICY });
  bodies.set('mta-sts.huge.test', { body: POLICY + `x: ${'y'.repeat(70 * 1024)}\n` });
  bodies.set('mta-sts.invalid.test', { body: 'version: STSv1\nmode: enforce\n' });
  bodies.set('mta-sts.flaky.test', { body: POLICY.replace('good', 'flaky') });
  bodies.set('mta-sts.slow.test', { body: '', hang: true });
  bodies.set('mta-sts.none.test', { body: 'version: STSv1\nmode: none\nmax_age: 86400\n' });
  bodies.set('mta-sts.wrongcert.test', { body: POLICY });
  fx = await openFixture();
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await dns.close();
  await fx.cleanup();
});

function policies(over: Partial<ConstructorParameters<typeof MtaStsPolicies>[0]> = {}): MtaStsPolicies {
  return new MtaStsPolicies({
    resolver: new DnsResolver({ servers: [dns.address], cacheSeconds: 0, timeoutMs: 500, tries: 1 }),
    store: fx.store,
    ca: [ca],
    httpsPort: port,
    fetchTimeoutMs: 1000,
    ...over,
  });
}

void test('a policy is fetched over HTTPS through our resolver, cached, and kept in the store', async () => {
  const p = policies();
  const [a, b] = await Promise.all([p.lookup('good.test'), p.lookup('GOOD.test.')]);
  assert.equal(p.fetches, 1, 'concurrent lookups share one fetch');
  assert.equal(a.failure, null);
  assert.equal(a.policy?.mode, 'enforce');
  assert.deepEqual(a.policy?.mx, ['mx.good.test', '*.pool.good.test']);
  assert.equal(a.policy?.id, 'good1');
  assert.deepEqual(b, a);
  assert.equal((await p.get('good.test'))?.mode, 'enforce');
  assert.equal(p.fetches, 1, 'the same id: no new fetch');
  const stored = await fx.store.getStsPolicy('good.test');
  assert.equal(stored?.id, 'good1');
  assert.equal(stored?.text, POLICY);
  assert.ok(stored !== null && stored.expiresAt.getTime() - stored.fetchedAt.getTime() === 86400_000);
  // A restart (a new instance, another process) reads the store, not the network.
  const again = policies();
  assert.equal((await again.get('good.test'))?.mode, 'enforce');
  assert.equal(again.fetches, 0);
});

void test('a new TXT id fetches again; a failed refresh keeps the cached policy (RFC 8461 §5.1)', async () => {
  const p = policies();
  assert.equal((await p.get('flaky.test'))?.mx[0], 'mx.flaky.test');
  dns.set('_mta-sts.flaky.test', { TXT: ['v=STSv1; id=flaky2;'] });
  bodies.set('mta-sts.flaky.test', { status: 500, body: 'down' });
  const failed = await p.lookup('flaky.test');
  assert.equal(failed.policy?.id, 'flaky1', 'the old policy stays in force');
  assert.equal(failed.failure?.resultType, 'sts-policy-fetch-error');
  // The TXT record disappears: the cached policy still holds until it expires.
  dns.set('_mta-sts.flaky.test', undefined);
  assert.equal((await p.lookup('flaky.test')).policy?.id, 'flaky1');
  // The record comes back with a new id and the server works again.
  dns.set('_mta-sts.flaky.test', { TXT: ['v=STSv1; id=flaky3;'] });
  bodies.set('mta-sts.flaky.test', { body: POLICY.replace('mode: enforce', 'mode: testing') });
  const fresh = await p.lookup('flaky.test');
  assert.equal(fresh.policy?.id, 'flaky3');
  assert.equal(fresh.policy?.mode, 'testing');
  assert.equal((await fx.store.getStsPolicy('flaky.test'))?.id, 'flaky3');
});

void test('an expired policy is fetched again (max_age)', async () => {
  let now = Date.now();
  const p = policies({ now: () => now });
  await p.get('good.test');
  const before = p.fetches;
  now += 86400_000 + 1000;
  assert.equal((await p.get('good.test'))?.mode, 'enforce');
  assert.equal(p.fetches, before + 1);
});

void test('fetch rules: no redirect, text/plain only, 64 KiB, valid policy, verified certificate, timeout', async () => {
  const p = policies();
  const goodHits = hits.filter((h) => h.startsWith('mta-sts.good.test')).length;
  const cases: [string, string][] = [
    ['redirect.test', 'sts-policy-fetch-error'],
    ['html.test', 'sts-policy-fetch-error'],
    ['huge.test', 'sts-policy-fetch-error'],
    ['invalid.test', 'sts-policy-invalid'],
    ['wrongcert.test', 'sts-webpki-invalid'],
    ['slow.test', 'sts-policy-fetch-error'],
  ];
  for (const [domain, type] of cases) {
    const r = await p.lookup(domain);
    assert.equal(r.policy, null, domain);
    assert.equal(r.failure?.resultType, type, `${domain}: ${r.failure?.detail}`);
  }
  assert.equal(
    hits.filter((h) => h.startsWith('mta-sts.good.test')).length,
    goodHits,
    'the redirect was not followed',
  );
  // Without the test CA the good host's certificate does not verify.
  const untrusting = policies({ ca: [], store: null });
  assert.equal((await untrusting.lookup('good.test')).failure?.resultType, 'sts-webpki-invalid');
});

void test('no TXT record, or no STS record: no policy, no fetch; mode none is a policy that asks nothing', async () => {
  const p = policies({ store: null });
  assert.deepEqual(await p.lookup('absent.test'), { policy: null, failure: null });
  assert.deepEqual(await p.lookup('nopolicy.test'), { policy: null, failure: null });
  assert.deepEqual(await p.lookup('[192.0.2.1]'), { policy: null, failure: null }, 'an address literal');
  assert.equal(p.fetches, 0);
  assert.equal((await p.get('none.test'))?.mode, 'none');
});
