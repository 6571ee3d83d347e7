// A pool of worker threads (node:worker_threads) for CPU-heavy per-message work, so that no one
// message can hold the event loop that serves every connection. Invariants:
// - a worker runs one task at a time: cutting a task off (terminating its worker) never harms
//   another task;
// - every task ends within its budget, counted from submission (time spent queued included):
//   a task still queued then is dropped, a running one has its worker terminated; either way
//   the caller gets TaskTimeout, and a replacement worker is started when work needs one;
// - a worker that dies (crash, terminate, out of memory) fails only its own task (WorkerGone);
// - workers are started on demand, unref'd (an idle pool never keeps the process alive) and
//   leave after idleMs without work;
// - a task may ask the main thread for things while it runs (DNS answers, the next chunk of its
//   message): the worker posts a request, the task's onRequest answers it; nothing else crosses.
// Worker side: src/workers/task-port.ts.

import { Worker } from 'node:worker_threads';
import type { Logger } from '../core/log.js';

/** The budget ran out before the task finished. */
export class TaskTimeout extends Error {
  readonly code = 'TASK_TIMEOUT';
  constructor(
    readonly kind: string,
    readonly budgetMs: number,
  ) {
    super(`${kind}: no result within ${budgetMs} ms`);
    this.name = 'TaskTimeout';
  }
}

/** The worker running the task exited (crashed, was killed) before answering. */
export class WorkerGone extends Error {
  readonly code = 'WORKER_GONE';
  constructor(
    readonly kind: string,
    detail: string,
  ) {
    super(`${kind}: worker exited (${detail})`);
    this.name = 'WorkerGone';
  }
}

/** The task itself failed inside the worker (its error, as the worker reported it). */
export class TaskFailed extends Error {
  readonly code: string;
  constructor(kind: string, message: string, code: string | undefined) {
    super(`${kind}: ${message}`);
    this.name = 'TaskFailed';
    this.code = code ?? 'TASK_FAILED';
  }
}

export interface WorkerPoolOptions {
  /** The worker's entry module (a file URL), built on task-port.ts. */
  script: URL;
  /** Most workers at once (at least 1). */
  size: number;
  /** Default budget of a task, milliseconds. */
  budgetMs: number;
  /** A worker with no task for this long exits (default 60 s). */
  idleMs?: number;
  /** Worker output (console.log in libraries) goes here at debug level, never to our stdout. */
  log?: Logger;
  /** V8 heap bound of each worker, MiB (default 256). */
  maxHeapMb?: number;
}

export interface TaskOptions {
  /** Overrides the pool's budget for this task. */
  budgetMs?: number;
  /** Answers the worker's requests while the task runs; a rejection is passed back as an error. */
  onRequest?: (request: unknown) => Promise<unknown>;
}

/** Messages main -> worker. */
export type ToWorker =
  | { type: 'task'; task: number; kind: string; payload: unknown }
  | { type: 'reply'; task: number; request: number; ok: true; value: unknown }
  | { type: 'reply'; task: number; request: number; ok: false; error: WireError };

/** Messages worker -> main. */
export type FromWorker =
  | { type: 'request'; task: number; request: number; body: unknown }
  | { type: 'done'; task: number; ok: true; value: unknown }
  | { type: 'done'; task: number; ok: false; error: WireError };

export interface WireError {
  message: string;
  code?: string;
}

interface PendingTask {
  id: number;
  kind: string;
  payload: unknown;
  onRequest: ((request: unknown) => Promise<unknown>) | undefined;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  budgetMs: number;
  slot: Slot | null;
  settled: boolean;
}

interface Slot {
  worker: Worker;
  task: PendingTask | null;
  idleTimer: NodeJS.Timeout | null;
  gone: boolean;
}

const OUTPUT_LINE_MAX = 500;

export class WorkerPool {
  private readonly script: URL;
  private readonly size: number;
  private readonly budgetMs: number;
  private readonly idleMs: number;
  private readonly maxHeapMb: number;
  private readonly log: Logger | undefined;
  private readonly slots = new Set<Slot>();
  private readonly queue: PendingTask[] = [];
  private nextId = 1;
  private closed = false;
  /** Workers started so far (replacements included); for tests and metrics. */
  started = 0;
  /** Tasks cut off by their budget. */
  timedOut = 0;

  constructor(opts: WorkerPoolOptions) {
    this.script = opts.script;
    this.size = Math.max(1, Math.floor(opts.size));
    this.budgetMs = Math.max(1, opts.budgetMs);
    this.idleMs = opts.idleMs ?? 60_000;
    this.maxHeapMb = opts.maxHeapMb ?? 256;
    this.log = opts.log;
  }

  /** Workers alive now. */
  get threads(): number {
    return this.slots.size;
  }

  /** Runs one task of `kind` in a worker; resolves with its result. */
  run<T>(kind: string, payload: unknown, opts: TaskOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    const budgetMs = Math.max(1, opts.budgetMs ?? this.budgetMs);
    return new Promise<T>((resolve, reject) => {
      const task: PendingTask = {
        id: this.nextId++,
        kind,
        payload,
        onRequest: opts.onRequest,
        resolve: resolve as (value: unknown) => void,
        reject,
        budgetMs,
        slot: null,
        settled: false,
        timer: setTimeout(() => this.expire(task), budgetMs),
      };
      this.queue.push(task);
      this.dispatch();
    });
  }

