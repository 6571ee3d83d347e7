// TLS-RPT texts without the network: the `_smtp._tls` record's rua, the JSON report's fields
// (RFC 8460 §4.4) from counted results, and the report message (§5.3) with its gzip
// attachment, parsed back by Python's `email` package as a mail client would.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { TlsResultCount } from '../store/tls-types.js';
import { buildTlsReport, buildTlsReportMessage, parseTlsRptTxt } from './tls-rpt.js';

void test('the rua of a v=TLSRPTv1 record: mailto only, percent-decoded, one record', () => {
  assert.deepEqual(parseTlsRptTxt(['v=TLSRPTv1; rua=mailto:a@example.com,mailto:b%2Bx@example.com']), [
    'a@example.com',
    'b+x@example.com',
  ]);
  assert.deepEqual(parseTlsRptTxt(['v=TLSRPTv1;rua=https://reports.example.com/v1']), []);
  assert.equal(parseTlsRptTxt(['v=spf1 -all']), null);
  assert.equal(parseTlsRptTxt(['v=TLSRPTv1; rua=mailto:a@x.test', 'v=TLSRPTv1; rua=mailto:b@x.test']), null);
  assert.deepEqual(parseTlsRptTxt(['v=TLSRPTv1; rua=mailto:<evil>@x.test']), []);
});

const row = (over: Partial<TlsResultCount>): TlsResultCount => ({
  day: '2026-03-01',
  policyDomain: 'example.com',
  policyType: 'sts',
  policyStrings: [
    'version: STSv1',
    'mode: enforce',
    'mx: mx1.example.com',
    'mx: *.example.net',
    'max_age: 86400',
  ],
  mxHost: 'mx1.example.com',
  result: 'success',
  sendingIp: '192.0.2.1',
  receivingIp: '198.51.100.7',
  reason: '',
  count: 1,
  ...over,
});

void test('the JSON report: one policy per policy, summaries and grouped failure details', () => {
  const report = buildTlsReport({
    organizationName: 'Example Sender',
    contactInfo: 'tls@sender.example',
    reportId: 'r1@sender.example',
    day: '2026-03-01',
    results: [
      row({ count: 5 }),
      row({ result: 'certificate-expired', count: 2, reason: 'expired' }),
      row({ result: 'certificate-expired', count: 1, reason: 'expired' }),
      row({ policyType: 'tlsa', policyStrings: ['3 1 1 ab'], mxHost: 'mx2.example.com', count: 4 }),
    ],
  });
  assert.equal(report['organization-name'], 'Example Sender');
  assert.deepEqual(report['date-range'], {
    'start-datetime': '2026-03-01T00:00:00Z',
    'end-datetime': '2026-03-01T23:59:59Z',
  });
  const policies = report.policies as Record<string, Record<string, unknown>>[];
  assert.equal(policies.length, 2);
  assert.deepEqual(policies[0]?.policy, {
    'policy-type': 'sts',
    'policy-string': row({}).policyStrings,
    'policy-domain': 'example.com',
    'mx-host': ['mx1.example.com', '*.example.net'],
  });
  assert.deepEqual(policies[0]?.summary, {
    'total-successful-session-count': 5,
    'total-failure-session-count': 3,
  });
  assert.deepEqual(policies[0]?.['failure-details'], [
    {
      'result-type': 'certificate-expired',
      'sending-mta-ip': '192.0.2.1',
      'receiving-mx-hostname': 'mx1.example.com',
      'receiving-ip': '198.51.100.7',
      'failed-session-count': 3,
      'failure-reason-code': 'expired',
    },
  ]);
  assert.deepEqual((policies[1]?.policy as Record<string, unknown>)['mx-host'], ['mx2.example.com']);
  assert.equal(policies[1]?.['failure-details'], undefined);
});

void test('the report message parses as multipart/report with an application/tlsrpt+gzip part', () => {
  const report = buildTlsReport({
    organizationName: 'O',
    contactInfo: 'c@o.test',
    reportId: 'id1@o.test',
    day: '2026-03-01',
    results: [row({})],
  });
  const bytes = buildTlsReportMessage({
    submitter: 'mail.o.test',
    policyDomain: 'example.com',
    from: 'tls@o.test',
    to: ['rua@example.com'],
    day: '2026-03-01',
    report,
    reportId: 'id1@o.test',
    date: new Date('2026-03-02T01:00:00Z'),
  });
  const py = `
import sys, email, gzip, json
m = email.message_from_bytes(sys.stdin.buffer.read())
assert m.get_content_type() == 'multipart/report', m.get_content_type()
assert m.get_param('report-type') == 'tlsrpt'
parts = m.get_payload()
gz = parts[1]
assert gz.get_content_type() == 'application/tlsrpt+gzip'
data = json.loads(gzip.decompress(gz.get_payload(decode=True)))
print(json.dumps({'to': m['To'], 'domain': m['TLS-Report-Domain'], 'submitter': m['TLS-Report-Submitter'],
  'subject': m['Subject'], 'filename': gz.get_filename(), 'id': data['report-id'], 'n': len(data['policies'])}))
`;
  const out = spawnSync('python3', ['-c', py], { input: bytes, encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const parsed = JSON.parse(out.stdout) as Record<string, unknown>;
  assert.deepEqual(parsed, {
    to: '<rua@example.com>',
    domain: 'example.com',
    submitter: 'mail.o.test',
    subject: 'Report Domain: example.com Submitter: mail.o.test Report-ID: <id1@o.test>',
    filename: `mail.o.test!example.com!${Date.parse('2026-03-01T00:00:00Z') / 1000}!${Date.parse('2026-03-01T00:00:00Z') / 1000 + 86399}.json.gz`,
    id: 'id1@o.test',
    n: 1,
  });
  assert.throws(() =>
    buildTlsReportMessage({
      submitter: 'a b',
      policyDomain: 'x',
      from: 'f@x',
      to: ['t@x'],
      day: '2026-03-01',
      report,
      reportId: 'i',
    }),
  );
});
