// The store's checkpointer thread: copies the WAL's committed pages into the database file
// (PRAGMA wal_checkpoint(PASSIVE)) on its own connection. SQLite's automatic checkpoint runs
// inside the commit that crosses 1,000 WAL pages, so one write in a few hundred waited for the
// copy and the database fsync (a 10 ms tail on a sequential APPEND); here no write waits for it:
// in WAL mode a checkpoint runs beside the writer (the writer appends to the WAL meanwhile) and
// PASSIVE never waits for readers or the writer. The writer connection keeps a far larger
// automatic checkpoint (writer-thread.ts) as a bound on the WAL should this thread be gone.
// When: every `intervalMs` the thread reads the WAL's frame counts from the wal-index (the
// "-shm" file: SQLite's documented WAL-index header, wal-index.ts) and checkpoints once
// `minFrames` frames wait, or once the WAL stopped growing (a quiet store is checkpointed
// within two ticks). A trickle of small writes is so copied every thousand frames, not four
// times a second: each checkpoint fsyncs the database file, and that fsync shares the disk's
// journal with the writer's WAL syncs.
// Invariants:
// - nothing here writes a row: the checkpoint only copies committed pages; with
//   synchronous=NORMAL SQLite fsyncs the WAL before the copy and the database after it;
// - a failed checkpoint is reported and tried again at the next tick; it loses nothing (the
//   pages stay in the WAL);
// - a wal-index that cannot be read (no file yet, a header being rewritten) means "checkpoint":
//   the header only decides how often, never whether pages are copied.

import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { WalIndexReader } from './wal-index.js';
import type { CheckpointerInit, FromCheckpointer, ToCheckpointer } from './writer-protocol.js';

const init = workerData as CheckpointerInit;
const port = parentPort!;

const db = new Database(init.file, { timeout: init.busyTimeoutMs });
db.exec(`PRAGMA busy_timeout = ${Math.floor(init.busyTimeoutMs)}`);
db.exec('PRAGMA synchronous = NORMAL');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let checkpoints = 0;
let last = '';

function post(msg: FromCheckpointer): void {
  port.postMessage(msg);
}

const walIndex = new WalIndexReader(`${init.file}-shm`);

let lastFrames = -1;

const timer = setInterval(() => {
  try {
    const wal = walIndex.read();
    if (wal !== null) {
      const waiting = wal.frames - wal.backfilled;
      const growing = wal.frames !== lastFrames;
      lastFrames = wal.frames;
      if (waiting <= 0 || (growing && waiting < init.minFrames)) return;
    }
    const [row] = checkpoint.all() as Array<{ busy: number; log: number; checkpointed: number }>;
    // Reported when the WAL moved since the last checkpoint.
    const state = row === undefined ? '' : `${row.log}/${row.checkpointed}`;
    if (row !== undefined && row.log > 0 && state !== last) {
      last = state;
      checkpoints++;
      post({ type: 'checkpointed', checkpoints, frames: row.checkpointed, walFrames: row.log });
    }
  } catch (err) {
    post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
}, init.intervalMs);

port.on('message', (msg: ToCheckpointer) => {
  if (msg.type === 'close') {
    clearInterval(timer);
    walIndex.close();
    db.close();
    port.close();
  }
});