  /**
   * Resolves once `count` workers (default: the pool's size) have loaded their module and
   * answered: a first message then pays no start-up (loading mailauth takes a second or more).
   */
  async warm(count = this.size): Promise<void> {
    const n = Math.min(this.size, Math.max(1, count));
    // Its own budget: loading is slow on a busy machine, and that is not what the budget bounds.
    const budgetMs = Math.max(this.budgetMs, 60_000);
    await Promise.all(Array.from({ length: n }, () => this.run('postern:ping', null, { budgetMs })));
  }

  /** Terminates every worker; queued and running tasks fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) this.settle(task, new Error('the worker pool is closed'));
    const exits = [...this.slots].map(async (slot) => {
      if (slot.task !== null) this.settle(slot.task, new Error('the worker pool is closed'));
      await slot.worker.terminate();
    });
    await Promise.all(exits);
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = [...this.slots].find((s) => s.task === null && !s.gone);
      if (slot === undefined) {
        if (this.slots.size >= this.size) return;
        slot = this.spawn();
      }
      const task = this.queue.shift()!;
      this.assign(slot, task);
    }
  }

  private assign(slot: Slot, task: PendingTask): void {
    if (slot.idleTimer !== null) {
      clearTimeout(slot.idleTimer);
      slot.idleTimer = null;
    }
    slot.task = task;
    task.slot = slot;
    const message: ToWorker = { type: 'task', task: task.id, kind: task.kind, payload: task.payload };
    slot.worker.postMessage(message);
  }

  private spawn(): Slot {
    const worker = new Worker(this.script, {
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb },
    });
    worker.unref();
    this.started++;
    const slot: Slot = { worker, task: null, idleTimer: null, gone: false };
    this.slots.add(slot);
    const output = (stream: string) => (chunk: Buffer) => {
      // A library's console output (mailauth logs per DKIM signature) never reaches our stdout.
      this.log?.debug({ stream, text: chunk.toString('utf8', 0, OUTPUT_LINE_MAX) }, 'worker output');
    };
    worker.stdout.on('data', output('stdout'));
    worker.stderr.on('data', output('stderr'));
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg));
    worker.on('error', (err) => {
      this.log?.warn({ err }, 'worker thread failed');
      this.retire(slot, err.message);
    });
    worker.on('exit', (code) => this.retire(slot, `exit code ${code}`));
    return slot;
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    const task = slot.task;
    if (task === null || msg.task !== task.id) return;
    if (msg.type === 'done') {
      slot.task = null;
      task.slot = null;
      if (msg.ok) this.settle(task, null, msg.value);
      else this.settle(task, new TaskFailed(task.kind, msg.error.message, msg.error.code));
      this.idle(slot);
      this.dispatch();
      return;
    }
    const requestId = msg.request;
    const answer = (reply: ToWorker): void => {
      // The task may have ended (timeout) while the answer was being prepared.
      if (slot.task === task && !slot.gone) slot.worker.postMessage(reply);
    };
    const handler = task.onRequest;
    if (handler === undefined) {
      answer({
        type: 'reply',
        task: task.id,
        request: requestId,
        ok: false,
        error: { message: 'no handler' },
      });
      return;
    }
    handler(msg.body).then(
      (value) => answer({ type: 'reply', task: task.id, request: requestId, ok: true, value }),
      (err: unknown) =>
        answer({ type: 'reply', task: task.id, request: requestId, ok: false, error: wireError(err) }),
    );
  }

  private idle(slot: Slot): void {
    if (slot.gone || slot.task !== null) return;
    slot.idleTimer = setTimeout(() => {
      slot.idleTimer = null;
      if (slot.task === null) void this.stopSlot(slot);
    }, this.idleMs);
    slot.idleTimer.unref();
  }

  private async stopSlot(slot: Slot): Promise<void> {
    slot.gone = true;
    this.slots.delete(slot);
    await slot.worker.terminate();
  }

  /** The worker is gone: its task (if any) fails, and queued work gets a fresh worker. */
  private retire(slot: Slot, detail: string): void {
    const wasTracked = this.slots.delete(slot);
    slot.gone = true;
    if (slot.idleTimer !== null) clearTimeout(slot.idleTimer);
    const task = slot.task;
    slot.task = null;
    if (task !== null) this.settle(task, new WorkerGone(task.kind, detail));
    if (wasTracked && !this.closed) this.dispatch();
  }

  private expire(task: PendingTask): void {
    if (task.settled) return;
    this.timedOut++;
    const error = new TaskTimeout(task.kind, task.budgetMs);
    const slot = task.slot;
    if (slot === null) {
      const at = this.queue.indexOf(task);
      if (at >= 0) this.queue.splice(at, 1);
      this.settle(task, error);
      return;
    }
    // Running: the only way to stop JavaScript that does not yield is to end its thread.
    this.log?.warn({ kind: task.kind, budgetMs: task.budgetMs }, 'task over its budget: worker terminated');
    slot.task = null;
    this.settle(task, error);
    this.slots.delete(slot);
    slot.gone = true;
    if (slot.idleTimer !== null) clearTimeout(slot.idleTimer);
    slot.worker.terminate().catch(() => undefined);
    this.dispatch();
  }

  private settle(task: PendingTask, err: Error | null, value?: unknown): void {
    if (task.settled) return;
    task.settled = true;
    clearTimeout(task.timer);
    if (err !== null) task.reject(err);
    else task.resolve(value);
  }
}

export function wireError(err: unknown): WireError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { message: err.message, code } : { message: err.message };
  }
  return { message: String(err) };
}
