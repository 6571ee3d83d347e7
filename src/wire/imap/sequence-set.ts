// Sequence sets (RFC 9051 §9 sequence-set, seq-number, seq-range; RFC 5182 `$` SEARCHRES).
// Invariants:
// - A set is kept as sorted, merged, disjoint ranges, never expanded: `1:4294967295` is one range.
// - Parsing is one linear pass with a bound on the number of ranges; `*` stays symbolic until
//   resolve() is given the highest number in use.

/** A number or `*` (the highest number in use). */
export type SeqBound = number | '*';

export interface SeqRange {
  from: SeqBound;
  to: SeqBound;
}

/** A parsed, unresolved set: ranges as written, or `$` (the saved search result). */
export type SequenceSetSpec = { kind: 'ranges'; ranges: SeqRange[] } | { kind: 'saved' };

export class SequenceSetError extends Error {}

/** RFC 9051 §9: nz-number fits in 32 bits. */
export const MAX_SEQ_NUMBER = 4294967295;
const DEFAULT_MAX_RANGES = 100000;

function parseBound(text: string, start: number, end: number): SeqBound {
  if (end - start === 1 && text.charCodeAt(start) === 0x2a) return '*';
  if (end === start || end - start > 10) throw new SequenceSetError('invalid number in sequence set');
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) throw new SequenceSetError('invalid number in sequence set');
    n = n * 10 + (c - 0x30);
  }
  if (text.charCodeAt(start) === 0x30 || n > MAX_SEQ_NUMBER) {
    throw new SequenceSetError('sequence number out of range');
  }
  return n;
}

/** Parses a sequence set as written by a client. Throws SequenceSetError. */
export function parseSequenceSet(text: string, opts: { maxRanges?: number } = {}): SequenceSetSpec {
  if (text === '$') return { kind: 'saved' };
  const maxRanges = opts.maxRanges ?? DEFAULT_MAX_RANGES;
  const ranges: SeqRange[] = [];
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf(',', start);
    if (end < 0) end = text.length;
    if (ranges.length >= maxRanges) throw new SequenceSetError('too many ranges in sequence set');
    // Looked for only up to the comma: a search to the end of the text for every number
    // would make a long set of single numbers quadratic.
    let colon = -1;
    for (let i = start; i < end; i++) {
      if (text.charCodeAt(i) === 0x3a) {
        colon = i;
        break;
      }
    }
    if (colon >= 0) {
      ranges.push({ from: parseBound(text, start, colon), to: parseBound(text, colon + 1, end) });
    } else {
      const n = parseBound(text, start, end);
      ranges.push({ from: n, to: n });
    }
    start = end + 1;
  }
  return { kind: 'ranges', ranges };
}

/** A resolved set of numbers: sorted, merged, inclusive ranges. */
export class SequenceSet {
  /** Sorted, disjoint, non-adjacent [low, high] pairs. */
  readonly ranges: readonly (readonly [number, number])[];

  private constructor(ranges: (readonly [number, number])[]) {
    this.ranges = ranges;
  }

  /** Normalises arbitrary [low, high] pairs (any order, overlapping) into a set. */
  static fromRanges(input: readonly (readonly [number, number])[]): SequenceSet {
    const sorted = input.map(([a, b]) => (a <= b ? ([a, b] as const) : ([b, a] as const)));
    sorted.sort((x, y) => x[0] - y[0]);
    const out: [number, number][] = [];
    for (const [lo, hi] of sorted) {
      const last = out[out.length - 1];
      if (last !== undefined && lo <= last[1] + 1) {
        if (hi > last[1]) last[1] = hi;
      } else out.push([lo, hi]);
    }
    return new SequenceSet(out);
  }

  /**
   * Resolves `*` to `highest` (RFC 9051 §9: `*` is the largest number in use; with an empty
   * mailbox a range using `*` is empty). A range is read in either order.
   * Whether numbers beyond `highest` are an error (message numbers) or simply match nothing
   * (UIDs) is the caller's decision.
   */
  static resolve(spec: Extract<SequenceSetSpec, { kind: 'ranges' }>, highest: number): SequenceSet {
    const out: (readonly [number, number])[] = [];
    for (const { from, to } of spec.ranges) {
      // With no messages `*` names nothing, so a range using it is empty.
      if (highest < 1 && (from === '*' || to === '*')) continue;
      out.push([from === '*' ? highest : from, to === '*' ? highest : to]);
    }
    return SequenceSet.fromRanges(out);
  }

  /** The compact set of the given numbers (COPYUID, SEARCH results). */
  static fromNumbers(numbers: Iterable<number>): SequenceSet {
    const sorted = Float64Array.from(numbers).sort();
    const out: [number, number][] = [];
    for (const n of sorted) {
      const last = out[out.length - 1];
      if (last !== undefined && n <= last[1] + 1) {
        if (n > last[1]) last[1] = n;
      } else out.push([n, n]);
    }
    return new SequenceSet(out);
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  /** How many numbers the set holds. */
  get size(): number {
    let n = 0;
    for (const [lo, hi] of this.ranges) n += hi - lo + 1;
    return n;
  }

  get min(): number | null {
    return this.ranges[0]?.[0] ?? null;
  }

  get max(): number | null {
    return this.ranges[this.ranges.length - 1]?.[1] ?? null;
  }

  contains(n: number): boolean {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.ranges[mid]!;
      if (n < r[0]) hi = mid - 1;
      else if (n > r[1]) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** The numbers in ascending order. */
  *[Symbol.iterator](): IterableIterator<number> {
    for (const [lo, hi] of this.ranges) for (let n = lo; n <= hi; n++) yield n;
  }

  /** The compact wire form, e.g. `1:5,7,9:12`; empty string for an empty set. */
  toString(): string {
    const parts = new Array<string>(this.ranges.length);
    for (let i = 0; i < this.ranges.length; i++) {
      const [lo, hi] = this.ranges[i]!;
      parts[i] = lo === hi ? String(lo) : `${lo}:${hi}`;
    }
    return parts.join(',');
  }
}
