// The i;unicode-casemap collation (RFC 5051), which SORT and THREAD use to compare strings
// (RFC 5256 §3: "i;unicode-casemap" is the default collation since RFC 5255 I18NLEVEL=1).
// RFC 5051 §2: each character is replaced by its titlecase (simple mapping: one character for
// one), then fully decomposed; the results are compared as UTF-8 octets (i;octet).
// Invariant: keys are computed once per message, as strings whose JavaScript order (UTF-16 code
// units) is the UTF-8 octet order: UTF-8 orders by code point, UTF-16 does too except that
// surrogates (U+D800-DFFF, for code points above U+FFFF) sort below U+E000-FFFF; each surrogate
// pair is therefore written after a U+FFFF in the key, which puts it above U+E000-FFFF.

/** Simple titlecase of one code point: a one-character upper-case mapping, else the character. */
function titlecase(ch: string): string {
  const upper = ch.toUpperCase();
  // Full mappings that expand (ß -> SS) are not simple mappings: RFC 5051 uses UnicodeData.txt.
  if (upper.length === ch.length || [...upper].length === 1) return upper;
  return ch;
}

/** The titlecased canonicalized form of `s` (RFC 5051 §2), as a key compared with compareKeys. */
export function casemapKey(s: string): string {
  let out = '';
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return s.toUpperCase();
  for (const ch of s) out += titlecase(ch);
  // Decomposition can produce letters with a titlecase of their own (the ligature "ﬁ" gives
  // "fi"): RFC 5051 repeats both steps until nothing changes; one more titlecase pass does it.
  let again = '';
  for (const ch of out.normalize('NFKD')) again += titlecase(ch);
  return again.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '\uffff$&');
}

/** i;octet order of two keys made by casemapKey. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
