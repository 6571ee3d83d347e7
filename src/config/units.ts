// Sizes and durations as people write them in postern.toml and on the command line.
// Sizes use binary multiples (K = 1024), the way mail servers usually mean "50M".
// Parsed by hand, character by character: no regular expression sees hostile input.

const SIZE_UNITS = new Map<string, number>([
  ['', 1],
  ['b', 1],
  ['k', 1024],
  ['kb', 1024],
  ['kib', 1024],
  ['m', 1024 ** 2],
  ['mb', 1024 ** 2],
  ['mib', 1024 ** 2],
  ['g', 1024 ** 3],
  ['gb', 1024 ** 3],
  ['gib', 1024 ** 3],
  ['t', 1024 ** 4],
  ['tb', 1024 ** 4],
  ['tib', 1024 ** 4],
]);

const DURATION_UNITS_SECONDS = new Map<string, number>([
  ['', 1],
  ['s', 1],
  ['m', 60],
  ['h', 3600],
  ['d', 86400],
]);

const DURATION_UNITS_MS = new Map<string, number>([
  ['', 1],
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
]);

/** Splits "12.5 MB" into 12.5 and "mb"; null when it is not a number followed by letters. */
function splitNumberUnit(text: string): { value: number; unit: string } | null {
  const s = text.trim();
  if (s.length === 0 || s.length > 32) return null;
  let i = 0;
  let sawDigit = false;
  let sawDot = false;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      sawDigit = true;
    } else if (c === 46 && !sawDot) {
      sawDot = true;
    } else {
      break;
    }
    i++;
  }
  if (!sawDigit) return null;
  const value = Number(s.slice(0, i));
  const unit = s.slice(i).trim().toLowerCase();
  for (let j = 0; j < unit.length; j++) {
    const c = unit.charCodeAt(j);
    if (c < 97 || c > 122) return null;
  }
  if (!Number.isFinite(value)) return null;
  return { value, unit };
}

/** Bytes from an integer or a string like "50M", "1G", "512K", "0"; null when malformed. */
export function parseSize(input: unknown): number | null {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : null;
  if (typeof input === 'bigint')
    return input >= 0n && input <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(input) : null;
  if (typeof input !== 'string') return null;
  const parts = splitNumberUnit(input);
  if (parts === null) return null;
  const mult = SIZE_UNITS.get(parts.unit);
  if (mult === undefined) return null;
  const bytes = Math.round(parts.value * mult);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** Seconds from an integer or a string like "30s", "5m", "1h", "1d"; null when malformed. */
export function parseDurationSeconds(input: unknown): number | null {
  return parseDuration(input, DURATION_UNITS_SECONDS);
}

/** Milliseconds from an integer or a string like "500ms", "1s"; null when malformed. */
export function parseDurationMs(input: unknown): number | null {
  return parseDuration(input, DURATION_UNITS_MS);
}

function parseDuration(input: unknown, units: Map<string, number>): number | null {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : null;
  if (typeof input === 'bigint')
    return input >= 0n && input <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(input) : null;
  if (typeof input !== 'string') return null;
  const parts = splitNumberUnit(input);
  if (parts === null) return null;
  const mult = units.get(parts.unit);
  if (mult === undefined) return null;
  const n = parts.value * mult;
  return Number.isSafeInteger(n) ? n : null;
}

/** "3.2 MB" style, binary multiples (matches parseSize). */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** The shortest exact spelling of a size for a config file: "50M" rather than 52428800. */
export function formatSizeExact(bytes: number): string {
  if (bytes === 0) return '0';
  for (const [suffix, mult] of [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes % mult === 0) return `${bytes / mult}${suffix}`;
  }
  return String(bytes);
}
