// TLSA lookups over the wire against the loopback DNS server: the AD bit as the resolver
// reports it, NXDOMAIN and NODATA, SERVFAIL, a truncated UDP answer retried over TCP, a server
// that never answers, and malformed responses.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDnsServer, type DnsTestServer } from '../../test/helpers/dns-server.js';
import { encodeQuery, lookupTlsa, parseResponse, querySecure, QTYPE_TLSA, SecureDnsError } from './tlsa.js';

let dns: DnsTestServer;
const HASH = 'ab'.repeat(32);

before(async () => {
  dns = await startDnsServer({
    '_25._tcp.mx.signed.test': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: HASH }], ad: true },
    '_25._tcp.mx.unsigned.test': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: HASH }] },
    '_25._tcp.mx.empty.test': { A: ['192.0.2.1'], ad: true },
    '_25._tcp.mx.bogus.test': { fail: 'servfail' },
    '_25._tcp.mx.silent.test': { fail: 'drop' },
    '_25._tcp.mx.many.test': {
      TLSA: Array.from({ length: 12 }, (_, i) => ({
        usage: 2,
        selector: 0,
        matchingType: 2,
        data: i.toString(16).padStart(2, '0').repeat(64),
      })),
      ad: true,
    },
    '_25._tcp.mx.alias.test': { CNAME: '_25._tcp.mx.signed.test', ad: true },
  });
});
after(async () => {
  await dns.close();
});

const opts = (): { servers: string[]; timeoutMs: number; tries: number } => ({
  servers: [dns.address],
  timeoutMs: 300,
  tries: 1,
});

void test('validated TLSA records come with the AD bit; unsigned ones without', async () => {
  const signed = await lookupTlsa('mx.signed.test', 25, opts());
  assert.equal(signed.rcode, 'noerror');
  assert.equal(signed.authenticated, true);
  assert.deepEqual(
    signed.records.map((r) => [r.usage, r.selector, r.matchingType, r.data.toString('hex')]),
    [[3, 1, 1, HASH]],
  );
  const unsigned = await lookupTlsa('MX.Unsigned.test.', 25, opts());
  assert.equal(unsigned.authenticated, false);
  assert.equal(unsigned.records.length, 1);
  assert.ok(dns.log.includes('TLSA _25._tcp.mx.unsigned.test'));
});

void test('NXDOMAIN, NODATA, SERVFAIL and silence', async () => {
  const none = await lookupTlsa('mx.nowhere.test', 25, opts());
  assert.equal(none.rcode, 'nxdomain');
  assert.equal(none.records.length, 0);
  const empty = await lookupTlsa('mx.empty.test', 25, opts());
  assert.equal(empty.rcode, 'noerror');
  assert.equal(empty.records.length, 0);
  assert.equal((await lookupTlsa('mx.bogus.test', 25, opts())).rcode, 'servfail');
  await assert.rejects(
    lookupTlsa('mx.silent.test', 25, opts()),
    (e: unknown) => e instanceof SecureDnsError && e.code === 'ETIMEOUT',
  );
});

void test('a truncated UDP answer is asked again over TCP; CNAMEs are followed', async () => {
  const many = await lookupTlsa('mx.many.test', 25, opts());
  assert.equal(many.records.length, 12);
  assert.equal(many.authenticated, true);
  const alias = await lookupTlsa('mx.alias.test', 25, opts());
  assert.equal(alias.records.length, 1);
});

void test('responses that do not answer our question are refused', () => {
  const q = encodeQuery(0x1234, 'a.test', QTYPE_TLSA);
  const resp = Buffer.from(q);
  resp.writeUInt16BE(0x8180, 2);
  assert.throws(() => parseResponse(resp, 0x4321, 'a.test', QTYPE_TLSA), /id mismatch/);
  assert.throws(() => parseResponse(resp, 0x1234, 'b.test', QTYPE_TLSA), /another question/);
  assert.throws(() => parseResponse(q, 0x1234, 'a.test', QTYPE_TLSA), /not a response/);
  assert.throws(() => parseResponse(resp.subarray(0, 14), 0x1234, 'a.test', QTYPE_TLSA), SecureDnsError);
  // An answer count that runs past the message.
  const lying = Buffer.from(resp);
  lying.writeUInt16BE(3, 6);
  assert.throws(() => parseResponse(lying, 0x1234, 'a.test', QTYPE_TLSA), SecureDnsError);
});

void test('a name that cannot be a DNS name is refused before any query', async () => {
  await assert.rejects(querySecure('a..b', QTYPE_TLSA, opts()), SecureDnsError);
});
