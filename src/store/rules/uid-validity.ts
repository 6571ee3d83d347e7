// UIDVALIDITY (RFC 9051 §2.3.1.1): every backend hands out values that strictly increase over
// the whole store (never reused for any name, so a deleted and recreated mailbox never looks
// like the old one to a client's cache) and are never below the current Unix time.

/** The value after `last` (0 when none was handed out yet), at `nowMs`. */
export function nextUidValidity(last: number, nowMs: number): number {
  const value = Math.max(last + 1, Math.floor(nowMs / 1000));
  // RFC 9051 §2.3.1.1: a non-zero 32-bit value.
  if (value > 0xffffffff) throw new Error('UIDVALIDITY values exhausted');
  return value;
}
