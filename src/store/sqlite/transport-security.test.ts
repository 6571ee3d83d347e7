// The TransportSecurity role on a real SQLite file: MTA-STS policies replaced per domain and
// seen by another connection (another process), TLS results counted per day and outcome,
// filters and deletion, and bad input refused.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { isStoreError } from '../../core/errors.js';
import type { TlsSessionResult } from '../tls-types.js';
import { openFixture, type StoreFixture } from './store-fixture.js';

let fx: StoreFixture;
beforeEach(async () => {
  fx = await openFixture();
});
afterEach(async () => {
  await fx.cleanup();
});

void test('MTA-STS policies: stored, replaced, read by another process, case-folded', async () => {
  assert.equal(await fx.store.getStsPolicy('example.com'), null);
  const fetchedAt = new Date('2026-01-01T00:00:00Z');
  await fx.store.putStsPolicy({
    domain: 'Example.COM',
    id: 'a1',
    text: 'version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 60\n',
    fetchedAt,
    expiresAt: new Date(fetchedAt.getTime() + 60_000),
  });
  await fx.store.putStsPolicy({
    domain: 'example.com',
    id: 'b2',
    text: 'version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 60\n',
    fetchedAt,
    expiresAt: new Date(fetchedAt.getTime() + 60_000),
  });
  const other = await fx.openAnother();
  const p = await other.getStsPolicy('EXAMPLE.com');
  assert.equal(p?.id, 'b2');
  assert.match(p?.text ?? '', /enforce/);
  assert.equal(p?.fetchedAt.getTime(), fetchedAt.getTime());
  await assert.rejects(
    fx.store.putStsPolicy({ domain: 'x.test', id: 'bad-id', text: '', fetchedAt, expiresAt: fetchedAt }),
    (e: unknown) => isStoreError(e) && e.code === 'INVALID_ARGUMENT',
  );
});

void test('TLS results are counted per day, policy and outcome; listed, filtered and deleted', async () => {
  const base: TlsSessionResult = {
    at: new Date('2026-03-01T10:00:00Z'),
    policyDomain: 'Example.com',
    policyType: 'sts',
    policyStrings: ['version: STSv1', 'mode: enforce'],
    mxHost: 'MX.example.com',
    result: 'success',
    sendingIp: '192.0.2.1',
    receivingIp: '198.51.100.1',
  };
  await fx.store.recordTlsResult(base);
  await fx.store.recordTlsResult({ ...base, at: new Date('2026-03-01T23:59:59Z') });
  await fx.store.recordTlsResult({ ...base, result: 'certificate-host-mismatch', reason: 'bad\r\nname' });
  await fx.store.recordTlsResult({ ...base, at: new Date('2026-03-02T00:00:00Z') });
  await fx.store.recordTlsResult({
    ...base,
    policyDomain: 'other.test',
    policyType: 'no-policy-found',
    policyStrings: [],
  });
  const day1 = await fx.store.listTlsResults({ day: '2026-03-01', policyDomain: 'example.com' });
  assert.deepEqual(
    day1.map((r) => [r.result, r.count, r.mxHost, r.reason]),
    [
      ['success', 2, 'mx.example.com', ''],
      ['certificate-host-mismatch', 1, 'mx.example.com', 'bad  name'],
    ],
  );
  assert.deepEqual(day1[0]?.policyStrings, ['version: STSv1', 'mode: enforce']);
  assert.equal((await fx.store.listTlsResults()).length, 4);
  assert.equal((await fx.store.listTlsResults({ before: '2026-03-02' })).length, 3);
  assert.equal(await fx.store.deleteTlsResults({ day: '2026-03-01', policyDomain: 'example.com' }), 2);
  assert.equal((await fx.store.listTlsResults()).length, 2);
  assert.equal(await fx.store.deleteTlsResults({ before: '2026-03-03' }), 2);
  await assert.rejects(fx.store.listTlsResults({ day: 'March 1' }), (e: unknown) => isStoreError(e));
});
