import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isStoreError } from '../../core/errors.js';
import { SqliteWriter } from './writer.js';

const OPS = new URL('../../../test/helpers/writer-test-ops.js', import.meta.url);

void describe('SqliteWriter (the writer thread)', () => {
  let dir: string;
  let file: string;
  let db: Database.Database;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'postern-writer-'));
    file = path.join(dir, 'w.sqlite');
    db = new Database(file);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('CREATE TABLE kv (id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, value INTEGER NOT NULL)');
    // What the thread reads before its fsync (the newest change row it covers).
    db.exec('CREATE TABLE changes (seq INTEGER PRIMARY KEY)');
  });
  after(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const rows = (prefix: string): Array<{ key: string; value: number }> =>
    db.prepare('SELECT key, value FROM kv WHERE key LIKE ? ORDER BY id').all(`${prefix}%`) as Array<{
      key: string;
      value: number;
    }>;

  void it('runs operations in the thread; what they commit is visible to another connection', async () => {
    const w = new SqliteWriter({ file, busyTimeoutMs: 5000, bodiesModule: OPS, walFile: null });
    const r = await w.run<number>('kv.put', ['a1', 7, 3]);
    assert.equal(typeof r.value, 'number');
    assert.deepEqual(r.note, { mailboxes: [3], minSeq: r.value, maxSeq: r.value });
    assert.deepEqual(rows('a'), [{ key: 'a1', value: 7 }]);
    const t = await w.run('kv.put', ['a2', 8]);
    assert.deepEqual(t.note, { mailboxes: [], minSeq: 0, maxSeq: 0 });
    await w.close();
  });

  void it('groups concurrent operations into few transactions, each failing alone', async () => {
    const w = new SqliteWriter({ file, busyTimeoutMs: 5000, bodiesModule: OPS, walFile: null });
    await w.run('kv.put', ['warm', 0]); // the thread is up
    const before = w.stats.transactions;
    const runs: Array<Promise<unknown>> = [];
    for (let i = 0; i < 200; i++) {
      if (i % 50 === 7) runs.push(w.run('kv.putThenRefuse', [`b-refused-${i}`]));
      else if (i === 100)
        runs.push(w.run('kv.put', ['b5', 1])); // duplicate of i=5's key
      else runs.push(w.run('kv.put', [`b${i}`, i]));
    }
    const settled = await Promise.allSettled(runs);
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [i] : []));
    assert.deepEqual(failed, [7, 57, 100, 107, 157]);
    const refused = settled[7] as PromiseRejectedResult;
    assert.ok(isStoreError(refused.reason, 'ALREADY_EXISTS'), String(refused.reason));
    assert.match(String((settled[100] as PromiseRejectedResult).reason), /UNIQUE/);
    // The refused operations' own rows were rolled back; everyone else's committed.
    assert.equal(rows('b-refused').length, 0);
    assert.equal(rows('b').length, 195);
    assert.equal(rows('b5')[0].value, 5);
    const batches = w.stats.transactions - before;
    assert.ok(batches < 20, `${batches} transactions for 200 concurrent operations`);
    await w.close();
  });

  void it('errors inside a result cross the thread as StoreErrors', async () => {
    const w = new SqliteWriter({ file, busyTimeoutMs: 5000, bodiesModule: OPS, walFile: null });
    const r = await w.run<Array<{ ok: boolean; error?: unknown; key: string }>>('kv.outcome', ['f']);
    assert.equal(r.value[0].ok, true);
    assert.ok(isStoreError(r.value[1].error, 'OVER_QUOTA'), String(r.value[1].error));
    await assert.rejects(w.run('kv.nothing', []), /unknown write kv.nothing/);
    await w.close();
  });

  void it('a long transaction in the thread does not hold the event loop', async () => {
    const w = new SqliteWriter({ file, busyTimeoutMs: 5000, bodiesModule: OPS, walFile: null });
    await w.run('kv.put', ['c0', 0]);
    let ticks = 0;
    let worst = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
      ticks++;
    }, 5);
    await w.run('kv.slow', [300, 'c1']);
    clearInterval(timer);
    assert.ok(ticks >= 20, `${ticks} timer ticks during a 300 ms write`);
    assert.ok(worst < 100, `the event loop stalled ${worst.toFixed(0)} ms`);
    await w.close();
  });

  void it('a thread that dies fails only what it held, and the next operation gets a new thread', async () => {
    const w = new SqliteWriter({ file, busyTimeoutMs: 5000, bodiesModule: OPS, walFile: null });
    await w.run('kv.put', ['d0', 0]);
    await assert.rejects(w.run('kv.crash', []), /exited/);
    const r = await w.run<number>('kv.put', ['d1', 1]);
    assert.equal(typeof r.value, 'number');
    assert.equal(w.stats.threads, 2);
    assert.equal(rows('d').length, 2);
    await w.close();
    await assert.rejects(w.run('kv.put', ['d2', 2]), /closed/);
  });

  void it('close() lets outstanding operations finish', async () => {
    const w = new SqliteWriter({ file, busyTimeoutMs: 5000, bodiesModule: OPS, walFile: null });
    const pending = [w.run('kv.slow', [50, 'e1']), w.run('kv.put', ['e2', 2])];
    await w.close();
    await Promise.all(pending);
    assert.equal(rows('e').length, 2);
  });
  void it('fsyncs the WAL after a commit that asked for it, before answering; a failed fsync fails it', async () => {
    const w = new SqliteWriter({ file, busyTimeoutMs: 5000, bodiesModule: OPS, walFile: `${file}-wal` });
    db.prepare('INSERT INTO changes (seq) VALUES (?)').run(41);
    const synced = await w.run<number>('kv.put', ['f1', 1]);
    assert.equal(synced.durable, true);
    assert.equal(synced.coveredSeq, 41, 'the newest change row the fsync covers');
    assert.equal(w.stats.fsyncs, 1);
    // A lease-like write asks for no fsync: answered after COMMIT alone.
    const unsynced = await w.run('kv.put', ['f2', 2], false);
    assert.equal(unsynced.durable, false);
    assert.equal(w.stats.fsyncs, 1);
    // Operations queued together share one transaction and one fsync.
    await Promise.all(Array.from({ length: 50 }, (_, i) => w.run('kv.put', [`f-group-${i}`, i])));
    assert.ok(w.stats.fsyncs <= 3, `${w.stats.fsyncs} fsyncs for 52 writes`);
    // The fsync fails: the operation is refused (committed or not, nobody is told it is stored).
    w.faultFsync(true);
    await assert.rejects(w.run('kv.put', ['f3', 3]), /EIO/);
    w.faultFsync(false);
    assert.equal((await w.run('kv.put', ['f4', 4])).durable, true);
    await w.close();
  });
  void it('the checkpointer thread copies the WAL into the database while the writer goes on', async () => {
    const w = new SqliteWriter({
      file,
      busyTimeoutMs: 5000,
      bodiesModule: OPS,
      walFile: `${file}-wal`,
      checkpointIntervalMs: 20,
    });
    for (let i = 0; i < 20; i++) await w.run('kv.put', [`g${i}`, i]);
    // The thread's own report: every frame of the WAL copied into the database file.
    const copiedAll = (): boolean =>
      w.stats.walFrames > 0 && w.stats.checkpointedFrames === w.stats.walFrames;
    const t0 = Date.now();
    while (!copiedAll() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    assert.ok(copiedAll(), `checkpointed ${w.stats.checkpointedFrames} of ${w.stats.walFrames} frames`);
    assert.ok(w.stats.checkpoints >= 1);
    assert.equal(rows('g').length, 20);
    await w.close();
  });
});
