// Scheduled garbage collection inside the server (store.gc_interval): in a single process, and
// in cluster mode (run by the primary, which serves no connection). Each test leaves two
// expunged messages (a small one stored inline, a large one in a file) and a file no row names,
// starts the server, and awaits their removal.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { PosternConfig } from '../../src/config/types.js';
import { deliverLocal } from '../../src/delivery/local.js';
import { runServer } from '../../src/app/server.js';
import { openStore } from '../../src/app/open-store.js';
import { DEFAULT_INLINE_MAX_BYTES } from '../../src/store/blob/inline-blob-store.js';
import { diskUsage, eventually } from '../helpers/disk-usage.js';
import { LOOPBACK_0, tempDir, testConfig } from './server-fixture.js';

const MAIN = fileURLToPath(new URL('./server-cluster-main.js', import.meta.url));

/**
 * Two expunged messages' blobs (unreferenced: one inline, one a file) and an orphan file two
 * hours old; returns the paths of the files.
 */
async function leaveGarbage(config: PosternConfig): Promise<string[]> {
  const { store, blobs } = await openStore(config);
  let blobPath: string;
  try {
    await store.createDomain('example.test');
    const account = await store.createAccount({ address: 'a@example.test', passwordHash: 'x' });
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    const small = 'Subject: scheduled\r\n\r\ncollect me\r\n';
    const large = small + ('x'.repeat(76) + '\r\n').repeat(Math.ceil(DEFAULT_INLINE_MAX_BYTES / 78) + 1);
    for (const source of [small, large]) {
      const [outcome] = await deliverLocal({
        store,
        blobs,
        limits: config.limits,
        source: Buffer.from(source),
        targets: [{ mailboxId: inbox.id }],
      });
      assert.ok(outcome?.ok);
    }
    const [inline, file] = await store.listMessages(inbox.id);
    assert.ok(inline!.size <= DEFAULT_INLINE_MAX_BYTES && file!.size > DEFAULT_INLINE_MAX_BYTES);
    blobPath = path.join(config.dataDir, 'blobs', file!.blobId.slice(0, 2), file!.blobId);
    await store.expunge(inbox.id, { uids: [inline!.uid, file!.uid] });
    assert.equal((await diskUsage(config.dataDir)).inlineRows, 1, 'the small message is stored inline');
  } finally {
    await store.close();
  }
  const orphan = path.join(config.dataDir, 'blobs', 'cd', 'cd'.repeat(32));
  await fsp.mkdir(path.dirname(orphan), { recursive: true });
  await fsp.writeFile(orphan, 'orphan');
  const old = new Date(Date.now() - 2 * 3600_000);
  await fsp.utimes(orphan, old, old);
  return [blobPath, orphan];
}

async function collected(dataDir: string, files: string[]): Promise<void> {
  for (const f of files) await assert.rejects(fsp.stat(f), { code: 'ENOENT' }, `${f} still there`);
  const usage = await diskUsage(dataDir);
  assert.equal(usage.blobRows, 0);
  assert.equal(usage.blobSearchRows, 0);
  assert.equal(usage.blobFiles, 0);
  assert.equal(usage.inlineRows, 0);
}

const GC = { gcInterval: 1, gcGrace: 0, gcOrphanAge: 3600 };

void test(
  'single process: garbage collection runs every store.gc_interval',
  { timeout: 30_000 },
  async () => {
    const dir = await tempDir('gc');
    try {
      const config = testConfig(dir, { listen: { http: LOOPBACK_0 }, store: GC });
      const files = await leaveGarbage(config);
      for (const f of files) await fsp.stat(f); // present before the server starts
      const controller = new AbortController();
      let ready!: () => void;
      const readyP = new Promise<void>((r) => (ready = r));
      const running = runServer(config, { onReady: ready, signal: controller.signal, handleSignals: false });
      try {
        await readyP;
        await eventually(() => collected(dir, files), 20_000);
      } finally {
        controller.abort();
        await running;
      }
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  },
);

void test('cluster: the primary runs the scheduled garbage collection', { timeout: 40_000 }, async () => {
  const dir = await tempDir('gc-cluster');
  const config = testConfig(dir, {
    listen: { http: LOOPBACK_0 },
    server: { workers: 2, shutdownGrace: 2 },
    store: GC,
    level: 'warn',
  });
  const files = await leaveGarbage(config);
  const child = spawn(process.execPath, [MAIN, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`not ready; stderr: ${stderr}`)), 15_000);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('READY ')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`exited before ready; stderr: ${stderr}`)));
    });
    await eventually(() => collected(dir, files), 20_000);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
