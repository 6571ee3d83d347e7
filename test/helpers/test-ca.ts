// A certificate authority for tests, made with @peculiar/x509 over Node's WebCrypto (ECDSA P-256,
// as src/server/tls.ts makes the self-signed pair): a root, optionally an intermediate, and
// leaf certificates for given DNS names, each with its PEM key. For HTTPS (MTA-STS policy
// hosts) and STARTTLS servers whose chains DANE-TA and WebPKI checks must verify.

import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

type X509Crypto = NonNullable<Parameters<typeof X509.X509CertificateGenerator.createSelfSigned>[1]>;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function loadX509(): Promise<typeof X509> {
  await import('reflect-metadata');
  return import('@peculiar/x509');
}

export interface TestCert {
  /** PEM of the certificate. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
  x509: X509Certificate;
}

export interface TestCa extends TestCert {
  /** A leaf for these DNS names, signed by this CA; `chain` is the PEM for a server (leaf + issuers below the root). */
  issue(names: string[], opts?: { notAfter?: Date; notBefore?: Date }): Promise<TestCert & { chain: string }>;
  /** An intermediate CA signed by this one. */
  intermediate(name: string): Promise<TestCa>;
}

interface KeyPair {
  publicKey: webcrypto.CryptoKey;
  privateKey: webcrypto.CryptoKey;
}

function serial(): string {
  const s = randomBytes(16);
  s[0] = (s[0] ?? 0) & 0x7f;
  return s.toString('hex');
}

async function pemKey(x509: typeof X509, crypto: X509Crypto, key: webcrypto.CryptoKey): Promise<string> {
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n';
}

function makeCa(
  x509: typeof X509,
  crypto: X509Crypto,
  self: TestCert,
  keys: KeyPair,
  subject: string,
  chainAbove: string,
): TestCa {
  return {
    ...self,
    async issue(names, opts = {}) {
      const leafKeys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
      const notBefore = opts.notBefore ?? new Date(Date.now() - 3600_000);
      const notAfter = opts.notAfter ?? new Date(Date.now() + 30 * 86400_000);
      const c = await x509.X509CertificateGenerator.create(
        {
          serialNumber: serial(),
          subject: `CN=${names[0] ?? 'leaf'}`,
          issuer: subject,
          notBefore,
          notAfter,
          publicKey: leafKeys.publicKey,
          signingKey: keys.privateKey,
          signingAlgorithm: ALG,
          extensions: [
            new x509.BasicConstraintsExtension(false, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
            new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
            new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: 'dns' as const, value: n }))),
          ],
        },
        crypto,
      );
      const cert = c.toString('pem') + '\n';
      return {
        cert,
        key: await pemKey(x509, crypto, leafKeys.privateKey),
        x509: new X509Certificate(cert),
        chain: cert + chainAbove,
      };
    },
    async intermediate(name) {
      const subKeys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
      const subSubject = `CN=${name}`;
      const c = await x509.X509CertificateGenerator.create(
        {
          serialNumber: serial(),
          subject: subSubject,
          issuer: subject,
          notBefore: new Date(Date.now() - 3600_000),
          notAfter: new Date(Date.now() + 365 * 86400_000),
          publicKey: subKeys.publicKey,
          signingKey: keys.privateKey,
          signingAlgorithm: ALG,
          extensions: [
            new x509.BasicConstraintsExtension(true, 0, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          ],
        },
        crypto,
      );
      const cert = c.toString('pem') + '\n';
      const sub: TestCert = {
        cert,
        key: await pemKey(x509, crypto, subKeys.privateKey),
        x509: new X509Certificate(cert),
      };
      return makeCa(x509, crypto, sub, subKeys, subSubject, cert + chainAbove);
    },
  };
}

/** A new root CA named `name`. */
export async function createTestCa(name = 'Postern Test Root'): Promise<TestCa> {
  const x509 = await loadX509();
  const crypto = webcrypto as unknown as X509Crypto;
  const keys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const subject = `CN=${name}`;
  const c = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: subject,
      notBefore: new Date(Date.now() - 3600_000),
      notAfter: new Date(Date.now() + 365 * 86400_000),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    },
    crypto,
  );
  const cert = c.toString('pem') + '\n';
  const root: TestCert = {
    cert,
    key: await pemKey(x509, crypto, keys.privateKey),
    x509: new X509Certificate(cert),
  };
  return makeCa(x509, crypto, root, keys, subject, '');
}

/** A self-signed leaf for these names (no CA anyone trusts). */
export async function createSelfSignedCert(names: string[]): Promise<TestCert> {
  const ca = await createTestCa(names[0] ?? 'self');
  // A leaf issued by a throwaway root that is never trusted, nor sent: as good as self-signed.
  const leaf = await ca.issue(names);
  return { cert: leaf.cert, key: leaf.key, x509: leaf.x509 };
}
