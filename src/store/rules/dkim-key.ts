// What the store refuses of a DKIM key before any storage is touched. A selector is one or more
// DNS labels (RFC 6376 §3.1: sub-domain syntax), stored lower-case; the public key is the base64
// p= value of the DNS record; the private key a PEM text.

import { StoreError } from '../../core/errors.js';
import { isValidHostname } from '../../mail/domain.js';
import type { DkimAlgorithm, NewDkimKey } from '../types.js';

const ALGORITHMS: readonly DkimAlgorithm[] = ['ed25519', 'rsa'];
/** Longest PEM accepted (an RSA-4096 PKCS#8 PEM is about 3,300 characters). */
const MAX_PEM = 16_384;
/** Longest p= value accepted (an RSA-4096 key is 736 base64 characters). */
const MAX_PUBLIC_KEY = 4_096;

/** A selector as stored (lower case); INVALID_ARGUMENT when it is not one or more DNS labels. */
export function normalizeSelector(selector: string): string {
  const s = typeof selector === 'string' ? selector.toLowerCase() : '';
  // The record name `<selector>._domainkey.<domain>` must still fit 253 octets: keep it short.
  if (s.length > 63 || !isValidHostname(s)) {
    throw new StoreError('INVALID_ARGUMENT', `not a valid DKIM selector: ${JSON.stringify(selector)}`);
  }
  return s;
}

function isBase64(s: string): boolean {
  if (s.length === 0 || s.length % 4 !== 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
    const pad = c === 61 && i >= s.length - 2;
    if (!alnum && c !== 43 && c !== 47 && !pad) return false;
  }
  return true;
}

/** The keys of one addDkimKeys call, checked, with their selectors normalised and distinct. */
export function checkNewDkimKeys(keys: readonly NewDkimKey[]): NewDkimKey[] {
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > 16) {
    throw new StoreError('INVALID_ARGUMENT', 'between 1 and 16 DKIM keys at once');
  }
  const seen = new Set<string>();
  return keys.map((k) => {
    const selector = normalizeSelector(k.selector);
    if (seen.has(selector)) throw new StoreError('INVALID_ARGUMENT', `selector ${selector} given twice`);
    seen.add(selector);
    if (!ALGORITHMS.includes(k.algorithm)) {
      throw new StoreError('INVALID_ARGUMENT', `unknown DKIM algorithm ${JSON.stringify(k.algorithm)}`);
    }
    if (
      typeof k.privateKeyPem !== 'string' ||
      k.privateKeyPem.length > MAX_PEM ||
      !k.privateKeyPem.startsWith('-----BEGIN ')
    ) {
      throw new StoreError('INVALID_ARGUMENT', 'the private key must be a PEM text');
    }
    if (typeof k.publicKey !== 'string' || k.publicKey.length > MAX_PUBLIC_KEY || !isBase64(k.publicKey)) {
      throw new StoreError('INVALID_ARGUMENT', 'the public key must be base64 (the p= value)');
    }
    return { selector, algorithm: k.algorithm, privateKeyPem: k.privateKeyPem, publicKey: k.publicKey };
  });
}
