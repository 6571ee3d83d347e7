// Splits a header block (bytes, already bounded by the header size limit) into unfolded fields.
// RFC 5322 §2.2: a field is name ":" value; a line starting with SP or HTAB continues the previous
// field (unfolding removes only the line break). RFC 6532: raw 8-bit values are UTF-8; bytes that
// are not valid UTF-8 fall back to Latin-1 so that nothing throws and nothing is dropped.

export interface HeaderField {
  /** Field name as written. */
  name: string;
  /** Lowercase field name, for lookups. */
  key: string;
  /** Unfolded value with surrounding whitespace trimmed; not RFC 2047 decoded. */
  value: string;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes header bytes as UTF-8, or as Latin-1 when they are not valid UTF-8. */
export function decodeHeaderBytes(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  try {
    return utf8.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  }
}

/**
 * Parses the header block in `bytes`. Parsing stops at the first empty line. Lines without a colon
 * that do not continue a field are skipped (best effort on broken input).
 */
export function parseHeaderBlock(bytes: Uint8Array): HeaderField[] {
  const fields: HeaderField[] = [];
  // Byte ranges of the value pieces of the field being assembled.
  let name: string | null = null;
  let pieces: Array<[number, number]> = [];
  const flush = (): void => {
    if (name === null) return;
    let total = 0;
    for (const [a, b] of pieces) total += b - a;
    const joined = new Uint8Array(total);
    let o = 0;
    for (const [a, b] of pieces) {
      joined.set(bytes.subarray(a, b), o);
      o += b - a;
    }
    fields.push({ name, key: name.toLowerCase(), value: trimWsp(decodeHeaderBytes(joined)) });
    name = null;
    pieces = [];
  };
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    let lf = bytes.indexOf(LF, i);
    if (lf === -1) lf = n;
    let end = lf;
    if (end > i && bytes[end - 1] === CR) end--;
    if (end === i) break; // the blank line that ends the header
    const first = bytes[i];
    if (first === SP || first === HT) {
      if (name !== null) pieces.push([i, end]);
    } else {
      flush();
      const colon = bytes.indexOf(COLON, i);
      if (colon !== -1 && colon < end) {
        let nameEnd = colon;
        // RFC 5322 §4.5.1 (obsolete syntax): whitespace before the colon.
        while (nameEnd > i && (bytes[nameEnd - 1] === SP || bytes[nameEnd - 1] === HT)) nameEnd--;
        if (nameEnd > i) {
          name = decodeHeaderBytes(bytes.subarray(i, nameEnd));
          pieces = [[colon + 1, end]];
        }
      }
    }
    i = lf + 1;
  }
  flush();
  return fields;
}

function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWsp(s.charCodeAt(a))) a++;
  while (b > a && isWsp(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isWsp(c: number): boolean {
  return c === SP || c === HT || c === CR || c === LF;
}

/** First value of each field name; a Map because names come from the input. */
export function firstValues(fields: HeaderField[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of fields) if (!m.has(f.key)) m.set(f.key, f.value);
  return m;
}
