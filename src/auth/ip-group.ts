// The address a client is counted under, for bans and per-address connection limits. An IPv4
// client is its address; an IPv6 client is its network of limits.ipv6Prefix bits (default /64),
// because an end site is given at least a whole /64 (RFC 6177) and could otherwise rotate through
// 2^64 addresses, each with its own failure count and connection quota.
//
// Keys look like "192.0.2.7" or "2001:db8:1:2::/64" (RFC 5952 text of the masked network).
// ipGroup() of a key is the key itself, so keys can travel between cluster processes and be
// grouped again on arrival.

/** Canonical form of a peer address: lower case, IPv4-mapped IPv6 shown as IPv4. */
export function normalizeIp(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower;
}

export interface IpGroupOptions {
  /** Prefix length of an IPv6 group, 1..128 (128: every address on its own). */
  ipv6Prefix: number;
}

/** The key `address` is counted under (see the file comment). Not an IPv6 address: normalizeIp(address). */
export function ipGroup(address: string, opts: IpGroupOptions): string {
  const ip = normalizeIp(address);
  if (!ip.includes(':')) return ip;
  const slash = ip.indexOf('/');
  const groups = parseIpv6(slash < 0 ? ip : ip.slice(0, slash));
  if (groups === null) return ip;
  const prefix = Math.min(128, Math.max(0, Math.floor(opts.ipv6Prefix)));
  for (let i = 0; i < 8; i++) {
    const keep = Math.min(16, Math.max(0, prefix - i * 16));
    groups[i] &= keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
  }
  const text = formatIpv6(groups);
  return prefix === 128 ? text : `${text}/${prefix}`;
}

/** The eight 16-bit groups of an IPv6 address (zone id ignored), or null when it is not one. */
export function parseIpv6(text: string): number[] | null {
  const percent = text.indexOf('%');
  let s = percent < 0 ? text : text.slice(0, percent);
  // A dotted IPv4 tail ("::ffff:192.0.2.1", "64:ff9b::192.0.2.1") stands for the last two groups.
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    const v4 = parseIpv4(s.slice(lastColon + 1));
    if (v4 === null) return null;
    const hi = ((v4[0] << 8) | v4[1]).toString(16);
    const lo = ((v4[2] << 8) | v4[3]).toString(16);
    s = `${s.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if (head === null || rest === null) return null;
  const explicit = head.length + rest.length;
  if (halves.length === 1) return explicit === 8 ? head : null;
  if (explicit > 7) return null;
  return [...head, ...new Array<number>(8 - explicit).fill(0), ...rest];
}

function parseIpv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
export function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
