// Write operations for src/store/sqlite/writer.test.ts: a table of key/value rows.

import { StoreError } from '../../src/core/errors.js';
import type { WriteContext } from '../../src/store/sqlite/writer-protocol.js';

export const ops = {
  put(ctx: WriteContext, args: { key: string; value: number; mailbox?: number }): number {
    const r = ctx.stmt('INSERT INTO kv (key, value) VALUES (?, ?)').run(args.key, args.value);
    if (args.mailbox !== undefined) ctx.recordSeq(Number(r.lastInsertRowid), args.mailbox);
    return Number(r.lastInsertRowid);
  },
  /** Writes a row, then fails: the row must be rolled back with it. */
  putThenRefuse(ctx: WriteContext, args: { key: string }): never {
    ctx.stmt('INSERT INTO kv (key, value) VALUES (?, ?)').run(args.key, -1);
    throw new StoreError('ALREADY_EXISTS', `refused ${args.key}`);
  },
  touch(ctx: WriteContext, args: { mailbox: number }): null {
    ctx.touch(args.mailbox);
    return null;
  },
  /** Holds the thread for `ms` (a long transaction), then writes. */
  slow(ctx: WriteContext, args: { ms: number; key: string }): number {
    const end = performance.now() + args.ms;
    while (performance.now() < end) {
      // busy
    }
    ctx.stmt('INSERT INTO kv (key, value) VALUES (?, ?)').run(args.key, args.ms);
    return args.ms;
  },
  crash(): never {
    process.exit(3);
  },
};
