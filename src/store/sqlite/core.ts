// What every role of the SQLite store shares: the connections and their statements, the write
// path (the writer thread, the WAL fsync that acknowledges commits), the change feed with the
// poll that learns of other processes' commits, and the stats.
// Invariants:
// - every write body runs in the writer thread (writer-thread.ts), which owns the write
//   connection: BEGIN IMMEDIATE (the write lock is taken up front, so the read-modify-write of
//   uidnext/highestmodseq/quota cannot race another process), every body under its own
//   SAVEPOINT, and the bodies submitted while one transaction runs share the next one. So no
//   SQLite write, and no wait for another process's write lock, holds the event loop; reads
//   stay on this thread's connection, which sees each commit once the thread has answered;
// - a write's promise resolves only after its commit is on disk. SQLite runs with
//   synchronous=NORMAL (in WAL mode that only skips the fsync at commit) and the store fsyncs
//   the WAL itself: the writer thread right after its commit, before it answers (commits that
//   arrive while one fsync runs form the next transaction and share the next fsync: group
//   commit, and neither the event loop nor libuv's thread pool waits for the disk). This thread
//   fsyncs (on the thread pool, one at a time, concurrent callers sharing the next) only for
//   commits made here (writerThread: false, or an injected fsync in tests) and for what other
//   processes committed. Checkpoints still fsync WAL and database. Lease writes alone skip it
//   (writeWithoutSync);
// - a change is announced (watch() listeners: IDLE, other sessions) only after the WAL fsync
//   that makes it durable, never inside a transaction (see ChangeFeed); when that fsync fails,
//   nothing is announced and the writer gets the error. Changes made by other processes are
//   announced after an fsync of the same WAL by this process, and visibleDurable() (what
//   changesSince() waits for) resolves once the commits it can see are durable, so no session
//   is told of a change a crash loses.

import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AccountWatch } from '../account-watch.js';
import { ChangeFeed } from '../change-feed.js';
import { fillSearchColumns, prepareAppend } from './blob-rows.js';
import { migrate } from './schema.js';
import { StatementCache } from './statement-cache.js';
import { pin } from './statement-pin.js';
import type { AppendOutcome, AppendRequest } from '../types.js';
import { WRITES, type WriteArgs, type WriteName, type WriteResult, type WriteRole } from './write-bodies.js';
import type { CommitNote } from './writer-protocol.js';
import { SqliteWriter, type Committed } from './writer.js';
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
  /** Most writes committed in one transaction of the writer thread (default 512). */
  maxWriteBatch?: number;
  /** Milliseconds between the checkpointer thread's WAL checkpoints (default 250; 0: none). */
  checkpointIntervalMs?: number;
  /**
   * Run write bodies in the writer thread (default true). Off, each runs in its own
   * transaction on the main connection, holding the event loop while it does (a baseline for
   * benchmarks, and a fallback).
   */
  writerThread?: boolean;
}

/**
 * What a grouped write's caller gets: its value, or the error of a refusal that was rolled back
 * to its savepoint without failing the transaction.
 */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * A write that joins a transaction with others: `body` runs under its own SAVEPOINT; when it
 * throws, only its own changes are rolled back and `failed` runs, still inside the transaction,
 * to say what its caller gets (a throw from `failed` fails the transaction).
 */
export interface GroupedWrite<T> {
  body(tx: WriteTx, now: number): T;
  failed(tx: WriteTx, err: unknown, now: number): Settled<T>;
}

const NO_LOG: StoreLogger = { warn: () => undefined, error: () => undefined };
const DEFAULT_POLL_MS = 100;
const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_WRITE_BATCH = 512;
/** Change rows read per poll; a bigger backlog is read over the next polls. */
const POLL_ROW_LIMIT = 20_000;

/**
 * fsync of the WAL through one descriptor held from the first fsync to close(): one trip to
 * libuv's thread pool per fsync instead of three (open, fsync, close), and each trip also waits
 * for a turn of the event loop, which a burst of connections makes long. Holding it is safe:
 * while any connection is open (this store's stays open until close()) SQLite rewinds or
 * truncates the WAL but never unlinks or replaces it, so the descriptor names the live file.
 */
class WalSyncer {
  private handle: Promise<FileHandle> | null = null;

  constructor(private readonly file: string) {}

  async sync(): Promise<void> {
    const opening = (this.handle ??= fsp.open(this.file, 'r'));
    let handle: FileHandle;
    try {
      handle = await opening;
    } catch (err) {
      // Not opened: the next fsync tries again.
      if (this.handle === opening) this.handle = null;
      throw err;
    }
    // fdatasync, as SQLite itself does on Linux: the WAL's bytes and size, not its mtime (an
    // fsync would add an inode journal commit to every WAL sync).
    await handle.datasync();
  }

