// The transport-security hooks a serving process gives its queue worker (domain-attempt.ts
// TransportHooks): DNSSEC-validated MX and TLSA answers from the configured resolvers ([dns]
// servers; Postern trusts them to validate, as Postfix does), MTA-STS policies cached in memory
// and in the store, and each session's TLS outcome recorded for the daily TLS-RPT reports. The
// DNSSEC answers (is the MX answer secure, the MX host's TLSA records) are asked once a minute
// per name, not once per message: a queue of thousands for one domain asks twice, not thousands
// of times (the secure queries bypass DnsResolver and its cache).

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

/** How long a DNSSEC answer is reused (the records' TTLs are not read by the secure client). */
const SECURE_ANSWER_MS = 60_000;
/** Names remembered at once; past this the memo starts again. */
const SECURE_ANSWER_ENTRIES = 10_000;

/** `lookup(key)` shared for SECURE_ANSWER_MS (a failed answer is not kept). */
function memo<T>(
  lookup: (key: string) => Promise<T>,
  keep: (value: T) => boolean,
): (key: string) => Promise<T> {
  const answers = new Map<string, { at: number; value: Promise<T> }>();
  return (key) => {
    const now = Date.now();
    const hit = answers.get(key);
    if (hit !== undefined && now - hit.at < SECURE_ANSWER_MS) return hit.value;
    if (answers.size >= SECURE_ANSWER_ENTRIES) answers.clear();
    const value = lookup(key);
    answers.set(key, { at: now, value });
    void value.then(
      (v) => {
        if (!keep(v)) answers.delete(key);
      },
      () => answers.delete(key),
    );
    return value;
  };
}

export function transportHooks(opts: TransportHooksOptions): TransportHooks {
  const dns = { servers: opts.servers };
  const mxSecure = memo(
    (domain) => mxLookupSecure(domain, dns),
    () => true,
  );
  const tlsa = memo(
    (key) => {
      const at = key.lastIndexOf(':');
      return daneFor(key.slice(0, at), Number(key.slice(at + 1)), dns);
    },
    (lookup) => lookup.state !== 'failed',
  );
  const mtaSts = new MtaStsPolicies({
    resolver: opts.resolver,
    store: opts.store,
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    ...(opts.httpsPort !== undefined ? { httpsPort: opts.httpsPort } : {}),
  });
  return {
    mxSecure: (domain) => mxSecure(domain.toLowerCase()),
    policy: (input) =>
      transportPolicy(input, { dane: (host, port) => tlsa(`${host.toLowerCase()}:${port}`), mtaSts }),
    async record(report, outcome) {
      try {
        await recordTlsSession(opts.store, report, outcome);
      } catch (err) {
        opts.log.warn({ err, mx: report.mxHost }, 'outbound: recording a TLS-RPT result failed');
      }
    },
  };
}
