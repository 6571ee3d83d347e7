// Small lexical checks on MAIL/RCPT parameter values (RFC 5321 §4.1.2, RFC 3461 §4).

export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

export function isDecimal(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** RFC 3461 §4: xtext = *( xchar / hexchar ), xchar is "!" .. "~" except "+" and "="; hexchar is "+" 2HEXDIG (upper case). */
export function isXtext(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      const h1 = s.charCodeAt(i + 1);
      const h2 = s.charCodeAt(i + 2);
      if (!isUpperHex(h1) || !isUpperHex(h2)) return false;
      i += 2;
      continue;
    }
    if (c < 0x21 || c > 0x7e || c === 0x3d) return false;
  }
  return true;
}

function isUpperHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46);
}

/** Decodes xtext (validated with isXtext first). */
export function decodeXtext(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === 0x2b) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out += s[i];
  }
  return out;
}
