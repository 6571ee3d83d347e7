// Binary search over ascending arrays of numbers (UID lists of views, flag indexes).

/** The first index whose value is >= `value` (the length when there is none). */
export function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The index of `value`, or -1 when it is not there. */
export function indexOfSorted(sorted: readonly number[], value: number): number {
  const i = lowerBound(sorted, value);
  return i < sorted.length && sorted[i] === value ? i : -1;
}
