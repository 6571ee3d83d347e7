// The main-thread side of the store's writer thread (writer-thread.ts): submit a write body by
// name with its arguments, get its result and what it touched once its transaction committed
// and, when it asked for it (`sync`) and the thread was given the WAL, once the thread's WAL
// fsync after that commit succeeded (`durable`). Otherwise making it durable is the caller's
// next step (the core's WAL fsync covers every commit before it).
//
// The thread is started on first use, and again after it dies: a crash fails only the
// operations it held (whether their transaction committed is unknown, as after a failed fsync).
// It keeps the process alive only while operations are outstanding.

import { Worker } from 'node:worker_threads';
import {
  decodeErrors,
  reviveError,
  type CheckpointerInit,
  type CommitNote,
  type FromCheckpointer,
  type ToCheckpointer,
  type FromWriter,
  type ToWriter,
  type WriterInit,
} from './writer-protocol.js';

const THREAD_SCRIPT = new URL('./writer-thread.js', import.meta.url);
const CHECKPOINT_SCRIPT = new URL('./checkpoint-thread.js', import.meta.url);
const DEFAULT_CHECKPOINT_INTERVAL_MS = 250;
/** WAL frames that make a checkpoint due while writes go on (SQLite's own automatic default). */
const DEFAULT_CHECKPOINT_FRAMES = 1000;
const DEFAULT_MAX_BATCH = 512;

export interface WriterOptions {
  file: string;
  busyTimeoutMs: number;
  /** URL of the module exporting the write bodies (see writer-protocol.ts). */
  bodiesModule: URL;
  maxBatch?: number;
  /** The WAL the thread fsyncs for `sync` operations; null: it never fsyncs. */
  walFile: string | null;
  /**
   * Milliseconds between the checkpointer thread's WAL checkpoints (checkpoint-thread.ts);
   * 0: no checkpointer (SQLite's automatic checkpoint inside commits, as by default).
   */
  checkpointIntervalMs?: number;
  /** WAL frames waiting that make a checkpoint due while writes go on (default 1,000). */
  checkpointFrames?: number;
  onError?: (err: Error) => void;
  /** A transaction committed (not yet durable) with these change seqs. */
  onCommitted?: (minSeq: number, maxSeq: number) => void;
}

export interface WriterStats {
  /** Transactions committed by the thread. */
  transactions: number;
  /** Operations committed in them. */
  operations: number;
  /** Threads started (more than one means one died). */
  threads: number;
  /** WAL fsyncs made by the threads. */
  fsyncs: number;
  /** Checkpoints that copied pages, made by the checkpointer thread. */
  checkpoints: number;
  /** The last one: WAL frames copied into the database, of the frames in the WAL. */
  checkpointedFrames: number;
  walFrames: number;
}

export interface Committed<T> {
  value: T;
  note: CommitNote;
  /** The number of the transaction that carried it (operations of one transaction share it). */
  batch: number;
  /** On disk: the thread fsynced the WAL after the commit. */
  durable: boolean;
  /** When durable: the newest change seq that fsync covered. */
  coveredSeq: number;
}

interface Outstanding {
  resolve: (r: Committed<unknown>) => void;
  reject: (err: unknown) => void;
}

