// Write bodies for src/store/sqlite/writer.test.ts: a table of key/value rows.

import { StoreError } from '../../src/core/errors.js';
import type { WriteTx } from '../../src/store/sqlite/write-tx.js';

const kv = {
  put(tx: WriteTx, key: string, value: number, mailbox?: number): number {
    const r = tx.sql.stmt('INSERT INTO kv (key, value) VALUES (?, ?)').run(key, value);
    if (mailbox !== undefined) {
      tx.recordSeq(Number(r.lastInsertRowid));
      tx.mailboxes.add(mailbox);
    }
    return Number(r.lastInsertRowid);
  },
  /** Writes a row, then fails: the row must be rolled back with it. */
  putThenRefuse(tx: WriteTx, key: string): never {
    tx.sql.stmt('INSERT INTO kv (key, value) VALUES (?, ?)').run(key, -1);
    throw new StoreError('ALREADY_EXISTS', `refused ${key}`);
  },
  /** A result carrying an error, as an append's refused target does. */
  outcome(_tx: WriteTx, key: string): Array<{ ok: boolean; error?: Error; key: string }> {
    return [
      { ok: true, key },
      { ok: false, key, error: new StoreError('OVER_QUOTA', `${key} is full`) },
    ];
  },
  /** Holds the thread for `ms` (a long transaction), then writes. */
  slow(tx: WriteTx, ms: number, key: string): number {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      // busy
    }
    tx.sql.stmt('INSERT INTO kv (key, value) VALUES (?, ?)').run(key, ms);
    return ms;
  },
  crash(): never {
    process.exit(3);
  },
};

export const WRITES = { kv };
