// smtp.dmarc_exempt: where no DMARC policy is applied. An entry is a client IP address, a
// network in CIDR notation, or an envelope sender domain. A domain is honoured only when SPF
// passed for the MAIL FROM (RFC 7208): anyone can write any domain in MAIL FROM, so without
// that an exemption would be a way around the policy for every sender.

import { BlockList, isIP } from 'node:net';
import { normalizeDomain } from '../mail/domain.js';

export type DmarcExemption =
  | { kind: 'ip'; text: string; family: 'ipv4' | 'ipv6'; address: string; prefix: number | null }
  | { kind: 'domain'; text: string; domain: string };

/** One entry of smtp.dmarc_exempt, or null when it is neither an IP, a network nor a domain. */
export function parseDmarcExemption(text: string): DmarcExemption | null {
  if (text.length === 0 || text.length > 260) return null;
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version !== 0) {
    const family = version === 4 ? 'ipv4' : 'ipv6';
    if (slash < 0) return { kind: 'ip', text, family, address, prefix: null };
    const digits = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(digits)) return null;
    const prefix = Number(digits);
    if (prefix > (version === 4 ? 32 : 128)) return null;
    return { kind: 'ip', text, family, address, prefix };
  }
  if (slash >= 0) return null;
  const domain = normalizeDomain(text);
  return domain === null ? null : { kind: 'domain', text: domain, domain };
}

/** The entries of smtp.dmarc_exempt, ready to match. */
export class DmarcExemptions {
  private readonly ips = new BlockList();
  private readonly domains = new Set<string>();

  constructor(entries: readonly string[]) {
    for (const text of entries) {
      const e = parseDmarcExemption(text);
      if (e === null) continue; // refused when the config was loaded
      if (e.kind === 'domain') this.domains.add(e.domain);
      else if (e.prefix === null) this.ips.addAddress(e.address, e.family);
      else this.ips.addSubnet(e.address, e.prefix, e.family);
    }
  }

  /** True when the client's IP is listed, or the envelope sender's domain is and SPF passed. */
  exempts(opts: { clientIp: string; mailFromDomain: string; spfPass: boolean }): boolean {
    const version = isIP(opts.clientIp);
    if (version !== 0 && this.ips.check(opts.clientIp, version === 4 ? 'ipv4' : 'ipv6')) return true;
    if (!opts.spfPass || opts.mailFromDomain === '') return false;
    const domain = normalizeDomain(opts.mailFromDomain);
    return domain !== null && this.domains.has(domain);
  }
}
