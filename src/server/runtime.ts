// The server process: opens TLS material, the store, the authenticator and the listeners, then
// waits for SIGTERM / SIGINT (or an abort signal) and shuts down gracefully. Which protocols
// serve which listener, how the store is opened and which program a cluster worker runs are
// handed in (ServerParts, from src/app/server.ts): the runtime imports no protocol and no backend. With
// config.server.workers > 1 (0 = one per core) the primary forks that many node:cluster workers,
// each opening the store and serving the same ports; the primary relays shutdown and bans and
// returns when every worker has exited. Invariants:
// - the store is closed only after every connection is gone;
// - the primary does the one-time work (TLS pair generation, store schema, port 0 resolution)
//   before any worker starts, so workers never race each other for it;
// - onReady is called once, after every listener (in every worker) is accepting;
// - scheduled garbage collection (store.gc_interval) runs in one process: the single process,
//   or the primary on a store of its own, never in the workers;
// - the outbound queue worker (ServerParts.outbound) runs in every serving process (the
//   single one, or each cluster worker; leases keep them apart), starts before the listeners
//   and stops after them (its claims released) and before the store closes.

import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import os from 'node:os';
import { Authenticator } from '../auth/authenticator.js';
import {
  AuthFailureTracker,
  acceptWorkerFailures,
  broadcastBans,
  connectTrackerToPrimary,
} from '../auth/failure-tracker.js';
import { preparePasswordVerification } from '../auth/password.js';
import { LISTENER_NAMES, type ListenerName, type PosternConfig } from '../config/types.js';
import { createLogger, type Logger } from '../core/log.js';
import { GcSchedule } from '../store/gc-schedule.js';
import { expirePop3Retrieved } from '../store/pop3-retention.js';
import { autoexpunge } from '../store/autoexpunge.js';
import { ListenerSet, type ListenerInfo } from './listeners.js';
import { loadTlsMaterial } from './tls.js';
import type { OutboundFactory, OutboundService, ProtocolFactory, ServerDeps, StoreOpener } from './types.js';

export type { ListenerInfo } from './listeners.js';

export interface ReadyInfo {
  /** Listeners actually started, with their real ports. */
  listeners: ListenerInfo[];
  /** Worker processes serving them (1 when single-process). */
  workers: number;
  /** The process that called runServer. */
  pid: number;
}

/** What the server is assembled from; src/app/server.ts supplies the real ones. */
export interface ServerParts {
  /** Listener name -> protocol. A listener enabled without an entry is not opened (logged at info). */
  handlers: ReadonlyMap<ListenerName, ProtocolFactory>;
  /** Opens the store: once in each serving process, and once in a cluster primary. */
  openStore: StoreOpener;
  /**
   * The program node:cluster runs in each worker (server.workers > 1). It must call runWorker
   * with the same handlers and openStore.
   */
  workerMain: string;
  /** Starts this process's outbound queue worker; absent: none runs. */
  outbound?: OutboundFactory;
}

export interface RunServerOptions {
  onReady?: (info: ReadyInfo) => void;
  /** Aborting it shuts the server down like SIGTERM. */
  signal?: AbortSignal;
  /** Handle SIGTERM and SIGINT (default true). */
  handleSignals?: boolean;
  /** Logger to use instead of createLogger(config.log). */
  logger?: Logger;
}

/** Most unexpected worker exits tolerated within RESTART_WINDOW_MS before the cluster gives up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** Extra time, past the shutdown grace, before the primary kills a worker that has not exited. */
const WORKER_EXIT_SLACK_MS = 10_000;

// IPC messages between the primary and its workers (bans travel in failure-tracker.ts).
type PrimaryMessage = { type: 'postern:config'; config: PosternConfig } | { type: 'postern:shutdown' };
type WorkerMessage = { type: 'postern:worker-hello' } | { type: 'postern:ready'; listeners: ListenerInfo[] };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

export function workerCount(configured: number): number {
  if (configured === 0) return os.availableParallelism();
  return Math.max(1, Math.floor(configured));
}

export async function runServer(
  config: PosternConfig,
  parts: ServerParts,
  opts: RunServerOptions = {},
): Promise<void> {
  const workers = workerCount(config.server.workers);
  if (workers <= 1) return serveProcess(config, parts, opts, 'single');
  return runPrimary(config, parts, opts, workers);
}

