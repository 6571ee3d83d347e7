import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { PosternConfig } from '../config/types.js';
import { buildConfig, NO_LISTENERS } from '../config/load.js';
import { openStore } from './open-store.js';

function configFor(dataDir: string): PosternConfig {
  return buildConfig({
    hostname: 'mail.example.test',
    dataDir,
    listen: NO_LISTENERS,
    log: { level: 'error' },
  });
}

void test('openStore builds the file blob store and the sqlite store; bytes and metadata round-trip', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'postern-open-store-'));
  try {
    const { store, blobs } = await openStore(configFor(dir), {
      gcGraceMs: 0,
      log: pino({ level: 'silent' }),
    });
    try {
      assert.equal(store.backend, 'sqlite');
      await fsp.access(path.join(dir, 'postern.sqlite'));
      await store.createDomain('example.test');
      const account = await store.createAccount({ address: 'u@example.test', passwordHash: 'h' });
      const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
      const bytes = Buffer.from('Subject: round trip\r\nFrom: a@example.test\r\n\r\nbody\r\n');
      const stored = await blobs.write(bytes, {
        maxSize: 1 << 20,
        mimeLimits: { mimeDepth: 8, mimeParts: 100, headerSize: 65536 },
      });
      const [o] = await store.append({ blob: stored, targets: [{ mailboxId: inbox.id }] });
      assert.ok(o.ok);
      const [meta] = await store.listMessages(inbox.id);
      assert.deepEqual(await blobs.readAll(meta.blobId), bytes);
      assert.deepEqual(await store.getMime(meta.blobId), JSON.parse(JSON.stringify(stored.mime)));

      await store.expunge(inbox.id, { uids: [o.uid] });
      const gc = await store.collectGarbage();
      assert.deepEqual(gc, {
        blobsRemoved: 1,
        bytesFreed: bytes.length,
        orphanFilesRemoved: 0,
        orphanBytesFreed: 0,
        changeRowsPruned: 0,
      });
      assert.equal(await blobs.exists(meta.blobId), false);
    } finally {
      await store.close();
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
