// The messages between the store's main thread and its writer thread (writer.ts and
// writer-thread.ts), and the context a write operation runs in. Kept apart so that the
// operation modules the thread loads depend on this file only, not on the main-thread side.

import type Database from 'better-sqlite3';

/** What one write touched, announced by the main thread once the commit is durable. */
export interface CommitNote {
  /** Mailboxes whose change log or state moved (the change feed wakes their watchers). */
  mailboxes: number[];
  /** The range of `changes` row ids it wrote (0, 0 when none). */
  minSeq: number;
  maxSeq: number;
}

/** A write operation as the thread runs it: synchronous, inside a transaction (a savepoint). */
export type WriteOp = (ctx: WriteContext, args: never) => unknown;

/** A module the writer thread loads: `ops` maps an operation's name to its body. */
export interface WriteOpsModule {
  ops: Readonly<Record<string, WriteOp>>;
}

/** What an operation body gets: the write connection, cached statements, and its note. */
export interface WriteContext {
  readonly db: Database.Database;
  stmt<R = unknown>(sql: string, mode?: 'row' | 'pluck' | 'raw'): Database.Statement<unknown[], R>;
  /** Notes a `changes` row written by this operation. */
  recordSeq(seq: number, mailboxId: number): void;
  /** Notes a mailbox whose watchers must be woken although no change row was written. */
  touch(mailboxId: number): void;
}

export interface WriterInit {
  file: string;
  busyTimeoutMs: number;
  /** URL of the module exporting `ops` (WriteOpsModule). */
  opsModule: string;
  /** Most requests in one transaction. */
  maxBatch: number;
}

export type ToWriter = { type: 'op'; id: number; op: string; args: unknown } | { type: 'close' };

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  /** better-sqlite3's SqliteError carries the SQLite code (e.g. SQLITE_BUSY) as `code`. */
  sqlite?: boolean;
}

export type FromWriter =
  | { type: 'ready' }
  | { type: 'done'; id: number; value: unknown; note: CommitNote }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'batch'; requests: number; micros: number }
  | { type: 'closed' };
