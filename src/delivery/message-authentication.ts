// SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489) and ARC (RFC 8617) of one message through
// mailauth, as run inside a worker thread of src/workers/pool.ts (the verify worker): the
// message arrives as chunks, DNS answers come from the resolver function given (the main
// thread's DnsResolver). Invariants:
// - at most `maxDkimSignatures` DKIM-Signature fields reach mailauth (dkim-signature-limit.ts);
//   the others are reported once as "dkim=neutral (too many signatures)";
// - the outcome is plain data (it crosses the thread boundary by structured clone) and small:
//   mailauth's parsed header and key material are not part of it;
// - a failure of the evaluation itself gives "temperror" results, never an exception.

import { Readable } from 'node:stream';
import libmime from 'libmime';
import { authenticate, type AuthenticateResult, type DNSResolver } from 'mailauth';
import {
  temperrorOutcome,
  type AuthenticationOutcome,
  type MessageAuthenticationInput,
} from './authentication-outcome.js';
import { limitDkimSignatures } from './dkim-signature-limit.js';

/** The header section (up to and including the empty line) and what followed it in its chunk. */
async function readHeaderSection(
  it: AsyncIterator<Uint8Array>,
): Promise<{ header: Buffer; rest: Buffer | null; ended: boolean }> {
  const chunks: Buffer[] = [];
  let total = 0;
  let tail: Buffer = Buffer.alloc(0);
  for (;;) {
    const next = await it.next();
    if (next.done === true) return { header: Buffer.concat(chunks, total), rest: null, ended: true };
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    if (total === 0 && chunk.length > 0 && (chunk[0] === 0x0a || (chunk[0] === 0x0d && chunk[1] === 0x0a))) {
      // An empty header section: the body starts at once.
      return { header: Buffer.alloc(0), rest: chunk, ended: false };
    }
    // The end is LF LF or LF CR LF (mailauth's own rule); keep two bytes to find it across chunks.
    const scan = tail.length === 0 ? chunk : Buffer.concat([tail, chunk]);
    let end = -1;
    for (let i = scan.indexOf(0x0a); i >= 0; i = scan.indexOf(0x0a, i + 1)) {
      if (scan[i + 1] === 0x0a) end = i + 2;
      else if (scan[i + 1] === 0x0d && scan[i + 2] === 0x0a) end = i + 3;
      if (end >= 0) break;
    }
    if (end >= 0) {
      const inChunk = end - tail.length;
      chunks.push(chunk.subarray(0, inChunk));
      total += inChunk;
      const rest = chunk.subarray(inChunk);
      return { header: Buffer.concat(chunks, total), rest: rest.length > 0 ? rest : null, ended: false };
    }
    chunks.push(chunk);
    total += chunk.length;
    tail = scan.subarray(Math.max(0, scan.length - 2));
  }
}

async function* joined(
  header: Buffer,
  rest: Buffer | null,
  it: AsyncIterator<Uint8Array>,
  ended: boolean,
): AsyncGenerator<Buffer> {
  if (header.length > 0) yield header;
  if (rest !== null) yield rest;
  if (ended) return;
  for (;;) {
    const next = await it.next();
    if (next.done === true) return;
    yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
  }
}

/** Runs SPF, DKIM (bounded), DMARC and ARC on the message read from `source`. */
export async function authenticateMessage(
  source: AsyncIterable<Uint8Array>,
  input: MessageAuthenticationInput,
  resolver: (name: string, rrtype: string) => Promise<unknown>,
): Promise<AuthenticationOutcome> {
  let result: AuthenticateResult;
  let skipped = 0;
  let skippedDomains: string[] = [];
  try {
    const it = source[Symbol.asyncIterator]();
    const { header, rest, ended } = await readHeaderSection(it);
    const limited = limitDkimSignatures(header, Math.max(0, input.maxDkimSignatures));
    skipped = limited.skipped;
    skippedDomains = limited.skippedDomains;
    result = await authenticate(Readable.from(joined(limited.header, rest, it, ended)), {
      ip: input.ip,
      helo: input.helo,
      sender: input.sender,
      mta: input.mta,
      // mailauth's declared type is narrower than what it accepts (MX answers are objects).
      resolver: resolver as unknown as DNSResolver,
      minBitLength: input.minBitLength,
      // BIMI is for display in clients, not for the MTA; it would only add lookups.
      disableBimi: true,
    });
  } catch {
    return temperrorOutcome(input.mta, { timedOut: false });
  }
  const dmarc = result.dmarc === false ? 'none' : String(result.dmarc.status?.result ?? 'none');
  const dmarcPolicy =
    result.dmarc !== false && dmarc === 'fail' ? String(result.dmarc.policy ?? 'none') : null;
  const checked = (result.dkim.results ?? []).map((r) => ({
    domain: String(r.signingDomain ?? ''),
    result: String(r.status?.result ?? 'none'),
  }));
  // Every signature was over the limit: mailauth saw none and said "none"; they are neutral.
  const dkim = skipped > 0 ? checked.filter((r) => r.result !== 'none') : checked;
  for (const domain of skippedDomains) dkim.push({ domain, result: 'neutral' });
  return {
    headers: resultHeaders(result, input.mta, skipped),
    spf: result.spf === false ? 'none' : String(result.spf.status?.result ?? 'none'),
    dkim,
    dmarc,
    dmarcPolicy,
    dkimSkipped: skipped,
    timedOut: false,
  };
}

/** What mailauth's `info` rows look like (its types do not declare them). */
interface InfoRow {
  info?: unknown;
  header?: unknown;
  status?: { result?: unknown };
}

function infoOf(row: unknown): string | null {
  if (typeof row !== 'object' || row === null) return null;
  const info = (row as InfoRow).info;
  return typeof info === 'string' && info !== '' ? libmime.foldLines(info, 160) : null;
}

/**
 * Received-SPF and Authentication-Results (RFC 8601) in mailauth's order (DKIM rows, SPF, ARC,
 * DMARC), plus one "dkim=neutral (too many signatures)" row when signatures were skipped.
 */
function resultHeaders(result: AuthenticateResult, mta: string, skipped: number): string {
  const rows: string[] = [];
  for (const row of result.dkim.results ?? []) {
    if (skipped > 0 && (row as InfoRow).status?.result === 'none') continue;
    const info = infoOf(row);
    if (info !== null) rows.push(info);
  }
  if (skipped > 0) rows.push('dkim=neutral (too many signatures)');
  const lines: string[] = [];
  if (result.spf !== false) {
    const spfInfo = infoOf(result.spf);
    if (spfInfo !== null) rows.push(spfInfo);
    const received = (result.spf as InfoRow).header;
    if (typeof received === 'string' && received !== '') lines.push(received);
  }
  for (const row of [result.arc, result.dmarc]) {
    const info = infoOf(row);
    if (info !== null) rows.push(info);
  }
  lines.push(`Authentication-Results: ${mta};\r\n ${rows.join(';\r\n ')}`);
  // Every line ends in CRLF, and no empty line (it would end the message's header section).
  const text = lines.join('\r\n');
  const kept = text.split(/\r?\n/).filter((l) => l.length > 0);
  return kept.length === 0 ? '' : `${kept.join('\r\n')}\r\n`;
}
