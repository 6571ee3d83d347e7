// The store's writer thread: it owns the write connection of the process and runs every write
// body the main thread submits (the `WRITES` of write-bodies.ts), so no SQLite write, and no
// wait for another process's write lock, ever holds the event loop.
//
// Group commit: operations that arrive while a transaction runs queue in the port and form the
// next one; each transaction is BEGIN IMMEDIATE with every operation under its own SAVEPOINT,
// so a failing operation (a constraint, a StoreError) is rolled back alone while the others
// commit. An error that ends the transaction itself (SQLITE_FULL, SQLITE_IOERR) fails all of
// it. Durability: when an operation of the transaction asked for it (`sync`, every write but
// the lease ones) the thread fsyncs the WAL after COMMIT and before it answers, through one
// descriptor held for its life; the operations that arrived meanwhile form the next
// transaction and share the next fsync (group commit). The fsync is synchronous here, so it
// costs the event loop nothing and never waits behind the thread pool (scrypt, blob writes).
// A failed fsync fails every operation of the transaction: committed or not, nobody is told.

import Database from 'better-sqlite3';
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { StatementCache } from './statement-cache.js';
import { pin } from './statement-pin.js';
import { WriteTx } from './write-tx.js';
import {
  encodeErrors,
  serializeError,
  type FromWriter,
  type ToWriter,
  type WriteBodiesModule,
  type WriteBody,
  type WriterInit,
} from './writer-protocol.js';

const init = workerData as WriterInit;
/** WAL pages (4 KiB) after which a commit checkpoints anyway: about 64 MiB. */
const FALLBACK_AUTOCHECKPOINT_PAGES = 16_384;
const port = parentPort!;

