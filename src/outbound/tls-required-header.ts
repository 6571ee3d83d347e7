// RFC 8689 §5: the `TLS-Required: No` header field. A sender who puts it in a message asks that
// the recipient domain's TLS policies (MTA-STS, DANE) not stop the delivery; TLS is still used
// when the server offers it. Only the header section is read, at most HEADER_SCAN_LIMIT bytes,
// and the read stops at its end (the rest of the message is never read).

/** Beyond this the header section is not scanned further (the field is then taken as absent). */
export const HEADER_SCAN_LIMIT = 256 * 1024;

const FIELD = 'tls-required';

/** Whether the message's header section has `TLS-Required: No` (any case, any folding). */
export async function hasTlsRequiredNo(message: AsyncIterable<Uint8Array>): Promise<boolean> {
  const parts: Buffer[] = [];
  let size = 0;
  let end = -1;
  for await (const chunk of message) {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // Look for the blank line across the chunk boundary too.
    const from = Math.max(0, size - 3);
    parts.push(buf);
    size += buf.length;
    const joined = parts.length === 1 ? buf : Buffer.concat(parts);
    if (parts.length > 1) parts.splice(0, parts.length, joined);
    end = headerEnd(joined, from);
    if (end >= 0 || size >= HEADER_SCAN_LIMIT) break;
  }
  const all = parts.length === 0 ? Buffer.alloc(0) : parts[0]!;
  const header = all.subarray(0, end >= 0 ? end : Math.min(all.length, HEADER_SCAN_LIMIT)).toString('latin1');
  // Unfold (RFC 5322 §2.2.3), then look at each field.
  for (const line of header.replace(/\r?\n(?=[ \t])/g, '').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (line.slice(0, colon).trim().toLowerCase() !== FIELD) continue;
    if (
      line
        .slice(colon + 1)
        .trim()
        .toLowerCase() === 'no'
    )
      return true;
  }
  return false;
}

/** The offset of the blank line ending the header section (CRLF CRLF or LF LF), or -1. */
function headerEnd(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length - 1; i++) {
    if (buf[i] !== 0x0a) continue;
    if (buf[i + 1] === 0x0a) return i;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i;
  }
  return -1;
}
