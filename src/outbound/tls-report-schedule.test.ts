// The daily TLS-RPT run shared by several processes: two schedulers, each on its own handle of
// one SQLite store (as two serving processes are), with the loopback DNS server publishing the
// policy domains' TLSRPT records. Shown: both try the day at once and exactly one report per
// policy domain is queued; later tries find the day done; before tls_report_time nothing runs.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { openStore } from '../app/open-store.js';
import { createLogger } from '../core/log.js';
import { DnsResolver } from '../dns/resolver.js';
import { startDnsServer } from '../../test/helpers/dns-server.js';
import { tempDir, testConfig } from '../../test/integration/server-fixture.js';
import { queueTlsReport, TlsReportScheduler } from './tls-report-schedule.js';

void test('two processes on one store: one TLS-RPT report per policy domain and day; the day is then done', async () => {
  const dns = await startDnsServer({
    '_smtp._tls.one.test': { TXT: ['v=TLSRPTv1; rua=mailto:tlsrpt@reports.test'] },
    '_smtp._tls.two.test': { TXT: ['v=TLSRPTv1; rua=mailto:tls@two-reports.test'] },
  });
  const dir = await tempDir('tls-report-schedule');
  const config = testConfig(dir, {});
  const a = await openStore(config);
  const b = await openStore(config);
  try {
    const yesterday = new Date(Date.now() - 86400_000);
    for (const policyDomain of ['one.test', 'two.test']) {
      for (const result of ['success', 'success', 'certificate-expired'] as const) {
        await a.store.recordTlsResult({
          at: yesterday,
          policyDomain,
          policyType: 'sts',
          policyStrings: ['version: STSv1', 'mode: enforce'],
          mxHost: `mx.${policyDomain}`,
          result,
        });
      }
    }
    const log = createLogger(config.log);
    const resolver = new DnsResolver({ servers: [dns.address], cacheSeconds: 0 });
    const scheduler = (h: typeof a, owner: string, timeOfDay = 0) =>
      new TlsReportScheduler({
        store: h.store,
        resolver,
        hostname: 'mail.example.test',
        owner,
        timeOfDay,
        deliver: queueTlsReport({ store: h.store, blobs: h.blobs, limits: config.limits }),
        log,
      });
    const [x, y] = await Promise.all([scheduler(a, 'p1').runOnce(), scheduler(b, 'p2').runOnce()]);
    const kinds = [x.kind, y.kind].sort();
    assert.equal(kinds.filter((k) => k === 'ran').length, 1, JSON.stringify([x, y]));
    assert.ok(kinds.includes('busy') || kinds.includes('done'), JSON.stringify(kinds));
    const ran = x.kind === 'ran' ? x : y.kind === 'ran' ? y : null;
    assert.deepEqual(ran!.result.sent.map((s) => s.policyDomain).sort(), ['one.test', 'two.test']);

    const queued = await a.store.listOutbound();
    assert.equal(queued.length, 2, 'one report per policy domain');
    assert.deepEqual(queued.map((m) => m.recipients[0]!.address).sort(), [
      'tls@two-reports.test',
      'tlsrpt@reports.test',
    ]);
    for (const m of queued) assert.equal(m.mailFrom, '', 'sent with the null reverse-path');
    const body = (await a.blobs.readAll(queued[0]!.blobId)).toString('latin1');
    assert.match(body, /^Content-Type: multipart\/report;[^\r]*report-type="?tlsrpt/im);
    assert.match(body, /^TLS-Report-Domain: (one|two)\.test/im);

    // Later the same day: done for everyone, nothing more queued.
    assert.equal((await scheduler(b, 'p3').runOnce()).kind, 'done');
    assert.equal((await a.store.listOutbound()).length, 2);
    // Before tls_report_time nothing is claimed.
    const early = new TlsReportScheduler({
      store: a.store,
      resolver,
      hostname: 'mail.example.test',
      owner: 'p4',
      timeOfDay: 86399,
      deliver: () => Promise.reject(new Error('must not run')),
      log,
      now: () => new Date(Date.parse('2026-12-08T10:00:00Z')),
    });
    assert.equal((await early.runOnce()).kind, 'early');
  } finally {
    await a.store.close();
    await b.store.close();
    await dns.close();
    await rm(dir, { recursive: true, force: true });
  }
});
