// SMTP TLS Reporting (RFC 8460): each outbound session's TLS result is counted in the store per
// UTC day, policy domain and outcome (recordTlsSession), and once a day the counts of each past
// day become one JSON report per policy domain that publishes a `_smtp._tls` TXT record with a
// mailto: rua (§3), sent as a multipart/report message with the gzipped JSON attached
// (application/tlsrpt+gzip, §5.3). Invariants:
// - a day's counts of a domain are deleted only once its report was handed to `deliver` (or
//   when the domain asks for no report by mail), so a failed run is retried by the next one;
// - counts older than `keepDays` are dropped whatever happens (a domain whose reports keep
//   failing does not grow the table for ever);
// - only mailto: URIs are used (https: report submission is not built).

import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { dnsFailureKind, type DnsResolver } from '../dns/resolver.js';
import type { TransportSecurity } from '../store/roles.js';
import type { TlsResultCount } from '../store/tls-types.js';
import type { PolicyCheck, PolicyReportKey } from './transport-policy.js';

/** Records one session's result under its policy (the worker calls this once per session). */
export async function recordTlsSession(
  store: Pick<TransportSecurity, 'recordTlsResult'>,
  report: PolicyReportKey,
  outcome: PolicyCheck,
  opts: { at?: Date; sendingIp?: string; receivingIp?: string } = {},
): Promise<void> {
  await store.recordTlsResult({
    at: opts.at ?? new Date(),
    policyDomain: report.policyDomain,
    policyType: report.policyType,
    policyStrings: report.policyStrings,
    mxHost: report.mxHost,
    result: outcome.ok ? 'success' : outcome.resultType,
    ...(opts.sendingIp !== undefined ? { sendingIp: opts.sendingIp } : {}),
    ...(opts.receivingIp !== undefined ? { receivingIp: opts.receivingIp } : {}),
    ...(outcome.ok ? {} : { reason: outcome.text }),
  });
}

