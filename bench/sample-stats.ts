// The small statistics and number formats of the benchmark reports.

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length, Math.max(1, rank)) - 1];
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Milliseconds for a table: two decimals below 10, whole above. */
export function fmtMs(ms: number | undefined): string {
  return ms === undefined ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(0);
}

/** a / b with two decimals, '-' when either is missing. */
export function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || b === 0 ? '-' : (a / b).toFixed(2);
}