  async close(): Promise<void> {
    const opening = this.handle;
    this.handle = null;
    if (opening !== null) await opening.then((h) => h.close()).catch(() => undefined);
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
  private readonly walSyncer: WalSyncer;
  private readonly pollIntervalMs: number;
  /** Runs the write bodies (null: they run on this connection). */
  private readonly writer: SqliteWriter | null;
  private readonly feed: ChangeFeed;

  private commitGeneration = 0;
  /** The highest generation whose fsync succeeded. */
  private durableGeneration = 0;
  /**
   * data_version (other connections' commits) at which every visible change row is known to be
   * durable (-1: not yet known).
   */
  private durableDataVersion = -1;
  /** The highest change seq visible when the last successful fsync started: on disk. */
  private durableSeq = 0;
  /** visibleDurable() callers waiting for a writer-thread fsync to cover change rows up to seq. */
  private seqWaiters: Array<{ seq: number; resolve: () => void }> = [];
  /** WAL fsyncs made by this thread (the writer thread counts its own). */
  private ownFsyncs = 0;
  private syncRunning = false;
  private syncWaiters: Array<{ generation: number; resolve: () => void; reject: (err: unknown) => void }> =
    [];
  private syncIdleWaiters: Array<() => void> = [];
  /** Writes submitted and not yet committed; close() waits for them. */
  private pendingWrites = 0;
  private drainWaiters: Array<() => void> = [];
  private lastAppendBatch = 0;
  private localBatch = 0;
  private closing = false;
  private closed = false;

  // Cross-process change detection (active while someone watches).
  private pollTimer: NodeJS.Timeout | null = null;
  private accountWatch: AccountWatch | null = null;
  private lastDataVersion = 0;
  private lastSeenSeq = 0;
  /** Ranges of change seqs this connection wrote since the last poll (not to be re-announced). */
  private ownSeqRanges: Array<[number, number]> = [];

  constructor(opts: SqliteCoreOptions) {
    this.file = path.join(opts.dataDir, SQLITE_FILE_NAME);
    this.walFile = `${this.file}-wal`;
    this.log = opts.log ?? NO_LOG;
    this.pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_POLL_MS;
    this.walSyncer = new WalSyncer(this.walFile);
    this.fsyncWal = opts.fsyncWal ?? (() => this.walSyncer.sync());
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
    this.writer =
      opts.writerThread === false
        ? null
        : new SqliteWriter({
            file: this.file,
            busyTimeoutMs: busy,
            bodiesModule: new URL('./write-bodies.js', import.meta.url),
            maxBatch: opts.maxWriteBatch ?? DEFAULT_MAX_WRITE_BATCH,
            ...(opts.checkpointIntervalMs !== undefined
              ? { checkpointIntervalMs: opts.checkpointIntervalMs }
              : {}),
            // The thread fsyncs after its commits; an injected fsync (tests) keeps it here.
            walFile: opts.fsyncWal === undefined ? this.walFile : null,
            onError: (err) => this.log.error({ err }, 'the store writer thread failed'),
            // Known as ours before the fsync: the poll must not announce them as another's.
            onCommitted: (minSeq, maxSeq) => this.recordCommit({ mailboxes: [], minSeq, maxSeq }),
          });
    this.writer?.prepare();
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

  /** Tests: the writer thread's WAL fsyncs fail with EIO while `fail` is set. */
  faultWriterFsync(fail: boolean): void {
    this.writer?.faultFsync(fail);
  }

  /** Refuses new grouped writes once close() has begun. */
  assertAccepting(): void {
    if (this.closed || this.closing) throw new Error('the store is closed');
  }

  // ---------------------------------------------------------------- writes

  /**
   * Runs the write body `role.name` in one transaction (in the writer thread, grouped with the
   * writes submitted meanwhile, each under its own savepoint) and resolves once the commit is
   * on disk; what it touched is announced only then (a failed fsync rejects, and announces
   * nothing).
   */
  async write<R extends WriteRole, N extends WriteName<R>>(
    role: R,
    name: N,
    ...args: WriteArgs<R, N>
  ): Promise<WriteResult<R, N>> {
    this.assertOpen();
    const committed = await this.commit(role, name, args, true);
    await this.madeDurable(committed);
    this.announce(committed.note);
    return committed.value as WriteResult<R, N>;
  }

  /**
   * Commits the write body without waiting for the WAL fsync: only for writes that log no
   * change and whose loss in a crash is harmless (mailbox leases: a lease lost would have
   * lapsed anyway, and a login should not wait for the disk).
   */
  async writeWithoutSync<R extends WriteRole, N extends WriteName<R>>(
    role: R,
    name: N,
    ...args: WriteArgs<R, N>
  ): Promise<WriteResult<R, N>> {
    this.assertOpen();
    return (await this.commit(role, name, args, false)).value as WriteResult<R, N>;
  }

  /**
   * An append: committed with whatever else the writer holds, under its own savepoint; a
   * refusal inside it (quota, a target gone) is its own and leaves the others alone.
   */
  async append(req: AppendRequest): Promise<AppendOutcome[]> {
    this.assertAccepting();
    // The blob's row values are made here: the writer thread gets strings, not the MIME tree.
    const committed = await this.commit('grouped', 'append', [prepareAppend(req)], true);
    this.stats.appendRequests++;
    if (committed.batch !== this.lastAppendBatch) {
      this.lastAppendBatch = committed.batch;
      this.stats.appendBatches++;
    }
    // Nobody hears of success before the commit is on disk (SMTP 250, APPEND OK), and no
    // watcher hears of the new messages before then either.
    await this.madeDurable(committed);
    this.announce(committed.note);
    const settled = committed.value as Settled<AppendOutcome[]>;
    if (!settled.ok) throw settled.error;
    return settled.value;
  }

  /** RFC 3502 MULTIAPPEND: several append requests in one savepoint, all or none. */
  async appendAll(reqs: AppendRequest[]): Promise<AppendOutcome[][]> {
    this.assertAccepting();
    const committed = await this.commit('grouped', 'appendAll', [reqs.map(prepareAppend)], true);
    this.stats.appendRequests += reqs.length;
    await this.madeDurable(committed);
    this.announce(committed.note);
    const settled = committed.value as Settled<AppendOutcome[][]>;
    if (!settled.ok) throw settled.error;
    return settled.value;
  }

  /**
   * Resolves once the commit is on disk: at once when the writer thread fsynced after it (its
   * fsync also covers every change row it saw), else after a WAL fsync of this thread.
   */
  private async madeDurable(committed: Committed<unknown>): Promise<void> {
    if (!committed.durable) await this.durable();
  }

  /** A writer-thread fsync covered the change rows up to `seq`. */
  private covered(seq: number): void {
    if (seq <= this.durableSeq) return;
    this.durableSeq = seq;
    this.wakeSeqWaiters(false);
  }

  /** Wakes visibleDurable() callers whose rows are now covered (all of them: `all`). */
  private wakeSeqWaiters(all: boolean): void {
    if (this.seqWaiters.length === 0) return;
    const woken = all ? this.seqWaiters : this.seqWaiters.filter((w) => w.seq <= this.durableSeq);
    this.seqWaiters = all ? [] : this.seqWaiters.filter((w) => w.seq > this.durableSeq);
    for (const w of woken) w.resolve();
  }

  private async commit(
    role: WriteRole,
    name: string,
    args: unknown[],
    sync: boolean,
  ): Promise<Committed<unknown>> {
    const op = `${role}.${name}`;
    this.pendingWrites++;
    try {
      let committed: Committed<unknown>;
      if (this.writer !== null) {
        committed = await this.writer.run(op, args, sync);
        if (committed.durable) this.covered(committed.coveredSeq);
        this.stats.commits = this.writer.stats.transactions;
        this.stats.fsyncs = this.ownFsyncs + this.writer.stats.fsyncs;
      } else {
        committed = this.commitHere(role, name, args);
        this.stats.commits++;
        // (The writer thread's commits are recorded from its `committed` message, before their
        // fsync: onCommitted.)
        this.recordCommit(committed.note);
      }
      return committed;
    } finally {
      this.pendingWrites--;
      if (this.pendingWrites === 0) {
        // Nothing of ours is left to cover them: they make their own fsync.
        this.wakeSeqWaiters(true);
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  /** Without the writer thread: the body in its own transaction on this connection. */
  private commitHere(role: WriteRole, name: string, args: unknown[]): Committed<unknown> {
    const group = WRITES[role] as Record<string, (tx: WriteTx, ...a: unknown[]) => unknown>;
    const body = group[name];
    if (body === undefined) throw new Error(`unknown write ${role}.${name}`);
    const tx = new WriteTx(this.sql);
    const value = this.db.transaction(() => body(tx, ...args)).immediate();
    const note = { mailboxes: [...tx.mailboxes], minSeq: tx.minSeq, maxSeq: tx.maxSeq };
    return { value, note, batch: ++this.localBatch, durable: false, coveredSeq: 0 };
  }

  // ---------------------------------------------------------------- durability

  /**
   * Resolves once every change row this connection can see (its own commits', and other
   * processes' ones shown by data_version) is on disk: at once when none is newer than the last
   * fsync, else after one more WAL fsync (the WAL is one file: our fsync covers other
   * processes' commits). Commits that wrote no change row (leases, the queue, the directory)
   * cost no fsync here: a session is told nothing of them.
   */
  async visibleDurable(): Promise<void> {
    const version = this.dataVersion();
    if (this.durableGeneration >= this.commitGeneration && version === this.durableDataVersion) return;
    const seq = this.maxChangeSeq();
    if (seq > this.durableSeq && this.pendingWrites > 0) {
      // Most often the rows are a commit of our writer thread whose fsync is under way: its
      // answer says what that fsync covered, and no second fsync is needed.
      await new Promise<void>((resolve) => this.seqWaiters.push({ seq, resolve }));
    }
    // kickSync() reads the newest change row before it fsyncs: afterwards seq <= durableSeq.
    if (seq > this.durableSeq) await this.durable();
    if (version > this.durableDataVersion) this.durableDataVersion = version;
  }

  private dataVersion(): number {
    return this.sql.stmt<number>('PRAGMA data_version', 'pluck').get()!;
  }

  private maxChangeSeq(): number {
    return this.sql.stmt<number | null>('SELECT max(seq) FROM changes', 'pluck').get() ?? 0;
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
    // Every commit this connection can see now, the writer thread's included (they are another
    // connection's, so they move data_version), is in the WAL before the fsync starts: once it
    // succeeds, visibleDurable() need not fsync again for them.
    const version = this.closed ? -1 : this.dataVersion();
    const seq = this.closed ? 0 : this.maxChangeSeq();
    this.ownFsyncs++;
    this.stats.fsyncs = this.ownFsyncs + (this.writer?.stats.fsyncs ?? 0);
    const settle = (err: unknown): void => {
      this.syncRunning = false;
      const ready = this.syncWaiters.filter((w) => w.generation <= target);
      this.syncWaiters = this.syncWaiters.filter((w) => w.generation > target);
      if (err === null && target > this.durableGeneration) this.durableGeneration = target;
      if (err === null && version > this.durableDataVersion) this.durableDataVersion = version;
      if (err === null && seq > this.durableSeq) this.durableSeq = seq;
      for (const w of ready) {
        if (err === null) w.resolve();
        else w.reject(err);
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

  /** At commit: notes its change rows so the poll does not announce them twice. */
  private recordCommit(tx: CommitNote): void {
    if (tx.minSeq !== 0 && this.pollTimer !== null) {
      const last = this.ownSeqRanges[this.ownSeqRanges.length - 1];
      if (last !== undefined && tx.minSeq <= last[1] + 1) last[1] = Math.max(last[1], tx.maxSeq);
      else this.ownSeqRanges.push([tx.minSeq, tx.maxSeq]);
    }
  }

  /** After the fsync that made the commit durable: wakes watchers (IDLE, other sessions). */
  private announce(note: CommitNote): void {
    if (note.mailboxes.length > 0) this.feed.notify(note.mailboxes);
  }

  // ---------------------------------------------------------------- change notification

  watch(mailboxId: number, listener: (mailboxId: number) => void): () => void {
    return this.feed.watch(mailboxId, listener);
  }

  /** Every change to an account's mailboxes (see AccountWatch): the same feed and poll as watch(). */
  watchAccount(accountId: number, listener: (mailboxIds: readonly number[]) => void): () => void {
    if (this.closed) return () => undefined;
    this.accountWatch ??= new AccountWatch({
      feed: this.feed,
      ownerOf: (id) =>
        this.closed
          ? null
          : (this.sql.stmt<number>('SELECT account_id FROM mailboxes WHERE id = ?', 'pluck').get(id) ?? null),
      mailboxIdsOf: (account) =>
        this.sql.stmt<number>('SELECT id FROM mailboxes WHERE account_id = ?', 'pluck').all(account),
    });
    return this.accountWatch.watch(accountId, listener);
  }

  private startPolling(): void {
    if (this.pollTimer !== null || this.closed) return;
    this.lastDataVersion = this.dataVersion();
    this.lastSeenSeq = this.maxChangeSeq();
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
      const version = this.dataVersion();
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
      if (changed.size > 0 && this.lastSeenSeq <= this.durableSeq) {
        // An fsync of ours that started after these commits already covers them.
        this.feed.notify(changed);
      } else if (changed.size > 0) {
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
    if (this.pendingWrites > 0) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
    await this.writer?.close();
    if (this.syncRunning || this.syncWaiters.length > 0) {
      await new Promise<void>((resolve) => this.syncIdleWaiters.push(resolve));
    }
    if (this.closed) return;
    this.stopPolling();
    this.feed.close();
    this.closed = true;
    this.sql.clear();
    await this.walSyncer.close();
    this.db.close();
  }
}
