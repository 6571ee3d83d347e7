// UID lists as callers pass them (IMAP sequence sets expanded, in any order, possibly repeating)
// and as every backend reads them: RFC 9051 §2.3.1.1 UIDs are positive 32-bit integers.

/** Positive integer UIDs, deduplicated, ascending (anything else is dropped: no such message). */
export function uniqueUids(uids: readonly number[]): number[] {
  // Most callers pass what a view holds: already valid and ascending (one pass, no sort).
  let ascending = true;
  for (let i = 0; i < uids.length && ascending; i++) {
    const u = uids[i]!;
    ascending = Number.isSafeInteger(u) && u > 0 && (i === 0 || u > uids[i - 1]!);
  }
  if (ascending) return uids.slice();
  const out = uids.filter((u) => Number.isSafeInteger(u) && u > 0);
  out.sort((a, b) => a - b);
  let w = 0;
  for (let r = 0; r < out.length; r++) if (r === 0 || out[r] !== out[r - 1]) out[w++] = out[r];
  out.length = w;
  return out;
}
