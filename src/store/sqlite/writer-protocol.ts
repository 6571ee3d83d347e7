// The messages between the store's main thread and its writer thread (writer.ts and
// writer-thread.ts). Errors cross the thread boundary as plain objects and are rebuilt on the
// other side (a StoreError stays a StoreError with its code), also inside returned values (an
// append's outcomes carry the StoreError of a refused target).

import { StoreError, type StoreErrorCode } from '../../core/errors.js';
import type { WriteTx } from './write-tx.js';

/** What one write touched, announced by the main thread once the commit is durable. */
export interface CommitNote {
  /** Mailboxes whose watchers are woken (change rows, or state moved). */
  mailboxes: number[];
  /** The range of `changes` seqs it wrote (0, 0 when none). */
  minSeq: number;
  maxSeq: number;
}

/** A write body as the thread runs it: synchronous, inside a transaction (a savepoint). */
export type WriteBody = (tx: WriteTx, ...args: never[]) => unknown;

/**
 * A module the writer thread loads: `WRITES` groups write bodies by role; an operation is
 * named `role.body` (e.g. `messages.updateFlags`).
 */
export interface WriteBodiesModule {
  WRITES: Readonly<Record<string, Readonly<Record<string, WriteBody>>>>;
}

export interface WriterInit {
  file: string;
  busyTimeoutMs: number;
  /** URL of the module exporting `WRITES` (WriteBodiesModule). */
  bodiesModule: string;
  /** Most operations in one transaction. */
  maxBatch: number;
  /**
   * The WAL the thread fsyncs after a transaction holding an operation that asked for it
   * (`sync`), before it answers; null: the thread never fsyncs (the main thread does).
   */
  walFile: string | null;
  /** A checkpointer thread runs beside it: the commit's own automatic checkpoint only as a bound. */
  checkpointer: boolean;
}

export interface CheckpointerInit {
  file: string;
  busyTimeoutMs: number;
  /** Milliseconds between two looks at the WAL (a PASSIVE checkpoint when due). */
  intervalMs: number;
  /** Frames waiting in the WAL that make a checkpoint due even while it grows. */
  minFrames: number;
}

export type ToCheckpointer = { type: 'close' };

export type FromCheckpointer =
  | { type: 'checkpointed'; checkpoints: number; frames: number; walFrames: number }
  | { type: 'error'; message: string };

export type ToWriter =
  | { type: 'op'; id: number; op: string; args: unknown[]; sync: boolean }
  /** Tests: the thread's WAL fsyncs fail (EIO) while `fsync` is set. */
  | { type: 'fault'; fsync: boolean }
  | { type: 'close' };

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export type FromWriter =
  | { type: 'ready' }
  /**
   * Right after a COMMIT, before its fsync: the range of change seqs the transaction wrote, so
   * the main thread's poll knows them as its own before they are answered.
   */
  | { type: 'committed'; minSeq: number; maxSeq: number }
  /**
   * `batch`: the number of the transaction that carried it (counts commits). `durable`: the
   * thread fsynced the WAL after the commit; `coveredSeq` is then the newest change row
   * visible before that fsync (all on disk), and `fsyncs` the thread's fsyncs so far.
   */
  | {
      type: 'done';
      id: number;
      batch: number;
      value: unknown;
      note: CommitNote;
      durable: boolean;
      coveredSeq: number;
      fsyncs: number;
    }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'closed' };

const ERROR_TAG = '__postern_error__';

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      message: err.message,
      code: typeof code === 'string' ? code : undefined,
      stack: err.stack,
    };
  }
  return { name: 'Error', message: String(err) };
}

/** Rebuilds an error thrown in the other thread: a StoreError stays one (callers test its code). */
export function reviveError(e: SerializedError): Error {
  const err =
    e.name === 'StoreError' && e.code !== undefined
      ? new StoreError(e.code as StoreErrorCode, e.message)
      : Object.assign(new Error(e.message), { name: e.name, code: e.code });
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

/** Replaces Error objects inside a result (arrays and plain objects, 4 levels) by plain ones. */
export function encodeErrors(value: unknown, depth = 0): unknown {
  if (value instanceof Error) return { [ERROR_TAG]: serializeError(value) };
  if (depth >= 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    if (value.length === 0 || typeof value[0] !== 'object') return value;
    return value.map((v) => encodeErrors(v, depth + 1));
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value)) {
    const e = encodeErrors(v, depth + 1);
    if (e !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      out[k] = e;
    }
  }
  return out ?? value;
}

/** The inverse of encodeErrors. */
export function decodeErrors(value: unknown, depth = 0): unknown {
  if (depth >= 5 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    if (value.length === 0 || typeof value[0] !== 'object') return value;
    for (let i = 0; i < value.length; i++) value[i] = decodeErrors(value[i], depth + 1);
    return value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const rec = value as Record<string, unknown>;
  const tagged = rec[ERROR_TAG];
  if (tagged !== undefined) return reviveError(tagged as SerializedError);
  for (const k of Object.keys(rec)) rec[k] = decodeErrors(rec[k], depth + 1);
  return value;
}
