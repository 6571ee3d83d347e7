// DANE (RFC 7672): which TLSA records are usable, and the chain checks against real certificates
// made by a test CA: DANE-EE by certificate and by key with each matching type (no name or date
// check), DANE-TA through an intermediate (signatures, dates, the MX name), and the lookup
// states from the loopback DNS server's AD flag.

import assert from 'node:assert/strict';
import { createHash, type X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startDnsServer, type DnsTestServer } from '../../test/helpers/dns-server.js';
import { createSelfSignedCert, createTestCa, type TestCa } from '../../test/helpers/test-ca.js';
import type { TlsaRecord } from '../dns/tlsa.js';
import { daneFor, daneVerify, mxLookupSecure, tlsaMatches, tlsaUsable } from './dane.js';

function spki(c: X509Certificate): Buffer {
  return c.publicKey.export({ type: 'spki', format: 'der' });
}
function rec(usage: number, selector: number, matchingType: number, data: Buffer): TlsaRecord {
  return { usage, selector, matchingType, data };
}
const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();
const sha512 = (b: Buffer): Buffer => createHash('sha512').update(b).digest();

let root: TestCa;
let inter: TestCa;
let dns: DnsTestServer;

before(async () => {
  root = await createTestCa('DANE Root');
  inter = await root.intermediate('DANE Intermediate');
  dns = await startDnsServer({
    '_25._tcp.mx.usable.test': {
      TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: '11'.repeat(32) }],
      ad: true,
    },
    '_25._tcp.mx.pkix.test': {
      TLSA: [
        { usage: 1, selector: 1, matchingType: 1, data: '11'.repeat(32) },
        { usage: 3, selector: 1, matchingType: 1, data: '11'.repeat(8) },
      ],
      ad: true,
    },
    '_25._tcp.mx.insecure.test': {
      TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: '11'.repeat(32) }],
    },
    '_25._tcp.mx.bogus.test': { fail: 'servfail' },
    'signed.test': { MX: [{ exchange: 'mx.usable.test', priority: 10 }], ad: true },
    'unsigned.test': { MX: [{ exchange: 'mx.usable.test', priority: 10 }] },
    'broken.test': { fail: 'servfail' },
  });
});
after(async () => {
  await dns.close();
});

void test('usable records: DANE-TA/EE, selectors 0/1, matching types with their lengths', () => {
  assert.equal(tlsaUsable(rec(3, 1, 1, Buffer.alloc(32))), true);
  assert.equal(tlsaUsable(rec(2, 0, 2, Buffer.alloc(64))), true);
  assert.equal(tlsaUsable(rec(3, 0, 0, Buffer.alloc(100))), true);
  assert.equal(tlsaUsable(rec(0, 1, 1, Buffer.alloc(32))), false, 'PKIX-TA is not for SMTP');
  assert.equal(tlsaUsable(rec(1, 1, 1, Buffer.alloc(32))), false, 'PKIX-EE is not for SMTP');
  assert.equal(tlsaUsable(rec(3, 2, 1, Buffer.alloc(32))), false);
  assert.equal(tlsaUsable(rec(3, 1, 3, Buffer.alloc(32))), false);
  assert.equal(tlsaUsable(rec(3, 1, 1, Buffer.alloc(31))), false, 'a SHA-256 digest is 32 bytes');
  assert.equal(tlsaUsable(rec(3, 0, 0, Buffer.alloc(0))), false);
});

