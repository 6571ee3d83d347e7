import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { WalIndexReader } from './wal-index.js';

void test('WalIndexReader: frames written and copied, as SQLite reports them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-walindex-'));
  const file = join(dir, 'db.sqlite');
  const reader = new WalIndexReader(`${file}-shm`);
  try {
    assert.equal(reader.read(), null, 'no wal-index before the database exists');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (v TEXT)');
    const put = db.prepare('INSERT INTO t (v) VALUES (?)');
    for (let i = 0; i < 50; i++) put.run('x'.repeat(3000));
    const before = reader.read();
    assert.ok(before !== null && before.frames >= 50, JSON.stringify(before));
    assert.equal(before.backfilled, 0);
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>;
    assert.deepEqual(reader.read(), { frames: row!.log, backfilled: row!.checkpointed });
    assert.equal(row!.checkpointed, row!.log);
    db.close();
  } finally {
    reader.close();
    await rm(dir, { recursive: true, force: true });
  }
});
