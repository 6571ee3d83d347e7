// The embedded MailStore: metadata in one SQLite file (<dataDir>/postern.sqlite, WAL mode),
// message bytes in a BlobStore. Several processes may open the same file (the server's
// workers, the CLI while the server runs).
// Invariants:
// - every write runs in one BEGIN IMMEDIATE transaction (the write lock is taken up front, so
//   the read-modify-write of uidnext/highestmodseq/quota cannot race another process);
// - a promise resolves only after its commit is on disk. SQLite runs with synchronous=NORMAL
//   (in WAL mode that only skips the fsync at commit) and the store fsyncs the WAL itself, on
//   libuv's thread pool: commits made while one fsync runs share the next one (group commit
//   without blocking the event loop on the disk). Checkpoints still fsync WAL and database;
// - append() is group-committed: requests queued during one turn of the event loop (plus a
//   short linger during bursts) share one transaction and one WAL fsync, at most
//   maxAppendBatch at a time; each request runs under its own SAVEPOINT, so one failing request
//   never fails its batch-mates;
// - a change is announced (watch() listeners: IDLE, other sessions) only after the WAL fsync
//   that makes it durable, never inside a transaction (see ChangeFeed); when that fsync fails,
//   nothing is announced and the writer gets the error. Changes made by other processes are
//   announced after an fsync of the same WAL by this process, and changesSince() reads only
//   once the commits it can see are durable, so no session is told of a change a crash loses;
// - the blob refcount equals the number of message rows plus outbound_queue rows naming the
//   blob; a blob whose count reaches 0 gets zero_since, and collectGarbage() removes it (its
//   row, its blob_search row and its file) after the grace period (so a queued message's bytes
//   are never collected); files no row names are swept once older than gcOrphanAgeMs;
// - an append's local targets and its outbound copy commit in the same transaction.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '../../core/errors.js';
import { SEARCH_FIELDS, type SearchField, type TextPartRange } from '../../mail/mime/search-fields.js';
import type { MimeRecord } from '../../mail/mime/types.js';
import type { BlobStore } from '../blob/types.js';
import { ChangeFeed } from '../change-feed.js';
import { pin } from './statement-pin.js';
import {
  DEFAULT_MAILBOXES,
  type Account,
  type AccountState,
  type Alias,
  type AppendOutcome,
  type AppendRequest,
  type Change,
  type CopyResult,
  type Domain,
  type FlagResult,
  type FlagUpdate,
  type GcOptions,
  type GcResult,
  type Mailbox,
  type MailboxSummary,
  type MessageFlags,
  type MailStore,
  type MessageMeta,
  type OutboundEnvelope,
  type OutboundMessage,
  type OutboundRecipient,
  type QuotaReservation,
  type Recipient,
  type SpecialUse,
} from '../types.js';
import { normalizeDomain, parseAddress, tryParseAddress } from '../rules/address.js';
import { AppendRequestFailed, checkAppendRequest, parseAppendTarget } from '../rules/append-request.js';
import { isCount } from '../rules/count.js';
import {
  checkApopSecret,
  checkLoginInterval,
  checkPasswordHash,
  checkQuotaBytes,
  parseAlias,
} from '../rules/directory-fields.js';
import {
  applyFlagUpdate,
  decodeKeywords,
  encodeKeywords,
  FLAG_DELETED,
  FLAG_SEEN,
  flagCount,
  flagList,
  parseFlagUpdate,
  sameFlags,
  type ParsedFlags,
} from '../rules/flags.js';
import { checkLease } from '../rules/lease.js';
import {
  checkMailboxDeletable,
  checkMailboxRename,
  INBOX,
  normalizeMailboxName,
  parentNames,
} from '../rules/mailbox-name.js';
import { storedRecipients } from '../rules/outbound-envelope.js';
import { exceedsQuota, overQuotaError, QuotaReservations } from '../rules/quota.js';
import { resolveRecipientWith } from '../rules/recipient-resolver.js';
import { blobSearchText } from '../rules/search-text.js';
import { checkSpecialUse } from '../rules/special-use.js';
import { uniqueUids } from '../rules/uid-set.js';
import { nextUidValidity } from '../rules/uid-validity.js';
import { FlagIndex, type FlagChangeRow } from './flag-index.js';
import { LruCache } from './lru-cache.js';
import { migrate } from './schema.js';

export const SQLITE_FILE_NAME = 'postern.sqlite';

/** The part of a pino Logger the store uses. */
export interface StoreLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SqliteStoreOptions {
  dataDir: string;
  blobs: BlobStore;
  log?: StoreLogger;
  /** How often changes by other processes are looked for while someone watches (default 100 ms). */
  pollIntervalMs?: number;
  /** How long an unreferenced blob is kept before collectGarbage() removes it (default 10 minutes). */
  gcGraceMs?: number;
  /**
   * Age past which collectGarbage() removes blob and temp files that no row names (default one
   * hour): files left by a crash or a failed delivery. It must exceed the longest time between
   * a blob being written and its message being committed.
   */
  gcOrphanAgeMs?: number;
  /**
   * fsync of the WAL file (default: open, fsync, close). Tests replace it to make durability
   * fail; nothing is acknowledged or announced then.
   */
  fsyncWal?: (file: string) => Promise<void>;
  /** How long a write waits for another process's write lock (default 10 s). */
  busyTimeoutMs?: number;
  /** Most append() requests committed in one transaction (default 256). */
  maxAppendBatch?: number;
  /** MIME records kept parsed in memory (default 1000). */
  mimeCacheSize?: number;
  /**
   * During a burst of appends, how long a flush waits for more requests to share its commit
   * (default 2 ms; 0 flushes as soon as the event loop turns).
   */
  commitLingerMs?: number;
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

const DEFAULT_POLL_MS = 100;
/** Mailboxes whose SELECT summary is kept in memory (each up to 8 bytes per message). */
const SUMMARY_CACHE_ENTRIES = 16;
/**
 * listFlags keeps an in-memory flag index (flag-index.ts) for mailboxes of at least this many
 * messages, asked for at least FLAG_INDEX_MIN_REQUEST UIDs at once; at most FLAG_INDEX_ENTRIES
 * mailboxes (about 24 bytes a message: 2.4 MB for 100,000 messages).
 */
const FLAG_INDEX_MIN_MESSAGES = 2048;
const FLAG_INDEX_MIN_REQUEST = 256;
const FLAG_INDEX_ENTRIES = 8;
const DEFAULT_GC_GRACE_MS = 10 * 60 * 1000;
const DEFAULT_GC_ORPHAN_AGE_MS = 60 * 60 * 1000;
/** Blob ids asked about per query when sweeping orphan files. */
const ORPHAN_QUERY_BATCH = 500;
const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_APPEND_BATCH = 256;
const DEFAULT_MIME_CACHE = 1000;
const DEFAULT_COMMIT_LINGER_MS = 0;
/** A flush starting this soon after the previous append commit is part of a burst. */
const BURST_WINDOW_MS = 5;
/** Change rows read per poll; a bigger backlog is read over the next polls. */
const POLL_ROW_LIMIT = 20_000;
/** Blobs deleted per GC transaction. */
const GC_BATCH = 500;

const KIND_ADDED = 0;
const KIND_FLAGS = 1;
const KIND_EXPUNGED = 2;
/** The mailbox was deleted or renamed: lets other processes notice; never returned by changesSince. */
const KIND_MAILBOX_EVENT = 3;

interface DomainRow {
  id: number;
  name: string;
  created_at: number;
}

interface AccountRow {
  id: number;
  domain_id: number;
  address: string;
  password_hash: string;
  quota_bytes: number;
  used_bytes: number;
  state: AccountState;
  created_at: number;
}

interface MailboxRow {
  id: number;
  account_id: number;
  name: string;
  special_use: SpecialUse | null;
  uidvalidity: number;
  uidnext: number;
  highestmodseq: number;
  messages: number;
  unseen: number;
  deleted: number;
  size: number;
  recent_uid: number;
}

interface MessageRow {
  uid: number;
  modseq: number;
  flags: number;
  keywords: string | null;
  internal_date: number;
  size: number;
  blob_id: string;
}

interface ChangeRow {
  kind: number;
  modseq: number;
  uid: number;
  flags: number | null;
  keywords: string | null;
}

/** What one write transaction touched, acted on after it commits. */
class TxState {
  readonly mailboxes = new Set<number>();
  minSeq = 0;
  maxSeq = 0;