/** What ends a process's serving: signals, an abort signal, the primary, or an internal failure. */
class StopTrigger {
  readonly stopped: Promise<string>;
  private resolveStop!: (reason: string) => void;
  private readonly disposers: Array<() => void> = [];
  private requested = false;
  private forceHandler: (() => void) | null = null;

  constructor(opts: { signal?: AbortSignal; handleSignals: boolean; fromPrimary: boolean }) {
    this.stopped = new Promise((resolve) => (this.resolveStop = resolve));
    if (opts.handleSignals) {
      for (const sig of ['SIGTERM', 'SIGINT'] as const) {
        const h = (): void => this.stop(sig);
        process.on(sig, h);
        this.disposers.push(() => process.off(sig, h));
      }
    }
    if (opts.signal !== undefined) {
      const signal = opts.signal;
      const h = (): void => this.stop('abort');
      if (signal.aborted) h();
      else signal.addEventListener('abort', h, { once: true });
      this.disposers.push(() => signal.removeEventListener('abort', h));
    }
    if (opts.fromPrimary) {
      const onMessage = (msg: unknown): void => {
        if (isRecord(msg) && msg.type === 'postern:shutdown') this.stop('primary');
      };
      const onDisconnect = (): void => this.stop('primary gone');
      process.on('message', onMessage);
      process.on('disconnect', onDisconnect);
      this.disposers.push(() => {
        process.off('message', onMessage);
        process.off('disconnect', onDisconnect);
      });
    }
  }

  get isRequested(): boolean {
    return this.requested;
  }

  stop(reason: string): void {
    if (this.requested) {
      // A second signal while shutting down: stop waiting for commands in flight.
      this.forceHandler?.();
      return;
    }
    this.requested = true;
    this.resolveStop(reason);
  }

  onForce(handler: () => void): void {
    this.forceHandler = handler;
  }

  dispose(): void {
    for (const d of this.disposers.splice(0)) d();
  }
}

function flushLog(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}

/** Serves in this process: the single-process server, or one cluster worker. */
async function serveProcess(
  config: PosternConfig,
  parts: Pick<ServerParts, 'handlers' | 'openStore' | 'outbound'>,
  opts: RunServerOptions,
  role: 'single' | 'worker',
): Promise<void> {
  const log = opts.logger ?? createLogger(config.log, { base: role === 'worker' ? { role } : {} });
  const stop = new StopTrigger({
    signal: opts.signal,
    handleSignals: opts.handleSignals ?? true,
    fromPrimary: role === 'worker',
  });
  let store: ServerDeps['store'] | null = null;
  let gc: GcSchedule | null = null;
  let outbound: OutboundService | null = null;
  const closers: Array<() => Promise<void>> = [];
  let disconnectTracker: (() => void) | null = null;
  try {
    const tls = await loadTlsMaterial(config);
    if (tls.selfSigned) log.info({ cert: tls.certPath }, 'using the self-signed certificate');
    const [{ store: openedStore, blobs }] = await Promise.all([
      parts.openStore(config, { log: log.child({ component: 'store' }) }),
      preparePasswordVerification(config.auth.scryptLogN),
    ]);
    store = openedStore;
    if (role === 'single') gc = startGc(config, openedStore, log);
    const tracker = new AuthFailureTracker({ limits: config.limits });
    if (role === 'worker') disconnectTracker = connectTrackerToPrimary(tracker, process);
    tracker.onBan((ip, until) => log.warn({ ip, until: new Date(until).toISOString() }, 'address banned'));
    const authenticator = new Authenticator({
      store: openedStore,
      limits: config.limits,
      tracker,
      log,
      auth: config.auth,
    });
    const onClose = (close: () => Promise<void>): void => void closers.push(close);
    const deps: ServerDeps = { config, store: openedStore, blobs, log, authenticator, tls, onClose };
    if (parts.outbound !== undefined) {
      outbound = parts.outbound(deps);
      deps.outbound = outbound;
    }
    const listeners = await ListenerSet.start({ deps, handlers: parts.handlers });
    log.info({ listeners: listeners.listening }, 'ready');
    opts.onReady?.({ listeners: listeners.listening, workers: 1, pid: process.pid });

    const reason = await stop.stopped;
    const graceMs = config.server.shutdownGrace * 1000;
    log.info({ reason, graceSeconds: config.server.shutdownGrace }, 'shutting down');
    let forced = false;
    const forcedShutdown = new Promise<void>((resolve) =>
      stop.onForce(() => {
        forced = true;
        resolve();
      }),
    );
    await Promise.race([listeners.shutdown({ graceMs }), forcedShutdown]);
    if (forced) await listeners.shutdown({ graceMs: 0 });
  } finally {
    stop.dispose();
    disconnectTracker?.();
    await outbound?.stop().catch((err: unknown) => log.error({ err }, 'outbound worker stop failed'));
    await gc?.stop();
    // Protocol resources (the verify pool's threads): a live worker would keep the process up.
    for (const close of closers.splice(0)) await close().catch(() => undefined);
    if (store !== null) await store.close();
    log.info('stopped');
    await flushLog(log);
  }
}

