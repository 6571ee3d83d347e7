import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { LATEST_SCHEMA_VERSION, migrate, MIGRATIONS, SchemaTooNewError } from './schema.js';
import { openSqliteStore, SQLITE_FILE_NAME } from './sqlite-store.js';
import { makeTempDir, RecordingBlobStore, seedAccount } from './store-fixture.js';

void test('a fresh file gets every migration once; re-opening applies none and keeps the data', async () => {
  const dir = await makeTempDir();
  try {
    const blobs = new RecordingBlobStore();
    const a = await openSqliteStore({ dataDir: dir, blobs });
    await seedAccount(a, 'bob@example.org');
    await a.close();
    const b = await openSqliteStore({ dataDir: dir, blobs });
    assert.notEqual(await b.getAccount('bob@example.org'), null);
    await b.close();

    const db = new Database(path.join(dir, SQLITE_FILE_NAME));
    try {
      const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
      assert.deepEqual(
        versions,
        MIGRATIONS.map((m) => m.version),
      );
      assert.deepEqual(migrate(db), [], 'nothing left to apply');
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

void test('a later migration is applied on re-open, in its own transaction', async () => {
  const dir = await makeTempDir();
  try {
    const file = path.join(dir, SQLITE_FILE_NAME);
    const db = new Database(file);
    try {
      assert.deepEqual(
        migrate(db),
        MIGRATIONS.map((m) => m.version),
      );
      const extra = [
        ...MIGRATIONS,
        { version: LATEST_SCHEMA_VERSION + 1, description: 't', sql: 'CREATE TABLE t2 (x)' },
      ];
      assert.deepEqual(migrate(db, extra), [LATEST_SCHEMA_VERSION + 1]);
      const broken = [
        ...extra,
        { version: LATEST_SCHEMA_VERSION + 2, description: 'bad', sql: 'CREATE TABLE t3 (x); NOT SQL' },
      ];
      assert.throws(() => migrate(db, broken));
      assert.equal(
        db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 't3'").pluck().get(),
        0,
        'rolled back',
      );
      assert.equal(
        db.prepare('SELECT max(version) FROM schema_migrations').pluck().get(),
        LATEST_SCHEMA_VERSION + 1,
      );
    } finally {
      db.close();
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

void test('a schema newer than the code is refused with a clear error', async () => {
  const dir = await makeTempDir();
  try {
    const blobs = new RecordingBlobStore();
    const s = await openSqliteStore({ dataDir: dir, blobs });
    await s.close();
    const db = new Database(path.join(dir, SQLITE_FILE_NAME));
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(
      LATEST_SCHEMA_VERSION + 5,
      0,
    );
    db.close();
    await assert.rejects(openSqliteStore({ dataDir: dir, blobs }), (err: unknown) => {
      assert.ok(err instanceof SchemaTooNewError);
      assert.match(err.message, /schema version \d+, but this Postern knows versions up to \d+/);
      return true;
    });
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

void test('migration 12 counts the messages each account already holds', () => {
  const db = new Database(':memory:');
  try {
    migrate(
      db,
      MIGRATIONS.filter((m) => m.version < 12),
    );
    db.exec(`INSERT INTO domains (id, name, created_at) VALUES (1, 'example.org', 0);
      INSERT INTO accounts (id, domain_id, address, password_hash, created_at) VALUES (1, 1, 'a@example.org', 'x', 0);
      INSERT INTO accounts (id, domain_id, address, password_hash, created_at) VALUES (2, 1, 'b@example.org', 'x', 0);
      INSERT INTO mailboxes (account_id, name, uidvalidity, messages) VALUES (1, 'INBOX', 1, 3), (1, 'Sent', 1, 4);`);
    migrate(db);
    const rows = db.prepare('SELECT id, quota_messages, used_messages FROM accounts ORDER BY id').all();
    assert.deepEqual(rows, [
      { id: 1, quota_messages: 0, used_messages: 7 },
      { id: 2, quota_messages: 0, used_messages: 0 },
    ]);
  } finally {
    db.close();
  }
});

void test('migration 11: old messages get their internal date as save date, old mailboxes an object id', async () => {
  const dir = await makeTempDir();
  try {
    const db = new Database(path.join(dir, SQLITE_FILE_NAME));
    try {
      migrate(
        db,
        MIGRATIONS.filter((m) => m.version <= 10),
      );
      // Rows as an older version left them (their parents do not matter here).
      db.pragma('foreign_keys = OFF');
      db.exec(
        `INSERT INTO mailboxes (id, account_id, name, uidvalidity) VALUES (7, 1, 'INBOX', 1796000000);
         INSERT INTO messages (mailbox_id, uid, modseq, internal_date, size, blob_id)
           VALUES (7, 1, 2, 1700000000000, 10, 'b1'), (7, 2, 3, 1710000000000, 10, 'b2');`,
      );
      assert.deepEqual(
        migrate(
          db,
          MIGRATIONS.filter((m) => m.version <= 11),
        ),
        [11],
      );
      assert.deepEqual(db.prepare('SELECT uid, save_date FROM messages ORDER BY uid').raw().all(), [
        [1, 1700000000000],
        [2, 1710000000000],
      ]);
      assert.equal(db.prepare('SELECT object_id FROM mailboxes WHERE id = 7').pluck().get(), 'F1796000000');
    } finally {
      db.close();
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

void test('migration 16 adds app_passwords to an existing database, empty, ids never reused', () => {
  const db = new Database(':memory:');
  try {
    migrate(
      db,
      MIGRATIONS.filter((m) => m.version < 16),
    );
    db.exec(`INSERT INTO domains (id, name, created_at) VALUES (1, 'example.org', 0);
      INSERT INTO accounts (id, domain_id, address, password_hash, created_at) VALUES (1, 1, 'a@example.org', 'x', 0);`);
    assert.deepEqual(
      migrate(
        db,
        MIGRATIONS.filter((m) => m.version <= 16),
      ),
      [16],
    );
    assert.equal(db.prepare('SELECT count(*) FROM app_passwords').pluck().get(), 0);
    const add = db.prepare(
      "INSERT INTO app_passwords (account_id, label, secret_hash, created_at) VALUES (1, 'Phone', 'h', 0) RETURNING id",
    );
    const first = add.pluck().get() as number;
    db.prepare('DELETE FROM app_passwords WHERE id = ?').run(first);
    assert.ok((add.pluck().get() as number) > first, 'AUTOINCREMENT: a revoked id is not given again');
  } finally {
    db.close();
  }
});