  recordSeq(seq: number): void {
    if (this.minSeq === 0 || seq < this.minSeq) this.minSeq = seq;
    if (seq > this.maxSeq) this.maxSeq = seq;
  }
}

interface PendingAppend {
  req: AppendRequest;
  resolve: (outcomes: AppendOutcome[]) => void;
  reject: (err: unknown) => void;
}

const NO_LOG: StoreLogger = { warn: () => undefined, error: () => undefined };

function notFound(what: string): StoreError {
  return new StoreError('NOT_FOUND', `${what} not found`);
}

const COMMA = 44;
const DIGIT_0 = 48;

interface OutboundRow {
  id: number;
  blob_id: string;
  size: number;
  mail_from: string;
  recipients: string;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  body: OutboundEnvelope['body'];
  smtputf8: number;
  account_id: number | null;
  queued_at: number;
  next_attempt_at: number;
  attempts: number;
}

function toOutbound(r: OutboundRow): OutboundMessage {
  return {
    id: r.id,
    blobId: r.blob_id,
    size: r.size,
    mailFrom: r.mail_from,
    recipients: JSON.parse(r.recipients) as OutboundRecipient[],
    envid: r.envid,
    ret: r.ret,
    body: r.body,
    smtputf8: r.smtputf8 !== 0,
    accountId: r.account_id,
    queuedAt: new Date(r.queued_at),
    nextAttemptAt: new Date(r.next_attempt_at),
    attempts: r.attempts,
  };
}

export async function openSqliteStore(opts: SqliteStoreOptions): Promise<SqliteStore> {
  await fsp.mkdir(opts.dataDir, { recursive: true });
  return new SqliteStore(opts);
}

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

export class SqliteStore implements MailStore {
  readonly backend = 'sqlite' as const;
  readonly file: string;
  readonly blobs: BlobStore;
  readonly stats: SqliteStoreStats = { commits: 0, fsyncs: 0, appendBatches: 0, appendRequests: 0 };

  private readonly walFile: string;
  private readonly fsyncWal: (file: string) => Promise<void>;
  private commitGeneration = 0;
  /** The highest generation whose fsync succeeded. */
  private durableGeneration = 0;
  /** data_version (other connections' commits) as of the last successful fsync of ours (-1: none yet). */
  private durableDataVersion = -1;
  /** Bytes of APPEND literals being streamed, by account (reserveQuota). */
  private readonly reservations = new QuotaReservations();
  private syncRunning = false;
  private syncWaiters: Array<{ generation: number; resolve: () => void; reject: (err: unknown) => void }> =
    [];
  private syncIdleWaiters: Array<() => void> = [];
  /** Appends are queued until the running WAL fsync ends (see runFlush). */
  private flushAfterSync = false;

  private readonly db: Database.Database;
  private readonly log: StoreLogger;
  private readonly pollIntervalMs: number;
  private readonly gcGraceMs: number;
  private readonly gcOrphanAgeMs: number;
  private readonly maxAppendBatch: number;
  private readonly commitLingerMs: number;
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();
  private readonly mimeCache: LruCache<string, MimeRecord>;
  /** mailboxSummary answers of the most recently opened large mailboxes, by mailbox id. */
  private readonly summaryCache = new LruCache<number, { modseq: number; summary: MailboxSummary }>(
    SUMMARY_CACHE_ENTRIES,
  );
  /** Flag indexes of the most recently fetched large mailboxes, by mailbox id (flag-index.ts). */
  private readonly flagIndexes = new LruCache<number, FlagIndex>(FLAG_INDEX_ENTRIES);
  private readonly feed: ChangeFeed;

  private queue: PendingAppend[] = [];
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

  constructor(opts: SqliteStoreOptions) {
    this.file = path.join(opts.dataDir, SQLITE_FILE_NAME);
    this.walFile = `${this.file}-wal`;
    this.blobs = opts.blobs;
    this.log = opts.log ?? NO_LOG;
    this.pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_POLL_MS;
    this.gcGraceMs = opts.gcGraceMs ?? DEFAULT_GC_GRACE_MS;
    this.gcOrphanAgeMs = opts.gcOrphanAgeMs ?? DEFAULT_GC_ORPHAN_AGE_MS;
    this.fsyncWal = opts.fsyncWal ?? syncFile;
    this.maxAppendBatch = opts.maxAppendBatch ?? DEFAULT_MAX_APPEND_BATCH;
    this.commitLingerMs = opts.commitLingerMs ?? DEFAULT_COMMIT_LINGER_MS;
    this.mimeCache = new LruCache(opts.mimeCacheSize ?? DEFAULT_MIME_CACHE);
    const busy = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;

    this.db = pin(new Database(this.file, { timeout: busy }));
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
      this.fillSearchColumns();
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.feed = new ChangeFeed({
      onActive: (active) => (active ? this.startPolling() : this.stopPolling()),
      onError: (err, mailboxId) => this.log.error({ err, mailboxId }, 'watch listener failed'),
    });
  }

  // ---------------------------------------------------------------- plumbing

  /** A cached prepared statement; `pluck` returns the first column, `raw` rows as arrays. */
  private stmt<R = unknown>(
    sql: string,
    mode: 'row' | 'pluck' | 'raw' = 'row',
  ): Database.Statement<unknown[], R> {
    const key = `${mode}:${sql}`;
    let s = this.statements.get(key);
    if (s === undefined) {
      s = pin(this.db.prepare(sql));
      if (mode === 'pluck') s.pluck(true);
      else if (mode === 'raw') s.raw(true);
      this.statements.set(key, s);
    }
    return s as Database.Statement<unknown[], R>;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the store is closed');
  }

  /**
   * Runs fn in one BEGIN IMMEDIATE transaction and resolves once the commit is on disk; what it
   * touched is announced only then (a failed fsync rejects, and announces nothing).
   */
  private async write<T>(fn: (tx: TxState) => T): Promise<T> {
    this.assertOpen();
    const tx = new TxState();
    const result = this.db.transaction(() => fn(tx)).immediate();
    this.recordCommit(tx);
    await this.durable();
    this.announce(tx);
    return result;
  }

