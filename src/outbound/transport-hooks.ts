// The transport-security hooks a serving process gives its queue worker (domain-attempt.ts
// TransportHooks): DNSSEC-validated MX and TLSA answers from the configured resolvers ([dns]
// servers; Postern trusts them to validate, as Postfix does), MTA-STS policies cached in memory
// and in the store, and each session's TLS outcome recorded for the daily TLS-RPT reports.

import type { DnsResolver } from '../dns/resolver.js';
import type { Logger } from '../core/log.js';
import type { TransportSecurity } from '../store/roles.js';
import { daneFor, mxLookupSecure } from './dane.js';
import type { TransportHooks } from './domain-attempt.js';
import { MtaStsPolicies } from './mta-sts.js';
import { recordTlsSession } from './tls-rpt.js';
import { transportPolicy } from './transport-policy.js';

export interface TransportHooksOptions {
  store: TransportSecurity;
  resolver: Pick<DnsResolver, 'resolve'>;
  /** "IP[:PORT]" of the validating resolvers ([dns] servers); empty: the system's. */
  servers: readonly string[];
  log: Logger;
  /** Extra trust anchors (PEM) for MTA-STS policy fetches (tests). */
  ca?: readonly string[];
  /** The HTTPS port of MTA-STS policy hosts (tests; default 443). */
  httpsPort?: number;
}

export function transportHooks(opts: TransportHooksOptions): TransportHooks {
  const dns = { servers: opts.servers };
  const mtaSts = new MtaStsPolicies({
    resolver: opts.resolver,
    store: opts.store,
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    ...(opts.httpsPort !== undefined ? { httpsPort: opts.httpsPort } : {}),
  });
  return {
    mxSecure: (domain) => mxLookupSecure(domain, dns),
    policy: (input) => transportPolicy(input, { dane: (host, port) => daneFor(host, port, dns), mtaSts }),
    async record(report, outcome) {
      try {
        await recordTlsSession(opts.store, report, outcome);
      } catch (err) {
        opts.log.warn({ err, mx: report.mxHost }, 'outbound: recording a TLS-RPT result failed');
      }
    },
  };
}
