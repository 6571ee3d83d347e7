// Host and domain names: LDH labels (RFC 1035 §2.3.1, relaxed by RFC 1123 §2.1 to allow a
// leading digit), each 1..63 octets, 253 in all. Checked without regular expressions.

import { domainToASCII } from 'node:url';

export function isValidHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) return false;
    if (label.startsWith('-') || label.endsWith('-')) return false;
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45;
      if (!ok) return false;
    }
  }
  return true;
}

/**
 * A domain as stored: lower case, internationalised names as IDNA A-labels (RFC 5890).
 * Returns null when the name is not a valid domain.
 */
export function normalizeDomain(input: string): string | null {
  if (input.length === 0 || input.length > 253) return null;
  let ascii = input.toLowerCase();
  let nonAscii = false;
  for (let i = 0; i < ascii.length; i++) if (ascii.charCodeAt(i) > 127) nonAscii = true;
  if (nonAscii) {
    ascii = domainToASCII(ascii);
    if (ascii === '') return null;
  }
  return isValidHostname(ascii) ? ascii : null;
}