export class SqliteWriter {
  readonly stats: WriterStats = {
    transactions: 0,
    operations: 0,
    threads: 0,
    fsyncs: 0,
    checkpoints: 0,
    checkpointedFrames: 0,
    walFrames: 0,
  };
  private checkpointer: Worker | null = null;
  private fsyncsBefore = 0;
  private worker: Worker | null = null;
  private readonly outstanding = new Map<number, Outstanding>();
  private nextId = 1;
  private lastBatch = 0;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: WriterOptions) {}

  /**
   * Runs the write body `op` (`role.name`) in the thread; resolves once it has committed and,
   * with `sync`, is on disk (see `durable`).
   */
  run<T>(op: string, args: unknown[], sync = true): Promise<Committed<T>> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.outstanding.set(id, { resolve: resolve as Outstanding['resolve'], reject });
      if (this.outstanding.size === 1) worker.ref();
      const msg: ToWriter = { type: 'op', id, op, args, sync };
      worker.postMessage(msg);
    });
  }

  /** Starts the thread now, so the first write does not wait for it (about 150 ms). */
  prepare(): void {
    if (!this.closed && this.worker === null) this.start();
  }

  /** Tests: the thread's WAL fsyncs fail with EIO while `fail` is set. */
  faultFsync(fail: boolean): void {
    const msg: ToWriter = { type: 'fault', fsync: fail };
    (this.worker ?? this.start()).postMessage(msg);
  }

  /** Lets outstanding operations finish, then stops the thread and closes its connection. */
  close(): Promise<void> {
    this.closed = true;
    if (this.closing !== null) return this.closing;
    const checkpointerGone = this.stopCheckpointer();
    const worker = this.worker;
    if (worker === null) return (this.closing = checkpointerGone);
    const writerGone = new Promise<void>((resolve) => {
      worker.ref();
      worker.once('exit', () => resolve());
      const msg: ToWriter = { type: 'close' };
      worker.postMessage(msg);
    });
    this.closing = Promise.all([checkpointerGone, writerGone]).then(() => undefined);
    return this.closing;
  }

  private start(): Worker {
    const init: WriterInit = {
      file: this.opts.file,
      busyTimeoutMs: this.opts.busyTimeoutMs,
      bodiesModule: this.opts.bodiesModule.href,
      maxBatch: this.opts.maxBatch ?? DEFAULT_MAX_BATCH,
      walFile: this.opts.walFile,
      checkpointer: this.checkpointInterval() > 0,
    };
    this.startCheckpointer();
    // A new thread counts its fsyncs from zero.
    this.fsyncsBefore = this.stats.fsyncs;
    // No inherited node options: a process started with `--input-type` or `-e` could not load it.
    const worker = new Worker(THREAD_SCRIPT, { workerData: init, execArgv: [] });
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

  private checkpointInterval(): number {
    return this.opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  }

  /** Starts the checkpointer beside the writer (once; again if it died). */
  private startCheckpointer(): void {
    const intervalMs = this.checkpointInterval();
    if (intervalMs <= 0 || this.checkpointer !== null || this.closed) return;
    const init: CheckpointerInit = {
      file: this.opts.file,
      busyTimeoutMs: this.opts.busyTimeoutMs,
      intervalMs,
      minFrames: this.opts.checkpointFrames ?? DEFAULT_CHECKPOINT_FRAMES,
    };
    const worker = new Worker(CHECKPOINT_SCRIPT, { workerData: init, execArgv: [] });
    // It never holds the process open: it only copies what is already committed.
    worker.unref();
    this.checkpointer = worker;
    worker.on('message', (msg: FromCheckpointer) => {
      if (msg.type === 'checkpointed') {
        this.stats.checkpoints++;
        this.stats.checkpointedFrames = msg.frames;
        this.stats.walFrames = msg.walFrames;
      } else this.opts.onError?.(new Error(`WAL checkpoint failed: ${msg.message}`));
    });
    worker.on('error', (err) => this.opts.onError?.(err));
    worker.on('exit', () => {
      if (this.checkpointer === worker) this.checkpointer = null;
    });
  }

  /** Resolves once the checkpointer has closed its connection and exited. */
  private stopCheckpointer(): Promise<void> {
    const worker = this.checkpointer;
    this.checkpointer = null;
    if (worker === null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      worker.ref();
      worker.once('exit', () => resolve());
      const msg: ToCheckpointer = { type: 'close' };
      worker.postMessage(msg);
    });
  }

  private onMessage(msg: FromWriter): void {
    if (msg.type === 'committed') {
      this.opts.onCommitted?.(msg.minSeq, msg.maxSeq);
      return;
    }
    if (msg.type !== 'done' && msg.type !== 'failed') return;
    const o = this.outstanding.get(msg.id);
    if (o === undefined) return;
    this.outstanding.delete(msg.id);
    if (this.outstanding.size === 0 && !this.closed) this.worker?.unref();
    if (msg.type === 'failed') {
      o.reject(reviveError(msg.error));
      return;
    }
    if (msg.batch !== this.lastBatch) {
      this.lastBatch = msg.batch;
      this.stats.transactions++;
    }
    this.stats.operations++;
    if (this.fsyncsBefore + msg.fsyncs > this.stats.fsyncs)
      this.stats.fsyncs = this.fsyncsBefore + msg.fsyncs;
    o.resolve({
      value: decodeErrors(msg.value),
      note: msg.note,
      batch: msg.batch,
      durable: msg.durable,
      coveredSeq: msg.coveredSeq,
    });
  }

  private gone(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    const failed = [...this.outstanding.values()];
    this.outstanding.clear();
    for (const o of failed) o.reject(err);
  }
}
