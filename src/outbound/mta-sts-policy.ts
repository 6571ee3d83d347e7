// MTA-STS (RFC 8461) texts, without I/O: the `_mta-sts` TXT record (§3.1), the policy file
// (§3.2) and the MX match (§4.1). Parsing is line by line with bounded inputs (the fetch caps the
// file at 64 KiB, and at most 100 mx lines are kept).

export type MtaStsMode = 'enforce' | 'testing' | 'none';

export interface MtaStsPolicy {
  /** The id of the TXT record the policy was fetched for. */
  id: string;
  mode: MtaStsMode;
  /** Host names and `*.` patterns (lower case, no final dot). */
  mx: string[];
  /** Seconds, bounded to RFC 8461's maximum of 31557600 (one year). */
  maxAge: number;
  /** The policy file as received (TLS-RPT's policy-string, §4.3 of RFC 8460). */
  text: string;
}

export const MTA_STS_MAX_AGE = 31_557_600;
const MAX_MX_PATTERNS = 100;

/** RFC 8461 §3.1: `v=STSv1; id=...;` The id of the one valid record, or an error text. */
export function parseStsTxt(records: readonly string[]): { id: string } | { error: string } | null {
  const sts = records.filter((r) => /^v=STSv1(;|$|\s)/.test(r));
  if (sts.length === 0) return null;
  // §3.1: more than one record starting with v=STSv1 means no policy at all.
  if (sts.length > 1) return { error: 'more than one v=STSv1 record' };
  const fields = new Map<string, string>();
  for (const part of (sts[0] as string).split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) return { error: `malformed field ${JSON.stringify(p.slice(0, 40))}` };
    const k = p.slice(0, eq).trim();
    if (!fields.has(k)) fields.set(k, p.slice(eq + 1).trim());
  }
  const id = fields.get('id');
  if (id === undefined || !/^[A-Za-z0-9]{1,32}$/.test(id)) return { error: 'missing or malformed id' };
  return { id };
}

/** RFC 8461 §3.2: the policy file. Unknown keys are ignored; the first of a repeated key counts, mx repeats. */
export function parseStsPolicy(text: string, id: string): MtaStsPolicy | { error: string } {
  let version: string | null = null;
  let mode: string | null = null;
  let maxAge: string | null = null;
  const mx: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: `malformed line ${JSON.stringify(line.slice(0, 60))}` };
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === 'version') version ??= value;
    else if (key === 'mode') mode ??= value;
    else if (key === 'max_age') maxAge ??= value;
    else if (key === 'mx') {
      const pattern = normalizeHost(value);
      if (pattern === null) return { error: `malformed mx ${JSON.stringify(value.slice(0, 60))}` };
      if (mx.length < MAX_MX_PATTERNS) mx.push(pattern);
    }
  }
  if (version !== 'STSv1') return { error: 'version is not STSv1' };
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none')
    return { error: 'missing or unknown mode' };
  if (maxAge === null || !/^\d{1,10}$/.test(maxAge)) return { error: 'missing or malformed max_age' };
  if (mode !== 'none' && mx.length === 0) return { error: 'no mx in an enforce or testing policy' };
  return { id, mode, mx, maxAge: Math.min(Number(maxAge), MTA_STS_MAX_AGE), text };
}

/** A host name or `*.`-pattern in lower case without its final dot; null when not one. */
function normalizeHost(value: string): string | null {
  const v = (value.endsWith('.') ? value.slice(0, -1) : value).toLowerCase();
  const body = v.startsWith('*.') ? v.slice(2) : v;
  if (body.length === 0 || body.length > 253) return null;
  for (const label of body.split('.')) {
    if (!/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label)) return null;
  }
  return v;
}

/**
 * RFC 8461 §4.1: the MX host matches an mx line exactly, or a `*.` pattern whose wildcard stands
 * for exactly one left-most label.
 */
export function mxAllowed(policy: Pick<MtaStsPolicy, 'mx'>, mxHost: string): boolean {
  const host = (mxHost.endsWith('.') ? mxHost.slice(0, -1) : mxHost).toLowerCase();
  for (const pattern of policy.mx) {
    if (pattern.startsWith('*.')) {
      const dot = host.indexOf('.');
      if (dot > 0 && host.slice(dot + 1) === pattern.slice(2)) return true;
    } else if (pattern === host) {
      return true;
    }
  }
  return false;
}
