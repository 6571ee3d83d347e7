// The store's writer thread: it owns the one write connection of the process and runs every
// write operation the main thread submits, so no SQLite write (and no wait on another process's
// write lock) ever holds the event loop.
//
// Group commit: operations that arrive while a batch runs queue in the port and form the next
// batch; each batch is one BEGIN IMMEDIATE transaction with every operation under its own
// SAVEPOINT, so a failing operation (a constraint, a StoreError) is rolled back alone while its
// batch-mates commit. An error that aborts the transaction itself (SQLITE_FULL, SQLITE_IOERR)
// fails the whole batch. The thread does not fsync: it answers after COMMIT, and the main
// thread makes the commit durable (one WAL fsync covers every commit before it) before anyone
// is told, exactly as for writes made on the main thread.

import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { pin } from './statement-pin.js';
import type {
  CommitNote,
  FromWriter,
  SerializedError,
  ToWriter,
  WriteContext,
  WriteOp,
  WriteOpsModule,
  WriterInit,
} from './writer-protocol.js';

const init = workerData as WriterInit;
const port = parentPort!;

const db = pin(new Database(init.file, { timeout: init.busyTimeoutMs }));
db.exec(`PRAGMA busy_timeout = ${Math.floor(init.busyTimeoutMs)}`);
db.exec('PRAGMA synchronous = NORMAL');
db.exec('PRAGMA foreign_keys = ON');
db.exec('PRAGMA cache_size = -16000');
db.exec('PRAGMA temp_store = MEMORY');

const statements = new Map<string, Database.Statement<unknown[], unknown>>();

class Context implements WriteContext {
  readonly db = db;
  mailboxes = new Set<number>();
  minSeq = 0;
  maxSeq = 0;

  stmt<R = unknown>(sql: string, mode: 'row' | 'pluck' | 'raw' = 'row'): Database.Statement<unknown[], R> {
    const key = `${mode}:${sql}`;
    let s = statements.get(key);
    if (s === undefined) {
      s = pin(db.prepare(sql));
      if (mode === 'pluck') s.pluck(true);
      else if (mode === 'raw') s.raw(true);
      statements.set(key, s);
    }
    return s as Database.Statement<unknown[], R>;
  }

  recordSeq(seq: number, mailboxId: number): void {
    if (this.minSeq === 0 || seq < this.minSeq) this.minSeq = seq;
    if (seq > this.maxSeq) this.maxSeq = seq;
    this.mailboxes.add(mailboxId);
  }

  touch(mailboxId: number): void {
    this.mailboxes.add(mailboxId);
  }

  note(): CommitNote {
    return { mailboxes: [...this.mailboxes], minSeq: this.minSeq, maxSeq: this.maxSeq };
  }
}

function serialize(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      message: err.message,
      code: typeof code === 'string' ? code : undefined,
      stack: err.stack,
      sqlite: err.name === 'SqliteError',
    };
  }
  return { name: 'Error', message: String(err) };
}

interface Pending {
  id: number;
  op: string;
  args: unknown;
}

let ops: Readonly<Record<string, WriteOp>> = {};
let queue: Pending[] = [];
let scheduled = false;
let closing = false;
let loaded = false;

const begin = db.prepare('BEGIN IMMEDIATE');
const commit = db.prepare('COMMIT');
const rollback = db.prepare('ROLLBACK');
const savepoint = db.prepare('SAVEPOINT w');
const release = db.prepare('RELEASE w');
const rollbackTo = db.prepare('ROLLBACK TO w');

function post(msg: FromWriter): void {
  port.postMessage(msg);
}

function runBatch(): void {
  scheduled = false;
  const batch = queue.length > init.maxBatch ? queue.splice(0, init.maxBatch) : queue;
  if (batch === queue) queue = [];
  if (batch.length === 0) return;
  const started = performance.now();
  const results: Array<{ ok: true; value: unknown; note: CommitNote } | { ok: false; error: unknown }> = [];
  try {
    begin.run();
  } catch (err) {
    for (const p of batch) post({ type: 'failed', id: p.id, error: serialize(err) });
    if (queue.length > 0) schedule();
    return;
  }
  try {
    for (const p of batch) {
      const fn = ops[p.op];
      if (fn === undefined) {
        results.push({ ok: false, error: new Error(`unknown write operation ${p.op}`) });
        continue;
      }
      const ctx = new Context();
      savepoint.run();
      try {
        const value = fn(ctx, p.args as never);
        release.run();
        results.push({ ok: true, value, note: ctx.note() });
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
    for (const p of batch) post({ type: 'failed', id: p.id, error: serialize(err) });
    if (queue.length > 0) schedule();
    return;
  }
  for (let i = 0; i < batch.length; i++) {
    const r = results[i];
    if (r.ok) post({ type: 'done', id: batch[i].id, value: r.value, note: r.note });
    else post({ type: 'failed', id: batch[i].id, error: serialize(r.error) });
  }
  post({ type: 'batch', requests: batch.length, micros: Math.round((performance.now() - started) * 1000) });
  if (queue.length > 0) schedule();
  else if (closing) finish();
}

function schedule(): void {
  if (scheduled || !loaded) return;
  scheduled = true;
  // Everything that arrived in this turn (and while the previous batch ran) joins the batch.
  setImmediate(runBatch);
}

function finish(): void {
  db.close();
  post({ type: 'closed' });
  port.close();
}

port.on('message', (msg: ToWriter) => {
  if (msg.type === 'op') {
    queue.push({ id: msg.id, op: msg.op, args: msg.args });
    schedule();
  } else if (msg.type === 'close') {
    closing = true;
    if (loaded && !scheduled && queue.length === 0) finish();
  }
});

const mod = (await import(init.opsModule)) as WriteOpsModule;
ops = mod.ops;
loaded = true;
post({ type: 'ready' });
if (queue.length > 0) schedule();
else if (closing) finish();
