// What the store accepts as a count: byte sizes, quotas, intervals, modseqs, ids.

/** A non-negative safe integer. */
export function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}
