// Password hashing with scrypt (RFC 7914), a memory-hard function, encoded as a self-describing
// string so the cost can be raised later without invalidating stored hashes:
//   $scrypt$ln=15,r=8,p=1$<salt base64>$<hash base64>
// Invariants: comparisons are constant-time; verifying for an unknown user costs the same as
// for a known one (verifyDummyPassword, at the cost new hashes get); no input can make us run
// scrypt with an unbounded cost. The server runs every verification through a scheduler
// (ScryptGate) so that scrypt never takes all of libuv's thread pool.

import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { UsageError } from '../core/errors.js';

/** Longest password accepted, in UTF-8 bytes after normalisation. */
export const MAX_PASSWORD_BYTES = 1024;

/** scrypt cost (log2 N) of new hashes unless auth.scrypt_log_n says otherwise: 32 MiB, ~50 ms. */
export const DEFAULT_LOG_N = 15;
/** Bounds of auth.scrypt_log_n: below 2^10 scrypt is too cheap to be worth the name. */
export const MIN_LOG_N = 10;
const DEFAULT_R = 8;
const DEFAULT_P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

// Bounds on parameters read back from a stored hash, so a corrupt or hostile hash string cannot
// make one verification take seconds or gigabytes.
export const MAX_LOG_N = 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_ENCODED_LENGTH = 512;

interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

interface DecodedHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

/**
 * Runs one piece of scrypt work. The server passes a ScryptGate's scheduler, which bounds how
 * many run at once; the default runs it at once.
 */
export type ScryptScheduler = <T>(work: () => Promise<T>) => Promise<T>;

export interface HashOptions {
  /** scrypt cost, log2 N (default DEFAULT_LOG_N): auth.scrypt_log_n. */
  logN?: number;
}

export interface VerifyOptions {
  /** Cost of the dummy verification run for a missing or malformed hash (default DEFAULT_LOG_N). */
  dummyLogN?: number;
  schedule?: ScryptScheduler;
}

const runNow: ScryptScheduler = (work) => work();

let scryptCount = 0;

/**
 * scrypt runs this process has finished (hashing, verification, dummy verification): lets tests
 * prove, with no timing involved, that a login was answered without one, or that a request was
 * not queued behind a flood of them.
 */
export function scryptRuns(): number {
  return scryptCount;
}

function scryptAsync(password: Buffer, salt: Buffer, keylen: number, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.logN;
  // scrypt needs 128 * N * r * p bytes; node refuses above maxmem (32 MiB by default), which
  // is exactly the memory N=2^15, r=8 needs, so leave headroom.
  const options: ScryptOptions = {
    N,
    r: params.r,
    p: params.p,
    maxmem: 128 * N * params.r * params.p + 16 * 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (err, key) => {
      scryptCount++;
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/**
 * The bytes hashed for a password: NFKC-normalised (a simple stand-in for SASLprep, RFC 4013)
 * then UTF-8. Returns null when the password is too long.
 */
export function passwordBytes(password: string): Buffer | null {
  const bytes = Buffer.from(password.normalize('NFKC'), 'utf8');
  return bytes.length > MAX_PASSWORD_BYTES ? null : bytes;
}

function encode(d: DecodedHash): string {
  return `$scrypt$ln=${d.logN},r=${d.r},p=${d.p}$${d.salt.toString('base64')}$${d.hash.toString('base64')}`;
}

function parseBoundedInt(text: string, max: number): number | null {
  if (text.length === 0 || text.length > 3) return null;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
    n = n * 10 + (c - 0x30);
  }
  return n >= 1 && n <= max ? n : null;
}

function isBase64(text: string): boolean {
  if (text.length === 0 || text.length % 4 !== 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const alnum = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
    const pad = c === 0x3d && i >= text.length - 2;
    if (!(alnum || c === 0x2b || c === 0x2f || pad)) return false;
  }
  return true;
}

/** Parses a stored hash; null when it is not one we can verify. */
export function decodePasswordHash(encoded: string): DecodedHash | null {
  if (encoded.length > MAX_ENCODED_LENGTH) return null;
  const parts = encoded.split('$');
  // ['', 'scrypt', 'ln=15,r=8,p=1', salt, hash]
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== 'scrypt') return null;
  const params = parts[2].split(',');
  if (
    params.length !== 3 ||
    !params[0].startsWith('ln=') ||
    !params[1].startsWith('r=') ||
    !params[2].startsWith('p=')
  ) {
    return null;
  }
  const logN = parseBoundedInt(params[0].slice(3), MAX_LOG_N);
  const r = parseBoundedInt(params[1].slice(2), MAX_R);
  const p = parseBoundedInt(params[2].slice(2), MAX_P);
  if (logN === null || r === null || p === null) return null;
  if (!isBase64(parts[3]) || !isBase64(parts[4])) return null;
  const salt = Buffer.from(parts[3], 'base64');
  const hash = Buffer.from(parts[4], 'base64');
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) return null;
  return { logN, r, p, salt, hash };
}