void test('DANE-EE matches the leaf by certificate or key, whatever its name, issuer or dates', async () => {
  const self = await createSelfSignedCert(['unrelated.example']);
  const leaf = self.x509;
  for (const r of [
    rec(3, 0, 0, leaf.raw),
    rec(3, 0, 1, sha256(leaf.raw)),
    rec(3, 0, 2, sha512(leaf.raw)),
    rec(3, 1, 0, spki(leaf)),
    rec(3, 1, 1, sha256(spki(leaf))),
    rec(3, 1, 2, sha512(spki(leaf))),
  ]) {
    assert.equal(tlsaMatches(r, leaf), true);
    const v = daneVerify([r], [leaf], { names: ['mx.example.test'] });
    assert.deepEqual(v, { ok: true, usage: 3, depth: 0 });
  }
  const expired = await root.issue(['mx.example.test'], {
    notBefore: new Date(Date.now() - 10 * 86400_000),
    notAfter: new Date(Date.now() - 86400_000),
  });
  assert.equal(
    daneVerify([rec(3, 1, 1, sha256(spki(expired.x509)))], [expired.x509], { names: ['x'] }).ok,
    true,
  );
  const other = await createSelfSignedCert(['mx.example.test']);
  const miss = daneVerify([rec(3, 1, 1, sha256(spki(other.x509)))], [leaf], { names: ['mx.example.test'] });
  assert.equal(miss.ok, false);
  assert.equal(daneVerify([rec(3, 1, 1, sha256(spki(leaf)))], [], { names: ['x'] }).ok, false);
  // PKIX-EE with the right digest is still not used.
  assert.equal(daneVerify([rec(1, 1, 1, sha256(spki(leaf)))], [leaf], { names: ['x'] }).ok, false);
});

void test('DANE-TA: a signed chain up to the matching anchor that names the MX host', async () => {
  const leaf = await inter.issue(['mx.example.test', '*.pool.example.test']);
  const chain = [leaf.x509, inter.x509, root.x509];
  const byRoot = rec(2, 1, 1, sha256(spki(root.x509)));
  const byInter = rec(2, 0, 1, sha256(inter.x509.raw));
  assert.deepEqual(daneVerify([byRoot], chain, { names: ['mx.example.test'] }), {
    ok: true,
    usage: 2,
    depth: 2,
  });
  assert.deepEqual(daneVerify([byInter], chain, { names: ['mx.example.test'] }), {
    ok: true,
    usage: 2,
    depth: 1,
  });
  assert.equal(daneVerify([byRoot], chain, { names: ['a.pool.example.test'] }).ok, true, 'wildcard label');
  assert.equal(daneVerify([byRoot], chain, { names: ['a.b.pool.example.test'] }).ok, false);
  const wrongName = daneVerify([byRoot], chain, { names: ['mx.other.test'] });
  assert.ok(!wrongName.ok && wrongName.nameMismatch);
  // The anchor must be one the server sent, above the leaf.
  assert.equal(daneVerify([byRoot], [leaf.x509, inter.x509], { names: ['mx.example.test'] }).ok, false);
  assert.equal(
    daneVerify([rec(2, 1, 1, sha256(spki(leaf.x509)))], chain, { names: ['mx.example.test'] }).ok,
    false,
  );
  // A chain that is not signed link by link: a leaf of another CA presented under this anchor.
  const stranger = await (await createTestCa('Other')).issue(['mx.example.test']);
  const forged = daneVerify([byRoot], [stranger.x509, inter.x509, root.x509], { names: ['mx.example.test'] });
  assert.ok(!forged.ok && /not signed/.test(forged.reason));
  // Dates count for DANE-TA.
  const old = await inter.issue(['mx.example.test'], {
    notBefore: new Date(Date.now() - 10 * 86400_000),
    notAfter: new Date(Date.now() - 86400_000),
  });
  const stale = daneVerify([byRoot], [old.x509, inter.x509, root.x509], { names: ['mx.example.test'] });
  assert.ok(!stale.ok && /validity/.test(stale.reason));
});

void test('daneFor: usable, unusable, insecure (ignored), absent, failed', async () => {
  const o = { servers: [dns.address], timeoutMs: 300, tries: 1 };
  const usable = await daneFor('mx.usable.test', 25, o);
  assert.equal(usable.state, 'usable');
  assert.equal(usable.state === 'usable' ? usable.records.length : 0, 1);
  assert.equal((await daneFor('mx.pkix.test', 25, o)).state, 'unusable');
  assert.equal((await daneFor('mx.insecure.test', 25, o)).state, 'none');
  assert.equal((await daneFor('mx.absent.test', 25, o)).state, 'none');
  assert.equal((await daneFor('mx.bogus.test', 25, o)).state, 'failed');
});

void test('mxLookupSecure: the AD bit of the MX answer', async () => {
  const o = { servers: [dns.address], timeoutMs: 300, tries: 1 };
  assert.equal(await mxLookupSecure('signed.test', o), true);
  assert.equal(await mxLookupSecure('unsigned.test', o), false);
  assert.equal(await mxLookupSecure('broken.test', o), false);
});
