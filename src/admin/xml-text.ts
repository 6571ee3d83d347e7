// Text and attribute values for the XML documents autoconfig writes (Thunderbird's
// config-v1.1.xml, Outlook's autodiscover answer, Apple's plist). Whatever a client sent (an
// address) goes through here before it is written, so a value can never open markup.

/** True for a code point XML 1.0 allows in a document (XML 1.0 §2.2, production [2] Char). */
function isXmlChar(cp: number): boolean {
  if (cp === 0x9 || cp === 0xa || cp === 0xd) return true;
  if (cp < 0x20) return false;
  if (cp >= 0xd800 && cp <= 0xdfff) return false; // a lone surrogate
  return cp !== 0xfffe && cp !== 0xffff;
}

/**
 * The value escaped for element content and for double- or single-quoted attributes: `&`,
 * `<`, `>`, `"` and `'` as entity references (XML 1.0 §2.4), and characters XML cannot carry at
 * all (C0 controls, lone surrogates) replaced by U+FFFD.
 */
export function xmlEscape(value: string): string {
  let out = '';
  for (const ch of value) {
    switch (ch) {
      case '&':
        out += '&amp;';
        break;
      case '<':
        out += '&lt;';
        break;
      case '>':
        out += '&gt;';
        break;
      case '"':
        out += '&quot;';
        break;
      case "'":
        out += '&apos;';
        break;
      default:
        out += isXmlChar(ch.codePointAt(0)!) ? ch : '\uFFFD';
    }
  }
  return out;
}

/** `<name>value</name>`, the value escaped. */
export function xmlElement(name: string, value: string | number): string {
  return `<${name}>${xmlEscape(String(value))}</${name}>`;
}
