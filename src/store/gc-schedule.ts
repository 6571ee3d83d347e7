// Garbage collection on a timer, inside the server: one process runs it (the single process,
// or the cluster primary; workers never do). collectGarbage() is safe in several processes at
// once anyway (a `postern gc` while the server runs). Invariants:
// - one collection at a time; a run that outlasts the interval delays the next, never overlaps;
// - the timer never keeps the process alive, and stop() waits for a run in progress;
// - the other maintenance tasks (POP3 retention) run after each collection, one after another,
//   each failure logged and the next still run.

import type { GcResult } from './types.js';
import type { Maintenance } from './roles.js';

/** The part of a pino Logger the schedule uses. */
export interface GcLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface GcScheduleOptions {
  store: Maintenance;
  /** Milliseconds between the end of one run and the start of the next; 0 disables the schedule. */
  intervalMs: number;
  log: GcLogger;
  /** Called after each run (tests await it). */
  onRun?: (result: GcResult) => void;
  /** Maintenance run after each collection; each returns counts, logged when any is above 0. */
  tasks?: readonly MaintenanceTask[];
}

export interface MaintenanceTask {
  name: string;
  run(): Promise<Readonly<Record<string, number>>>;
}

export class GcSchedule {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly opts: GcScheduleOptions) {}

  start(): this {
    if (this.opts.intervalMs > 0) this.arm();
    return this;
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.run().finally(() => {
        this.running = null;
        this.arm();
      });
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    try {
      const result = await this.opts.store.collectGarbage();
      if (result.blobsRemoved > 0 || result.orphanFilesRemoved > 0 || result.changeRowsPruned > 0) {
        this.opts.log.info({ ...result }, 'garbage collected');
      }
      this.opts.onRun?.(result);
    } catch (err) {
      this.opts.log.warn({ err }, 'garbage collection failed');
    }
    for (const task of this.opts.tasks ?? []) {
      if (this.stopped) break;
      try {
        const counts = await task.run();
        if (Object.values(counts).some((n) => n > 0)) this.opts.log.info({ ...counts }, task.name);
      } catch (err) {
        this.opts.log.warn({ err }, `${task.name} failed`);
      }
    }
  }

  /** No more runs; resolves when a run in progress has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
