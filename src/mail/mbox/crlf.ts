// Stored mail is CRLF (RFC 5322 §2.1): converts bare LF to CRLF in a byte stream, keeping CRLF
// that is already there, across chunk boundaries, without buffering more than one chunk.

const LF = 10;
const CR = 13;
const CRLF = Buffer.from('\r\n');

export async function* toCrlf(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer, void, undefined> {
  let lastCR = false;
  for await (const chunk of source) {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.length === 0) continue;
    const parts: Buffer[] = [];
    let start = 0;
    let nl = buf.indexOf(LF, 0);
    while (nl >= 0) {
      const crBefore = nl > 0 ? buf[nl - 1] === CR : lastCR;
      if (!crBefore) {
        parts.push(buf.subarray(start, nl), CRLF);
        start = nl + 1;
      }
      nl = buf.indexOf(LF, nl + 1);
    }
    parts.push(buf.subarray(start));
    lastCR = buf[buf.length - 1] === CR;
    yield parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}
