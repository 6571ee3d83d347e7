// `postern gc` against a data directory: unreferenced blobs (after the grace period, or at once
// with --grace 0) and files no row names (older than store.gc_orphan_age) are removed, with JSON
// or table output; a bad duration is one line on stderr.

import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { deliverLocal } from '../../src/delivery/local.js';
import { openStore } from '../../src/app/open-store.js';
import { diskUsage } from '../helpers/disk-usage.js';
import { fails, ok, postern, tempDir } from './cli-harness.js';

const MESSAGE = 'From: a@example.test\r\nTo: a@example.test\r\nSubject: gc\r\n\r\nbye\r\n';

void test('postern gc removes expunged blobs, their search rows and orphan files', async (t) => {
  const dir = await tempDir(t);
  ok(postern(dir, ['init', '--domain', 'example.test']));
  ok(postern(dir, ['user', 'add', 'a@example.test', '--password', 'pass-word-1']));
  const config = await loadConfig(path.join(dir, 'postern.toml'));
  const start = await diskUsage(config.dataDir);

  // One message delivered then expunged, and one file no row names, written two hours ago.
  const { store, blobs } = await openStore(config);
  const orphanId = 'ab'.repeat(32);
  try {
    const account = (await store.getAccount('a@example.test'))!;
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    const [outcome] = await deliverLocal({
      store,
      blobs,
      limits: config.limits,
      source: Buffer.from(MESSAGE),
      targets: [{ mailboxId: inbox.id }],
    });
    assert.ok(outcome?.ok);
    await store.expunge(inbox.id, { uids: [outcome.uid] });
  } finally {
    await store.close();
  }
  const orphan = path.join(config.dataDir, 'blobs', 'ab', orphanId);
  await fsp.mkdir(path.dirname(orphan), { recursive: true });
  await fsp.writeFile(orphan, 'left by a crash');
  const old = new Date(Date.now() - 2 * 3600_000);
  await fsp.utimes(orphan, old, old);

  // Default grace (10 minutes): the expunged blob stays; the old orphan goes.
  assert.deepEqual(JSON.parse(ok(postern(dir, ['gc', '--json']))), {
    blobsRemoved: 0,
    bytesFreed: 0,
    orphanFilesRemoved: 1,
    orphanBytesFreed: 'left by a crash'.length,
    changeRowsPruned: 0,
  });
  await assert.rejects(fsp.stat(orphan), { code: 'ENOENT' });
  const mid = await diskUsage(config.dataDir);
  assert.equal(mid.blobRows, start.blobRows + 1);
  assert.equal(mid.blobSearchRows, start.blobSearchRows + 1);

  // --grace 0: the expunged blob, its row and its search row go; the table names what was done.
  // --change-log-retention 0: the expunge's change rows (added and expunged) are pruned too.
  const table = ok(postern(dir, ['gc', '--grace', '0', '--change-log-retention', '0']));
  assert.match(
    table,
    /^BLOBS REMOVED\s+FREED\s+ORPHAN FILES\s+ORPHAN BYTES\s+CHANGES PRUNED\n\s+1\s.*\s1\n$/,
  );
  assert.deepEqual(await diskUsage(config.dataDir), start);

  assert.match(fails(postern(dir, ['gc', '--grace', 'soon'])), /^error: --grace: expected a duration/);
});
