// The DNS records a mail domain publishes so that its mail is delivered to this server, its own
// mail is accepted elsewhere, and clients find their settings: what `postern dns DOMAIN`
// prints, as zone-file lines and as JSON. Pure functions of the domain, the host name, the
// listeners' ports and the domain's DKIM keys.
//
// Choices (docs/cli.md says them too):
// - MX: the host name, preference 10.
// - SPF (RFC 7208): `v=spf1 mx -all`, plus ip4:/ip6: for every address given: the MX host
//   sends the domain's mail, nothing else does.
// - DKIM (RFC 6376): one TXT per key, active, staged and retired (staged keys must be in the
//   DNS before they sign; retired keys still verify mail sent before the rotation; `postern
//   domain dkim remove` ends their publication).
// - DMARC (RFC 7489): p=quarantine by default (the domain's mail leaves only through this
//   server, signed twice and SPF-aligned, so failing mail is forged; `none` for a domain that
//   also sends through others until they are aligned), relaxed alignment, aggregate reports to
//   the report address.
// - MTA-STS (RFC 8461): mode testing by default (reports, never refuses), max_age one day; the
//   id is a hash of the policy, so it changes exactly when the policy does. The policy itself is
//   served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt: a CNAME to the host name is printed.
// - TLS-RPT (RFC 8460): reports to the report address.
// - RFC 6186 SRV records (with RFC 8314's _submissions): the listeners' ports; a listener that
//   is off is published as "no service" (target ".", RFC 6186 §4 / RFC 2782). Priorities say
//   the preferences (lower is preferred, and RFC 6186 §3.4 compares them across services):
//   implicit TLS before STARTTLS (RFC 8314 §3, §5.1), IMAP before POP3. Weight 1 throughout.
// - autoconfig and autodiscover: CNAMEs to the host name (clients fetch their settings there),
//   and, when the https listener is on, Outlook's _autodiscover._tcp SRV record pointing at it.

import { createHash } from 'node:crypto';
import type { DkimKey } from '../store/types.js';
import { dkimRecordName, dkimRecordValue } from './dkim-keys.js';

export type DnsRecordType = 'MX' | 'TXT' | 'SRV' | 'CNAME';
export type DnsRecordPurpose = 'mx' | 'spf' | 'dkim' | 'dmarc' | 'mta-sts' | 'tls-rpt' | 'srv' | 'autoconfig';

export interface DnsRecord {
  /** Owner name, fully qualified, without the trailing dot. */
  name: string;
  ttl: number;
  class: 'IN';
  type: DnsRecordType;
  /** The RDATA as written in a zone file (TXT: quoted strings of at most 255 octets each). */
  data: string;
  /** TXT only: the text, before splitting into strings. */
  text?: string;
  purpose: DnsRecordPurpose;
  /** Said in the zone file as a comment line before the record. */
  comment?: string;
}

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';
export type MtaStsMode = 'testing' | 'enforce';

export interface DomainRecordsInput {
  /** The mail domain (lower-case A-label). */
  domain: string;
  /** This server's host name: the MX, the SRV targets, the CNAME targets. */
  hostname: string;
  dkimKeys: ReadonlyArray<Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey' | 'state'>>;
  /** Port of each client service; null: not offered. `https` absent: off. */
  ports: Record<'submission' | 'submissions' | 'imap' | 'imaps' | 'pop3' | 'pop3s', number | null> & {
    https?: number | null;
  };
  /** Default 3600 seconds. */
  ttl?: number;
  /** Where DMARC aggregate and TLS-RPT reports go; default postmaster@DOMAIN. */
  reportAddress?: string;
  /** Default quarantine. */
  dmarcPolicy?: DmarcPolicy;
  /** Addresses added to SPF as ip4:/ip6: (the server's outgoing addresses). */
  spfAddresses?: readonly string[];
  /** Default testing. */
  mtaStsMode?: MtaStsMode;
}

export interface DomainRecords {
  domain: string;
  hostname: string;
  ttl: number;
  records: DnsRecord[];
  /** The MTA-STS policy to serve at `url` (RFC 8461 §3.2), CRLF line ends. */
  mtaSts: { url: string; id: string; policy: string };
}

export const DEFAULT_DNS_TTL = 3600;

const DKIM_STATE_NOTE: Readonly<Record<DkimKey['state'], string>> = {
  active: '',
  pending: ' (staged: publish it, then `postern domain dkim rotate` signs with it)',
  retired: ' (retired: remove once mail it signed is delivered)',
};

/** RFC 6186 / RFC 8314 services, the listener serving each, and its SRV priority. */
const SRV_SERVICES = [
  ['_submissions._tcp', 'submissions', 0],
  ['_submission._tcp', 'submission', 10],
  ['_imaps._tcp', 'imaps', 0],
  ['_imap._tcp', 'imap', 10],
  ['_pop3s._tcp', 'pop3s', 20],
  ['_pop3._tcp', 'pop3', 30],
] as const;

/**
 * A TXT value as zone-file character-strings (RFC 1035 §3.3.14, §5.1): at most 255 octets
 * each, `"` and `\` escaped, octets outside printable ASCII as \DDD.
 */
