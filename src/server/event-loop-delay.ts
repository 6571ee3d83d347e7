// How late this process's event loop runs, for GET /healthz/stats: a
// perf_hooks.monitorEventLoopDelay histogram, one per process, started with the HTTP listener.
// Its timer fires every RESOLUTION_MS and records the time since it last fired; the lag is that
// time less the resolution. Node's default resolution (10 ms) takes too few samples for a p99
// over a short window; 2 ms costs a few microseconds 500 times a second. The timer is unref'd by
// Node: it never keeps the process alive. reset() starts a new window (a benchmark reads the lag
// of one workload alone).

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export const EVENT_LOOP_RESOLUTION_MS = 2;

export interface EventLoopDelaySummary {
  /** When the window began (start or last reset), ISO 8601. */
  since: string;
  seconds: number;
  samples: number;
  resolutionMs: number;
  /** Lag in milliseconds (sampled interval less the resolution). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export class EventLoopDelayMonitor {
  private readonly histogram: IntervalHistogram;
  private since = Date.now();

  constructor() {
    this.histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
    this.histogram.enable();
  }

  summary(): EventLoopDelaySummary {
    const h = this.histogram;
    const samples = h.count;
    const lag = (ns: number): number =>
      samples === 0 ? 0 : round3(Math.max(0, ns / 1e6 - EVENT_LOOP_RESOLUTION_MS));
    return {
      since: new Date(this.since).toISOString(),
      seconds: round3((Date.now() - this.since) / 1000),
      samples,
      resolutionMs: EVENT_LOOP_RESOLUTION_MS,
      p50Ms: lag(h.percentile(50)),
      p99Ms: lag(h.percentile(99)),
      maxMs: lag(h.max),
      meanMs: lag(h.mean),
    };
  }

  reset(): void {
    this.histogram.reset();
    this.since = Date.now();
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

let shared: EventLoopDelayMonitor | null = null;

/** The process's monitor, started by the first call. */
export function eventLoopDelayMonitor(): EventLoopDelayMonitor {
  shared ??= new EventLoopDelayMonitor();
  return shared;
}