/** RFC 8460 §3: the mailto: addresses of a `v=TLSRPTv1; rua=...` record; null when there is no valid record. */
export function parseTlsRptTxt(records: readonly string[]): string[] | null {
  const rpt = records.filter((r) => /^v=TLSRPTv1\s*(;|$)/.test(r));
  if (rpt.length !== 1) return null;
  let rua: string | null = null;
  for (const part of (rpt[0] as string).split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === 'rua') rua ??= part.slice(eq + 1).trim();
  }
  if (rua === null) return null;
  const out: string[] = [];
  for (const uri of rua.split(',')) {
    const u = uri.trim();
    if (!/^mailto:/i.test(u)) continue;
    let addr: string;
    try {
      addr = decodeURIComponent(u.slice(7).split('?')[0] ?? '');
    } catch {
      continue;
    }
    // A plain address only: no spaces, controls, angle brackets or commas in a header we write.
    if (/^[^\s<>,;"\x00-\x1f\x7f@]+@[A-Za-z0-9.-]+$/.test(addr) && out.length < 10) out.push(addr);
  }
  return out;
}

/** The RFC 8460 §4.4 report of one policy domain's counts (of one day). */
export interface TlsReportInput {
  organizationName: string;
  contactInfo: string;
  reportId: string;
  /** UTC day, YYYY-MM-DD. */
  day: string;
  results: readonly TlsResultCount[];
}

export function buildTlsReport(input: TlsReportInput): Record<string, unknown> {
  const groups = new Map<string, TlsResultCount[]>();
  for (const r of input.results) {
    const key = JSON.stringify([r.policyDomain, r.policyType, r.policyStrings]);
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  const policies = [...groups.values()].map((rows) => {
    const first = rows[0] as TlsResultCount;
    let ok = 0;
    let failed = 0;
    const details = new Map<string, Record<string, unknown>>();
    for (const r of rows) {
      if (r.result === 'success') {
        ok += r.count;
        continue;
      }
      failed += r.count;
      const key = JSON.stringify([r.result, r.sendingIp, r.receivingIp, r.mxHost, r.reason]);
      const d = details.get(key);
      if (d !== undefined) {
        d['failed-session-count'] = (d['failed-session-count'] as number) + r.count;
        continue;
      }
      details.set(key, {
        'result-type': r.result,
        ...(r.sendingIp !== '' ? { 'sending-mta-ip': r.sendingIp } : {}),
        'receiving-mx-hostname': r.mxHost,
        ...(r.receivingIp !== '' ? { 'receiving-ip': r.receivingIp } : {}),
        'failed-session-count': r.count,
        ...(r.reason !== '' ? { 'failure-reason-code': r.reason } : {}),
      });
    }
    const mxHosts =
      first.policyType === 'sts'
        ? first.policyStrings.filter((l) => /^mx\s*:/.test(l)).map((l) => l.slice(l.indexOf(':') + 1).trim())
        : [...new Set(rows.map((r) => r.mxHost))];
    return {
      policy: {
        'policy-type': first.policyType,
        ...(first.policyStrings.length > 0 ? { 'policy-string': first.policyStrings } : {}),
        'policy-domain': first.policyDomain,
        ...(first.policyType !== 'no-policy-found' ? { 'mx-host': mxHosts } : {}),
      },
      summary: { 'total-successful-session-count': ok, 'total-failure-session-count': failed },
      ...(details.size > 0 ? { 'failure-details': [...details.values()] } : {}),
    };
  });
  return {
    'organization-name': input.organizationName,
    'date-range': {
      'start-datetime': `${input.day}T00:00:00Z`,
      'end-datetime': `${input.day}T23:59:59Z`,
    },
    'contact-info': input.contactInfo,
    'report-id': input.reportId,
    policies,
  };
}

export interface TlsReportMessageInput {
  /** The reporting MTA's host name (the submitter, RFC 8460 §5.3). */
  submitter: string;
  policyDomain: string;
  from: string;
  to: readonly string[];
  day: string;
  report: Record<string, unknown>;
  reportId: string;
  date?: Date;
}

/** The report as the bytes of a message (RFC 8460 §5.3), ready to queue. */
export function buildTlsReportMessage(input: TlsReportMessageInput): Buffer {
  for (const v of [input.submitter, input.policyDomain, input.from, ...input.to, input.reportId]) {
    if (/[\x00-\x20\x7f<>,;"]/.test(v))
      throw new TypeError(`unsafe value in a report header: ${JSON.stringify(v)}`);
  }
  const begin = Date.parse(`${input.day}T00:00:00Z`) / 1000;
  const end = begin + 86400 - 1;
  const filename = `${input.submitter}!${input.policyDomain}!${begin}!${end}.json.gz`;
  const gz = gzipSync(Buffer.from(JSON.stringify(input.report), 'utf8'));
  const boundary = `tlsrpt-${randomBytes(12).toString('hex')}`;
  const date = input.date ?? new Date();
  const lines = [
    `From: <${input.from}>`,
    `To: ${input.to.map((a) => `<${a}>`).join(', ')}`,
    `Subject: Report Domain: ${input.policyDomain} Submitter: ${input.submitter} Report-ID: <${input.reportId}>`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${input.reportId}>`,
    `TLS-Report-Domain: ${input.policyDomain}`,
    `TLS-Report-Submitter: ${input.submitter}`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
    '',
    `This is an aggregate TLS report (RFC 8460) from ${input.submitter} for ${input.policyDomain},`,
    `covering ${input.day} (UTC).`,
    '',
    `--${boundary}`,
    'Content-Type: application/tlsrpt+gzip',
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${filename}"`,
    '',
    ...(gz.toString('base64').match(/.{1,76}/g) ?? []),
    '',
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

export interface DailyTlsReportOptions {
  store: Pick<TransportSecurity, 'listTlsResults' | 'deleteTlsResults'>;
  resolver: Pick<DnsResolver, 'resolve'>;
  /** Our host name: the submitter, and the domain of report ids. */
  submitter: string;
  organizationName: string;
  /** The From address of reports (and contact-info). */
  from: string;
  /** Queues one report message; a rejection keeps that day's counts for the next run. */
  deliver(msg: {
    from: string;
    to: string[];
    bytes: Buffer;
    policyDomain: string;
    day: string;
  }): Promise<void>;
  /** Reports cover the days before this one (default: today, UTC). */
  today?: string;
  /** Counts older than this many days are dropped unreported (default 7). */
  keepDays?: number;
}

export interface DailyTlsReportResult {
  sent: { policyDomain: string; day: string; to: string[] }[];
  /** Domains without a usable TLSRPT record: their counts were dropped. */
  noRecord: string[];
  /** Reports whose lookup or delivery failed (kept for the next run). */
  failed: { policyDomain: string; day: string; error: string }[];
}

/** Builds and hands over every due report: call it once a day (and after a restart). */
export async function runDailyTlsReports(opts: DailyTlsReportOptions): Promise<DailyTlsReportResult> {
  const today = opts.today ?? new Date().toISOString().slice(0, 10);
  const keepDays = opts.keepDays ?? 7;
  const oldest = new Date(Date.parse(`${today}T00:00:00Z`) - keepDays * 86400_000).toISOString().slice(0, 10);
  await opts.store.deleteTlsResults({ before: oldest });
  const rows = await opts.store.listTlsResults({ before: today });
  const byDayDomain = new Map<string, TlsResultCount[]>();
  for (const r of rows) {
    const key = `${r.day} ${r.policyDomain}`;
    const list = byDayDomain.get(key) ?? [];
    list.push(r);
    byDayDomain.set(key, list);
  }
  const result: DailyTlsReportResult = { sent: [], noRecord: [], failed: [] };
  const ruaCache = new Map<string, string[] | null>();
  for (const [key, results] of byDayDomain) {
    const [day = '', policyDomain = ''] = key.split(' ');
    try {
      let rua = ruaCache.get(policyDomain);
      if (rua === undefined) {
        rua = await lookupRua(opts.resolver, policyDomain);
        ruaCache.set(policyDomain, rua);
      }
      if (rua === null || rua.length === 0) {
        if (!result.noRecord.includes(policyDomain)) result.noRecord.push(policyDomain);
        await opts.store.deleteTlsResults({ day, policyDomain });
        continue;
      }
      const reportId = `${day.replaceAll('-', '')}.${randomBytes(8).toString('hex')}@${opts.submitter}`;
      const report = buildTlsReport({
        organizationName: opts.organizationName,
        contactInfo: opts.from,
        reportId,
        day,
        results,
      });
      const bytes = buildTlsReportMessage({
        submitter: opts.submitter,
        policyDomain,
        from: opts.from,
        to: rua,
        day,
        report,
        reportId,
      });
      await opts.deliver({ from: opts.from, to: rua, bytes, policyDomain, day });
      await opts.store.deleteTlsResults({ day, policyDomain });
      result.sent.push({ policyDomain, day, to: rua });
    } catch (err) {
      result.failed.push({ policyDomain, day, error: (err as Error).message });
    }
  }
  return result;
}

/** The rua mailto: addresses of `_smtp._tls.DOMAIN`; null when there is none. Temporary DNS failures throw. */
async function lookupRua(resolver: Pick<DnsResolver, 'resolve'>, domain: string): Promise<string[] | null> {
  try {
    const txt = await resolver.resolve(`_smtp._tls.${domain}`, 'TXT');
    return parseTlsRptTxt(txt.map((chunks) => chunks.join('')));
  } catch (err) {
    if (dnsFailureKind(err) === 'temporary') throw err;
    return null;
  }
}
