// The main-thread side of the store's writer thread (writer-thread.ts): submit a named write
// operation with its arguments, get its result and what it touched once it has committed.
// Durability is the caller's next step (the store's WAL fsync covers every commit before it).
//
// The thread is started on first use and again after it dies (a crash fails only the requests
// it held; whether their batch committed is unknown, as after a failed fsync). It keeps the
// process alive only while requests are outstanding, so a forgotten store does not hang a CLI.

import { Worker } from 'node:worker_threads';
import { StoreError, type StoreErrorCode } from '../../core/errors.js';
import type { CommitNote, FromWriter, SerializedError, ToWriter, WriterInit } from './writer-protocol.js';

const THREAD_SCRIPT = new URL('./writer-thread.js', import.meta.url);
const DEFAULT_MAX_BATCH = 512;

export interface WriterOptions {
  file: string;
  busyTimeoutMs: number;
  /** URL of the module exporting the operations (see writer-protocol.ts). */
  opsModule: URL;
  maxBatch?: number;
  onError?: (err: Error) => void;
}

export interface WriterStats {
  /** Transactions the thread committed (or tried). */
  batches: number;
  /** Operations those transactions carried. */
  requests: number;
  /** Time the thread spent inside transactions, in milliseconds. */
  busyMs: number;
  /** Threads started (more than one means one died). */
  threads: number;
}

interface Outstanding {
  resolve: (r: { value: unknown; note: CommitNote }) => void;
  reject: (err: unknown) => void;
}

/** Rebuilds an error thrown in the thread: a StoreError stays one (callers test its code). */
function revive(e: SerializedError): Error {
  const err =
    e.name === 'StoreError' && e.code !== undefined
      ? new StoreError(e.code as StoreErrorCode, e.message)
      : Object.assign(new Error(e.message), { name: e.name, code: e.code });
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

export class SqliteWriter {
  readonly stats: WriterStats = { batches: 0, requests: 0, busyMs: 0, threads: 0 };
  private worker: Worker | null = null;
  private readonly outstanding = new Map<number, Outstanding>();
  private nextId = 1;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: WriterOptions) {}

  /** Runs `op` in the writer thread; resolves after its transaction committed (not yet fsynced). */
  run<T>(op: string, args: unknown): Promise<{ value: T; note: CommitNote }> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.outstanding.set(id, { resolve: resolve as Outstanding['resolve'], reject });
      if (this.outstanding.size === 1) worker.ref();
      const msg: ToWriter = { type: 'op', id, op, args };
      worker.postMessage(msg);
    });
  }

  /** Lets outstanding operations finish, then stops the thread and closes its connection. */
  close(): Promise<void> {
    this.closed = true;
    if (this.closing !== null) return this.closing;
    const worker = this.worker;
    if (worker === null) return (this.closing = Promise.resolve());
    this.closing = new Promise<void>((resolve) => {
      worker.ref();
      worker.once('exit', () => resolve());
      const msg: ToWriter = { type: 'close' };
      worker.postMessage(msg);
    });
    return this.closing;
  }

  private start(): Worker {
    const init: WriterInit = {
      file: this.opts.file,
      busyTimeoutMs: this.opts.busyTimeoutMs,
      opsModule: this.opts.opsModule.href,
      maxBatch: this.opts.maxBatch ?? DEFAULT_MAX_BATCH,
    };
    const worker = new Worker(THREAD_SCRIPT, { workerData: init });
    worker.unref();
    this.stats.threads++;
    this.worker = worker;
    worker.on('message', (msg: FromWriter) => this.onMessage(msg));
    worker.on('error', (err) => {
      this.opts.onError?.(err);
      this.gone(worker, err);
    });
    worker.on('exit', (code) => this.gone(worker, new Error(`the writer thread exited (code ${code})`)));
    return worker;
  }

  private onMessage(msg: FromWriter): void {
    if (msg.type === 'done' || msg.type === 'failed') {
      const o = this.outstanding.get(msg.id);
      if (o === undefined) return;
      this.outstanding.delete(msg.id);
      if (this.outstanding.size === 0 && !this.closed) this.worker?.unref();
      if (msg.type === 'done') o.resolve({ value: msg.value, note: msg.note });
      else o.reject(revive(msg.error));
    } else if (msg.type === 'batch') {
      this.stats.batches++;
      this.stats.requests += msg.requests;
      this.stats.busyMs += msg.micros / 1000;
    }
  }

  private gone(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    const failed = [...this.outstanding.values()];
    this.outstanding.clear();
    for (const o of failed) o.reject(err);
  }
}
