// The i;unicode-casemap collation (RFC 5051), which SORT and THREAD use to compare strings
// (RFC 5256 §3: "i;unicode-casemap" is the default collation since RFC 5255 I18NLEVEL=1).
// RFC 5051 §2: each character is replaced by its titlecase (simple mapping: one character for
// one), then fully decomposed; the results are compared as UTF-8 octets (i;octet).
// Invariant: keys are computed once per message and compared with Buffer.compare.

/** Simple titlecase of one code point: a one-character upper-case mapping, else the character. */
function titlecase(ch: string): string {
  const upper = ch.toUpperCase();
  // Full mappings that expand (ß -> SS) are not simple mappings: RFC 5051 uses UnicodeData.txt.
  if (upper.length === ch.length || [...upper].length === 1) return upper;
  return ch;
}

/** The titlecased canonicalized UTF-8 form of `s` (RFC 5051 §2), as bytes for i;octet comparison. */
export function casemapKey(s: string): Buffer {
  let out = '';
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(s.toUpperCase(), 'latin1');
  for (const ch of s) out += titlecase(ch);
  return Buffer.from(out.normalize('NFKD'), 'utf8');
}
