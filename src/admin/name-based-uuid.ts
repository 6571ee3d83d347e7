// Name-based UUIDs (RFC 9562 §5.5, version 5: SHA-1 of a namespace UUID and a name). A profile
// installed twice must carry the same identifiers, so iOS and macOS replace the first instead of
// adding a second account: the same name always gives the same UUID.

import { createHash } from 'node:crypto';

/** Postern's namespace for the names it hashes (a fixed random UUID). */
export const POSTERN_NAMESPACE = '3f0c6a52-8d1e-4a7b-9c25-6e4f1b7d2a90';

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.split('-').join('');
  if (hex.length !== 32) throw new Error(`not a UUID: ${uuid}`);
  return Buffer.from(hex, 'hex');
}

/** The version 5 UUID of `name` (UTF-8) in `namespace`, upper case as Apple profiles write them. */
export function nameBasedUuid(name: string, namespace: string = POSTERN_NAMESPACE): string {
  const hash = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50; // version 5
  b[8] = (b[8] & 0x3f) | 0x80; // variant 10xx (RFC 9562 §4.1)
  const hex = b.toString('hex').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
