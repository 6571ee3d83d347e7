// Normalisation of IMAP responses before two servers' answers are compared: what the RFCs
// leave to the server is reduced to one canonical form, everything else is kept as sent.
//   - human-readable text after OK/NO/BAD/BYE/PREAUTH and after "+" (RFC 9051 §7.1: resp-text
//     is for humans), keeping the response code;
//   - capability lists (greeting, CAPABILITY response and code) are compared as sets: names
//     upper-cased (RFC 9051 §7.2.2 gives no order); the ones only one server announces are
//     accepted by name (accepted.ts), never erased; the ID response describes the server
//     (RFC 2971), so only its presence is compared;
//   - UIDVALIDITY values (any value is valid, RFC 9051 §2.3.1.1), and the UIDVALIDITY part of
//     APPENDUID/COPYUID; MODSEQ and HIGHESTMODSEQ values (RFC 7162);
//   - an INTERNALDATE within two days of now (the server's "now" at APPEND) -> "<now>"; others
//     as UTC;
//   - quoted string vs literal (RFC 9051 §4.3: either form may carry a string) and atom vs
//     string where the grammar says astring (mailbox names);
//   - order of FETCH data items (RFC 9051 §7.5.2 fixes none), of flags in a flag list, of
//     mailbox attributes, of STATUS items, of SEARCH numbers, of ESEARCH return data; and
//     order of untagged responses within one command's answer; a run of EXPUNGE responses
//     becomes the original sequence numbers it removed (any order of expunging is allowed);
//   - case of MIME tokens inside BODY and BODYSTRUCTURE (case-insensitive by RFC 2045);
//   - order of the entry-value pairs of a METADATA response (RFC 5464 §4.4.1 fixes none).
// Whatever fails to tokenise is kept as sent.

export type Token = { t: 'atom'; v: string } | { t: 'str'; v: string } | { t: 'list'; v: Token[] };

const MAX_DEPTH = 64;

/** Tokenises response data (latin1 string, literals inlined). Null when malformed. */
export function tokenize(s: string): Token[] | null {
  let i = 0;
  const n = s.length;
  const parseList = (depth: number, close: string | null): Token[] | null => {
    const out: Token[] = [];
    for (;;) {
      while (i < n && s[i] === ' ') i++;
      if (i >= n) return close === null ? out : null;
      const c = s[i];
      if (close !== null && c === close) {
        i++;
        return out;
      }
      if (c === '(') {
        if (depth >= MAX_DEPTH) return null;
        i++;
        const inner = parseList(depth + 1, ')');
        if (inner === null) return null;
        out.push({ t: 'list', v: inner });
      } else if (c === ')') {
        return null;
      } else if (c === '"') {
        i++;
        let v = '';
        for (;;) {
          if (i >= n) return null;
          const ch = s[i++];
          if (ch === '"') break;
          if (ch === '\\' && i < n) v += s[i++];
          else v += ch;
        }
        out.push({ t: 'str', v });
      } else if (c === '{' || (c === '~' && s[i + 1] === '{')) {
        const open = s.indexOf('{', i);
        const end = s.indexOf('}', open);
        if (end < 0 || end - open > 12) return null;
        const count = Number(s.slice(open + 1, end).replace('+', ''));
        if (!Number.isInteger(count) || s[end + 1] !== '\r' || s[end + 2] !== '\n') return null;
        const start = end + 3;
        if (start + count > n) return null;
        out.push({ t: 'str', v: s.slice(start, start + count) });
        i = start + count;
      } else {
        // Atom, possibly with a bracketed section holding spaces: BODY[HEADER.FIELDS (A B)]<0>
        const start = i;
        let bracket = 0;
        while (i < n) {
          const ch = s[i];
          if (ch === '[') bracket++;
          else if (ch === ']') bracket--;
          else if (bracket === 0 && (ch === ' ' || ch === '(' || ch === ')')) break;
          if (bracket > MAX_DEPTH || bracket < 0) return null;
          i++;
        }
        if (bracket !== 0) return null;
        out.push({ t: 'atom', v: s.slice(start, i) });
      }
    }
  };
  return parseList(0, null);
}