  /**
   * Resolves once every commit this connection can see (its own, and other processes' ones
   * shown by data_version) is on disk: at once when nothing changed since the last fsync, else
   * after one more WAL fsync (the WAL is one file: our fsync covers other processes' commits).
   */
  private async visibleDurable(): Promise<void> {
    const version = this.stmt<number>('PRAGMA data_version', 'pluck').get()!;
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
        this.runFlush(); // commits the appends that waited, and starts the fsync covering them
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
  private recordCommit(tx: TxState): void {
    this.stats.commits++;
    if (tx.minSeq !== 0 && this.pollTimer !== null) {
      const last = this.ownSeqRanges[this.ownSeqRanges.length - 1];
      if (last !== undefined && tx.minSeq <= last[1] + 1) last[1] = Math.max(last[1], tx.maxSeq);
      else this.ownSeqRanges.push([tx.minSeq, tx.maxSeq]);
    }
  }

  /** After the fsync that made the commit durable: wakes watchers (IDLE, other sessions). */
  private announce(tx: TxState): void {
    if (tx.mailboxes.size > 0) this.feed.notify(tx.mailboxes);
  }

  private logChange(
    tx: TxState,
    mailboxId: number,
    modseq: number,
    uid: number,
    kind: number,
    flags: number | null,
    keywords: string | null,
  ): void {
    const r = this.stmt(
      'INSERT INTO changes (mailbox_id, modseq, uid, kind, flags, keywords) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(mailboxId, modseq, uid, kind, flags, keywords);
    tx.recordSeq(Number(r.lastInsertRowid));
    tx.mailboxes.add(mailboxId);
  }

  /** UIDVALIDITY: strictly increasing over the whole file (never reused for any name), at least the current Unix time. */
  private nextUidValidity(): number {
    const row = this.stmt<{ value: number }>(
      "SELECT value FROM store_counters WHERE name = 'uidvalidity'",
    ).get();
    const value = nextUidValidity(row?.value ?? 0, Date.now());
    this.stmt(
      "INSERT INTO store_counters (name, value) VALUES ('uidvalidity', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    ).run(value);
    return value;
  }

  private mailboxRow(mailboxId: number): MailboxRow | undefined {
    return this.stmt<MailboxRow>('SELECT * FROM mailboxes WHERE id = ?').get(mailboxId);
  }

  private mailboxRowByName(accountId: number, name: string): MailboxRow | undefined {
    return this.stmt<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? AND name = ?').get(
      accountId,
      name,
    );
  }

  private requireMailbox(mailboxId: number): MailboxRow {
    const row = this.mailboxRow(mailboxId);
    if (row === undefined) throw notFound('mailbox');
    return row;
  }

  private accountRow(accountId: number): AccountRow | undefined {
    return this.stmt<AccountRow>('SELECT * FROM accounts WHERE id = ?').get(accountId);
  }

  private requireAccount(accountId: number): AccountRow {
    const row = this.accountRow(accountId);
    if (row === undefined) throw notFound('account');
    return row;
  }

  private overQuota(accountId: number, extraBytes: number): boolean {
    if (extraBytes <= 0) return false;
    const a = this.stmt<{ quota_bytes: number; used_bytes: number }>(
      'SELECT quota_bytes, used_bytes FROM accounts WHERE id = ?',
    ).get(accountId);
    return a !== undefined && exceedsQuota(a.quota_bytes, a.used_bytes, extraBytes);
  }

  private addUsedBytes(accountId: number, delta: number): void {
    if (delta !== 0)
      this.stmt('UPDATE accounts SET used_bytes = used_bytes + ? WHERE id = ?').run(delta, accountId);
  }

  /** Adds `delta` references to a blob row; a count reaching 0 starts its grace period. */
  private adjustBlobRefs(blobId: string, delta: number, now: number): boolean {
    const r = this.stmt(
      `UPDATE blobs SET refcount = refcount + @delta,
         zero_since = CASE WHEN refcount + @delta = 0 THEN @now ELSE NULL END
       WHERE id = @id`,
    ).run({ id: blobId, delta, now });
    return r.changes > 0;
  }

  /** Inserts or re-references a blob row (refcount += count; 0 leaves it collectable). */
  private upsertBlob(blobId: string, size: number, mime: MimeRecord, count: number, now: number): void {
    if (this.adjustBlobRefs(blobId, count, now)) return;
    this.stmt(
      `INSERT INTO blobs (id, size, refcount, mime, zero_since) VALUES (@id, @size, @count, @mime, @zeroSince)`,
    ).run({ id: blobId, size, count, mime: JSON.stringify(mime), zeroSince: count === 0 ? now : null });
    this.insertBlobSearch(blobId, mime);
  }

  private insertBlobSearch(blobId: string, mime: MimeRecord): void {
    this.stmt(
      `INSERT OR REPLACE INTO blob_search (blob_id, search_subject, search_from, search_to, search_cc,
         search_bcc, text_parts) VALUES (@id, @subject, @from, @to, @cc, @bcc, @textParts)`,
    ).run({ id: blobId, ...blobSearchText(mime) });
  }

  /**
   * Fills blob_search for blobs written before migration 4, in batches, once: a counter records
   * that it is done, so later starts do not scan the blobs table.
   */
  private fillSearchColumns(): void {
    const done = this.stmt<number>(
      "SELECT value FROM store_counters WHERE name = 'blob_search_filled'",
      'pluck',
    ).get();
    if (done === 1) return;
    const pick = this.stmt<{ id: string; mime: string }>(
      `SELECT b.id, b.mime FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM blob_search s WHERE s.blob_id = b.id)
       LIMIT 500`,
    );
    const batch = this.db.transaction((rows: Array<{ id: string; mime: string }>) => {
      for (const r of rows) this.insertBlobSearch(r.id, JSON.parse(r.mime) as MimeRecord);
    });
    for (;;) {
      const rows = pick.all();
      if (rows.length === 0) break;
      batch(rows);
    }
    this.stmt(
      "INSERT INTO store_counters (name, value) VALUES ('blob_search_filled', 1) ON CONFLICT (name) DO UPDATE SET value = 1",
    ).run();
  }

  private toDomain(r: DomainRow): Domain {
    return { id: r.id, name: r.name, createdAt: new Date(r.created_at) };
  }

  private toAccount(r: AccountRow): Account {
    return {
      id: r.id,
      domainId: r.domain_id,
      address: r.address,
      passwordHash: r.password_hash,
      quotaBytes: r.quota_bytes,
      usedBytes: r.used_bytes,
      state: r.state,
      createdAt: new Date(r.created_at),
    };
  }

  private toMailbox(r: MailboxRow): Mailbox {
    return {
      id: r.id,
      accountId: r.account_id,
      name: r.name,
      specialUse: r.special_use,
      uidValidity: r.uidvalidity,
      uidNext: r.uidnext,
      highestModseq: r.highestmodseq,
      messages: r.messages,
      unseen: r.unseen,
      deleted: r.deleted,
      size: r.size,
      recentUid: r.recent_uid,
      recent:
        r.uidnext - 1 <= r.recent_uid
          ? 0
          : this.stmt<number>('SELECT count(*) FROM messages WHERE mailbox_id = ? AND uid > ?', 'pluck').get(
              r.id,
              r.recent_uid,
            )!,
    };
  }

  // ---------------------------------------------------------------- domains

  async createDomain(name: string): Promise<Domain> {
    const domain = normalizeDomain(name);
    return this.write(() => {
      if (this.stmt('SELECT 1 FROM domains WHERE name = ?').get(domain) !== undefined) {
        throw new StoreError('ALREADY_EXISTS', `domain ${domain} already exists`);
      }
      const r = this.stmt<DomainRow>('INSERT INTO domains (name, created_at) VALUES (?, ?) RETURNING *').get(
        domain,
        Date.now(),
      );
      return this.toDomain(r!);
    });
  }

  async listDomains(): Promise<Domain[]> {
    this.assertOpen();
    return this.stmt<DomainRow>('SELECT * FROM domains ORDER BY name')
      .all()
      .map((r) => this.toDomain(r));
  }

  async getDomain(name: string): Promise<Domain | null> {
    this.assertOpen();
    let domain: string;
    try {
      domain = normalizeDomain(name);
    } catch {
      return null;
    }
    const r = this.stmt<DomainRow>('SELECT * FROM domains WHERE name = ?').get(domain);
    return r === undefined ? null : this.toDomain(r);
  }

  async deleteDomain(name: string): Promise<void> {
    const domain = normalizeDomain(name);
    await this.write(() => {
      const d = this.stmt<DomainRow>('SELECT * FROM domains WHERE name = ?').get(domain);
      if (d === undefined) throw notFound(`domain ${domain}`);
      if (this.stmt('SELECT 1 FROM accounts WHERE domain_id = ? LIMIT 1').get(d.id) !== undefined) {
        throw new StoreError('HAS_CHILDREN', `domain ${domain} still has accounts`);
      }
      this.stmt('DELETE FROM aliases WHERE domain_id = ?').run(d.id);
      this.stmt('DELETE FROM domains WHERE id = ?').run(d.id);
    });
  }

  // ---------------------------------------------------------------- accounts

  async createAccount(input: {
    address: string;
    passwordHash: string;
    quotaBytes?: number;
  }): Promise<Account> {
    const { address, domain } = parseAddress(input.address);
    checkPasswordHash(input.passwordHash);
    const quota = input.quotaBytes ?? 0;
    checkQuotaBytes(quota);
    return this.write((tx) => {
      const d = this.stmt<{ id: number }>('SELECT id FROM domains WHERE name = ?').get(domain);
      if (d === undefined) throw notFound(`domain ${domain}`);
      if (this.stmt('SELECT 1 FROM accounts WHERE address = ?').get(address) !== undefined) {
        throw new StoreError('ALREADY_EXISTS', `account ${address} already exists`);
      }
      const a = this.stmt<AccountRow>(
        `INSERT INTO accounts (domain_id, address, password_hash, quota_bytes, created_at)
         VALUES (?, ?, ?, ?, ?) RETURNING *`,
      ).get(d.id, address, input.passwordHash, quota, Date.now())!;
      for (const mb of DEFAULT_MAILBOXES) {
        this.insertMailbox(a.id, mb.name, mb.specialUse, tx);
        this.stmt('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)').run(a.id, mb.name);
      }
      return this.toAccount(a);
    });
  }

  async getAccount(address: string): Promise<Account | null> {
    this.assertOpen();
    const p = tryParseAddress(address);
    if (p === null) return null;
    const r = this.stmt<AccountRow>('SELECT * FROM accounts WHERE address = ?').get(p.address);
    return r === undefined ? null : this.toAccount(r);
  }

  async getAccountById(id: number): Promise<Account | null> {
    this.assertOpen();
    const r = this.accountRow(id);
    return r === undefined ? null : this.toAccount(r);
  }

  async listAccounts(domain?: string): Promise<Account[]> {
    this.assertOpen();
    if (domain === undefined) {
      return this.stmt<AccountRow>('SELECT * FROM accounts ORDER BY address')
        .all()
        .map((r) => this.toAccount(r));
    }
    let name: string;
    try {
      name = normalizeDomain(domain);
    } catch {
      return [];
    }
    return this.stmt<AccountRow>(
      'SELECT a.* FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE d.name = ? ORDER BY a.address',
    )
      .all(name)
      .map((r) => this.toAccount(r));
  }

  async setPasswordHash(address: string, passwordHash: string): Promise<void> {
    const p = parseAddress(address);
    checkPasswordHash(passwordHash);
    await this.write(() => {
      const r = this.stmt('UPDATE accounts SET password_hash = ? WHERE address = ?').run(
        passwordHash,
        p.address,
      );
      if (r.changes === 0) throw notFound(`account ${p.address}`);
    });
  }

  async setQuota(address: string, quotaBytes: number): Promise<void> {
    const p = parseAddress(address);
    checkQuotaBytes(quotaBytes);
    await this.write(() => {
      const r = this.stmt('UPDATE accounts SET quota_bytes = ? WHERE address = ?').run(quotaBytes, p.address);
      if (r.changes === 0) throw notFound(`account ${p.address}`);
    });
  }

  async deleteAccount(address: string): Promise<void> {
    const p = parseAddress(address);
    await this.write((tx) => {
      const a = this.stmt<AccountRow>('SELECT * FROM accounts WHERE address = ?').get(p.address);
      if (a === undefined) throw notFound(`account ${p.address}`);
      const now = Date.now();
      for (const mb of this.stmt<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ?').all(a.id)) {
        this.purgeMailbox(mb, tx, now);
      }
      this.stmt('DELETE FROM subscriptions WHERE account_id = ?').run(a.id);
      this.stmt('DELETE FROM accounts WHERE id = ?').run(a.id);
    });
  }

  // ---------------------------------------------------------------- aliases

  async addAlias(alias: Alias): Promise<void> {
    const { source, destination } = parseAlias(alias);
    await this.write(() => {
      const d = this.stmt<{ id: number }>('SELECT id FROM domains WHERE name = ?').get(source.domain);
      if (d === undefined) throw notFound(`domain ${source.domain}`);
      const r = this.stmt(
        'INSERT OR IGNORE INTO aliases (source, destination, domain_id) VALUES (?, ?, ?)',
      ).run(source.address, destination.address, d.id);
      if (r.changes === 0) throw new StoreError('ALREADY_EXISTS', 'this alias already exists');
    });
  }

  async listAliases(domain?: string): Promise<Alias[]> {
    this.assertOpen();
    type Row = { source: string; destination: string };
    if (domain === undefined) {
      return this.stmt<Row>('SELECT source, destination FROM aliases ORDER BY source, destination').all();
    }
    let name: string;
    try {
      name = normalizeDomain(domain);
    } catch {
      return [];
    }
    return this.stmt<Row>(
      `SELECT a.source, a.destination FROM aliases a JOIN domains d ON d.id = a.domain_id
       WHERE d.name = ? ORDER BY a.source, a.destination`,
    ).all(name);
  }

  async deleteAlias(source: string): Promise<void> {
    const s = parseAddress(source, { allowCatchAll: true });
    await this.write(() => {
      const r = this.stmt('DELETE FROM aliases WHERE source = ?').run(s.address);
      if (r.changes === 0) throw notFound(`alias ${s.address}`);
    });
  }

  async resolveRecipient(address: string, opts: { catchAll?: boolean } = {}): Promise<Recipient[]> {
    this.assertOpen();
    return resolveRecipientWith(
      {
        isLocalDomain: (domain) =>
          this.stmt('SELECT 1 FROM domains WHERE name = ?').get(domain) !== undefined,
        accountByAddress: (a) =>
          this.stmt<{ id: number; address: string }>(
            'SELECT id, address FROM accounts WHERE address = ?',
          ).get(a) ?? null,
        aliasDestinations: (source) =>
          this.stmt<string>(
            'SELECT destination FROM aliases WHERE source = ? ORDER BY destination',
            'pluck',
          ).all(source),
      },
      address,
      { catchAll: opts.catchAll ?? true },
    );
  }

  // ---------------------------------------------------------------- mailboxes

  async listMailboxes(accountId: number): Promise<Mailbox[]> {
    this.assertOpen();
    return this.stmt<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? ORDER BY name')
      .all(accountId)
      .map((r) => this.toMailbox(r));
  }

  async getMailbox(accountId: number, name: string): Promise<Mailbox | null> {
    this.assertOpen();
    let n: string;
    try {
      n = normalizeMailboxName(name);
    } catch {
      return null;
    }
    const r = this.mailboxRowByName(accountId, n);
    return r === undefined ? null : this.toMailbox(r);
  }

  async getMailboxById(mailboxId: number): Promise<Mailbox | null> {
    this.assertOpen();
    const r = this.mailboxRow(mailboxId);
    return r === undefined ? null : this.toMailbox(r);
  }

  private insertMailbox(
    accountId: number,
    name: string,
    specialUse: SpecialUse | null,
    tx: TxState,
    init?: Partial<Pick<MailboxRow, 'uidnext' | 'highestmodseq' | 'recent_uid'>>,
  ): MailboxRow {
    const row = this.stmt<MailboxRow>(
      `INSERT INTO mailboxes (account_id, name, special_use, uidvalidity, uidnext, highestmodseq, recent_uid)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    ).get(
      accountId,
      name,
      specialUse,
      this.nextUidValidity(),
      init?.uidnext ?? 1,
      init?.highestmodseq ?? 1,
      init?.recent_uid ?? 0,
    )!;
    tx.mailboxes.add(row.id);
    return row;
  }

  /** RFC 9051 §6.3.4: the superior names a CREATE (or RENAME) needs are created too. */
  private createParents(accountId: number, name: string, tx: TxState): void {
    for (const parent of parentNames(name)) {
      if (this.mailboxRowByName(accountId, parent) === undefined)
        this.insertMailbox(accountId, parent, null, tx);
    }
  }

  async createMailbox(
    accountId: number,
    name: string,
    opts: { specialUse?: SpecialUse | null } = {},
  ): Promise<Mailbox> {
    const n = normalizeMailboxName(name);
    const specialUse = checkSpecialUse(opts.specialUse);
    return this.write((tx) => {
      this.requireAccount(accountId);
      if (this.mailboxRowByName(accountId, n) !== undefined) {
        throw new StoreError('ALREADY_EXISTS', 'mailbox already exists');
      }
      this.createParents(accountId, n, tx);
      return this.toMailbox(this.insertMailbox(accountId, n, specialUse, tx));
    });
  }

  /** Removes a mailbox with its messages and change log, releasing blobs and quota. */
  private purgeMailbox(mb: MailboxRow, tx: TxState, now: number): void {
    const refs = this.stmt<{ blob_id: string; n: number }>(
      'SELECT blob_id, count(*) AS n FROM messages WHERE mailbox_id = ? GROUP BY blob_id',
    ).all(mb.id);
    for (const r of refs) this.adjustBlobRefs(r.blob_id, -r.n, now);
    this.addUsedBytes(mb.account_id, -mb.size);
    this.stmt('DELETE FROM messages WHERE mailbox_id = ?').run(mb.id);
    this.stmt('DELETE FROM changes WHERE mailbox_id = ?').run(mb.id);
    this.stmt('DELETE FROM mailboxes WHERE id = ?').run(mb.id);
    this.logChange(tx, mb.id, mb.highestmodseq + 1, 0, KIND_MAILBOX_EVENT, null, null);
  }

  async deleteMailbox(accountId: number, name: string): Promise<void> {
    const n = normalizeMailboxName(name);
    checkMailboxDeletable(n);
    await this.write((tx) => {
      const mb = this.mailboxRowByName(accountId, n);
      if (mb === undefined) throw notFound('mailbox');
      this.purgeMailbox(mb, tx, Date.now());
    });
  }

  async renameMailbox(accountId: number, from: string, to: string): Promise<void> {
    const f = normalizeMailboxName(from);
    const t = normalizeMailboxName(to);
    checkMailboxRename(f, t);
    await this.write((tx) => {
      const src = this.mailboxRowByName(accountId, f);
      if (src === undefined) throw notFound('mailbox');
      if (this.mailboxRowByName(accountId, t) !== undefined) {
        throw new StoreError('ALREADY_EXISTS', 'target mailbox already exists');
      }
      if (f === INBOX) this.renameInbox(src, t, tx);
      else this.renameTree(src, t, tx);
    });
  }

  // RFC 9051 §6.3.6: renaming INBOX moves its messages to a new mailbox and leaves INBOX empty;
  // inferiors of INBOX are unaffected.
  private renameInbox(inbox: MailboxRow, to: string, tx: TxState): void {
    this.createParents(inbox.account_id, to, tx);
    const moved = this.insertMailbox(inbox.account_id, to, null, tx, {
      uidnext: inbox.uidnext,
      highestmodseq: inbox.highestmodseq + 1,
      recent_uid: inbox.recent_uid,
    });
    this.stmt('UPDATE mailboxes SET messages = ?, unseen = ?, deleted = ?, size = ? WHERE id = ?').run(
      inbox.messages,
      inbox.unseen,
      inbox.deleted,
      inbox.size,
      moved.id,
    );
    this.stmt('UPDATE messages SET mailbox_id = ? WHERE mailbox_id = ?').run(moved.id, inbox.id);
    const inboxModseq = inbox.highestmodseq + 1;
    const logged = this.stmt(
      `INSERT INTO changes (mailbox_id, modseq, uid, kind, flags, keywords)
       SELECT ?, ?, uid, ?, flags, keywords FROM messages WHERE mailbox_id = ? ORDER BY uid`,
    );
    const a = logged.run(moved.id, moved.highestmodseq, KIND_ADDED, moved.id);
    const b = this.stmt(
      `INSERT INTO changes (mailbox_id, modseq, uid, kind, flags, keywords)
       SELECT ?, ?, uid, ?, NULL, NULL FROM messages WHERE mailbox_id = ? ORDER BY uid`,
    ).run(inbox.id, inboxModseq, KIND_EXPUNGED, moved.id);
    const last = Number(b.lastInsertRowid);
    if (a.changes + b.changes > 0) {
      tx.recordSeq(last - (a.changes + b.changes) + 1);
      tx.recordSeq(last);
    }
    this.stmt('DELETE FROM changes WHERE mailbox_id = ? AND kind = ?').run(inbox.id, KIND_FLAGS);
    this.stmt(
      `UPDATE mailboxes SET uidvalidity = ?, highestmodseq = ?, messages = 0, unseen = 0, deleted = 0, size = 0,
         recent_uid = uidnext - 1 WHERE id = ?`,
    ).run(this.nextUidValidity(), inboxModseq, inbox.id);
    this.logChange(tx, inbox.id, inboxModseq, 0, KIND_MAILBOX_EVENT, null, null);
  }

  private renameTree(src: MailboxRow, to: string, tx: TxState): void {
    const accountId = src.account_id;
    const from = src.name;
    // Inferiors of `from`: names in ["from/", "from0") ("0" is the character after "/").
    const children = this.stmt<MailboxRow>(
      'SELECT * FROM mailboxes WHERE account_id = ? AND name > ? AND name < ? ORDER BY name',
    ).all(accountId, `${from}/`, `${from}0`);
    const moving = [src, ...children];
    const movingIds = new Set(moving.map((m) => m.id));
    const renames = moving.map((m) => ({ row: m, name: to + m.name.slice(from.length) }));
    for (const r of renames) {
      const clash = this.mailboxRowByName(accountId, r.name);
      if (clash !== undefined && !movingIds.has(clash.id)) {
        throw new StoreError('ALREADY_EXISTS', 'a mailbox with a target name already exists');
      }
    }
    // Two passes so that a name freed by one rename can be taken by another in the same tree.
    for (const r of renames) {
      this.stmt('UPDATE mailboxes SET name = ? WHERE id = ?').run(`\u0000${r.row.id}`, r.row.id);
    }
    for (const r of renames) {
      this.stmt('UPDATE mailboxes SET name = ?, uidvalidity = ? WHERE id = ?').run(
        r.name,
        this.nextUidValidity(),
        r.row.id,
      );
      this.logChange(tx, r.row.id, r.row.highestmodseq, 0, KIND_MAILBOX_EVENT, null, null);
    }
    this.createParents(accountId, to, tx);
    // Subscriptions follow the mailboxes they name.
    const subscribed = new Set(
      this.stmt<string>('SELECT name FROM subscriptions WHERE account_id = ?', 'pluck').all(accountId),
    );
    for (const r of renames) {
      if (!subscribed.has(r.row.name)) continue;
      this.stmt('DELETE FROM subscriptions WHERE account_id = ? AND name = ?').run(accountId, r.row.name);
    }
    for (const r of renames) {
      if (!subscribed.has(r.row.name)) continue;
      this.stmt('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)').run(
        accountId,
        r.name,
      );
    }
  }

  async subscribe(accountId: number, name: string): Promise<void> {
    const n = normalizeMailboxName(name);
    await this.write(() => {
      this.requireAccount(accountId);
      this.stmt('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)').run(accountId, n);
    });
  }

  async unsubscribe(accountId: number, name: string): Promise<void> {
    const n = normalizeMailboxName(name);
    await this.write(() => {
      this.stmt('DELETE FROM subscriptions WHERE account_id = ? AND name = ?').run(accountId, n);
    });
  }

  async listSubscriptions(accountId: number): Promise<string[]> {
    this.assertOpen();
    return this.stmt<string>(
      'SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name',
      'pluck',
    ).all(accountId);
  }

  // ---------------------------------------------------------------- append (group commit)

  append(req: AppendRequest): Promise<AppendOutcome[]> {
    try {
      if (this.closed || this.closing) throw new Error('the store is closed');
      checkAppendRequest(req);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
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
    // While a WAL fsync runs, appends wait and are committed together the moment it ends:
    // they could not be acknowledged before the next fsync anyway, and one transaction for
    // the lot writes each touched page (indexes, mailbox and blob rows) once, not per request.
    if (this.syncRunning && !this.closing) {
      this.flushAfterSync = true;
      return;
    }
    const batch = this.queue.splice(0, this.maxAppendBatch);
    if (batch.length > 0) this.commitAppends(batch);
    if (this.queue.length > 0) {
      this.scheduleFlush();
    } else {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  private commitAppends(batch: PendingAppend[]): void {
    const results: Array<AppendOutcome[] | { error: unknown }> = new Array(batch.length);
    const tx = new TxState();
    const now = Date.now();
    const one = this.db.transaction((req: AppendRequest) => this.appendTargets(req, tx, now));
    try {
      this.assertOpen();
      this.db
        .transaction(() => {
          for (let i = 0; i < batch.length; i++) {
            const req = batch[i].req;
            try {
              results[i] = one(req); // a nested transaction function runs under a SAVEPOINT
            } catch (err) {
              // Errors such as SQLITE_FULL or SQLITE_IOERR abort the whole transaction: give up.
              if (!this.db.inTransaction) throw err;
              results[i] = err instanceof AppendRequestFailed ? err.outcomes : { error: err };
              // Keep the blob row (refcount unchanged) so an unreferenced file is collected.
              this.upsertBlob(req.blob.blobId, req.blob.size, req.blob.mime, 0, now);
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
          if (Array.isArray(r)) batch[i].resolve(r);
          else batch[i].reject(r.error);
        }
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
  }

  private appendTargets(req: AppendRequest, tx: TxState, now: number): AppendOutcome[] {
    const { blob } = req;
    const outcomes: AppendOutcome[] = [];
    let firstError: StoreError | null = null;
    let stored = 0;
    for (const target of req.targets) {
      const mailboxId = target.mailboxId;
      const parsed = parseAppendTarget(target, now);
      const mb = parsed.ok ? this.mailboxRow(mailboxId) : undefined;
      if (!parsed.ok || mb === undefined || this.overQuota(mb.account_id, blob.size)) {
        const error = !parsed.ok ? parsed.error : mb === undefined ? notFound('mailbox') : overQuotaError();
        firstError ??= error;
        outcomes.push({ ok: false, mailboxId, error });
        continue;
      }
      const m = this.insertMessage(mb, parsed.flags, parsed.internalDate, blob.size, blob.blobId, tx);
      outcomes.push({ ok: true, mailboxId, uid: m.uid, modseq: m.modseq, uidValidity: m.uidvalidity });
      stored++;
    }
    if (req.allOrNothing === true && firstError !== null) throw new AppendRequestFailed(outcomes, firstError);
    if (req.outbound !== undefined) {
      this.insertOutbound(req.outbound, blob.blobId, blob.size, now);
      stored++;
    }
    this.upsertBlob(blob.blobId, blob.size, blob.mime, stored, now);
    return outcomes;
  }

  private insertOutbound(env: OutboundEnvelope, blobId: string, size: number, now: number): void {
    const recipients = storedRecipients(env);
    this.stmt(
      `INSERT INTO outbound_queue (blob_id, size, mail_from, recipients, envid, ret, body, smtputf8,
         account_id, queued_at, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      blobId,
      size,
      env.mailFrom,
      JSON.stringify(recipients),
      env.envid,
      env.ret,
      env.body,
      env.smtputf8 ? 1 : 0,
      env.accountId,
      now,
      now,
    );
  }

  // ---------------------------------------------------------------- outbound queue

  async listOutbound(): Promise<OutboundMessage[]> {
    this.assertOpen();
    return this.stmt<OutboundRow>('SELECT * FROM outbound_queue ORDER BY id').all().map(toOutbound);
  }

  async countOutbound(): Promise<number> {
    this.assertOpen();
    return this.stmt<number>('SELECT count(*) FROM outbound_queue', 'pluck').get() ?? 0;
  }

  async deleteOutbound(id: number): Promise<void> {
    if (!Number.isSafeInteger(id) || id <= 0) throw notFound('queued message');
    await this.write(() => {
      const row = this.stmt<{ blob_id: string }>('SELECT blob_id FROM outbound_queue WHERE id = ?').get(id);
      if (row === undefined) throw notFound('queued message');
      this.stmt('DELETE FROM outbound_queue WHERE id = ?').run(id);
      this.adjustBlobRefs(row.blob_id, -1, Date.now());
    });
  }

  /** Stores one message at the end of a mailbox: uid = uidnext++, modseq = ++highestmodseq. */
  private insertMessage(
    mb: MailboxRow,
    flags: ParsedFlags,
    internalDate: number,
    size: number,
    blobId: string,
    tx: TxState,
  ): { uid: number; modseq: number; uidvalidity: number } {
    // `mb` was read in this transaction; RETURNING would be simpler but is much slower in SQLite.
    const m = { uid: mb.uidnext, modseq: mb.highestmodseq + 1, uidvalidity: mb.uidvalidity };
    this.stmt(
      `UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, messages = messages + 1,
         unseen = unseen + ?, deleted = deleted + ?, size = size + ? WHERE id = ?`,
    ).run(
      m.uid + 1,
      m.modseq,
      1 - flagCount(flags.bits, FLAG_SEEN),
      flagCount(flags.bits, FLAG_DELETED),
      size,
      mb.id,
    );
    const keywords = encodeKeywords(flags.keywords);
    this.stmt(
      `INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(mb.id, m.uid, m.modseq, flags.bits, keywords, internalDate, size, blobId);
    this.logChange(tx, mb.id, m.modseq, m.uid, KIND_ADDED, flags.bits, keywords);
    this.addUsedBytes(mb.account_id, size);
    return m;
  }

  // ---------------------------------------------------------------- reading messages

  async listMessages(
    mailboxId: number,
    opts: { uids?: number[]; minUid?: number } = {},
  ): Promise<MessageMeta[]> {
    this.assertOpen();
    if (this.stmt('SELECT 1 FROM mailboxes WHERE id = ?').get(mailboxId) === undefined)
      throw notFound('mailbox');
    const minUid = Math.max(1, opts.minUid ?? 1);
    const out: MessageMeta[] = [];
    const push = (r: unknown[]): void => {
      out.push({
        mailboxId,
        uid: r[0] as number,
        modseq: r[1] as number,
        flags: flagList(r[2] as number, r[3] as string | null),
        internalDate: new Date(r[4] as number),
        size: r[5] as number,
        blobId: r[6] as string,
      });
    };
    const cols = 'uid, modseq, flags, keywords, internal_date, size, blob_id';
    if (opts.uids === undefined) {
      const rows = this.stmt<unknown[]>(
        `SELECT ${cols} FROM messages WHERE mailbox_id = ? AND uid >= ? ORDER BY uid`,
        'raw',
      ).all(mailboxId, minUid);
      for (const r of rows) push(r);
      return out;
    }
    const uids = uniqueUids(opts.uids).filter((u) => u >= minUid);
    if (uids.length === 0) return out;
    if (uids.length <= 32) {
      const get = this.stmt<unknown[]>(
        `SELECT ${cols} FROM messages WHERE mailbox_id = ? AND uid = ?`,
        'raw',
      );
      for (const uid of uids) {
        const r = get.get(mailboxId, uid);
        if (r !== undefined) push(r);
      }
      return out;
    }
    const wanted = new Set(uids);
    const rows = this.stmt<unknown[]>(
      `SELECT ${cols} FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid`,
      'raw',
    ).all(mailboxId, uids[0], uids[uids.length - 1]);
    for (const r of rows) if (wanted.has(r[0] as number)) push(r);
    return out;
  }

  async hasMessage(mailboxId: number, uid: number): Promise<boolean> {
    this.assertOpen();
    // POP3 asks before every RETR (has another session expunged it?): one primary-key lookup.
    return (
      this.stmt<number>('SELECT 1 FROM messages WHERE mailbox_id = ? AND uid = ?', 'pluck').get(
        mailboxId,
        uid,
      ) !== undefined
    );
  }

  async mailboxSummary(mailboxId: number): Promise<MailboxSummary> {
    this.assertOpen();
    if (this.stmt('SELECT 1 FROM mailboxes WHERE id = ?').get(mailboxId) === undefined)
      throw notFound('mailbox');
    // One read transaction, so the three answers describe the same moment.
    return this.db.transaction(() => {
      // Every write to a mailbox raises its HIGHESTMODSEQ (in any process), so an answer cached
      // at the same modseq is still the answer: re-selecting a large mailbox costs a copy.
      const modseq = this.stmt<number>('SELECT highestmodseq FROM mailboxes WHERE id = ?', 'pluck').get(
        mailboxId,
      )!;
      const cached = this.summaryCache.get(mailboxId);
      // The UID array is shared with every caller (read-only by contract): copying 100,000
      // elements cost more than the rest of a SELECT.
      if (cached !== undefined && cached.modseq === modseq) return cached.summary;
      const summary = this.readSummary(mailboxId);
      this.summaryCache.set(mailboxId, { modseq, summary });
      return summary;
    })();
  }

  private readSummary(mailboxId: number): MailboxSummary {
    // One comma-separated string rather than 100,000 rows (see listFlags).
    const text = this.stmt<string | null>(
      'SELECT group_concat(uid) FROM messages WHERE mailbox_id = ?',
      'pluck',
    ).get(mailboxId);
    const uids: number[] = [];
    if (text !== null && text !== undefined) {
      let v = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === COMMA) {
          uids.push(v);
          v = 0;
        } else v = v * 10 + c - DIGIT_0;
      }
      uids.push(v);
      for (let i = 1; i < uids.length; i++) {
        if (uids[i - 1]! > uids[i]!) {
          uids.sort((a, b) => a - b);
          break;
        }
      }
    }
    const firstUnseenUid =
      this.stmt<number>(
        `SELECT uid FROM messages WHERE mailbox_id = ? AND (flags & ${FLAG_SEEN}) = 0 ORDER BY uid LIMIT 1`,
        'pluck',
      ).get(mailboxId) ?? 0;
    const lists = this.stmt<string>(
      'SELECT DISTINCT keywords FROM messages WHERE mailbox_id = ? AND keywords IS NOT NULL',
      'pluck',
    ).all(mailboxId);
    const keywords = new Map<string, string>();
    for (const list of lists) {
      for (const k of list.split(' '))
        if (k !== '' && !keywords.has(k.toLowerCase())) keywords.set(k.toLowerCase(), k);
    }
    return { uids, firstUnseenUid, keywords: [...keywords.values()].sort() };
  }

  async listFlags(mailboxId: number, uids: number[]): Promise<MessageFlags[]> {
    this.assertOpen();
    const sorted = uniqueUids(uids);
    if (sorted.length === 0) return [];
    if (sorted.length >= FLAG_INDEX_MIN_REQUEST || this.flagIndexes.get(mailboxId) !== undefined) {
      const index = this.db.transaction(() => this.flagIndex(mailboxId))();
      if (index !== null) return index.lookup(sorted);
    }
    return this.readFlagRows(mailboxId, sorted[0]!, sorted[sorted.length - 1]!, 0, 0).lookup(sorted);
  }

  /** The messages of a UID range, read into a FlagIndex (see flagRowsText). */
  private readFlagRows(
    mailboxId: number,
    minUid: number,
    maxUid: number,
    uidValidity: number,
    modseq: number,
  ): FlagIndex {
    const index = new FlagIndex(uidValidity, modseq);
    if (index.load(this.flagRowsText(mailboxId, minUid, maxUid))) return index;
    const again = new FlagIndex(uidValidity, modseq);
    again.load(this.flagRowsText(mailboxId, minUid, maxUid, true));
    return again;
  }

  /**
   * The rows of a UID range as one string, "uid TAB modseq TAB flags [TAB keywords]" LF ...,
   * ascending: better-sqlite3 spends about a microsecond on each row it turns into JavaScript
   * values, six times what SQLite needs to read it, so 100,000 rows cost 150 ms as rows and
   * 25 ms as one string. Keywords are atoms (RFC 9051 §9), which hold no control characters.
   * The aggregate follows the primary-key scan; its ORDER BY form (slower) is the fallback
   * should a plan ever differ.
   */
  private flagRowsText(mailboxId: number, minUid: number, maxUid: number, ordered = false): string {
    const row = `uid || char(9) || modseq || char(9) || flags || ifnull(char(9) || keywords, '')`;
    const text = this.stmt<string | null>(
      `SELECT group_concat(${row}, char(10)${ordered ? ' ORDER BY uid' : ''})
       FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ?`,
      'pluck',
    ).get(mailboxId, minUid, maxUid);
    return text ?? '';
  }

  /**
   * The flag index of a large mailbox, up to date (call inside a read transaction); null for
   * a small or missing mailbox, which listFlags reads directly.
   */
  private flagIndex(mailboxId: number): FlagIndex | null {
    const mb = this.stmt<{ uidvalidity: number; highestmodseq: number; messages: number }>(
      'SELECT uidvalidity, highestmodseq, messages FROM mailboxes WHERE id = ?',
    ).get(mailboxId);
    if (mb === undefined || mb.messages < FLAG_INDEX_MIN_MESSAGES) {
      this.flagIndexes.delete(mailboxId);
      return null;
    }
    const cached = this.flagIndexes.get(mailboxId);
    if (cached !== undefined && cached.uidValidity === mb.uidvalidity) {
      if (cached.modseq === mb.highestmodseq) return cached;
      // More changes than half the mailbox: reading it anew is cheaper.
      const limit = Math.floor(mb.messages / 2) + 1;
      const rows = this.stmt<ChangeRow>(
        `SELECT kind, modseq, uid, flags, keywords FROM changes
         WHERE mailbox_id = ? AND modseq > ? AND kind < ${KIND_MAILBOX_EVENT} ORDER BY modseq, seq LIMIT ?`,
      ).all(mailboxId, cached.modseq, limit);
      const changes = rows.map((r): FlagChangeRow => ({
        kind: r.kind === KIND_ADDED ? 'added' : r.kind === KIND_FLAGS ? 'flags' : 'expunged',
        modseq: r.modseq,
        uid: r.uid,
        bits: r.flags ?? 0,
        keywords: r.keywords,
      }));
      if (rows.length < limit && cached.apply(changes, mb.highestmodseq)) return cached;
    }
    const index = this.readFlagRows(mailboxId, 1, Number.MAX_SAFE_INTEGER, mb.uidvalidity, mb.highestmodseq);
    this.flagIndexes.set(mailboxId, index);
    return index;
  }

  async matchSearchField(
    mailboxId: number,
    field: SearchField,
    needle: string,
    range: { minUid: number; maxUid: number } = { minUid: 1, maxUid: Number.MAX_SAFE_INTEGER },
  ): Promise<{ uids: number[]; unparsed: number[] }> {
    this.assertOpen();
    if (!SEARCH_FIELDS.includes(field)) throw new StoreError('INVALID_ARGUMENT', 'unknown search field');
    const column = `search_${field}`;
    // instr() on UTF-8 text is a substring test on code points; both sides are already folded.
    // message_search (migration 5) holds the fields in mailbox order: one range scan.
    const rows = this.stmt<unknown[]>(
      `SELECT uid, ${column} = char(1) FROM message_search
       WHERE mailbox_id = ? AND uid BETWEEN ? AND ? AND (instr(${column}, ?) > 0 OR ${column} = char(1)) ORDER BY uid`,
      'raw',
    ).all(mailboxId, range.minUid, range.maxUid, needle);
    const uids: number[] = [];
    const unparsed: number[] = [];
    // An empty needle matches every message that has the field (RFC 9051 §6.4.4), parsed or not.
    for (const r of rows) (r[1] === 1 && needle !== '' ? unparsed : uids).push(r[0] as number);
    return { uids, unparsed };
  }

  async textParts(mailboxId: number, uids: number[]): Promise<Map<number, TextPartRange[]>> {
    this.assertOpen();
    const out = new Map<number, TextPartRange[]>();
    const sorted = uniqueUids(uids);
    if (sorted.length === 0) return out;
    const wanted = new Set(sorted);
    const rows = this.stmt<unknown[]>(
      `SELECT m.uid, s.text_parts FROM messages m CROSS JOIN blob_search s ON s.blob_id = m.blob_id
       WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?`,
      'raw',
    ).all(mailboxId, sorted[0], sorted[sorted.length - 1]);
    for (const r of rows) {
      const uid = r[0] as number;
      if (wanted.has(uid)) out.set(uid, JSON.parse(r[1] as string) as TextPartRange[]);
    }
    return out;
  }

  /** The MIME record of a blob. Cached and shared between callers: treat it as read-only. */
  async getMime(blobId: string): Promise<MimeRecord> {
    this.assertOpen();
    const cached = this.mimeCache.get(blobId);
    if (cached !== undefined) return cached;
    const text = this.stmt<string>('SELECT mime FROM blobs WHERE id = ?', 'pluck').get(blobId);
    if (text === undefined) throw notFound('blob');
    const mime = JSON.parse(text) as MimeRecord;
    this.mimeCache.set(blobId, mime);
    return mime;
  }

  private messageRows(mailboxId: number, uids: readonly number[]): MessageRow[] {
    const get = this.stmt<MessageRow>(
      'SELECT uid, modseq, flags, keywords, internal_date, size, blob_id FROM messages WHERE mailbox_id = ? AND uid = ?',
    );
    const out: MessageRow[] = [];
    for (const uid of uniqueUids(uids)) {
      const r = get.get(mailboxId, uid);
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  // ---------------------------------------------------------------- flags

  async updateFlags(mailboxId: number, uids: number[], update: FlagUpdate): Promise<FlagResult> {
    const parsed = parseFlagUpdate(update);
    return this.write((tx) => {
      const mb = this.requireMailbox(mailboxId);
      const changed: FlagResult['changed'] = [];
      const modified: number[] = [];
      const modseq = mb.highestmodseq + 1;
      let unseenDelta = 0;
      let deletedDelta = 0;
      const setFlags = this.stmt(
        'UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?',
      );
      const dropOld = this.stmt('DELETE FROM changes WHERE mailbox_id = ? AND uid = ? AND kind = ?');
      for (const row of this.messageRows(mailboxId, uids)) {
        // RFC 7162 §3.1.3: UNCHANGEDSINCE refuses messages modified after the given modseq.
        if (update.unchangedSince !== undefined && row.modseq > update.unchangedSince) {
          modified.push(row.uid);
          continue;
        }
        const current: ParsedFlags = { bits: row.flags, keywords: decodeKeywords(row.keywords) };
        const next = applyFlagUpdate(current, update.mode, parsed);
        if (sameFlags(current, next)) continue;
        const keywords = encodeKeywords(next.keywords);
        setFlags.run(next.bits, keywords, modseq, mailboxId, row.uid);
        // Only the latest flags of a message matter to a client catching up.
        dropOld.run(mailboxId, row.uid, KIND_FLAGS);
        this.logChange(tx, mailboxId, modseq, row.uid, KIND_FLAGS, next.bits, keywords);
        unseenDelta += flagCount(row.flags, FLAG_SEEN) - flagCount(next.bits, FLAG_SEEN);
        deletedDelta += flagCount(next.bits, FLAG_DELETED) - flagCount(row.flags, FLAG_DELETED);
        changed.push({ uid: row.uid, modseq, flags: flagList(next.bits, keywords) });
      }
      if (changed.length > 0) {
        this.stmt(
          'UPDATE mailboxes SET highestmodseq = ?, unseen = unseen + ?, deleted = deleted + ? WHERE id = ?',
        ).run(modseq, unseenDelta, deletedDelta, mailboxId);
      }
      return { changed, modified };
    });
  }

  // ---------------------------------------------------------------- expunge, copy, move

  /** Deletes these message rows of `mb` under one new modseq; returns their UIDs. */
  private removeMessages(mb: MailboxRow, rows: readonly MessageRow[], tx: TxState, now: number): number[] {
    if (rows.length === 0) return [];
    const modseq = mb.highestmodseq + 1;
    const del = this.stmt('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?');
    const dropOld = this.stmt('DELETE FROM changes WHERE mailbox_id = ? AND uid = ? AND kind = ?');
    const refs = new Map<string, number>();
    let unseen = 0;
    let deleted = 0;
    let size = 0;
    const uids: number[] = [];
    for (const r of rows) {
      del.run(mb.id, r.uid);
      dropOld.run(mb.id, r.uid, KIND_FLAGS);
      this.logChange(tx, mb.id, modseq, r.uid, KIND_EXPUNGED, null, null);
      refs.set(r.blob_id, (refs.get(r.blob_id) ?? 0) + 1);
      unseen += 1 - flagCount(r.flags, FLAG_SEEN);
      deleted += flagCount(r.flags, FLAG_DELETED);
      size += r.size;
      uids.push(r.uid);
    }
    this.stmt(
      `UPDATE mailboxes SET highestmodseq = ?, messages = messages - ?, unseen = unseen - ?, deleted = deleted - ?,
         size = size - ? WHERE id = ?`,
    ).run(modseq, rows.length, unseen, deleted, size, mb.id);
    this.addUsedBytes(mb.account_id, -size);
    for (const [blobId, n] of refs) this.adjustBlobRefs(blobId, -n, now);
    return uids;
  }

  async expunge(mailboxId: number, opts: { uids?: number[]; onlyDeleted?: boolean } = {}): Promise<number[]> {
    return this.write((tx) => {
      const mb = this.requireMailbox(mailboxId);
      let rows: MessageRow[];
      if (opts.uids === undefined) {
        rows = this.stmt<MessageRow>(
          `SELECT uid, modseq, flags, keywords, internal_date, size, blob_id FROM messages
           WHERE mailbox_id = ? AND (flags & ${FLAG_DELETED}) != 0 ORDER BY uid`,
        ).all(mailboxId);
      } else {
        rows = this.messageRows(mailboxId, opts.uids);
        if (opts.onlyDeleted === true) rows = rows.filter((r) => (r.flags & FLAG_DELETED) !== 0);
      }
      return this.removeMessages(mb, rows, tx, Date.now());
    });
  }

  private copyMessages(
    fromId: number,
    uids: readonly number[],
    toId: number,
    move: boolean,
  ): Promise<CopyResult> {
    return this.write((tx) => {
      const src = this.requireMailbox(fromId);
      const dst = this.requireMailbox(toId);
      const rows = this.messageRows(fromId, uids);
      if (rows.length === 0) return { uidValidity: dst.uidvalidity, mapping: [] };
      let total = 0;
      for (const r of rows) total += r.size;
      // A move inside one account does not change its usage.
      const extra = move && src.account_id === dst.account_id ? 0 : total;
      if (this.overQuota(dst.account_id, extra)) throw overQuotaError();
      const modseq = dst.highestmodseq + 1;
      let uid = dst.uidnext;
      let unseen = 0;
      let deleted = 0;
      const refs = new Map<string, number>();
      const mapping: Array<[number, number]> = [];
      const insert = this.stmt(
        `INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const r of rows) {
        insert.run(dst.id, uid, modseq, r.flags, r.keywords, r.internal_date, r.size, r.blob_id);
        this.logChange(tx, dst.id, modseq, uid, KIND_ADDED, r.flags, r.keywords);
        refs.set(r.blob_id, (refs.get(r.blob_id) ?? 0) + 1);
        unseen += 1 - flagCount(r.flags, FLAG_SEEN);
        deleted += flagCount(r.flags, FLAG_DELETED);
        mapping.push([r.uid, uid]);
        uid++;
      }
      this.stmt(
        `UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, messages = messages + ?, unseen = unseen + ?,
           deleted = deleted + ?, size = size + ? WHERE id = ?`,
      ).run(uid, modseq, rows.length, unseen, deleted, total, dst.id);
      this.addUsedBytes(dst.account_id, total);
      const now = Date.now();
      for (const [blobId, n] of refs) this.adjustBlobRefs(blobId, n, now);
      if (move) this.removeMessages(this.requireMailbox(fromId), rows, tx, now);
      return { uidValidity: dst.uidvalidity, mapping };
    });
  }

  async copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.copyMessages(fromMailboxId, uids, toMailboxId, false);
  }

