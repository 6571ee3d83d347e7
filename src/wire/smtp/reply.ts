// SMTP replies (RFC 5321 §4.2): Reply-code [SP text] CRLF, or for several lines
// Reply-code "-" text CRLF ... Reply-code SP text CRLF (§4.2.1). With an enhanced status code
// (RFC 2034, RFC 3463) every line carries it after the reply code.
// Invariant: the result never holds a CR or LF except the line endings it adds, so text
// that echoes client input cannot forge a reply line.

function checkCode(code: number, enhanced: string | null): void {
  if (!Number.isInteger(code) || code < 200 || code > 599)
    throw new RangeError(`bad SMTP reply code ${code}`);
  if (enhanced === null) return;
  // RFC 3463 §2: class "." subject "." detail, class 2, 4 or 5 as the reply's first digit
  const parts = enhanced.split('.');
  const cls = Math.floor(code / 100);
  if (
    parts.length !== 3 ||
    parts[0] !== String(cls) ||
    !isNumber(parts[1], 3) ||
    !isNumber(parts[2], 3) ||
    (cls !== 2 && cls !== 4 && cls !== 5)
  ) {
    throw new RangeError(`bad enhanced status code ${enhanced} for reply ${code}`);
  }
}

function isNumber(s: string, maxDigits: number): boolean {
  if (s.length === 0 || s.length > maxDigits) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Replaces control characters other than line breaks, which split lines, by "?". */
function splitLines(text: string | readonly string[]): string[] {
  const lines: string[] = [];
  for (const item of typeof text === 'string' ? [text] : text) {
    let current = '';
    for (let i = 0; i < item.length; i++) {
      const c = item.charCodeAt(i);
      if (c === 0x0d || c === 0x0a) {
        lines.push(current);
        current = '';
        if (c === 0x0d && item.charCodeAt(i + 1) === 0x0a) i++;
      } else {
        current += c < 0x20 || c === 0x7f ? '?' : item[i];
      }
    }
    lines.push(current);
  }
  return lines;
}

/**
 * Formats a reply, CRLF-terminated. `text` may be one line or several (multi-line replies
 * use "250-" on every line but the last). A CR or LF inside the text starts a new line.
 */
export function formatReply(code: number, enhanced: string | null, text: string | readonly string[]): string {
  checkCode(code, enhanced);
  const lines = splitLines(text);
  if (lines.length === 0) lines.push('');
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const line = enhanced === null ? lines[i] : lines[i].length > 0 ? `${enhanced} ${lines[i]}` : enhanced;
    if (i < lines.length - 1) out += `${code}-${line}\r\n`;
    // RFC 4954 §4: a continuation is "334" SP [base64], the space even before an empty challenge.
    else out += line.length > 0 || code === 334 ? `${code} ${line}\r\n` : `${code}\r\n`;
  }
  return out;
}