export function txtStrings(text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const out: string[] = [];
  for (let at = 0; at < bytes.length || out.length === 0; at += 255) {
    let s = '';
    for (const b of bytes.subarray(at, at + 255)) {
      if (b === 0x22 || b === 0x5c) s += '\\' + String.fromCharCode(b);
      else if (b < 0x20 || b > 0x7e) s += '\\' + String(b).padStart(3, '0');
      else s += String.fromCharCode(b);
    }
    out.push(`"${s}"`);
  }
  return out;
}

/** The MTA-STS policy text for one MX host (RFC 8461 §3.2). */
export function mtaStsPolicy(hostname: string, mode: MtaStsMode): string {
  const maxAge = mode === 'enforce' ? 604_800 : 86_400;
  return ['version: STSv1', `mode: ${mode}`, `mx: ${hostname}`, `max_age: ${maxAge}`, ''].join('\r\n');
}

export function domainRecords(input: DomainRecordsInput): DomainRecords {
  const { domain, hostname } = input;
  const ttl = input.ttl ?? DEFAULT_DNS_TTL;
  const report = input.reportAddress ?? `postmaster@${domain}`;
  const host = `${hostname}.`;
  const records: DnsRecord[] = [];
  const add = (r: Omit<DnsRecord, 'ttl' | 'class'>): void => {
    const { name, ...more } = r;
    const rec: DnsRecord = { name, ttl, class: 'IN', ...more };
    if (rec.comment === undefined) delete rec.comment;
    records.push(rec);
  };
  const txt = (name: string, text: string, purpose: DnsRecordPurpose, comment?: string): void => {
    add({ name, type: 'TXT', data: txtStrings(text).join(' '), text, purpose, comment });
  };

  add({
    name: domain,
    type: 'MX',
    data: `10 ${host}`,
    purpose: 'mx',
    comment: 'mail for the domain comes here',
  });

  const ips = (input.spfAddresses ?? []).map((a) => (a.includes(':') ? `ip6:${a}` : `ip4:${a}`));
  txt(domain, ['v=spf1', 'mx', ...ips, '-all'].join(' '), 'spf', 'SPF: only the MX host sends');

  for (const k of input.dkimKeys) {
    txt(
      dkimRecordName(k),
      dkimRecordValue(k),
      'dkim',
      `DKIM ${k.algorithm} key ${k.selector}${DKIM_STATE_NOTE[k.state]}`,
    );
  }

  const dmarc = input.dmarcPolicy ?? 'quarantine';
  txt(`_dmarc.${domain}`, `v=DMARC1; p=${dmarc}; adkim=r; aspf=r; rua=mailto:${report}`, 'dmarc', 'DMARC');

  const mode = input.mtaStsMode ?? 'testing';
  const policy = mtaStsPolicy(hostname, mode);
  const id = createHash('sha256').update(policy).digest('hex').slice(0, 20);
  const url = `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
  txt(`_mta-sts.${domain}`, `v=STSv1; id=${id}`, 'mta-sts', `MTA-STS: the policy is served at ${url}`);
  add({ name: `mta-sts.${domain}`, type: 'CNAME', data: host, purpose: 'mta-sts' });
  txt(`_smtp._tls.${domain}`, `v=TLSRPTv1; rua=mailto:${report}`, 'tls-rpt', 'TLS reporting (RFC 8460)');

  for (const [service, listener, priority] of SRV_SERVICES) {
    const port = input.ports[listener];
    add({
      name: `${service}.${domain}`,
      type: 'SRV',
      data: port === null ? '0 0 0 .' : `${priority} 1 ${port} ${host}`,
      purpose: 'srv',
      ...(service === '_submissions._tcp' ? { comment: 'client settings (RFC 6186, RFC 8314)' } : {}),
    });
  }
  add({
    name: `autoconfig.${domain}`,
    type: 'CNAME',
    data: host,
    purpose: 'autoconfig',
    comment: 'mail client autoconfiguration',
  });
  add({ name: `autodiscover.${domain}`, type: 'CNAME', data: host, purpose: 'autoconfig' });
  const https = input.ports.https ?? null;
  if (https !== null) {
    add({
      name: `_autodiscover._tcp.${domain}`,
      type: 'SRV',
      data: `0 1 ${https} ${host}`,
      purpose: 'autoconfig',
      comment: "Outlook's autodiscover, on the https listener",
    });
  }

  return { domain, hostname, ttl, records, mtaSts: { url, id, policy } };
}

/** The records as zone-file lines: `owner TTL IN type rdata`, comments on lines of their own. */
export function zoneText(r: DomainRecords): string {
  const lines = [`; DNS records of ${r.domain} for the mail server ${r.hostname} (postern dns)`];
  for (const rec of r.records) {
    if (rec.comment !== undefined) lines.push(`; ${rec.comment}`);
    lines.push(`${rec.name}. ${rec.ttl} ${rec.class} ${rec.type} ${rec.data}`);
  }
  return lines.join('\n') + '\n';
}
