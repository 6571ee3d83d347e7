// RFC 3516 BINARY: the content of a part with its Content-Transfer-Encoding removed. Only the
// encodings of RFC 2045 §6 are known; anything else is answered NO [UNKNOWN-CTE] (RFC 3516 §4.3).
// The part is decoded in memory: its size is bounded by the message size limit.

import { decodeQuotedPrintable } from '../../mail/mime/index.js';
import { ImapNo } from './errors.js';

/** Encodings whose content is sent as is (RFC 2045 §6.2 identity encodings). */
const IDENTITY = new Set(['7bit', '8bit', 'binary']);

/** Whether BINARY can decode a part with this (lower-case) Content-Transfer-Encoding. */
export function isKnownEncoding(encoding: string): boolean {
  return IDENTITY.has(encoding) || encoding === 'base64' || encoding === 'quoted-printable';
}

/** Throws NO [UNKNOWN-CTE] for an encoding BINARY cannot remove. */
export function assertKnownEncoding(encoding: string): void {
  if (!isKnownEncoding(encoding)) {
    throw new ImapNo(`Unknown Content-Transfer-Encoding ${encoding.slice(0, 40)}`, { name: 'UNKNOWN-CTE' });
  }
}

/** The decoded content of `raw`, encoded with `encoding` (lower case). */
export function decodeTransfer(raw: Buffer, encoding: string): Buffer {
  assertKnownEncoding(encoding);
  if (encoding === 'base64') {
    // RFC 2045 §6.8: characters outside the base64 alphabet are ignored; Node's decoder does that.
    return Buffer.from(raw.toString('latin1'), 'base64');
  }
  if (encoding === 'quoted-printable') {
    const out = decodeQuotedPrintable(raw);
    return Buffer.from(out.buffer, out.byteOffset, out.length);
  }
  return raw;
}