function startGc(config: PosternConfig, store: ServerDeps['store'], log: Logger): GcSchedule {
  return new GcSchedule({
    store,
    intervalMs: config.store.gcInterval * 1000,
    log: log.child({ component: 'gc' }),
    tasks: [
      {
        name: 'pop3 retention',
        run: async () => {
          const r = await expirePop3Retrieved(store, {
            serverDefault: config.pop3.expire,
            now: Date.now(),
            includeImapTouched: config.pop3.expireImap,
          });
          return { expunged: r.expunged };
        },
      },
      {
        name: 'autoexpunge',
        run: () =>
          autoexpunge(store, {
            trashSeconds: config.store.autoexpungeTrash,
            junkSeconds: config.store.autoexpungeJunk,
            now: Date.now(),
          }),
      },
    ],
  }).start();
}

/** The primary resolves port 0 to one free port per listener, so every worker binds the same one. */
async function resolveEphemeralPorts(
  config: PosternConfig,
  served: ReadonlyMap<ListenerName, ProtocolFactory>,
): Promise<PosternConfig> {
  const listen = { ...config.listen };
  const probes: net.Server[] = [];
  try {
    for (const name of LISTENER_NAMES) {
      const address = listen[name];
      if (address === null || address.port !== 0 || !served.has(name)) continue;
      const probe = net.createServer();
      probes.push(probe);
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen({ host: address.host, port: 0 }, resolve);
      });
      const bound = probe.address();
      if (typeof bound !== 'object' || bound === null) throw new Error(`cannot resolve a port for ${name}`);
      listen[name] = { host: address.host, port: bound.port };
    }
  } finally {
    await Promise.all(
      probes.map((p) => new Promise<void>((resolve) => (p.listening ? p.close(() => resolve()) : resolve()))),
    );
  }
  return { ...config, listen };
}

function isWorkerMessage(v: unknown): v is WorkerMessage {
  if (!isRecord(v)) return false;
  if (v.type === 'postern:worker-hello') return true;
  return v.type === 'postern:ready' && Array.isArray(v.listeners);
}

