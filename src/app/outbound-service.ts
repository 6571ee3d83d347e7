// The outbound queue worker of a serving process, as the runtime starts it (ServerParts.outbound):
// a DNS resolver from [dns] and a QueueWorker (src/outbound/queue-worker.ts) on the process's
// store, started at once; stop() ends it after the listeners (its leases released). Messages a
// local user submitted are DKIM-signed with every active key of their From: domain
// (src/outbound/dkim-signer.ts); mail an alias forwards is sent as it came. Each MX session
// follows DANE, MTA-STS and REQUIRETLS (src/outbound/transport-hooks.ts), and its TLS outcome is
// recorded for TLS-RPT; the daily TLS-RPT reports are scheduled here (tls-report-schedule.ts).

import { DnsResolver } from '../dns/resolver.js';
import { createDkimSigner, isSubmittedByLocalUser } from '../outbound/dkim-signer.js';
import { QueueWorker, type QueueWorkerOptions } from '../outbound/queue-worker.js';
import { queueTlsReport, TlsReportScheduler } from '../outbound/tls-report-schedule.js';
import { transportHooks } from '../outbound/transport-hooks.js';
import type { OutboundFactory, OutboundService } from '../server/types.js';

/** Options the tests add to what the deps give (a signer of their own replaces DKIM signing). */
export type OutboundServiceOptions = Partial<
  Pick<QueueWorkerOptions, 'signer' | 'tlsCa' | 'clientTimeouts' | 'pollMs' | 'leaseMs' | 'transport'>
>;

export function outboundService(opts: OutboundServiceOptions = {}): OutboundFactory {
  return (deps): OutboundService => {
    const { config } = deps;
    const dkim = createDkimSigner(deps.store);
    const resolver = new DnsResolver({ servers: config.dns.servers, cacheSeconds: config.dns.cacheSeconds });
    const log = deps.log.child({ component: 'outbound' });
    const worker = new QueueWorker({
      transport: transportHooks({ store: deps.store, resolver, servers: config.dns.servers, log }),
      signer: ({ message, body }) =>
        isSubmittedByLocalUser(message) ? dkim.sign(body()) : Promise.resolve(''),
      ...opts,
      store: deps.store,
      blobs: deps.blobs,
      config,
      resolver,
      log,
    }).start();
    // RFC 8460: the daily TLS-RPT run; processes sharing the store claim each day, one runs it.
    const reports = new TlsReportScheduler({
      store: deps.store,
      resolver,
      hostname: config.hostname,
      owner: worker.owner,
      timeOfDay: config.outbound.tlsReportTime,
      deliver: queueTlsReport({
        store: deps.store,
        blobs: deps.blobs,
        limits: config.limits,
        onQueued: () => worker.notify(),
      }),
      log,
    }).start();
    return {
      queued: () => worker.notify(),
      reportLocalFailures: (report) => worker.reportLocalFailures(report),
      async stop() {
        await reports.stop();
        await worker.stop();
      },
    };
  };
}

export const startOutboundService: OutboundFactory = outboundService();