  async move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.copyMessages(fromMailboxId, uids, toMailboxId, true);
  }

  // ---------------------------------------------------------------- change log

  async changesSince(mailboxId: number, modseq: number): Promise<Change[]> {
    this.assertOpen();
    // A session is told only of changes a crash cannot take back.
    await this.visibleDurable();
    this.assertOpen();
    if (this.stmt('SELECT 1 FROM mailboxes WHERE id = ?').get(mailboxId) === undefined)
      throw notFound('mailbox');
    const rows = this.stmt<ChangeRow>(
      `SELECT kind, modseq, uid, flags, keywords FROM changes
       WHERE mailbox_id = ? AND modseq > ? AND kind < ${KIND_MAILBOX_EVENT} ORDER BY modseq, seq`,
    ).all(mailboxId, Number.isFinite(modseq) ? modseq : 0);
    return rows.map((r): Change => {
      switch (r.kind) {
        case KIND_ADDED:
          return { kind: 'added', modseq: r.modseq, uid: r.uid, flags: flagList(r.flags ?? 0, r.keywords) };
        case KIND_FLAGS:
          return { kind: 'flags', modseq: r.modseq, uid: r.uid, flags: flagList(r.flags ?? 0, r.keywords) };
        default:
          return { kind: 'expunged', modseq: r.modseq, uid: r.uid };
      }
    });
  }

