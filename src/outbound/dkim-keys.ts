// DKIM signing keys of a local domain: how they are made and named, and their DNS records.
// Every domain signs with two keys at once, Ed25519 (RFC 8463) and RSA-2048 (RFC 6376;
// RFC 8301 asks for at least 1024 bits, 2048 is what receivers expect): a receiver that does
// not know Ed25519 ignores that signature and checks the RSA one.
//
// Selectors: `p<year><sequence>-ed` and `p<year><sequence>-rsa`, for example `p2026a-ed` and
// `p2026a-rsa`; the sequence is a, b, ... z, aa, ab, ... and each rotation takes the first one
// neither of whose selectors the domain has had (retired keys included), so a published name
// is never reused for another key.

import { generateKeyPair, type KeyObject } from 'node:crypto';
import type { DkimAlgorithm, DkimKey, DkimKeys, NewDkimKey } from '../store/types.js';

/** The selector suffix of each algorithm. */
const SUFFIX: Readonly<Record<DkimAlgorithm, string>> = { ed25519: 'ed', rsa: 'rsa' };

/** RSA modulus of new keys. */
export const DKIM_RSA_BITS = 2048;

function keyPair(algorithm: DkimAlgorithm): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  // Asynchronous: an RSA-2048 key takes tens to hundreds of milliseconds, on libuv's pool.
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
      if (err !== null) reject(err);
      else resolve({ publicKey, privateKey });
    };
    if (algorithm === 'rsa') generateKeyPair('rsa', { modulusLength: DKIM_RSA_BITS }, done);
    else generateKeyPair('ed25519', {}, done);
  });
}

/** The p= value of a public key: SubjectPublicKeyInfo (RSA), the raw 32 bytes (Ed25519, RFC 8463 §4.2). */
export function dkimPublicKeyValue(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  if (publicKey.asymmetricKeyType === 'ed25519') return spki.subarray(spki.length - 32).toString('base64');
  return spki.toString('base64');
}

/** A new key pair, as the store keeps it. */
export async function generateDkimKey(algorithm: DkimAlgorithm, selector: string): Promise<NewDkimKey> {
  const { publicKey, privateKey } = await keyPair(algorithm);
  return {
    selector,
    algorithm,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: dkimPublicKeyValue(publicKey),
  };
}

/** a, b, ..., z, aa, ab, ...: the n-th (from 0) sequence of letters (bijective base 26). */
function letters(n: number): string {
  let s = '';
  for (let k = n + 1; k > 0; k = Math.floor((k - 1) / 26)) s = String.fromCharCode(97 + ((k - 1) % 26)) + s;
  return s;
}

/** The selectors of the next pair: the first `p<year><seq>` whose two selectors are both unused. */
export function nextDkimSelectors(
  used: Iterable<string>,
  now: Date = new Date(),
): Record<DkimAlgorithm, string> {
  const taken = new Set([...used].map((s) => s.toLowerCase()));
  const year = now.getUTCFullYear();
  for (let n = 0; ; n++) {
    const prefix = `p${year}${letters(n)}`;
    const pair = { ed25519: `${prefix}-${SUFFIX.ed25519}`, rsa: `${prefix}-${SUFFIX.rsa}` };
    if (!taken.has(pair.ed25519) && !taken.has(pair.rsa)) return pair;
  }
}

/**
 * Makes a new Ed25519 + RSA pair for a local domain and stores it, signing at once; with
 * `rotate` the domain's active keys are retired in the same write. With `stage` the pair is
 * stored pending instead: published by `postern dns`, signing only once activated
 * (activateDkimKeys), so its records can be in the DNS before the first signature needs them.
 * Returns the new keys.
 */
export async function createDkimKeys(
  store: Pick<DkimKeys, 'addDkimKeys' | 'listDkimKeys'>,
  domain: string,
  opts: { rotate?: boolean; stage?: boolean; now?: Date } = {},
): Promise<DkimKey[]> {
  const existing = await store.listDkimKeys(domain);
  const selectors = nextDkimSelectors(
    existing.map((k) => k.selector),
    opts.now,
  );
  const keys = await Promise.all([
    generateDkimKey('ed25519', selectors.ed25519),
    generateDkimKey('rsa', selectors.rsa),
  ]);
  if (opts.stage === true) return store.addDkimKeys(domain, keys, { pending: true });
  return store.addDkimKeys(domain, keys, { retireActive: opts.rotate === true });
}

/** The owner name of a key's TXT record (RFC 6376 §3.6.2.1), without the trailing dot. */
export function dkimRecordName(key: Pick<DkimKey, 'selector' | 'domain'>): string {
  return `${key.selector}._domainkey.${key.domain}`;
}

/** The TXT value of a key's record (RFC 6376 §3.6.1; k=ed25519 is RFC 8463 §4.2). */
export function dkimRecordValue(key: Pick<DkimKey, 'algorithm' | 'publicKey'>): string {
  return `v=DKIM1; k=${key.algorithm}; p=${key.publicKey}`;
}
