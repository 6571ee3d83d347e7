// The worker side of src/workers/pool.ts: receives tasks from the main thread, runs the handler
// registered for their kind, posts the result, and lets a running task ask the main thread for
// things (request()). Invariants: one task at a time per worker (the pool sends no second one
// before the first is done); console output of libraries is captured by the pool (the worker
// is started with stdout/stderr piped), never written to the process's stdout.

import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { wireError, type FromWorker, type ToWorker } from './pool.js';

/** What a task handler gets besides its payload. */
export interface TaskContext {
  /** Sends a request to the task's onRequest on the main thread and waits for its answer. */
  request(body: unknown): Promise<unknown>;
}

export type TaskHandler = (payload: unknown, ctx: TaskContext) => Promise<unknown>;

/** An error answered by the main thread, with its code (e.g. ENOTFOUND from DNS). */
export class RemoteError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'RemoteError';
    this.code = code;
  }
}

/** The task every worker answers: WorkerPool.warm() uses it to wait until a thread is loaded. */
export const PING = 'postern:ping';
const ping: TaskHandler = () => Promise.resolve('pong');

/** Nice value of a worker thread: the event loop that serves every connection comes first. */
export const WORKER_NICENESS = 10;

/** Starts serving tasks with these handlers (call once, from the worker's entry module). */
export function serveTasks(handlers: Readonly<Record<string, TaskHandler>>): void {
  const port = parentPort;
  if (port === null) throw new Error('serveTasks() runs only in a worker thread');
  try {
    // On Linux the nice value is per thread (setpriority on "process" 0 is the calling thread,
    // see setpriority(2), BUGS): this lowers this worker only, never the main thread.
    os.setPriority(WORKER_NICENESS);
  } catch {
    // not permitted or not supported: run at normal priority
  }
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextRequest = 1;
  let current = 0;

  const post = (msg: FromWorker): void => port.postMessage(msg);

  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'reply') {
      const w = waiting.get(msg.request);
      if (w === undefined || msg.task !== current) return;
      waiting.delete(msg.request);
      if (msg.ok) w.resolve(msg.value);
      else w.reject(new RemoteError(msg.error.message, msg.error.code));
      return;
    }
    const task = msg.task;
    current = task;
    waiting.clear();
    const handler =
      msg.kind === PING ? ping : Object.hasOwn(handlers, msg.kind) ? handlers[msg.kind] : undefined;
    const ctx: TaskContext = {
      request(body) {
        const request = nextRequest++;
        return new Promise((resolve, reject) => {
          waiting.set(request, { resolve, reject });
          post({ type: 'request', task, request, body });
        });
      },
    };
    const run =
      handler === undefined
        ? Promise.reject(new Error(`unknown task kind ${msg.kind}`))
        : handler(msg.payload, ctx);
    run.then(
      (value) => post({ type: 'done', task, ok: true, value }),
      (err: unknown) => post({ type: 'done', task, ok: false, error: wireError(err) }),
    );
  });
}