const db = pin(new Database(init.file, { timeout: init.busyTimeoutMs }));
// exec(), not pragma(): see statement-pin.ts. The schema was migrated by the main thread.
db.exec(`PRAGMA busy_timeout = ${Math.floor(init.busyTimeoutMs)}`);
db.exec('PRAGMA synchronous = NORMAL');
db.exec('PRAGMA foreign_keys = ON');
db.exec('PRAGMA cache_size = -16000');
db.exec('PRAGMA temp_store = MEMORY');
// The checkpointer thread (checkpoint-thread.ts) copies the WAL into the database beside this
// one; the automatic checkpoint inside a commit stays only as a bound should it be gone.
if (init.checkpointer) db.exec(`PRAGMA wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
const sql = new StatementCache(db);

const begin = pin(db.prepare('BEGIN IMMEDIATE'));
const commit = pin(db.prepare('COMMIT'));
const rollback = pin(db.prepare('ROLLBACK'));
const savepoint = pin(db.prepare('SAVEPOINT w'));
const release = pin(db.prepare('RELEASE w'));
const rollbackTo = pin(db.prepare('ROLLBACK TO w'));

interface Pending {
  id: number;
  op: string;
  args: unknown[];
  sync: boolean;
}

let walFd: number | null = null;
let maxSeq: Database.Statement | null = null;
let fsyncs = 0;
let fsyncFault = false;

/** fsync of the WAL; returns the newest change seq it covers. */
function syncWal(): number {
  maxSeq ??= pin(db.prepare('SELECT max(seq) FROM changes').pluck());
  const covered = (maxSeq.get() as number | null) ?? 0;
  if (fsyncFault) throw Object.assign(new Error(`EIO: fsync ${init.walFile}`), { code: 'EIO' });
  // The WAL keeps its inode while a connection is open (this one is, until finish()).
  walFd ??= openSync(init.walFile!, 'r');
  // fdatasync, as SQLite does on Linux: the WAL's bytes and size are what a crash must keep; its
  // mtime is not (fsync would also commit the inode's journal entry on every sync).
  fdatasyncSync(walFd);
  fsyncs++;
  return covered;
}

let bodies: Map<string, WriteBody> | null = null;
let queue: Pending[] = [];
let scheduled = false;
let closing = false;
let batchNumber = 0;

function post(msg: FromWriter): void {
  port.postMessage(msg);
}

function failAll(batch: Pending[], err: unknown): void {
  const error = serializeError(err);
  for (const p of batch) post({ type: 'failed', id: p.id, error });
}

function runBatch(): void {
  scheduled = false;
  const batch = queue.length > init.maxBatch ? queue.splice(0, init.maxBatch) : queue;
  if (batch === queue) queue = [];
  if (batch.length > 0) commitBatch(batch);
  if (queue.length > 0) schedule();
  else if (closing) finish();
}

function commitBatch(batch: Pending[]): void {
  const results: Array<{ ok: true; value: unknown; tx: WriteTx } | { ok: false; error: unknown }> = [];
  batchNumber++;
  try {
    begin.run();
    for (const p of batch) {
      const body = bodies!.get(p.op);
      if (body === undefined) {
        results.push({ ok: false, error: new Error(`unknown write ${p.op}`) });
        continue;
      }
      const tx = new WriteTx(sql);
      savepoint.run();
      try {
        const value = body(tx, ...(p.args as never[]));
        release.run();
        results.push({ ok: true, value, tx });
      } catch (err) {
        // Errors such as SQLITE_FULL or SQLITE_IOERR end the transaction: the batch fails.
        if (!db.inTransaction) throw err;
        rollbackTo.run();
        release.run();
        results.push({ ok: false, error: err });
      }
    }
    commit.run();
  } catch (err) {
    if (db.inTransaction) {
      try {
        rollback.run();
      } catch {
        // The transaction is gone already.
      }
    }
    failAll(batch, err);
    return;
  }
  let minSeq = 0;
  let maxSeq = 0;
  for (const r of results) {
    if (!r.ok || r.tx.minSeq === 0) continue;
    if (minSeq === 0 || r.tx.minSeq < minSeq) minSeq = r.tx.minSeq;
    if (r.tx.maxSeq > maxSeq) maxSeq = r.tx.maxSeq;
  }
  if (minSeq !== 0) post({ type: 'committed', minSeq, maxSeq });
  let durable = false;
  let coveredSeq = 0;
  if (init.walFile !== null && batch.some((p) => p.sync)) {
    try {
      coveredSeq = syncWal();
      durable = true;
    } catch (err) {
      failAll(batch, err);
      return;
    }
  }
  for (let i = 0; i < batch.length; i++) {
    const r = results[i];
    if (!r.ok) {
      post({ type: 'failed', id: batch[i].id, error: serializeError(r.error) });
      continue;
    }
    const note = { mailboxes: [...r.tx.mailboxes], minSeq: r.tx.minSeq, maxSeq: r.tx.maxSeq };
    post({
      type: 'done',
      id: batch[i].id,
      batch: batchNumber,
      value: encodeErrors(r.value),
      note,
      durable,
      coveredSeq,
      fsyncs,
    });
  }
}

function schedule(): void {
  if (scheduled || bodies === null) return;
  scheduled = true;
  // Everything that arrived in this turn, and while the previous transaction ran, joins it.
  setImmediate(runBatch);
}

function finish(): void {
  db.close();
  if (walFd !== null) closeSync(walFd);
  post({ type: 'closed' });
  port.close();
}

port.on('message', (msg: ToWriter) => {
  if (msg.type === 'op') {
    queue.push({ id: msg.id, op: msg.op, args: msg.args, sync: msg.sync });
    schedule();
  } else if (msg.type === 'fault') {
    fsyncFault = msg.fsync;
  } else {
    closing = true;
    if (bodies !== null && !scheduled && queue.length === 0) finish();
  }
});

const mod = (await import(init.bodiesModule)) as WriteBodiesModule;
bodies = new Map();
for (const [role, group] of Object.entries(mod.WRITES)) {
  for (const [name, body] of Object.entries(group)) bodies.set(`${role}.${name}`, body);
}
post({ type: 'ready' });
if (queue.length > 0) schedule();
else if (closing) finish();
