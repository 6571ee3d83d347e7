// The precedence of transportPolicy() on given lookups (the lookups themselves run over real
// sockets in dane.test.ts, mta-sts.test.ts and test/integration/outbound-tls-policy.test.ts):
// DANE states, MTA-STS modes, REQUIRETLS, and what each decides on a session's TLS facts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DaneLookup } from './dane.js';
import type { MtaStsLookup } from './mta-sts.js';
import { parseStsPolicy } from './mta-sts-policy.js';
import { SmtpClientError, type SmtpClientTlsInfo } from './smtp-client.js';
import { transportPolicy, type PolicyCheck, type TransportPolicyDeps } from './transport-policy.js';

const NO_TLS: SmtpClientTlsInfo = {
  active: false,
  version: null,
  cipher: null,
  verified: false,
  verifyError: null,
  peerCertificate: null,
  peerChain: [],
};
const VERIFIED: SmtpClientTlsInfo = { ...NO_TLS, active: true, version: 'TLSv1.3', verified: true };
const SELF_SIGNED: SmtpClientTlsInfo = {
  ...NO_TLS,
  active: true,
  verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT',
};
const EXPIRED: SmtpClientTlsInfo = { ...NO_TLS, active: true, verifyError: 'CERT_HAS_EXPIRED' };

function sts(mode: 'enforce' | 'testing' | 'none'): MtaStsLookup {
  const p = parseStsPolicy(`version: STSv1\nmode: ${mode}\nmx: mx.example.com\nmax_age: 86400\n`, 'id1');
  assert.ok(!('error' in p));
  return { policy: p, failure: null };
}

function deps(dane: DaneLookup, mta: MtaStsLookup = { policy: null, failure: null }): TransportPolicyDeps {
  return { dane: async () => dane, mtaSts: { lookup: async () => mta } };
}

const input = { domain: 'example.com', mxHost: 'mx.example.com', port: 25, requireTls: false };
const resultType = (c: PolicyCheck): string => (c.ok ? 'ok' : c.resultType);

void test('no policy: opportunistic, anything goes, reported as no-policy-found', async () => {
  const p = await transportPolicy(input, deps({ state: 'none' }));
  assert.equal(p.source, 'opportunistic');
  assert.equal(p.tls, 'opportunistic');
  assert.equal(p.refuse, null);
  for (const info of [NO_TLS, SELF_SIGNED, VERIFIED]) assert.equal(p.check(info).ok, true);
  assert.equal(p.report.policyType, 'no-policy-found');
  assert.equal(p.tlsOptions().requireTls, false);
  // mode none asks nothing either
  assert.equal((await transportPolicy(input, deps({ state: 'none' }, sts('none')))).tls, 'opportunistic');
});

void test('MTA-STS enforce: TLS required, WebPKI and the MX name; results typed for TLS-RPT', async () => {
  const p = await transportPolicy(input, deps({ state: 'none' }, sts('enforce')));
  assert.equal(p.source, 'mta-sts');
  assert.equal(p.tls, 'required');
  assert.equal(p.tlsOptions().requireTls, true);
  assert.equal(resultType(p.check(VERIFIED)), 'ok');
  assert.equal(resultType(p.check(SELF_SIGNED)), 'certificate-not-trusted');
  assert.equal(resultType(p.check(EXPIRED)), 'certificate-expired');
  assert.equal(resultType(p.check(NO_TLS)), 'starttls-not-supported');
  assert.equal(p.report.policyType, 'sts');
  const refusedMx = await transportPolicy(
    { ...input, mxHost: 'mx.other.com' },
    deps({ state: 'none' }, sts('enforce')),
  );
  assert.equal(refusedMx.refuse !== null && resultType(refusedMx.refuse), 'validation-failure');
  const starttls = p.classifyOpenError(new SmtpClientError('starttls', 'no STARTTLS', { temporary: true }));
  assert.equal(starttls !== null && resultType(starttls), 'starttls-not-supported');
  assert.equal(p.classifyOpenError(new Error('other')), null);
  assert.equal(p.classifyOpenError(new SmtpClientError('greeting', '554', { temporary: false })), null);
});

void test('MTA-STS testing: delivery as opportunistic, the report says what enforce would refuse', async () => {
  const p = await transportPolicy(
    { ...input, mxHost: 'mx.other.com' },
    deps({ state: 'none' }, sts('testing')),
  );
  assert.equal(p.tls, 'opportunistic');
  assert.equal(p.refuse, null);
  assert.equal(p.check(SELF_SIGNED).ok, true);
  assert.equal(resultType(p.reportCheck(VERIFIED)), 'validation-failure');
});

void test('a policy that could not be fetched: delivered as opportunistic, reported as a fetch error', async () => {
  const p = await transportPolicy(
    input,
    deps(
      { state: 'none' },
      { policy: null, failure: { resultType: 'sts-policy-fetch-error', detail: 'HTTP 500' } },
    ),
  );
  assert.equal(p.tls, 'opportunistic');
  assert.equal(p.check(NO_TLS).ok, true);
  assert.equal(p.report.policyType, 'sts');
  assert.equal(resultType(p.reportCheck(VERIFIED)), 'sts-policy-fetch-error');
});

void test('REQUIRETLS: TLS required and verified, even without any published policy', async () => {
  const p = await transportPolicy({ ...input, requireTls: true }, deps({ state: 'none' }));
  assert.equal(p.source, 'requiretls');
  assert.equal(p.tls, 'required');
  assert.equal(resultType(p.check(NO_TLS)), 'starttls-not-supported');
  assert.equal(resultType(p.check(SELF_SIGNED)), 'certificate-not-trusted');
  assert.equal(p.check(VERIFIED).ok, true);
});

void test('DANE: usable wins over MTA-STS and REQUIRETLS; unusable is encryption only; failed defers', async () => {
  const usable = await transportPolicy(
    { ...input, requireTls: true },
    deps(
      { state: 'usable', records: [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32) }] },
      sts('enforce'),
    ),
  );
  assert.equal(usable.source, 'dane');
  assert.equal(usable.tls, 'required');
  assert.equal(usable.verify, 'opportunistic', 'WebPKI does not matter under DANE');
  assert.equal(
    resultType(usable.check(VERIFIED)),
    'tlsa-invalid',
    'a WebPKI-valid chain that matches no record',
  );
  assert.deepEqual(usable.report.policyStrings, [`3 1 1 ${'00'.repeat(32)}`]);

  const unusable = await transportPolicy(
    input,
    deps({
      state: 'unusable',
      records: [{ usage: 1, selector: 1, matchingType: 1, data: Buffer.alloc(32) }],
    }),
  );
  assert.equal(unusable.tls, 'required');
  assert.equal(unusable.check(SELF_SIGNED).ok, true, 'unauthenticated TLS is enough');
  assert.equal(resultType(unusable.check(NO_TLS)), 'starttls-not-supported');

  const insecureMx = await transportPolicy(
    { ...input, mxSecure: false },
    deps({ state: 'usable', records: [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32) }] }),
  );
  assert.equal(insecureMx.source, 'opportunistic', 'no DANE for an MX found by an insecure lookup');

  const failed = await transportPolicy(input, deps({ state: 'failed', error: 'SERVFAIL' }));
  assert.ok(failed.refuse !== null && !failed.refuse.ok);
  assert.equal(failed.refuse.resultType, 'dnssec-invalid');
  assert.equal(failed.refuse.code, 451);
});
