// TLS material for every listener and for STARTTLS: the configured certificate and key, or a
// self-signed pair kept in <dataDir>/tls, generated on first start. Invariants: the private key
// file is mode 0600 and is never logged; both files are written to temporary names and renamed
// into place (key first), so a crash never leaves a certificate without its key; TLS 1.2 is
// the minimum version (RFC 8996 deprecates TLS 1.0 and 1.1).

import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import type * as X509 from '@peculiar/x509';
import type { PosternConfig } from '../config/types.js';
import { UsageError } from '../core/errors.js';

export const TLS_MIN_VERSION = 'TLSv1.2' as const;

export interface TlsMaterial {
  cert: string;
  key: string;
  context: tls.SecureContext;
  /** True when the pair is the generated one in <dataDir>/tls. */
  selfSigned: boolean;
  /** Absolute paths the PEM files were read from. */
  certPath: string;
  keyPath: string;
}

const VALIDITY_DAYS = 3650;

// The Web Crypto type @peculiar/x509 expects (our lib settings have no DOM types).
type X509Crypto = NonNullable<Parameters<typeof X509.X509CertificateGenerator.createSelfSigned>[1]>;

// Loaded only when a certificate must be generated; its dependency injection container
// (tsyringe) needs the Reflect metadata API installed first.
async function loadX509(): Promise<typeof X509> {
  await import('reflect-metadata');
  return import('@peculiar/x509');
}

export function createTlsContext(cert: string, key: string): tls.SecureContext {
  return tls.createSecureContext({ cert, key, minVersion: TLS_MIN_VERSION });
}

/** The names a generated certificate covers (subjectAltName, RFC 5280 §4.2.1.6). */
export function selfSignedNames(hostname: string): X509.JsonGeneralName[] {
  const names: X509.JsonGeneralName[] = [];
  const seen = new Set<string>();
  for (const name of [hostname.toLowerCase(), 'localhost', '127.0.0.1', '::1']) {
    if (seen.has(name)) continue;
    seen.add(name);
    names.push({ type: isIP(name) === 0 ? 'dns' : 'ip', value: name });
  }
  return names;
}

/** A self-signed ECDSA P-256 certificate for `hostname`, valid for about ten years. */
export async function generateSelfSigned(hostname: string): Promise<{ cert: string; key: string }> {
  const x509 = await loadX509();
  const crypto = webcrypto as unknown as X509Crypto;
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const serial = randomBytes(16);
  serial[0] &= 0x7f; // a positive INTEGER (RFC 5280 §4.1.2.2)
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * 24 * 60 * 60 * 1000);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial.toString('hex'),
      name: [{ CN: [hostname] }],
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(selfSignedNames(hostname)),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    cert: certificate.toString('pem') + '\n',
    key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n',
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function writeDurably(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

async function readPair(certPath: string, keyPath: string): Promise<{ cert: string; key: string }> {
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { cert, key };
}

function checkPair(cert: string, key: string, where: string): tls.SecureContext {
  try {
    new X509Certificate(cert);
    return createTlsContext(cert, key);
  } catch (err) {
    throw new UsageError(`TLS certificate or key in ${where} cannot be used: ${(err as Error).message}`);
  }
}

/**
 * Loads (or, on first start, generates) the certificate and key. Throws UsageError when only one
 * of tls.cert / tls.key is set or the files do not form a usable pair.
 */
export async function loadTlsMaterial(config: PosternConfig): Promise<TlsMaterial> {
  if (config.tls.cert !== null || config.tls.key !== null) {
    if (config.tls.cert === null || config.tls.key === null) {
      throw new UsageError('tls.cert and tls.key must be set together');
    }
    const { cert, key } = await readPair(config.tls.cert, config.tls.key).catch((err: Error) => {
      throw new UsageError(`cannot read TLS certificate or key: ${err.message}`);
    });
    const context = checkPair(cert, key, 'tls.cert/tls.key');
    return { cert, key, context, selfSigned: false, certPath: config.tls.cert, keyPath: config.tls.key };
  }
  const dir = path.join(config.dataDir, 'tls');
  const certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
  if (!((await exists(certPath)) && (await exists(keyPath)))) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pair = await generateSelfSigned(config.hostname);
    // Key first: cert.pem present means key.pem is complete.
    await writeDurably(keyPath, pair.key, 0o600);
    await writeDurably(certPath, pair.cert, 0o644);
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }
  const { cert, key } = await readPair(certPath, keyPath);
  const context = checkPair(cert, key, dir);
  return { cert, key, context, selfSigned: true, certPath, keyPath };
}