function quote(v: string): string {
  let out = '"';
  for (const ch of v) {
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\r') out += '\\r';
    else if (ch === '\n') out += '\\n';
    else if (ch < ' ' || ch > '~') out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + '"';
}

export function render(tok: Token): string {
  if (tok.t === 'atom') return tok.v.toUpperCase() === 'NIL' ? 'NIL' : tok.v;
  if (tok.t === 'str') return quote(tok.v);
  return `(${tok.v.map(render).join(' ')})`;
}

function asString(tok: Token | undefined): Token | undefined {
  return tok !== undefined && tok.t === 'atom' && tok.v.toUpperCase() !== 'NIL'
    ? { t: 'str', v: tok.v }
    : tok;
}

function sortedList(tok: Token | undefined): Token | undefined {
  if (tok === undefined || tok.t !== 'list') return tok;
  return { t: 'list', v: [...tok.v].sort((a, b) => cmp(render(a).toLowerCase(), render(b).toLowerCase())) };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** INTERNALDATE "dd-Mon-yyyy hh:mm:ss +zzzz" -> "<now>" near now, else ISO UTC. */
export function normaliseInternalDate(v: string, now: number): string {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(v);
  if (m === null) return v;
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2].toLowerCase());
  const sign = m[7] === '-' ? -1 : 1;
  const offset = sign * (Number(m[8]) * 60 + Number(m[9])) * 60_000;
  const t = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - offset;
  if (Math.abs(t - now) < 2 * 86_400_000) return '<now>';
  return new Date(t).toISOString();
}

