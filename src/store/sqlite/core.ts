// What every role of the SQLite store shares: the connection and its statements, the write path
// (BEGIN IMMEDIATE, the group commit of append() requests, the WAL fsync that acknowledges
// them), the change feed with the poll that learns of other processes' commits, and the stats.
// Invariants:
// - every write runs in one BEGIN IMMEDIATE transaction (the write lock is taken up front, so
//   the read-modify-write of uidnext/highestmodseq/quota cannot race another process); its body
//   is a synchronous function of a WriteTx (write-tx.ts), run here and acted on after the commit;
// - a write's promise resolves only after its commit is on disk. SQLite runs with
//   synchronous=NORMAL (in WAL mode that only skips the fsync at commit) and the store fsyncs
//   the WAL itself, on libuv's thread pool: commits made while one fsync runs share the next one
//   (group commit without blocking the event loop on the disk). Checkpoints still fsync WAL and
//   database. Lease writes alone skip it (commitWithoutSync);
// - grouped writes (append()) queued during one turn of the event loop (plus a short linger
//   during bursts) share one transaction and one WAL fsync, at most maxAppendBatch at a time;
//   each runs under its own SAVEPOINT, so one failing request never fails its batch-mates;
// - a change is announced (watch() listeners: IDLE, other sessions) only after the WAL fsync
//   that makes it durable, never inside a transaction (see ChangeFeed); when that fsync fails,
//   nothing is announced and the writer gets the error. Changes made by other processes are
//   announced after an fsync of the same WAL by this process, and visibleDurable() (what
//   changesSince() waits for) resolves once the commits it can see are durable, so no session
//   is told of a change a crash loses.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ChangeFeed } from '../change-feed.js';
import { fillSearchColumns } from './blob-rows.js';
import { migrate } from './schema.js';
import { StatementCache } from './statement-cache.js';
import { pin } from './statement-pin.js';
import { WriteTx } from './write-tx.js';

export const SQLITE_FILE_NAME = 'postern.sqlite';

/** The part of a pino Logger the store uses. */
export interface StoreLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SqliteStoreStats {
  /** Write transactions committed (any method). */
  commits: number;
  /** fsyncs of the WAL made to acknowledge commits (group commit: far fewer than commits). */
  fsyncs: number;
  /** Group commits of append() requests. */
  appendBatches: number;
  /** append() requests committed. */
  appendRequests: number;
}

export interface SqliteCoreOptions {
  dataDir: string;
  log?: StoreLogger;
  /** How often changes by other processes are looked for while someone watches (default 100 ms). */
  pollIntervalMs?: number;
  /**
   * fsync of the WAL file (default: open, fsync, close). Tests replace it to make durability
   * fail; nothing is acknowledged or announced then.
   */
  fsyncWal?: (file: string) => Promise<void>;
  /** How long a write waits for another process's write lock (default 10 s). */
  busyTimeoutMs?: number;
  /** Most append() requests committed in one transaction (default 256). */
  maxAppendBatch?: number;
  /**
   * During a burst of appends, how long a flush waits for more requests to share its commit
   * (default 0: it flushes as soon as the event loop turns).
   */
  commitLingerMs?: number;
}

/**
 * A write that joins the group commit. `body` runs under its own SAVEPOINT inside the batch's
 * transaction: when it throws, only its own changes are rolled back and `failed` runs, still
 * inside the transaction, to say what its caller gets (a throw from `failed` fails the batch).
 */
