// DKIM signing of outgoing mail (RFC 6376; Ed25519 RFC 8463): every active key of the domain
// of the RFC 5322 From: address signs, relaxed/relaxed, SHA-256. The queue worker calls
// `sign()` once per message before sending and prepends the lines it returns.
//
// Built from mailauth's parts (its header canonicalisation and its DKIM-Signature formatting)
// rather than its `dkimSign`: that one signs exactly the fields present and cannot oversign
// (list a field name once more than it occurs, so that a From: added later breaks the
// signature, RFC 6376 §8.15), and its body hasher is quadratic in the length of a line
// (dkim-body-hash.ts is ours, linear). Tests verify every signature with mailauth's verifier.
//
// Invariants: the event loop is never held for long: the body is hashed in slices of at most
// 64 KiB with a turn of the event loop after every 256 KiB, whatever the input (a Buffer, a
// stream), and the signatures are made on libuv's thread pool; the header section is bounded
// (`maxHeaderBytes`), split into fields in one linear pass; a message that cannot be signed (no
// single From: domain, not a local domain, no key, a header section over the bound) gets no
// signature, never an error; keys are read from the store at most once per `keyCacheMs` per
// domain.

import { createHash, createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { normalizeDomain } from '../mail/domain.js';
import { parseAddressList } from '../mail/mime/address.js';
import { decodeHeaderBytes } from '../mail/mime/header-block.js';
import type { DkimKey, DkimKeys, OutboundEnvelope } from '../store/types.js';
import { RelaxedBodyHash } from './dkim-body-hash.js';

// mailauth's internals are CommonJS without type declarations: typed here, loaded once.
interface MailauthHeaderLine {
  key: string;
  casedKey: string;
  line: Buffer;
}
type DkimTagValues = Record<string, string | number>;
const requireCjs = createRequire(import.meta.url);
const { relaxedHeaders } = requireCjs('mailauth/lib/dkim/header/relaxed') as {
  relaxedHeaders: (
    type: 'DKIM',
    lines: { keys: string; headers: MailauthHeaderLine[] },
    options: {
      signingDomain: string;
      selector: string;
      algorithm: string;
      canonicalization: string;
      bodyHash: string;
      signTime: Date;
    },
  ) => { canonicalizedHeader: Buffer; dkimHeaderOpts: DkimTagValues };
};
const { formatSignatureHeaderLine } = requireCjs('mailauth/lib/tools') as {
  formatSignatureHeaderLine: (type: 'DKIM', values: DkimTagValues, folded: boolean) => string;
};

/**
 * The fields signed when present (RFC 6376 §5.4.1's list, plus List-Unsubscribe-Post, which
 * RFC 8058 §4 requires to be signed). Each occurrence is signed.
 */
export const DKIM_SIGNED_FIELDS: readonly string[] = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-ID',
  'Content-Description',
  'Resent-Date',
  'Resent-From',
  'Resent-Sender',
  'Resent-To',
  'Resent-Cc',
  'Resent-Message-ID',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
];

/** Fields named once more in h= than they occur (RFC 6376 §8.15): no one can add another. */
export const DKIM_OVERSIGNED_FIELDS: readonly string[] = ['From'];

export interface DkimSignerOptions {
  /** How long a domain's active keys are remembered (ms); default 60 s, 0: ask the store each time. */
  keyCacheMs?: number;
  /** Longest header section signed (bytes); a longer one gets no signature. Default 1 MiB. */
  maxHeaderBytes?: number;
  /** The clock of t= (tests). */
  now?: () => Date;
}

export type DkimSignOutcome =
  | { signed: true; domain: string; selectors: string[]; headers: string }
  | {
      signed: false;
      /** Why not: no usable From: domain, no active key for it, or a header section too large. */
      reason: 'no-from-domain' | 'no-keys' | 'header-too-large';
      domain: string | null;
      headers: '';
    };

export interface DkimSigner {
  /**
   * The DKIM-Signature fields for a message, CRLF-terminated, to prepend to it ('' when it is
   * not signed). `fromDomain` overrides the domain of its From: field. A stream is read to its
   * end, or destroyed when the message is not signed; a stream's error rejects.
   */
  sign(message: Uint8Array | AsyncIterable<Uint8Array>, fromDomain?: string): Promise<string>;
  /** sign() with the reason and the selectors used, for logs. */
  signWithOutcome(
    message: Uint8Array | AsyncIterable<Uint8Array>,
    fromDomain?: string,
  ): Promise<DkimSignOutcome>;
  /** Forgets cached keys (after a rotation in this process). */
  clearKeyCache(): void;
}

const SLICE = 64 * 1024;
const YIELD_EVERY = 256 * 1024;
const DEFAULT_KEY_CACHE_MS = 60_000;
const DEFAULT_MAX_HEADER_BYTES = 1024 * 1024;
/** From: addresses looked at; a From: with more is not signed (no single domain to speak for). */
const MAX_FROM_ADDRESSES = 100;

