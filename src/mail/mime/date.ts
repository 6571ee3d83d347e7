// RFC 5322 §3.3 date-time (with the obsolete forms of §4.3), parsed to epoch milliseconds for
// SEARCH SENTBEFORE/SENTON/SENTSINCE and SORT DATE. Lenient on order (asctime-style dates also
// parse) but strict on ranges; anything unparseable gives null. Linear, bounded input.

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

// RFC 5322 §4.3 obs-zone, in minutes east of UTC. Military zones are treated as +0000.
const ZONES = new Map<string, number>([
  ['ut', 0],
  ['utc', 0],
  ['gmt', 0],
  ['z', 0],
  ['est', -300],
  ['edt', -240],
  ['cst', -360],
  ['cdt', -300],
  ['mst', -420],
  ['mdt', -360],
  ['pst', -480],
  ['pdt', -420],
]);

const MAX_INPUT = 256;

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Removes (nested) comments and splits on whitespace and commas. */
function tokens(raw: string): string[] {
  const s = raw.length > MAX_INPUT ? raw.slice(0, MAX_INPUT) : raw;
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') {
      depth++;
    } else if (c === ')' && depth > 0) {
      depth--;
    } else if (depth > 0) {
      continue;
    } else if (c === ' ' || c === '\t' || c === ',' || c === '\r' || c === '\n') {
      if (cur !== '') out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
    if (depth > 0 && cur !== '') {
      out.push(cur);
      cur = '';
    }
  }
  if (cur !== '') out.push(cur);
  return out;
}

/** Parses an RFC 5322 date; returns epoch milliseconds or null. */
export function parseMailDate(raw: string): number | null {
  let day = -1;
  let month = -1;
  let year = -1;
  let hour = -1;
  let minute = 0;
  let second = 0;
  let zone = 0;
  for (const tk of tokens(raw)) {
    const lower = tk.toLowerCase();
    if (tk.includes(':') && hour === -1) {
      const hms = tk.split(':');
      if (hms.length < 2 || hms.length > 3 || !hms.every(isDigits)) return null;
      hour = Number(hms[0]);
      minute = Number(hms[1]);
      second = hms.length === 3 ? Number(hms[2]) : 0;
    } else if ((tk[0] === '+' || tk[0] === '-') && tk.length === 5 && isDigits(tk.slice(1))) {
      const v = Number(tk.slice(1, 3)) * 60 + Number(tk.slice(3));
      zone = tk[0] === '-' ? -v : v;
    } else if (isDigits(tk)) {
      if (day === -1 && tk.length <= 2) day = Number(tk);
      else if (year === -1) {
        year = Number(tk);
        // RFC 5322 §4.3: two-digit years below 50 are 20xx, others and three-digit years add 1900.
        if (tk.length === 2) year += year < 50 ? 2000 : 1900;
        else if (tk.length === 3) year += 1900;
      } else return null;
    } else if (month === -1 && lower.length >= 3 && MONTHS.includes(lower.slice(0, 3))) {
      month = MONTHS.indexOf(lower.slice(0, 3));
    } else if (ZONES.has(lower)) {
      zone = ZONES.get(lower) ?? 0;
    }
    // Day names and unknown zone names are ignored.
  }
  if (day < 1 || day > 31 || month < 0 || year < 0 || year > 9999) return null;
  if (hour === -1) hour = 0;
  if (hour > 23 || minute > 59 || second > 60) return null;
  const t = Date.UTC(year, month, day, hour, minute, second === 60 ? 59 : second) - zone * 60_000;
  return Number.isFinite(t) ? t : null;
}