const MIME_TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`{|}~-]+$/;

/**
 * BODY/BODYSTRUCTURE: MIME types, subtypes, encodings, disposition types and parameter names
 * are case-insensitive (RFC 2045 §5.1, RFC 9051 §7.5.2), and servers differ in the case they
 * send; every token-like string is upper-cased on both sides (values that differ only in case
 * are thereby not told apart).
 */
function foldTokens(tok: Token): Token {
  if (tok.t === 'list') return { t: 'list', v: tok.v.map(foldTokens) };
  if (tok.t === 'str' && MIME_TOKEN.test(tok.v)) return { t: 'str', v: tok.v.toUpperCase() };
  return tok;
}

function normaliseFetch(items: Token[], now: number): Token[] {
  const pairs: Array<[string, Token]> = [];
  for (let k = 0; k + 1 < items.length; k += 2) {
    const name = items[k].t === 'atom' ? (items[k].v as string).toUpperCase() : render(items[k]);
    let value = items[k + 1];
    if (name === 'FLAGS') value = sortedList(value) ?? value;
    else if (name === 'BODY' || name === 'BODYSTRUCTURE') value = foldTokens(value);
    else if (name === 'INTERNALDATE' && value.t === 'str')
      value = { t: 'str', v: normaliseInternalDate(value.v, now) };
    else if (name === 'MODSEQ') value = { t: 'atom', v: '(*)' };
    pairs.push([name, value]);
  }
  pairs.sort((a, b) => cmp(a[0], b[0]));
  const out: Token[] = [];
  for (const [name, value] of pairs) out.push({ t: 'atom', v: name }, value);
  return out;
}

/** Expands a small sequence set "1:3,7" into sorted numbers (null when too large or not a set). */
function expandSet(v: string): number[] | null {
  const out: number[] = [];
  for (const part of v.split(',')) {
    const m = /^(\d+)(?::(\d+))?$/.exec(part);
    if (m === null) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    if (hi - lo > 10_000 || out.length > 10_000) return null;
    for (let x = lo; x <= hi; x++) out.push(x);
  }
  return out.sort((x, y) => x - y);
}

function normaliseCode(code: string): string {
  const word = code.split(' ')[0].toUpperCase();
  switch (word) {
    case 'CAPABILITY':
      return `CAPABILITY ${capabilitySet(code.slice(word.length))}`;
    case 'UIDVALIDITY':
      return 'UIDVALIDITY *';
    case 'HIGHESTMODSEQ':
      return 'HIGHESTMODSEQ *';
    case 'MAILBOXID':
      // RFC 8474 §4: the server's own object id.
      return 'MAILBOXID *';
    case 'APPENDUID':
    case 'COPYUID': {
      const parts = code.split(' ');
      parts[1] = '*';
      return parts.join(' ');
    }
    case 'PERMANENTFLAGS': {
      const toks = tokenize(code.slice(word.length));
      if (toks === null || toks.length !== 1) return code;
      return `PERMANENTFLAGS ${render(sortedList(toks[0])!)}`;
    }
    default:
      return code;
  }
}

/** Capability names as a set: upper case, each once, sorted. */
function capabilitySet(text: string): string {
  const names = new Set(
    text
      .split(' ')
      .filter((c) => c !== '')
      .map((c) => c.toUpperCase()),
  );
  return [...names].sort().join(' ');
}

/** The capability list of a normalised line (CAPABILITY response or code), or null. */
function capabilityList(line: string): { head: string; names: string[]; tail: string } | null {
  if (line.startsWith('* CAPABILITY '))
    return { head: '* CAPABILITY', names: line.slice(13).split(' '), tail: '' };
  const m = /^(\S+ [A-Z]+ \[CAPABILITY)((?: [^ \]]+)*)\]$/.exec(line);
  if (m === null) return null;
  return { head: m[1], names: m[2].split(' ').filter((c) => c !== ''), tail: ']' };
}

/** Response codes that exist only with an extension (RFC 8474 §4.1: MAILBOXID with OBJECTID). */
const EXTENSION_CODES = new Map<string, string>([['MAILBOXID *', 'OBJECTID']]);

/**
 * A server's normalised lines without the response codes of extensions that only it announces
 * (accepted by capability in accepted.ts): an untagged OK that carries only such a code is left
 * out, and the code is taken off a tagged status. The capabilities concerned go into `seen`.
 */
export function withoutExtensionCodes(
  lines: readonly string[],
  only: ReadonlySet<string>,
  seen: Set<string>,
): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const m = /^(\S+) (OK|NO|BAD) \[([^\]]*)\]$/.exec(line);
    const capability = m === null ? undefined : EXTENSION_CODES.get(m[3]!);
    if (m === null || capability === undefined || !only.has(capability)) {
      out.push(line);
      continue;
    }
    seen.add(capability);
    if (m[1] !== '*') out.push(`${m[1]} ${m[2]}`);
  }
  return out;
}

/**
 * A normalised line with the capabilities in `drop` taken out of its capability list (if it
 * has one); the names taken out are added to `seen`.
 */
export function withoutCapabilities(line: string, drop: ReadonlySet<string>, seen: Set<string>): string {
  const list = capabilityList(line);
  if (list === null) return line;
  const kept: string[] = [];
  for (const c of list.names) {
    if (drop.has(c)) seen.add(c);
    else kept.push(c);
  }
  return `${list.head}${kept.map((c) => ` ${c}`).join('')}${list.tail}`;
}

/** "STATUS [CODE] text" -> "STATUS [CODE]" (text dropped). */
function normaliseCondition(status: string, rest: string): string {
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end > 0) return `${status} [${normaliseCode(rest.slice(1, end))}]`;
  }
  return status;
}

const CONDITIONS = new Set(['OK', 'NO', 'BAD', 'BYE', 'PREAUTH']);

/** One response line (literals inlined) in canonical form. */
export function normaliseLine(line: string, now: number): string {
  if (line.startsWith('+')) return '+';
  const sp = line.indexOf(' ');
  if (sp < 0) return line;
  const tag = line.slice(0, sp);
  const rest = line.slice(sp + 1);
  const sp2 = rest.indexOf(' ');
  const word = (sp2 < 0 ? rest : rest.slice(0, sp2)).toUpperCase();
  const after = sp2 < 0 ? '' : rest.slice(sp2 + 1);
  if (CONDITIONS.has(word)) return `${tag} ${normaliseCondition(word, after)}`;
  if (tag !== '*') return line;
  if (word === 'CAPABILITY') return `* CAPABILITY ${capabilitySet(after)}`;
  if (word === 'ID') return '* ID';
  const toks = tokenize(rest);
  if (toks === null || toks.length === 0) return line;
  const head = toks[0].t === 'atom' ? toks[0].v.toUpperCase() : '';
  if (head === 'LIST' || head === 'LSUB') {
    const out = [toks[0], sortedList(toks[1]), toks[2], asString(toks[3]), ...toks.slice(4)];
    return `* ${out
      .filter((t): t is Token => t !== undefined)
      .map(render)
      .join(' ')}`;
  }
  if (head === 'STATUS') {
    const items = toks[2];
    if (items?.t === 'list') {
      const pairs: string[] = [];
      for (let k = 0; k + 1 < items.v.length; k += 2) {
        const name = render(items.v[k]).toUpperCase();
        pairs.push(
          `${name} ${name === 'UIDVALIDITY' || name === 'HIGHESTMODSEQ' ? '*' : render(items.v[k + 1])}`,
        );
      }
      pairs.sort();
      return `* STATUS ${render(asString(toks[1])!)} (${pairs.join(' ')})`;
    }
  }
  if (head === 'SEARCH') {
    const nums = toks.slice(1).map(render);
    const modseq = nums.findIndex((x) => x.startsWith('('));
    const plain = (modseq < 0 ? nums : nums.slice(0, modseq)).map(Number).sort((a, b) => a - b);
    return `* SEARCH${plain.map((x) => ` ${x}`).join('')}`;
  }
  if (head === 'ESEARCH') {
    // RFC 4731 §3.1: return data items in any order; sets in any equivalent form.
    const value = (t: Token): string => {
      if (t.t === 'atom' && /^[\d:,]+$/.test(t.v)) {
        const set = expandSet(t.v);
        return set === null ? render(t) : set.join(',');
      }
      return render(t);
    };
    let k = 1;
    const headOut: string[] = ['ESEARCH'];
    if (toks[k]?.t === 'list') headOut.push(render(toks[k++]));
    const uid = toks[k];
    if (uid?.t === 'atom' && uid.v.toUpperCase() === 'UID') headOut.push(render(toks[k++]));
    const pairs: string[] = [];
    for (; k + 1 < toks.length; k += 2) pairs.push(`${render(toks[k]).toUpperCase()} ${value(toks[k + 1])}`);
    pairs.sort();
    return `* ${[...headOut, ...pairs].join(' ')}`;
  }
  if (head === 'METADATA' && toks[2]?.t === 'list') {
    // RFC 5464 §4.4.1: entry-value pairs in no particular order; entry names without case (§3.2).
    const items = toks[2].v;
    const pairs: string[] = [];
    for (let k = 0; k + 1 < items.length; k += 2) {
      pairs.push(`${render(asString(items[k])!).toLowerCase()} ${render(items[k + 1])}`);
    }
    pairs.sort();
    return `* METADATA ${render(asString(toks[1])!)} (${pairs.join(' ')})`;
  }
  if (head === 'FLAGS') return `* FLAGS ${render(sortedList(toks[1]) ?? { t: 'list', v: [] })}`;
  if (
    toks.length >= 3 &&
    toks[1].t === 'atom' &&
    toks[1].v.toUpperCase() === 'FETCH' &&
    toks[2].t === 'list'
  ) {
    return `* ${render(toks[0])} FETCH ${render({ t: 'list', v: normaliseFetch(toks[2].v, now) })}`;
  }
  return `* ${toks.map(render).join(' ')}`;
}

/**
 * The lines of one command's answer in canonical form: untagged responses sorted, except
 * EXPUNGE responses, which keep their order and come first; the tagged line last.
 */
export function normaliseAnswer(lines: string[], now: number): string[] {
  const expunges: number[] = [];
  const others: string[] = [];
  const tail: string[] = [];
  for (const raw of lines) {
    const line = normaliseLine(raw, now);
    const m = /^\* (\d+) EXPUNGE$/i.exec(line);
    if (m !== null) expunges.push(Number(m[1]));
    else if (line.startsWith('* ') || line === '+') others.push(line);
    else tail.push(line);
  }
  return [...originalExpunges(expunges), ...others.sort(), ...tail];
}

/**
 * A run of EXPUNGE responses as the sequence numbers the removed messages had before the
 * first of them ("* 4 EXPUNGE, * 3 EXPUNGE" and "* 3 EXPUNGE, * 3 EXPUNGE" both remove the
 * original 3 and 4; RFC 9051 §7.5.1 lets the server choose the order).
 */
function originalExpunges(seqs: number[]): string[] {
  if (seqs.length === 0) return [];
  const size = Math.max(...seqs) + seqs.length;
  if (size > 200_000) return seqs.map((n) => `* ${n} EXPUNGE`);
  const alive = Array.from({ length: size }, (_, i) => i + 1);
  const removed: number[] = [];
  for (const n of seqs) {
    if (n < 1 || n > alive.length) return seqs.map((x) => `* ${x} EXPUNGE`);
    removed.push(alive.splice(n - 1, 1)[0]);
  }
  return removed.sort((a, b) => a - b).map((n) => `* ${n} EXPUNGE (original number)`);
}