export interface GroupedWrite<T> {
  body(tx: WriteTx, now: number): T;
  failed(tx: WriteTx, err: unknown, now: number): Settled<T>;
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

interface PendingWrite {
  write: GroupedWrite<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

const NO_LOG: StoreLogger = { warn: () => undefined, error: () => undefined };
const DEFAULT_POLL_MS = 100;
const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_APPEND_BATCH = 256;
const DEFAULT_COMMIT_LINGER_MS = 0;
/** A flush starting this soon after the previous group commit is part of a burst. */
const BURST_WINDOW_MS = 5;
/** Change rows read per poll; a bigger backlog is read over the next polls. */
const POLL_ROW_LIMIT = 20_000;

/**
 * fsync of a file by path, opened for this call: the WAL keeps its inode while any connection
 * is open (SQLite rewinds it rather than replacing it), and an fd per call never outlives it.
 */
async function syncFile(file: string): Promise<void> {
  const handle = await fsp.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class SqliteCore {
  readonly file: string;
  readonly db: Database.Database;
  /** The connection's statements: reads, and (for now) the write transactions too. */
  readonly sql: StatementCache;
  readonly log: StoreLogger;
  readonly stats: SqliteStoreStats = { commits: 0, fsyncs: 0, appendBatches: 0, appendRequests: 0 };

  private readonly walFile: string;
  private readonly fsyncWal: (file: string) => Promise<void>;
  private readonly pollIntervalMs: number;
  private readonly maxAppendBatch: number;
  private readonly commitLingerMs: number;
  private readonly feed: ChangeFeed;

  private commitGeneration = 0;
  /** The highest generation whose fsync succeeded. */
  private durableGeneration = 0;
  /** data_version (other connections' commits) as of the last successful fsync of ours (-1: none yet). */
  private durableDataVersion = -1;
  private syncRunning = false;
  private syncWaiters: Array<{ generation: number; resolve: () => void; reject: (err: unknown) => void }> =
    [];
  private syncIdleWaiters: Array<() => void> = [];
  /** Grouped writes are queued until the running WAL fsync ends (see runFlush). */
  private flushAfterSync = false;

  private queue: PendingWrite[] = [];
  private flushScheduled = false;
  private lastCommitEnd = 0;
  private drainWaiters: Array<() => void> = [];
  private closing = false;
  private closed = false;

  // Cross-process change detection (active while someone watches).
  private pollTimer: NodeJS.Timeout | null = null;
  private lastDataVersion = 0;
  private lastSeenSeq = 0;
  /** Ranges of change seqs this connection wrote since the last poll (not to be re-announced). */
  private ownSeqRanges: Array<[number, number]> = [];

  constructor(opts: SqliteCoreOptions) {
    this.file = path.join(opts.dataDir, SQLITE_FILE_NAME);
    this.walFile = `${this.file}-wal`;
    this.log = opts.log ?? NO_LOG;
    this.pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_POLL_MS;
    this.fsyncWal = opts.fsyncWal ?? syncFile;
    this.maxAppendBatch = opts.maxAppendBatch ?? DEFAULT_MAX_APPEND_BATCH;
    this.commitLingerMs = opts.commitLingerMs ?? DEFAULT_COMMIT_LINGER_MS;
    const busy = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;

    this.db = pin(new Database(this.file, { timeout: busy }));
    this.sql = new StatementCache(this.db);
    try {
      // exec(), not pragma(): see statement-pin.ts.
      this.db.exec(`PRAGMA busy_timeout = ${Math.floor(busy)}`);
      this.db.exec('PRAGMA journal_mode = WAL');
      // Acknowledged means on disk: commits are made durable by durable() (see the header).
      this.db.exec('PRAGMA synchronous = NORMAL');
      this.db.exec('PRAGMA foreign_keys = ON');
      this.db.exec('PRAGMA cache_size = -16000');
      // Savepoint sub-journals (one per append request) in memory, not in temp files.
      this.db.exec('PRAGMA temp_store = MEMORY');
      migrate(this.db);
      fillSearchColumns(this.sql);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.feed = new ChangeFeed({
      onActive: (active) => (active ? this.startPolling() : this.stopPolling()),
      onError: (err, mailboxId) => this.log.error({ err, mailboxId }, 'watch listener failed'),
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  assertOpen(): void {
    if (this.closed) throw new Error('the store is closed');
  }

  /** Refuses new grouped writes once close() has begun. */
  assertAccepting(): void {
    if (this.closed || this.closing) throw new Error('the store is closed');
  }

  // ---------------------------------------------------------------- writes

  /**
   * Runs `body` in one BEGIN IMMEDIATE transaction and resolves once the commit is on disk;
   * what it touched is announced only then (a failed fsync rejects, and announces nothing).
   */
  async write<T>(body: (tx: WriteTx) => T): Promise<T> {
    this.assertOpen();
    const tx = new WriteTx(this.sql);
    const result = this.db.transaction(() => body(tx)).immediate();
    this.recordCommit(tx);
    await this.durable();
    this.announce(tx);
    return result;
  }

  /**
   * Runs `body` in one BEGIN IMMEDIATE transaction without waiting for the WAL fsync: only for
   * writes that log no change and whose loss in a crash is harmless (mailbox leases: a lease
   * lost would have lapsed anyway, and a login should not wait for the disk).
   */
  commitWithoutSync<T>(body: (tx: WriteTx) => T): T {
    this.assertOpen();
    const tx = new WriteTx(this.sql);
    const result = this.db.transaction(() => body(tx)).immediate();
    this.stats.commits++;
    return result;
  }

  /**
   * Queues a write for the group commit: it is committed with the others queued meanwhile, in
   * one transaction under its own SAVEPOINT, and resolves once that commit is on disk.
   */
  grouped<T>(write: GroupedWrite<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        write: write as GroupedWrite<unknown>,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Requests arriving in this turn of the event loop (and during the previous commit's fsync,
    // whose I/O callbacks run before the check phase) join the same batch. During a burst (the
    // last commit ended moments ago) linger a little so more deliveries share the next fsync:
    // with 20 concurrent writers this took batches from ~2 to ~5 messages per commit.
    const burst = performance.now() - this.lastCommitEnd < BURST_WINDOW_MS;
    if (burst && this.commitLingerMs > 0) setTimeout(() => this.runFlush(), this.commitLingerMs);
    else setImmediate(() => this.runFlush());
  }

  private runFlush(): void {
    this.flushScheduled = false;
    // While a WAL fsync runs, grouped writes wait and are committed together the moment it
    // ends: they could not be acknowledged before the next fsync anyway, and one transaction
    // for the lot writes each touched page (indexes, mailbox and blob rows) once, not per request.
    if (this.syncRunning && !this.closing) {
      this.flushAfterSync = true;
      return;
    }
    const batch = this.queue.splice(0, this.maxAppendBatch);
    if (batch.length > 0) this.commitGroup(batch);
    if (this.queue.length > 0) {
      this.scheduleFlush();
    } else {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  private commitGroup(batch: PendingWrite[]): void {
    const results: Array<Settled<unknown>> = new Array(batch.length);
    const tx = new WriteTx(this.sql);
    const now = Date.now();
    const one = this.db.transaction((write: GroupedWrite<unknown>) => write.body(tx, now));
    try {
      this.assertOpen();
      this.db
        .transaction(() => {
          for (let i = 0; i < batch.length; i++) {
            const write = batch[i].write;
            try {
              results[i] = { ok: true, value: one(write) }; // a nested transaction function runs under a SAVEPOINT
            } catch (err) {
              // Errors such as SQLITE_FULL or SQLITE_IOERR abort the whole transaction: give up.
              if (!this.db.inTransaction) throw err;
              results[i] = write.failed(tx, err, now);
            }
          }
        })
        .immediate();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    this.lastCommitEnd = performance.now();
    this.recordCommit(tx);
    this.stats.appendBatches++;
    this.stats.appendRequests += batch.length;
    // Nobody hears of success before the commit is on disk (SMTP 250, APPEND OK), and no
    // watcher hears of the new messages before then either.
    this.durable().then(
      () => {
        this.announce(tx);
        for (let i = 0; i < batch.length; i++) {
          const r = results[i];
          if (r.ok) batch[i].resolve(r.value);
          else batch[i].reject(r.error);
        }
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
  }

  // ---------------------------------------------------------------- durability

  /**
   * Resolves once every commit this connection can see (its own, and other processes' ones
   * shown by data_version) is on disk: at once when nothing changed since the last fsync, else
   * after one more WAL fsync (the WAL is one file: our fsync covers other processes' commits).
   */
  async visibleDurable(): Promise<void> {
    const version = this.sql.stmt<number>('PRAGMA data_version', 'pluck').get()!;
    if (this.durableGeneration >= this.commitGeneration && version === this.durableDataVersion) return;
    await this.durable();
    if (version > this.durableDataVersion) this.durableDataVersion = version;
  }

  /**
   * Resolves when every transaction committed before the call is on disk. One fsync of the WAL
   * runs at a time; callers arriving while it runs are served by the next one, so N concurrent
   * commits cost about two fsyncs, not N.
   */
  private durable(): Promise<void> {
    const generation = ++this.commitGeneration;
    return new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ generation, resolve, reject });
      this.kickSync();
    });
  }

  private kickSync(): void {
    if (this.syncRunning || this.syncWaiters.length === 0) return;
    this.syncRunning = true;
    const target = this.commitGeneration;
    this.stats.fsyncs++;
    const settle = (err: unknown): void => {
      this.syncRunning = false;
      const ready = this.syncWaiters.filter((w) => w.generation <= target);
      this.syncWaiters = this.syncWaiters.filter((w) => w.generation > target);
      if (err === null && target > this.durableGeneration) this.durableGeneration = target;
      for (const w of ready) {
        if (err === null) w.resolve();
        else w.reject(err);
      }
      if (this.flushAfterSync) {
        this.flushAfterSync = false;
        this.runFlush(); // commits the grouped writes that waited, and starts the fsync covering them
      }
      this.kickSync();
      if (!this.syncRunning) {
        const idle = this.syncIdleWaiters;
        this.syncIdleWaiters = [];
        for (const w of idle) w();
      }
    };
    this.fsyncWal(this.walFile).then(
      () => settle(null),
      (err: unknown) => settle(err),
    );
  }

  /** At commit: counts it, and notes its change rows so the poll does not announce them twice. */
  private recordCommit(tx: WriteTx): void {
    this.stats.commits++;
    if (tx.minSeq !== 0 && this.pollTimer !== null) {
      const last = this.ownSeqRanges[this.ownSeqRanges.length - 1];
      if (last !== undefined && tx.minSeq <= last[1] + 1) last[1] = Math.max(last[1], tx.maxSeq);
      else this.ownSeqRanges.push([tx.minSeq, tx.maxSeq]);
    }
  }

  /** After the fsync that made the commit durable: wakes watchers (IDLE, other sessions). */
  private announce(tx: WriteTx): void {
    if (tx.mailboxes.size > 0) this.feed.notify(tx.mailboxes);
  }

  // ---------------------------------------------------------------- change notification

  watch(mailboxId: number, listener: (mailboxId: number) => void): () => void {
    return this.feed.watch(mailboxId, listener);
  }

  private startPolling(): void {
    if (this.pollTimer !== null || this.closed) return;
    this.lastDataVersion = this.sql.stmt<number>('PRAGMA data_version', 'pluck').get()!;
    this.lastSeenSeq = this.sql.stmt<number | null>('SELECT max(seq) FROM changes', 'pluck').get() ?? 0;
    this.ownSeqRanges = [];
    this.pollTimer = setInterval(() => this.poll(), this.pollIntervalMs);
    this.pollTimer.unref();
  }

  private stopPolling(): void {
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.ownSeqRanges = [];
  }

  /**
   * PRAGMA data_version changes when another connection (another process) committed; then the
   * change rows after the last one seen say which mailboxes changed. Rows this connection wrote
   * were announced at commit and are skipped.
   */
  private poll(): void {
    if (this.closed) return;
    try {
      const version = this.sql.stmt<number>('PRAGMA data_version', 'pluck').get()!;
      if (version === this.lastDataVersion) return;
      const rows = this.sql
        .stmt<[number, number]>(
          `SELECT seq, mailbox_id FROM changes WHERE seq > ? ORDER BY seq LIMIT ${POLL_ROW_LIMIT}`,
          'raw',
        )
        .all(this.lastSeenSeq);
      // With a backlog left, keep the old version so the next poll reads on.
      if (rows.length < POLL_ROW_LIMIT) this.lastDataVersion = version;
      const changed = new Set<number>();
      let range = 0;
      for (const [seq, mailboxId] of rows) {
        while (range < this.ownSeqRanges.length && this.ownSeqRanges[range][1] < seq) range++;
        const own = range < this.ownSeqRanges.length && this.ownSeqRanges[range][0] <= seq;
        if (!own) changed.add(mailboxId);
        this.lastSeenSeq = seq;
      }
      this.ownSeqRanges = this.ownSeqRanges.filter((r) => r[1] > this.lastSeenSeq);
      // Another process's commit may not be on disk yet: announce it after our own fsync of
      // the same WAL (which covers it), or not at all when that fails.
      if (changed.size > 0) {
        this.durable().then(
          () => {
            if (version > this.durableDataVersion) this.durableDataVersion = version;
            this.feed.notify(changed);
          },
          (err: unknown) => this.log.error({ err }, 'WAL fsync failed: changes not announced'),
        );
      }
    } catch (err) {
      this.log.warn({ err }, 'polling the store for changes failed');
    }
  }

  // ---------------------------------------------------------------- close

  /** Lets queued grouped writes and running fsyncs finish, then closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    if (this.queue.length > 0 || this.flushScheduled) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
    if (this.syncRunning || this.syncWaiters.length > 0) {
      await new Promise<void>((resolve) => this.syncIdleWaiters.push(resolve));
    }
    if (this.closed) return;
    this.stopPolling();
    this.feed.close();
    this.closed = true;
    this.sql.clear();
    this.db.close();
  }
}
