// The TransportSecurity role on SQLite (migration 10): mta_sts_policies, one row per policy
// domain, and tls_results, session results counted per UTC day and outcome (an upsert adds one
// to the count). Writes commit without waiting for the WAL fsync: a cached policy or a count
// lost in a crash is harmless (the policy is fetched again, a report misses one session).

import type { TransportSecurity } from '../roles.js';
import { checkLease } from '../rules/lease.js';
import { checkDay, checkPolicyDomain, checkStsPolicy, tlsResultKey } from '../rules/tls-results.js';
import type { StoredStsPolicy, TlsPolicyType, TlsResultCount, TlsSessionResult } from '../tls-types.js';
import type { SqliteCore } from './core.js';
import type { WriteTx } from './write-tx.js';

interface PolicyRow {
  domain: string;
  policy_id: string;
  policy: string;
  fetched_at: number;
  expires_at: number;
}

interface ResultRow {
  day: string;
  policy_domain: string;
  policy_type: TlsPolicyType;
  policy_strings: string;
  mx_host: string;
  result: TlsResultCount['result'];
  sending_ip: string;
  receiving_ip: string;
  reason: string;
  count: number;
}

interface ResultFilter {
  day: string | null;
  before: string | null;
  policyDomain: string | null;
}

const WHERE = `(@day IS NULL OR day = @day) AND (@before IS NULL OR day < @before)
  AND (@policyDomain IS NULL OR policy_domain = @policyDomain)`;

/** The transactional bodies of the role's writes (arguments already checked). */
export const transportSecurityWrites = {
  claimReportRun(
    tx: WriteTx,
    day: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): 'claimed' | 'done' | 'busy' {
    const { sql } = tx;
    const row = sql
      .stmt<{ owner: string; lease_expires_at: number; finished_at: number | null }>(
        'SELECT owner, lease_expires_at, finished_at FROM tls_report_runs WHERE day = ?',
      )
      .get(day);
    if (row !== undefined && row.finished_at !== null) return 'done';
    if (row !== undefined && row.owner !== owner && row.lease_expires_at > now) return 'busy';
    sql
      .stmt(
        `INSERT INTO tls_report_runs (day, owner, lease_expires_at) VALUES (?, ?, ?)
         ON CONFLICT (day) DO UPDATE SET owner = excluded.owner, lease_expires_at = excluded.lease_expires_at`,
      )
      .run(day, owner, now + leaseMs);
    return 'claimed';
  },

  finishReportRun(tx: WriteTx, day: string, owner: string, now: number): void {
    tx.sql
      .stmt('UPDATE tls_report_runs SET finished_at = ? WHERE day = ? AND owner = ?')
      .run(now, day, owner);
  },

  putPolicy(tx: WriteTx, p: StoredStsPolicy): void {
    tx.sql
      .stmt(
        `INSERT INTO mta_sts_policies (domain, policy_id, policy, fetched_at, expires_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id, policy = excluded.policy,
           fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
      )
      .run(p.domain, p.id, p.text, p.fetchedAt.getTime(), p.expiresAt.getTime());
  },

  recordResult(tx: WriteTx, k: ReturnType<typeof tlsResultKey>): void {
    tx.sql
      .stmt(
        `INSERT INTO tls_results (day, policy_domain, policy_type, policy_strings, mx_host, result,
           sending_ip, receiving_ip, reason, count)
         VALUES (@day, @policyDomain, @policyType, @policyStrings, @mxHost, @result, @sendingIp,
           @receivingIp, @reason, 1)
         ON CONFLICT (day, policy_domain, policy_type, policy_strings, mx_host, result, sending_ip,
           receiving_ip, reason) DO UPDATE SET count = count + 1`,
      )
      .run(k);
  },

  deleteResults(tx: WriteTx, f: ResultFilter): number {
    return tx.sql.stmt(`DELETE FROM tls_results WHERE ${WHERE}`).run(f).changes;
  },
};

function checkFilter(f: { day?: string; before?: string; policyDomain?: string } | undefined): ResultFilter {
  return {
    day: f?.day === undefined ? null : checkDay(f.day, 'day'),
    before: f?.before === undefined ? null : checkDay(f.before, 'before'),
    policyDomain: f?.policyDomain === undefined ? null : checkPolicyDomain(f.policyDomain),
  };
}

export class SqliteTransportSecurity implements TransportSecurity {
  constructor(private readonly core: SqliteCore) {}

  async claimTlsReportRun(day: string, owner: string, leaseMs: number): Promise<'claimed' | 'done' | 'busy'> {
    checkDay(day, 'day');
    checkLease(owner, leaseMs);
    // Durable: a claim lost in a crash could let a second process send the same reports.
    return this.core.write('transportSecurity', 'claimReportRun', day, owner, leaseMs, Date.now());
  }

  async finishTlsReportRun(day: string, owner: string): Promise<void> {
    checkDay(day, 'day');
    checkLease(owner, 1);
    await this.core.write('transportSecurity', 'finishReportRun', day, owner, Date.now());
  }

  async getStsPolicy(domain: string): Promise<StoredStsPolicy | null> {
    const d = checkPolicyDomain(domain);
    this.core.assertOpen();
    const row = this.core.sql.stmt<PolicyRow>('SELECT * FROM mta_sts_policies WHERE domain = ?').get(d);
    if (row === undefined) return null;
    return {
      domain: row.domain,
      id: row.policy_id,
      text: row.policy,
      fetchedAt: new Date(row.fetched_at),
      expiresAt: new Date(row.expires_at),
    };
  }

  async putStsPolicy(policy: StoredStsPolicy): Promise<void> {
    await this.core.writeWithoutSync('transportSecurity', 'putPolicy', checkStsPolicy(policy));
  }

  async recordTlsResult(result: TlsSessionResult): Promise<void> {
    await this.core.writeWithoutSync('transportSecurity', 'recordResult', tlsResultKey(result));
  }

  async listTlsResults(filter?: {
    day?: string;
    before?: string;
    policyDomain?: string;
  }): Promise<TlsResultCount[]> {
    const f = checkFilter(filter);
    this.core.assertOpen();
    return this.core.sql
      .stmt<ResultRow>(`SELECT * FROM tls_results WHERE ${WHERE} ORDER BY day, policy_domain, id`)
      .all(f)
      .map((r) => ({
        day: r.day,
        policyDomain: r.policy_domain,
        policyType: r.policy_type,
        policyStrings: JSON.parse(r.policy_strings) as string[],
        mxHost: r.mx_host,
        result: r.result,
        sendingIp: r.sending_ip,
        receivingIp: r.receiving_ip,
        reason: r.reason,
        count: r.count,
      }));
  }

  async deleteTlsResults(filter: { day?: string; before?: string; policyDomain?: string }): Promise<number> {
    return this.core.writeWithoutSync('transportSecurity', 'deleteResults', checkFilter(filter));
  }
}