interface SigningKey {
  domain: string;
  selector: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  key: KeyObject;
}

/** Slices of at most SLICE bytes of a Buffer or of each chunk of a stream. */
async function* slices(message: Uint8Array | AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array> =
    message instanceof Uint8Array ? [message] : message;
  for await (const chunk of chunks) {
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let at = 0; at < buf.length; at += SLICE) yield buf.subarray(at, Math.min(buf.length, at + SLICE));
  }
}

/** The end of the header section in `buf` (the index after its blank line), or -1. */
function headerEnd(buf: Buffer, from: number): number {
  // No header at all: the message starts with the blank line.
  if (buf[0] === 0x0a) return 1;
  if (buf[0] === 0x0d && buf[1] === 0x0a) return 2;
  for (let i = buf.indexOf(0x0a, from); i !== -1; i = buf.indexOf(0x0a, i + 1)) {
    // A line that is empty: LF LF, or LF CR LF.
    if (buf[i + 1] === 0x0a) return i + 2;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

/** The header fields, raw (folding kept, line break at the end removed), in one linear pass. */
export function headerFields(header: Buffer): MailauthHeaderLine[] {
  const fields: MailauthHeaderLine[] = [];
  let start = -1;
  let end = -1;
  const flush = (): void => {
    if (start < 0) return;
    const line = header.subarray(start, end);
    const colon = line.indexOf(0x3a);
    if (colon > 0) {
      const casedKey = line.toString('latin1', 0, colon).trim();
      if (casedKey.length > 0) fields.push({ key: casedKey.toLowerCase(), casedKey, line });
    }
    start = -1;
  };
  let i = 0;
  while (i < header.length) {
    let lf = header.indexOf(0x0a, i);
    if (lf === -1) lf = header.length;
    const lineEnd = lf > i && header[lf - 1] === 0x0d ? lf - 1 : lf;
    if (lineEnd === i) break; // the blank line
    const first = header[i];
    if ((first === 0x20 || first === 0x09) && start >= 0) {
      end = lineEnd;
    } else {
      flush();
      start = i;
      end = lineEnd;
    }
    i = lf + 1;
  }
  flush();
  return fields;
}

/**
 * The one domain of the From: field (RFC 5322 §3.6.2), as stored (lower-case A-label), or null:
 * no From:, several From: fields, an address without a domain, or addresses of several domains.
 */
export function fromDomainOf(fields: readonly MailauthHeaderLine[]): string | null {
  const from = fields.filter((f) => f.key === 'from');
  if (from.length !== 1) return null;
  const raw = from[0]!.line;
  const value = decodeHeaderBytes(raw.subarray(raw.indexOf(0x3a) + 1)).replace(/\r?\n/g, '');
  const list = parseAddressList(value);
  let domain: string | null = null;
  let count = 0;
  for (const a of list ?? []) {
    if (a.host === null) continue; // a group's start or end marker
    if (++count > MAX_FROM_ADDRESSES) return null;
    const d = a.host === '' ? null : normalizeDomain(a.host);
    if (d === null || (domain !== null && d !== domain)) return null;
    domain = d;
  }
  return domain;
}

/** h= and the fields it covers: each occurrence of a signed field, bottom-up, then the oversigned names. */
function signedHeaderLines(fields: readonly MailauthHeaderLine[]): {
  keys: string;
  headers: MailauthHeaderLine[];
} {
  const wanted = new Set(DKIM_SIGNED_FIELDS.map((f) => f.toLowerCase()));
  const headers: MailauthHeaderLine[] = [];
  // RFC 6376 §5.4.2: a verifier takes the last unused instance of a name first.
  for (let i = fields.length - 1; i >= 0; i--) if (wanted.has(fields[i]!.key)) headers.push(fields[i]!);
  // An extra name with no field left stands for the null string (RFC 6376 §5.4): nothing is
  // added to the hashed data, only to h=.
  const names = [...headers.map((h) => h.casedKey), ...DKIM_OVERSIGNED_FIELDS];
  return { keys: names.join(': '), headers };
}

/** crypto.sign on libuv's thread pool (its callback form): an RSA-2048 signature is about a millisecond. */
function signOffLoop(algorithm: string | null, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    cryptoSign(algorithm, data, key, (err, signature) => {
      if (err !== null) reject(err);
      else resolve(signature);
    });
  });
}

function toSigningKey(k: DkimKey): SigningKey {
  return {
    domain: k.domain,
    selector: k.selector,
    algorithm: k.algorithm === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
    key: createPrivateKey(k.privateKeyPem),
  };
}

/**
 * Whether a queued message is this server's to sign: one submitted by a local user (the queue
 * keeps the submitting account; its From: was checked against the user at end of data), not
 * mail relayed for others (inbound mail an alias forwards), whose From: is someone else's claim
 * even when it names a local domain. Reports the server makes itself may be signed too: the
 * caller knows them.
 */