function checkLogN(logN: number): number {
  if (!Number.isInteger(logN) || logN < MIN_LOG_N || logN > MAX_LOG_N) {
    throw new UsageError(
      `scrypt cost log2 N must be an integer from ${MIN_LOG_N} to ${MAX_LOG_N}, got ${logN}`,
    );
  }
  return logN;
}

/** Hashes a password for storage. Throws UsageError for an empty or too long password. */
export async function hashPassword(password: string, opts: HashOptions = {}): Promise<string> {
  const bytes = passwordBytes(password);
  if (bytes === null) throw new UsageError(`password longer than ${MAX_PASSWORD_BYTES} bytes`);
  if (bytes.length === 0) throw new UsageError('password is empty');
  const salt = randomBytes(SALT_BYTES);
  const params: ScryptParams = { logN: checkLogN(opts.logN ?? DEFAULT_LOG_N), r: DEFAULT_R, p: DEFAULT_P };
  const hash = await scryptAsync(bytes, salt, KEY_BYTES, params);
  return encode({ ...params, salt, hash });
}

/** Dummy hashes by cost, each made once per process. */
const dummyHashes = new Map<number, Promise<DecodedHash>>();

/** A hash of a random password at the given cost. */
function getDummyHash(logN: number): Promise<DecodedHash> {
  let d = dummyHashes.get(logN);
  if (d === undefined) {
    d = hashPassword(randomBytes(18).toString('base64'), { logN }).then((h) => {
      const decoded = decodePasswordHash(h);
      if (decoded === null) throw new Error('dummy hash does not decode');
      return decoded;
    });
    dummyHashes.set(logN, d);
  }
  return d;
}

async function verifyDecoded(bytes: Buffer, d: DecodedHash, schedule: ScryptScheduler): Promise<boolean> {
  const computed = await schedule(() => scryptAsync(bytes, d.salt, d.hash.length, d));
  return timingSafeEqual(computed, d.hash);
}

/**
 * Runs a verification of the same cost as a real one and returns false: call it when the user
 * is unknown so that "no such user" takes as long as "wrong password".
 */
export async function verifyDummyPassword(password: string, opts: VerifyOptions = {}): Promise<false> {
  const d = await getDummyHash(opts.dummyLogN ?? DEFAULT_LOG_N);
  const bytes = passwordBytes(password) ?? Buffer.alloc(0);
  await verifyDecoded(bytes, d, opts.schedule ?? runNow);
  return false;
}

/** True when `password` matches the stored hash. A malformed hash never matches (and costs a dummy run). */
export async function verifyPassword(
  password: string,
  encoded: string,
  opts: VerifyOptions = {},
): Promise<boolean> {
  const d = decodePasswordHash(encoded);
  const bytes = passwordBytes(password);
  if (d === null || bytes === null || bytes.length === 0) return verifyDummyPassword(password, opts);
  return verifyDecoded(bytes, d, opts.schedule ?? runNow);
}

/** Warms the dummy hash of a cost so the first unknown-user login is not slower than the others. */
export async function preparePasswordVerification(logN: number = DEFAULT_LOG_N): Promise<void> {
  await getDummyHash(logN);
}
