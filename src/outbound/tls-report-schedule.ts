// The daily TLS-RPT run (RFC 8460 §4: one report per policy domain and UTC day) as a serving
// process schedules it. Every process sharing the store runs a scheduler; at
// `[outbound] tls_report_time` after midnight UTC each tries to claim the day in the store
// (tls_report_runs, one row per day): one gets it and runs runDailyTlsReports (tls-rpt.ts),
// the others see 'busy' or 'done'. Invariants:
// - a day's run is claimed before anything is read, and marked finished after it, so two
//   processes never report the same counts; a claimer that dies leaves a claim that lapses
//   after `leaseMs`, and a process still waiting then runs the day instead;
// - the run queues each report as a message from us (null reverse-path, as DSNs: a report
//   that cannot be delivered must not bounce back into another report);
// - the timer is unref'd and at most an hour long (a clock change is caught within the hour).

import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/log.js';
import { Delivery } from '../delivery/delivery.js';
import type { DnsResolver } from '../dns/resolver.js';
import type { BlobStore } from '../store/blob/types.js';
import type { TransportSecurity } from '../store/roles.js';
import type { MailStore } from '../store/types.js';
import { runDailyTlsReports, type DailyTlsReportOptions, type DailyTlsReportResult } from './tls-rpt.js';

export interface TlsReportSchedulerOptions {
  store: TransportSecurity;
  resolver: Pick<DnsResolver, 'resolve'>;
  /** Our host name: the report submitter and organisation, and the domain of the From address. */
  hostname: string;
  /** The claimer's name: unique per process and node. */
  owner: string;
  /** Seconds after midnight UTC at which the day's run is due. */
  timeOfDay: number;
  deliver: DailyTlsReportOptions['deliver'];
  log: Logger;
  /** How long a claim lasts before another process may run the day (default 30 minutes). */
  leaseMs?: number;
  now?: () => Date;
}

export type TlsReportRun =
  { kind: 'early' } | { kind: 'busy' } | { kind: 'done' } | { kind: 'ran'; result: DailyTlsReportResult };

const DAY_MS = 86400_000;
const MAX_SLEEP_MS = 3600_000;
const DEFAULT_LEASE_MS = 30 * 60_000;

export class TlsReportScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(private readonly opts: TlsReportSchedulerOptions) {}

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  /** When today's run is due (ms since the epoch). */
  private dueAt(now: Date): number {
    return Date.parse(`${now.toISOString().slice(0, 10)}T00:00:00Z`) + this.opts.timeOfDay * 1000;
  }

  /** Tries the run of today (UTC) once: claims it, runs it, marks it finished. */
  async runOnce(): Promise<TlsReportRun> {
    const now = this.now();
    if (now.getTime() < this.dueAt(now)) return { kind: 'early' };
    const day = now.toISOString().slice(0, 10);
    const { store, owner } = this.opts;
    const claim = await store.claimTlsReportRun(day, owner, this.opts.leaseMs ?? DEFAULT_LEASE_MS);
    if (claim !== 'claimed') return { kind: claim };
    const result = await runDailyTlsReports({
      store,
      resolver: this.opts.resolver,
      submitter: this.opts.hostname,
      organizationName: this.opts.hostname,
      from: `tlsrpt-noreply@${this.opts.hostname}`,
      deliver: this.opts.deliver,
      today: day,
    });
    await store.finishTlsReportRun(day, owner);
    this.opts.log.info(
      { day, sent: result.sent.length, failed: result.failed.length, noRecord: result.noRecord.length },
      'TLS-RPT reports',
    );
    return { kind: 'ran', result };
  }

  start(): this {
    this.schedule(0);
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.min(ms, MAX_SLEEP_MS));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let wait: number;
    try {
      const p = this.runOnce();
      this.running = p;
      const run = await p;
      const now = this.now().getTime();
      const today = this.dueAt(this.now());
      // Early: wait for today's time; busy: look again once the other claim could have lapsed;
      // ran or done: tomorrow's time.
      wait =
        run.kind === 'early'
          ? today - now
          : run.kind === 'busy'
            ? (this.opts.leaseMs ?? DEFAULT_LEASE_MS)
            : today + DAY_MS - now;
    } catch (err) {
      this.opts.log.error({ err }, 'TLS-RPT run failed');
      wait = 10 * 60_000;
    }
    this.schedule(Math.max(1000, wait));
  }
}

/** A `deliver` for runDailyTlsReports: queues the report for its rua addresses through Delivery. */
export function queueTlsReport(env: {
  store: MailStore;
  blobs: BlobStore;
  limits: Limits;
  onQueued?: () => void;
}): DailyTlsReportOptions['deliver'] {
  return async ({ to, bytes }) => {
    const delivery = Delivery.start(env, { kind: 'report', body: '7BIT', smtputf8: false });
    try {
      for (const address of to) delivery.addRemote({ address, notify: null, orcpt: null });
      await delivery.writeAll(bytes);
    } catch (err) {
      await delivery.abort();
      throw err;
    }
    await delivery.commit();
  };
}