export function isSubmittedByLocalUser(envelope: Pick<OutboundEnvelope, 'accountId'>): boolean {
  return envelope.accountId !== null;
}

export function createDkimSigner(
  store: Pick<DkimKeys, 'listDkimKeys'>,
  opts: DkimSignerOptions = {},
): DkimSigner {
  const keyCacheMs = opts.keyCacheMs ?? DEFAULT_KEY_CACHE_MS;
  const maxHeaderBytes = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const now = opts.now ?? (() => new Date());
  const cache = new Map<string, { at: number; keys: SigningKey[] }>();

  async function keysOf(domain: string): Promise<SigningKey[]> {
    const t = Date.now();
    const hit = cache.get(domain);
    if (hit !== undefined && t - hit.at < keyCacheMs) return hit.keys;
    const keys = (await store.listDkimKeys(domain, { activeOnly: true })).map(toSigningKey);
    if (keyCacheMs > 0) {
      // Bounded: a server signs for its own domains only, but a cache keyed by input stays small.
      if (cache.size >= 1000) cache.clear();
      cache.set(domain, { at: t, keys });
    }
    return keys;
  }

  async function signWithOutcome(
    message: Uint8Array | AsyncIterable<Uint8Array>,
    fromDomain?: string,
  ): Promise<DkimSignOutcome> {
    const it = slices(message);
    try {
      return await signFrom(it, fromDomain);
    } finally {
      // Ends the for-await inside when the message was not read to its end: a stream is destroyed.
      await it.return(undefined);
    }
  }

  async function signFrom(
    it: AsyncGenerator<Buffer>,
    fromDomain: string | undefined,
  ): Promise<DkimSignOutcome> {
    const unsigned = (
      reason: 'no-from-domain' | 'no-keys' | 'header-too-large',
      domain: string | null,
    ): DkimSignOutcome => ({ signed: false, reason, domain, headers: '' });

    // The header section, up to its blank line (or the whole message when there is none).
    let head: Buffer = Buffer.alloc(0);
    let end = -1;
    let bodyStart: Buffer | null = null;
    for (;;) {
      const next = await it.next();
      if (next.done === true) break;
      const scanFrom = Math.max(0, head.length - 2);
      head = head.length === 0 ? next.value : Buffer.concat([head, next.value]);
      end = headerEnd(head, scanFrom);
      if (end !== -1) {
        bodyStart = head.subarray(end);
        head = head.subarray(0, end);
        break;
      }
      if (head.length > maxHeaderBytes) return unsigned('header-too-large', null);
    }
    if (head.length > maxHeaderBytes) return unsigned('header-too-large', null);
    const fields = headerFields(head);
    const domain =
      fromDomain !== undefined && fromDomain !== '' ? normalizeDomain(fromDomain) : fromDomainOf(fields);
    if (domain === null) return unsigned('no-from-domain', null);
    const keys = await keysOf(domain);
    if (keys.length === 0) return unsigned('no-keys', domain);

    // RFC 6376 §3.4.4: the relaxed body hash, fed in slices with turns of the event loop.
    const body = new RelaxedBodyHash();
    let sinceYield = 0;
    const feed = async (chunk: Buffer): Promise<void> => {
      if (chunk.length === 0) return;
      body.update(chunk);
      sinceYield += chunk.length;
      if (sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await nextTurn();
      }
    };
    if (bodyStart !== null) {
      for (let at = 0; at < bodyStart.length; at += SLICE) await feed(bodyStart.subarray(at, at + SLICE));
    }
    for (;;) {
      const next = await it.next();
      if (next.done === true) break;
      await feed(next.value);
    }
    const bodyHash = body.digest();

    const lines = signedHeaderLines(fields);
    const signTime = now();
    const out = await Promise.all(
      keys.map(async (k) => {
        const { canonicalizedHeader, dkimHeaderOpts } = relaxedHeaders('DKIM', lines, {
          signingDomain: k.domain,
          selector: k.selector,
          algorithm: k.algorithm,
          canonicalization: 'relaxed/relaxed',
          bodyHash,
          signTime,
        });
        // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the canonicalised header (PureEdDSA).
        const signature =
          k.algorithm === 'rsa-sha256'
            ? await signOffLoop('sha256', canonicalizedHeader, k.key)
            : await signOffLoop(null, createHash('sha256').update(canonicalizedHeader).digest(), k.key);
        return formatSignatureHeaderLine(
          'DKIM',
          { ...dkimHeaderOpts, b: signature.toString('base64') },
          true,
        );
      }),
    );
    return {
      signed: true,
      domain,
      selectors: keys.map((k) => k.selector),
      headers: out.join('\r\n') + '\r\n',
    };
  }

  return {
    signWithOutcome,
    async sign(message, fromDomain) {
      return (await signWithOutcome(message, fromDomain)).headers;
    },
    clearKeyCache() {
      cache.clear();
    },
  };
}
