// postern dns DOMAIN: every DNS record a mail domain publishes (MX, SPF, DKIM, DMARC, MTA-STS,
// TLS-RPT, the RFC 6186 SRV records, autoconfig CNAMEs), as zone-file lines or JSON. The host
// name is the config's `hostname`; the SRV ports are the listeners' ports. Choices and their
// reasons: src/outbound/dns-records.ts.

import { isIP } from 'node:net';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { domainRecords, zoneText, type DmarcPolicy, type MtaStsMode } from '../../outbound/dns-records.js';
import { parseAddress, parseDomain } from '../address.js';
import { withCommandStore } from '../context.js';
import { printJson } from '../table.js';

interface DnsOptions {
  json?: boolean;
  ttl?: string;
  dmarc?: string;
  mtaSts?: string;
  reportAddress?: string;
  address?: string[];
}

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  const v = value.toLowerCase();
  if (!(allowed as readonly string[]).includes(v)) {
    throw new UsageError(`${option}: expected one of ${allowed.join(', ')}, got "${value}"`);
  }
  return v as T;
}

export function registerDns(program: Command): void {
  program
    .command('dns <domain>')
    .description('print the DNS records to publish for a mail domain (zone-file lines, or --json)')
    .option('--json', 'print JSON')
    .option('--ttl <seconds>', 'TTL of every record (default 3600)')
    .option('--dmarc <policy>', 'DMARC policy: none, quarantine (default) or reject')
    .option('--mta-sts <mode>', 'MTA-STS policy mode: testing (default) or enforce')
    .option('--report-address <address>', 'where DMARC and TLS-RPT reports go (default postmaster@DOMAIN)')
    .option(
      '--address <ip>',
      "one of the server's outgoing IP addresses, added to SPF (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(async (name: string, opts: DnsOptions, cmd: Command) => {
      const domain = parseDomain(name);
      let ttl: number | undefined;
      if (opts.ttl !== undefined) {
        ttl = /^[0-9]{1,10}$/.test(opts.ttl) ? Number(opts.ttl) : NaN;
        if (!(ttl >= 60 && ttl <= 604_800)) {
          throw new UsageError(`--ttl: expected seconds from 60 to 604800, got "${opts.ttl}"`);
        }
      }
      const dmarcPolicy =
        opts.dmarc === undefined
          ? undefined
          : oneOf<DmarcPolicy>('--dmarc', opts.dmarc, ['none', 'quarantine', 'reject']);
      const mtaStsMode =
        opts.mtaSts === undefined
          ? undefined
          : oneOf<MtaStsMode>('--mta-sts', opts.mtaSts, ['testing', 'enforce']);
      const reportAddress =
        opts.reportAddress === undefined ? undefined : parseAddress(opts.reportAddress).address;
      const spfAddresses = (opts.address ?? []).map((a) => {
        if (isIP(a) === 0) throw new UsageError(`--address: not an IP address: "${a}"`);
        return a.toLowerCase();
      });
      const out = await withCommandStore(cmd, async ({ config, store }) => {
        if ((await store.getDomain(domain)) === null) throw new UsageError(`no such domain: ${domain}`);
        const port = (l: keyof typeof config.listen): number | null => config.listen[l]?.port ?? null;
        if (!config.hostname.includes('.')) {
          process.stderr.write(
            `warning: hostname "${config.hostname}" is not a fully qualified name; set \`hostname\` in the config\n`,
          );
        }
        const dkimKeys = await store.listDkimKeys(domain);
        if (!dkimKeys.some((k) => k.state === 'active')) {
          process.stderr.write(
            `warning: ${domain} signs with no DKIM key: \`postern domain dkim rotate ${domain}\` makes a pair\n`,
          );
        }
        return domainRecords({
          domain,
          hostname: config.hostname,
          dkimKeys,
          ports: {
            submission: port('submission'),
            submissions: port('submissions'),
            imap: port('imap'),
            imaps: port('imaps'),
            pop3: port('pop3'),
            pop3s: port('pop3s'),
            https: port('https'),
          },
          ttl,
          reportAddress,
          dmarcPolicy,
          mtaStsMode,
          spfAddresses,
        });
      });
      if (opts.json === true) return printJson(out);
      process.stdout.write(zoneText(out));
      process.stdout.write(`; MTA-STS policy to serve at ${out.mtaSts.url}:\n`);
      for (const line of out.mtaSts.policy.split('\r\n'))
        if (line !== '') process.stdout.write(`;   ${line}\n`);
    });
}
