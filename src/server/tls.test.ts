import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { UsageError } from '../core/errors.js';
import type { PosternConfig } from '../config/types.js';
import { buildConfig, NO_LISTENERS } from '../config/load.js';
import { loadTlsMaterial } from './tls.js';

let dir: string;

function config(overrides: Partial<PosternConfig> = {}): PosternConfig {
  return {
    ...buildConfig({
      hostname: 'mail.example.test',
      dataDir: dir,
      listen: NO_LISTENERS,
      log: { level: 'fatal' },
    }),
    ...overrides,
  };
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'postern-tls-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

void test('first start generates a self-signed ECDSA pair for the hostname; second start reuses it', async () => {
  const m = await loadTlsMaterial(config());
  assert.equal(m.selfSigned, true);
  assert.equal(m.certPath, path.join(dir, 'tls', 'cert.pem'));
  const cert = new X509Certificate(m.cert);
  assert.equal(cert.subject, 'CN=mail.example.test');
  assert.match(cert.subjectAltName ?? '', /DNS:mail\.example\.test/);
  assert.match(cert.subjectAltName ?? '', /DNS:localhost/);
  assert.match(cert.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.equal(cert.checkHost('mail.example.test'), 'mail.example.test');
  assert.equal(cert.checkIP('::1'), '::1');
  assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(cert.verify(cert.publicKey), true, 'self-signed');
  const years = (Date.parse(cert.validTo) - Date.now()) / (365 * 24 * 3600 * 1000);
  assert.ok(years > 9.9 && years < 10.1, `valid for ${years} years`);
  assert.equal((await stat(m.keyPath)).mode & 0o777, 0o600);
  tls.createSecureContext({ cert: m.cert, key: m.key });

  const again = await loadTlsMaterial(config());
  assert.equal(again.cert, m.cert, 'not regenerated');
});

void test('configured cert and key are used as they are', async () => {
  const generated = await loadTlsMaterial(config());
  const certPath = path.join(dir, 'mine.crt');
  const keyPath = path.join(dir, 'mine.key');
  await writeFile(certPath, generated.cert);
  await writeFile(keyPath, generated.key);
  const m = await loadTlsMaterial(config({ tls: { cert: certPath, key: keyPath } }));
  assert.equal(m.selfSigned, false);
  assert.equal(m.cert, await readFile(certPath, 'utf8'));
});

void test('half a configured pair, a missing file or a broken file is a usage error', async () => {
  await assert.rejects(loadTlsMaterial(config({ tls: { cert: '/nonexistent.crt', key: null } })), UsageError);
  await assert.rejects(
    loadTlsMaterial(config({ tls: { cert: '/nonexistent.crt', key: '/nonexistent.key' } })),
    UsageError,
  );
  const broken = path.join(dir, 'broken.pem');
  await writeFile(broken, 'not a certificate');
  await assert.rejects(loadTlsMaterial(config({ tls: { cert: broken, key: broken } })), UsageError);
});
