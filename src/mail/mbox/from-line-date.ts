// The date of an mbox From_ line: "From sender@example.com Thu Jan  1 00:00:00 2024", i.e. the
// ctime(3)/asctime layout, sometimes with a numeric zone before or after the year. The zone is
// honoured when present, otherwise the time is taken as UTC. Token scanning, no regex.

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

function digits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function zoneMinutes(tok: string): number | null {
  if (tok.length !== 5 || (tok[0] !== '+' && tok[0] !== '-') || !digits(tok.slice(1))) return null;
  const mins = Number(tok.slice(1, 3)) * 60 + Number(tok.slice(3));
  return tok[0] === '-' ? -mins : mins;
}

/** `rest` is the From_ line after "From " (without the line end). Returns null when unparseable. */
export function parseFromLineDate(rest: string): Date | null {
  const tokens = rest
    .slice(0, 512)
    .split(' ')
    .filter((t) => t.length > 0);
  // tokens[0] is the envelope sender; find the month name after it.
  for (let m = 1; m < tokens.length && m < 8; m++) {
    const month = MONTHS.indexOf((tokens[m] ?? '').toLowerCase());
    if (month < 0) continue;
    const day = tokens[m + 1] ?? '';
    const time = (tokens[m + 2] ?? '').split(':');
    if (!digits(day) || time.length < 2 || time.length > 3 || !time.every(digits)) return null;
    let year: number | null = null;
    let zone = 0;
    for (const tok of tokens.slice(m + 3, m + 5)) {
      const z = zoneMinutes(tok);
      if (z !== null) zone = z;
      else if (digits(tok) && tok.length === 4) year = Number(tok);
    }
    if (year === null) return null;
    const [h, min, s] = [Number(time[0]), Number(time[1]), Number(time[2] ?? '0')];
    const d = Number(day);
    if (d < 1 || d > 31 || h > 23 || min > 59 || s > 60) return null;
    const ms = Date.UTC(year, month, d, h, min, s) - zone * 60_000;
    return Number.isFinite(ms) ? new Date(ms) : null;
  }
  return null;
}