async function runPrimary(
  config: PosternConfig,
  parts: ServerParts,
  opts: RunServerOptions,
  count: number,
): Promise<void> {
  const log = opts.logger ?? createLogger(config.log, { base: { role: 'primary' } });
  const stop = new StopTrigger({
    signal: opts.signal,
    handleSignals: opts.handleSignals ?? true,
    fromPrimary: false,
  });
  const live = new Set<Worker>();
  let fatal: Error | null = null;
  let gcStore: ServerDeps['store'] | null = null;
  let gc: GcSchedule | null = null;
  try {
    // One-time work before any worker exists: generate the TLS pair, create or migrate the schema.
    await loadTlsMaterial(config);
    const probe = await parts.openStore(config, { log });
    if (config.store.gcInterval > 0) {
      // The primary serves no connection: it keeps this store open for garbage collection.
      gcStore = probe.store;
      gc = startGc(config, probe.store, log);
    } else {
      await probe.store.close();
    }
    const workerConfig = await resolveEphemeralPorts(config, parts.handlers);

    cluster.setupPrimary({
      exec: parts.workerMain,
      args: [],
      // The test runner's flags must not turn a worker into a test run.
      execArgv: process.execArgv.filter((a) => !a.startsWith('--test')),
    });
    const tracker = new AuthFailureTracker({ limits: config.limits });
    broadcastBans(tracker, () => live);

    const readyListeners = new Map<number, ListenerInfo[]>();
    let readyReported = false;
    const restarts: number[] = [];
    let shuttingDown = false;
    let allExited: (() => void) | null = null;

    const fail = (err: Error): void => {
      fatal ??= err;
      stop.stop('fatal');
    };

    const fork = (): void => {
      const worker = cluster.fork({ POSTERN_WORKER: '1' });
      live.add(worker);
      acceptWorkerFailures(tracker, worker);
      // A send to a worker that is going away fails with an 'error' event: log it, never crash.
      worker.on('error', (err: Error) =>
        log.warn({ err, worker: worker.process.pid }, 'worker channel error'),
      );
      worker.on('message', (msg: unknown) => {
        if (!isWorkerMessage(msg)) return;
        if (msg.type === 'postern:worker-hello') {
          const reply: PrimaryMessage = { type: 'postern:config', config: workerConfig };
          worker.send(reply);
          return;
        }
        readyListeners.set(worker.id, msg.listeners);
        if (!readyReported && readyListeners.size === count) {
          readyReported = true;
          log.info({ workers: count }, 'all workers ready');
          opts.onReady?.({ listeners: msg.listeners, workers: count, pid: process.pid });
        }
      });
      worker.on('exit', (code, signal) => {
        live.delete(worker);
        readyListeners.delete(worker.id);
        if (shuttingDown) {
          if (live.size === 0) allExited?.();
          return;
        }
        log.error({ worker: worker.process.pid, code, signal }, 'worker exited unexpectedly');
        if (!readyReported) {
          fail(new Error(`worker exited during startup (code ${String(code)}, signal ${String(signal)})`));
          return;
        }
        const now = Date.now();
        while (restarts.length > 0 && now - restarts[0] > RESTART_WINDOW_MS) restarts.shift();
        if (restarts.length >= MAX_RESTARTS) {
          fail(
            new Error(`workers keep exiting: ${MAX_RESTARTS} restarts within ${RESTART_WINDOW_MS / 1000} s`),
          );
          return;
        }
        restarts.push(now);
        fork();
      });
    };
    for (let i = 0; i < count; i++) fork();

    const reason = await stop.stopped;
    shuttingDown = true;
    log.info({ reason, workers: live.size }, 'shutting down workers');
    const exited = new Promise<void>((resolve) => {
      allExited = resolve;
      if (live.size === 0) resolve();
    });
    const shutdown: PrimaryMessage = { type: 'postern:shutdown' };
    for (const w of live) if (w.isConnected()) w.send(shutdown);
    // A second signal is relayed as a second shutdown request, which workers take as "now".
    stop.onForce(() => {
      for (const w of live) if (w.isConnected()) w.send(shutdown);
    });
    const killTimer = setTimeout(
      () => {
        for (const w of live) {
          log.warn({ worker: w.process.pid }, 'worker did not exit in time: killing it');
          w.process.kill('SIGKILL');
        }
      },
      config.server.shutdownGrace * 1000 + WORKER_EXIT_SLACK_MS,
    );
    await exited;
    clearTimeout(killTimer);
  } finally {
    stop.dispose();
    await gc?.stop();
    if (gcStore !== null) await gcStore.close();
    for (const w of live) w.process.kill('SIGKILL');
    log.info('stopped');
    await flushLog(log);
  }
  if (fatal !== null) throw fatal;
}

/**
 * Entry of a cluster worker (src/app/worker-main.ts): gets its configuration from the primary,
 * then serves with the given parts (the same the primary was given).
 */
export async function runWorker(
  parts: Pick<ServerParts, 'handlers' | 'openStore' | 'outbound'>,
): Promise<void> {
  const config = await new Promise<PosternConfig | null>((resolve) => {
    const onMessage = (msg: unknown): void => {
      if (!isRecord(msg)) return;
      if (msg.type === 'postern:shutdown') {
        process.off('message', onMessage);
        resolve(null);
      } else if (msg.type === 'postern:config' && isRecord(msg.config)) {
        process.off('message', onMessage);
        resolve(msg.config as unknown as PosternConfig);
      }
    };
    process.on('message', onMessage);
    const hello: WorkerMessage = { type: 'postern:worker-hello' };
    process.send?.(hello);
  });
  if (config === null) return;
  await serveProcess(
    config,
    parts,
    {
      onReady: (info) => {
        const ready: WorkerMessage = { type: 'postern:ready', listeners: info.listeners };
        process.send?.(ready);
      },
    },
    'worker',
  );
}