  async claimRecent(mailboxId: number): Promise<number[]> {
    this.assertOpen();
    // Nothing new since the last claim (the usual case on re-SELECT): answer from a read, without
    // a write transaction and its WAL fsync. A message committed meanwhile is claimed next time.
    const current = this.requireMailbox(mailboxId);
    if (current.uidnext - 1 <= current.recent_uid) return [];
    return this.write(() => {
      const mb = this.requireMailbox(mailboxId);
      if (mb.uidnext - 1 <= mb.recent_uid) return [];
      const uids = this.stmt<number>(
        'SELECT uid FROM messages WHERE mailbox_id = ? AND uid > ? ORDER BY uid',
        'pluck',
      ).all(mailboxId, mb.recent_uid);
      this.stmt('UPDATE mailboxes SET recent_uid = ? WHERE id = ?').run(mb.uidnext - 1, mailboxId);
      return uids;
    });
  }

  // ---------------------------------------------------------------- change notification

  watch(mailboxId: number, listener: (mailboxId: number) => void): () => void {
    return this.feed.watch(mailboxId, listener);
  }

  private startPolling(): void {
    if (this.pollTimer !== null || this.closed) return;
    this.lastDataVersion = this.stmt<number>('PRAGMA data_version', 'pluck').get()!;
    this.lastSeenSeq = this.stmt<number | null>('SELECT max(seq) FROM changes', 'pluck').get() ?? 0;
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
      const version = this.stmt<number>('PRAGMA data_version', 'pluck').get()!;
      if (version === this.lastDataVersion) return;
      const rows = this.stmt<[number, number]>(
        `SELECT seq, mailbox_id FROM changes WHERE seq > ? ORDER BY seq LIMIT ${POLL_ROW_LIMIT}`,
        'raw',
      ).all(this.lastSeenSeq);
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

  // ---------------------------------------------------------------- garbage collection

  async collectGarbage(opts: GcOptions = {}): Promise<GcResult> {
    this.assertOpen();
    let blobsRemoved = 0;
    let bytesFreed = 0;
    const graceMs = opts.graceMs ?? this.gcGraceMs;
    const orphanAgeMs = opts.orphanAgeMs ?? this.gcOrphanAgeMs;
    for (;;) {
      const cutoff = Date.now() - graceMs;
      const ids = this.stmt<string>(
        `SELECT id FROM blobs WHERE zero_since IS NOT NULL AND zero_since <= ? AND refcount = 0 LIMIT ${GC_BATCH}`,
        'pluck',
      ).all(cutoff);
      if (ids.length === 0) break;
      const removed = await this.write(() => {
        const del = this.stmt('DELETE FROM blobs WHERE id = ? AND refcount = 0 AND zero_since <= ?');
        // message_search rows went with their messages (triggers); blob_search goes with the blob.
        const delSearch = this.stmt('DELETE FROM blob_search WHERE blob_id = ?');
        return ids.filter((id) => {
          if (del.run(id, cutoff).changes === 0) return false;
          delSearch.run(id);
          return true;
        });
      });
      for (const id of removed) {
        this.mimeCache.delete(id);
        try {
          bytesFreed += await this.blobs.remove(id, { graceMs });
        } catch (err) {
          this.log.warn({ err, blobId: id }, 'removing an unreferenced blob failed');
        }
      }
      blobsRemoved += removed.length;
      if (ids.length < GC_BATCH || this.closed) break;
    }
    // Files no row names: left by a crash between a blob write and its commit, or by a failed
    // delivery whose file could not be removed at once.
    const orphans = this.closed
      ? { files: 0, bytes: 0 }
      : await this.blobs.sweepOrphans({
          olderThanMs: orphanAgeMs,
          referenced: async (candidates) => {
            this.assertOpen();
            const known = new Set<string>();
            // One cached statement whatever the batch size (see statement-pin.ts): ids as JSON.
            const lookup = this.stmt<string>(
              'SELECT b.id FROM json_each(?) j JOIN blobs b ON b.id = j.value',
              'pluck',
            );
            for (let i = 0; i < candidates.length; i += ORPHAN_QUERY_BATCH) {
              const part = candidates.slice(i, i + ORPHAN_QUERY_BATCH);
              for (const id of lookup.all(JSON.stringify(part))) known.add(id);
            }
            return known;
          },
        });
    return { blobsRemoved, bytesFreed, orphanFilesRemoved: orphans.files, orphanBytesFreed: orphans.bytes };
  }

  // ---------------------------------------------------------------- quota reservations

  async reserveQuota(accountId: number, bytes: number): Promise<QuotaReservation> {
    this.assertOpen();
    if (!isCount(bytes)) throw new StoreError('INVALID_ARGUMENT', 'bytes must be a count');
    const a = this.stmt<{ quota_bytes: number; used_bytes: number }>(
      'SELECT quota_bytes, used_bytes FROM accounts WHERE id = ?',
    ).get(accountId);
    if (a === undefined) throw notFound('account');
    return this.reservations.reserve(accountId, bytes, {
      quotaBytes: a.quota_bytes,
      usedBytes: a.used_bytes,
    });
  }

  // ---------------------------------------------------------------- mailbox locks

  /**
   * Lock writes commit without waiting for the WAL fsync: a lease lost in a crash is harmless
   * (it would have lapsed anyway), and a login should not wait for the disk.
   */
  private writeLock<T>(fn: () => T): T {
    this.assertOpen();
    const result = this.db.transaction(fn).immediate();
    this.stats.commits++;
    return result;
  }

  async acquireMailboxLock(mailboxId: number, owner: string, ttlMs: number): Promise<boolean> {
    checkLease(owner, ttlMs);
    return this.writeLock(() => {
      const now = Date.now();
      const held = this.stmt<{ owner: string; expires_at: number }>(
        'SELECT owner, expires_at FROM mailbox_locks WHERE mailbox_id = ?',
      ).get(mailboxId);
      if (held !== undefined && held.owner !== owner && held.expires_at > now) return false;
      this.stmt(
        `INSERT INTO mailbox_locks (mailbox_id, owner, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (mailbox_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
      ).run(mailboxId, owner, now + ttlMs);
      return true;
    });
  }

  async refreshMailboxLock(mailboxId: number, owner: string, ttlMs: number): Promise<boolean> {
    checkLease(owner, ttlMs);
    return this.writeLock(() => {
      const now = Date.now();
      const r = this.stmt(
        'UPDATE mailbox_locks SET expires_at = ? WHERE mailbox_id = ? AND owner = ? AND expires_at > ?',
      ).run(now + ttlMs, mailboxId, owner, now);
      return r.changes > 0;
    });
  }

  async releaseMailboxLock(mailboxId: number, owner: string): Promise<void> {
    this.writeLock(() => {
      this.stmt('DELETE FROM mailbox_locks WHERE mailbox_id = ? AND owner = ?').run(mailboxId, owner);
    });
  }

  // ---------------------------------------------------------------- APOP secrets

  async setApopSecret(address: string, secret: string | null): Promise<void> {
    const p = parseAddress(address);
    checkApopSecret(secret);
    await this.write(() => {
      const r = this.stmt('UPDATE accounts SET apop_secret = ? WHERE address = ?').run(secret, p.address);
      if (r.changes === 0) throw notFound(`account ${p.address}`);
    });
  }

  async getApopSecret(accountId: number): Promise<string | null> {
    this.assertOpen();
    const r = this.stmt<{ apop_secret: string | null }>('SELECT apop_secret FROM accounts WHERE id = ?').get(
      accountId,
    );
    return r?.apop_secret ?? null;
  }

  async recordPop3Login(accountId: number, minIntervalMs: number): Promise<boolean> {
    checkLoginInterval(minIntervalMs);
    const now = Date.now();
    // One conditional UPDATE: two processes racing for the same account cannot both pass.
    return this.write(() => {
      const r = this.stmt(
        `UPDATE accounts SET pop3_login_at = @now
         WHERE id = @id AND (pop3_login_at IS NULL OR pop3_login_at <= @now - @interval OR pop3_login_at > @now)`,
      ).run({ id: accountId, now, interval: minIntervalMs });
      if (r.changes === 1) return true;
      if (this.stmt('SELECT 1 FROM accounts WHERE id = ?').get(accountId) === undefined)
        throw notFound(`account ${accountId}`);
      return false;
    });
  }

  // ---------------------------------------------------------------- close

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
    this.statements.clear();
    this.mimeCache.clear();
    this.db.close();
  }
}
