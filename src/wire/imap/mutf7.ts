// Modified UTF-7 mailbox names (RFC 3501 §5.1.3, RFC 9051 §5.1.3 for clients without UTF8=ACCEPT).
// Invariants:
// - decode() accepts only the canonical form, so every name has one spelling: printable ASCII is
//   never base64-encoded, `&` is `&-`, two encoded runs are never adjacent, the padding bits are
//   zero, and surrogates pair. Anything else is rejected (Mutf7Error), which refuses the name.
// - Control characters (U+0000-U+001F, U+007F) are rejected both ways: no mailbox name holds one.

export class Mutf7Error extends Error {}

const AMP = 0x26;

// Modified BASE64 (RFC 3501 §5.1.3): "," replaces "/", no padding.
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

function isDirect(c: number): boolean {
  return c >= 0x20 && c <= 0x7e;
}

/** Encodes a Unicode mailbox name as modified UTF-7. Throws Mutf7Error on controls or lone surrogates. */
export function encodeMutf7(name: string): string {
  const out: string[] = [];
  let i = 0;
  while (i < name.length) {
    const c = name.charCodeAt(i);
    if (isDirect(c)) {
      let j = i;
      while (j < name.length && isDirect(name.charCodeAt(j))) j++;
      out.push(name.slice(i, j).replaceAll('&', '&-'));
      i = j;
      continue;
    }
    if (c < 0x20 || c === 0x7f) throw new Mutf7Error('control character in mailbox name');
    let j = i;
    const units: number[] = [];
    while (j < name.length) {
      const u = name.charCodeAt(j);
      if (u < 0x80) break;
      if (u >= 0xd800 && u <= 0xdbff) {
        const lo = name.charCodeAt(j + 1);
        if (!(lo >= 0xdc00 && lo <= 0xdfff)) throw new Mutf7Error('lone surrogate in mailbox name');
        units.push(u, lo);
        j += 2;
        continue;
      }
      if (u >= 0xdc00 && u <= 0xdfff) throw new Mutf7Error('lone surrogate in mailbox name');
      units.push(u);
      j++;
    }
    const bytes = Buffer.allocUnsafe(units.length * 2);
    for (let k = 0; k < units.length; k++) bytes.writeUInt16BE(units[k]!, k * 2);
    const b64 = bytes.toString('base64');
    let len = b64.length;
    while (len > 0 && b64.charCodeAt(len - 1) === 0x3d) len--;
    out.push('&', b64.slice(0, len).replaceAll('/', ','), '-');
    i = j;
  }
  return out.join('');
}

/** Decodes a modified UTF-7 mailbox name, strictly. Throws Mutf7Error. */
export function decodeMutf7(text: string): string {
  const out: string[] = [];
  let i = 0;
  let lastRunEnd = -1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (!isDirect(c)) throw new Mutf7Error('mailbox name holds a byte that is not printable US-ASCII');
    if (c !== AMP) {
      let j = i;
      while (j < text.length && text.charCodeAt(j) !== AMP && isDirect(text.charCodeAt(j))) j++;
      out.push(text.slice(i, j));
      i = j;
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end < 0) throw new Mutf7Error('unterminated modified BASE64 run');
    if (end === i + 1) {
      out.push('&');
      i = end + 1;
      continue;
    }
    if (lastRunEnd === i) throw new Mutf7Error('adjacent modified BASE64 runs');
    out.push(decodeRun(text, i + 1, end));
    i = end + 1;
    lastRunEnd = i;
  }
  return out.join('');
}

function decodeRun(text: string, start: number, end: number): string {
  let bits = 0;
  let nbits = 0;
  const units: number[] = [];
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? VALUE[c]! : -1;
    if (v < 0) throw new Mutf7Error('invalid character in modified BASE64 run');
    bits = ((bits << 6) | v) & 0xffffff;
    nbits += 6;
    if (nbits >= 16) {
      nbits -= 16;
      units.push((bits >>> nbits) & 0xffff);
    }
  }
  // The leftover must be fewer than 6 zero bits.
  if (nbits >= 6 || (bits & ((1 << nbits) - 1)) !== 0 || units.length === 0) {
    throw new Mutf7Error('bad padding in modified BASE64 run');
  }
  for (let k = 0; k < units.length; k++) {
    const u = units[k]!;
    if (u < 0x80) throw new Mutf7Error('US-ASCII encoded in modified BASE64 run');
    if (u >= 0xd800 && u <= 0xdbff) {
      const lo = units[k + 1];
      if (lo === undefined || lo < 0xdc00 || lo > 0xdfff) throw new Mutf7Error('unpaired surrogate');
      k++;
    } else if (u >= 0xdc00 && u <= 0xdfff) throw new Mutf7Error('unpaired surrogate');
  }
  const buf = Buffer.allocUnsafe(units.length * 2);
  for (let k = 0; k < units.length; k++) buf.writeUInt16LE(units[k]!, k * 2);
  return buf.toString('utf16le');
}

/** True when `text` is a canonical modified UTF-7 name. */
export function isValidMutf7(text: string): boolean {
  try {
    decodeMutf7(text);
    return true;
  } catch (err) {
    if (err instanceof Mutf7Error) return false;
    throw err;
  }
}
