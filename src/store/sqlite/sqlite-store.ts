// The embedded MailStore: metadata in one SQLite file (<dataDir>/postern.sqlite, WAL mode),
// message bytes in a BlobStore. Several processes may open the same file (the server's
// workers, the CLI while the server runs). This is the composition: one role object per role
// of src/store/roles.ts (directory.ts, dkim-keys.ts, mailboxes.ts, messages.ts, search.ts,
// queue.ts, leases.ts, gc.ts), all on one SqliteCore (core.ts: the connection, the write path
// with its group commit and WAL fsync, the change feed). The invariants are stated in core.ts (writes,
// durability, announcements) and messages.ts (UIDs, modseqs, blob references, quota).
// Invariants of the whole:
// - the blob refcount equals the number of message rows plus outbound_queue and
//   outbound_dsn_owed rows naming the blob; a blob whose count reaches 0 gets zero_since, and
//   collectGarbage() removes it (its row, its blob_search row, and its file or inline bytes)
//   after the grace period (so a queued message's bytes are never collected); files no row
//   names are swept once older than gcOrphanAgeMs;
// - a small blob's bytes (StoredBlob.inline) are stored in blob_content by the transaction that
//   commits its rows (inline-blobs.ts), and read on this store's connection (inlineBlobs);
// - close() lets queued appends commit and running fsyncs end before the connection closes.

import { promises as fsp } from 'node:fs';
import type { QuotaWarningClaim } from '../rules/quota-warning.js';
import type { SearchField, TextPartRange } from '../../mail/mime/search-fields.js';
import type { MimeRecord } from '../../mail/mime/types.js';
import type { BlobStore, InlineBlobSource } from '../blob/types.js';
import type {
  AclEntry,
  AclGrant,
  Account,
  Alias,
  AppendOutcome,
  AppPassword,
  AppPasswordCredential,
  AppPasswordUse,
  AppendRequest,
  Change,
  ExpungedSince,
  Pop3Expire,
  CopyResult,
  DkimKey,
  Domain,
  FlagResult,
  FlagUpdate,
  GcOptions,
  GcResult,
  Mailbox,
  MailboxSummary,
  MailStore,
  MessageFlags,
  MessageMeta,
  NewDkimKey,
  OutboundMessage,
  OwedDsn,
  QueueAttempt,
  QueueAttemptResult,
  QueueClaim,
  QueueClaimRequest,
  QueueDetail,
  QueueFilter,
  QueueListEntry,
  QuotaReservation,
  Recipient,
  SpecialUse,
  WebSession,
} from '../types.js';
import type { MetadataChange, MetadataEntry, MetadataSetResult, MetadataTarget } from '../metadata-types.js';
import type { StoredStsPolicy, TlsResultCount, TlsSessionResult } from '../tls-types.js';
import { SqliteCore, type SqliteCoreOptions, type SqliteStoreStats } from './core.js';
import { SqliteDirectory } from './directory.js';
import { SqliteDkimKeys } from './dkim-keys.js';
import { SqliteGc } from './gc.js';
import { inlineBlobSource } from './inline-blobs.js';
import { SqliteLeases } from './leases.js';
import { SqliteMailboxes } from './mailboxes.js';
import { SqliteMetadata } from './metadata.js';
import { SqliteAcls } from './acl.js';
import { SqliteMessages, type SqliteMessagesOptions } from './messages.js';
import { SqliteOutboundQueue } from './queue.js';
import { SqliteSearch } from './search.js';
import { SqliteTransportSecurity } from './transport-security.js';
import type { MessageSortFields, SortFieldName } from '../rules/sort-fields.js';
import { SqliteWebSessions } from './web-sessions.js';

export { SQLITE_FILE_NAME, type SqliteStoreStats, type StoreLogger } from './core.js';

export interface SqliteStoreOptions extends SqliteCoreOptions, SqliteMessagesOptions {
  /** The message files, which collectGarbage() removes (inline bytes are rows of this store). */
  blobs: BlobStore;
  /** How long an unreferenced blob is kept before collectGarbage() removes it (default 10 minutes). */
  gcGraceMs?: number;
  /**
   * Age past which collectGarbage() removes blob and temp files that no row names (default one
   * hour): files left by a crash or a failed delivery. It must exceed the longest time between
   * a blob being written and its message being committed.
   */
  gcOrphanAgeMs?: number;
  /** How long expunges stay in the change log before collectGarbage() prunes them (default 30 days). */
  changeLogRetentionMs?: number;
}

const DEFAULT_GC_GRACE_MS = 10 * 60 * 1000;
const DEFAULT_GC_ORPHAN_AGE_MS = 60 * 60 * 1000;
const DEFAULT_CHANGE_LOG_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

export async function openSqliteStore(opts: SqliteStoreOptions): Promise<SqliteStore> {
  await fsp.mkdir(opts.dataDir, { recursive: true });
  return new SqliteStore(opts);
}

export class SqliteStore implements MailStore {
  readonly backend = 'sqlite' as const;
  readonly file: string;
  readonly blobs: BlobStore;
  readonly stats: SqliteStoreStats;
  /** Blob bytes stored in this database, read on its connection (InlineBlobStore asks it first). */
  readonly inlineBlobs: InlineBlobSource;

  private readonly core: SqliteCore;
  private readonly directory: SqliteDirectory;
  private readonly dkimKeys: SqliteDkimKeys;
  private readonly mailboxes: SqliteMailboxes;
  private readonly acls: SqliteAcls;
  private readonly messages: SqliteMessages;
  private readonly search: SqliteSearch;
  private readonly queue: SqliteOutboundQueue;
  private readonly leases: SqliteLeases;
  private readonly metadata: SqliteMetadata;
  private readonly transportSecurity: SqliteTransportSecurity;
  private readonly webSessions: SqliteWebSessions;
  private readonly gc: SqliteGc;

  constructor(opts: SqliteStoreOptions) {
    this.blobs = opts.blobs;
    this.core = new SqliteCore(opts);
    this.file = this.core.file;
    this.stats = this.core.stats;
    this.inlineBlobs = inlineBlobSource(() => {
      this.core.assertOpen();
      return this.core.sql;
    });
    this.directory = new SqliteDirectory(this.core);
    this.dkimKeys = new SqliteDkimKeys(this.core);
    this.mailboxes = new SqliteMailboxes(this.core);
    this.acls = new SqliteAcls(this.core);
    this.messages = new SqliteMessages(this.core, opts);
    this.search = new SqliteSearch(this.core);
    this.queue = new SqliteOutboundQueue(this.core);
    this.leases = new SqliteLeases(this.core);
    this.metadata = new SqliteMetadata(this.core);
    this.transportSecurity = new SqliteTransportSecurity(this.core);
    this.webSessions = new SqliteWebSessions(this.core);
    this.gc = new SqliteGc(this.core, {
      blobs: opts.blobs,
      graceMs: opts.gcGraceMs ?? DEFAULT_GC_GRACE_MS,
      orphanAgeMs: opts.gcOrphanAgeMs ?? DEFAULT_GC_ORPHAN_AGE_MS,
      changeLogRetentionMs: opts.changeLogRetentionMs ?? DEFAULT_CHANGE_LOG_RETENTION_MS,
      forget: (blobId) => this.messages.forgetBlob(blobId),
    });
  }

  // ---------------------------------------------------------------- DkimKeys

  addDkimKeys(
    domain: string,
    keys: NewDkimKey[],
    opts?: { retireActive?: boolean; pending?: boolean },
  ): Promise<DkimKey[]> {
    return this.dkimKeys.addDkimKeys(domain, keys, opts);
  }
  activateDkimKeys(domain: string): Promise<{ activated: DkimKey[]; retired: DkimKey[] }> {
    return this.dkimKeys.activateDkimKeys(domain);
  }
  listDkimKeys(domain: string, opts?: { activeOnly?: boolean }): Promise<DkimKey[]> {
    return this.dkimKeys.listDkimKeys(domain, opts);
  }
  deleteDkimKey(domain: string, selector: string): Promise<void> {
    return this.dkimKeys.deleteDkimKey(domain, selector);
  }

  // ---------------------------------------------------------------- Directory

  createDomain(name: string): Promise<Domain> {
    return this.directory.createDomain(name);
  }
  listDomains(): Promise<Domain[]> {
    return this.directory.listDomains();
  }
  getDomain(name: string): Promise<Domain | null> {
    return this.directory.getDomain(name);
  }
  deleteDomain(name: string): Promise<void> {
    return this.directory.deleteDomain(name);
  }
  createAccount(input: {
    address: string;
    passwordHash: string;
    quotaBytes?: number;
    publicOwner?: boolean;
  }): Promise<Account> {
    return this.directory.createAccount(input);
  }
  getAccount(address: string): Promise<Account | null> {
    return this.directory.getAccount(address);
  }
  getAccountById(id: number): Promise<Account | null> {
    return this.directory.getAccountById(id);
  }
  listAccounts(domain?: string): Promise<Account[]> {
    return this.directory.listAccounts(domain);
  }
  setPasswordHash(address: string, passwordHash: string): Promise<void> {
    return this.directory.setPasswordHash(address, passwordHash);
  }
  setQuota(address: string, quotaBytes: number): Promise<void> {
    return this.directory.setQuota(address, quotaBytes);
  }
  setMessageQuota(address: string, quotaMessages: number): Promise<void> {
    return this.directory.setMessageQuota(address, quotaMessages);
  }
  deleteAccount(address: string): Promise<void> {
    return this.directory.deleteAccount(address);
  }
  addAlias(alias: Alias): Promise<void> {
    return this.directory.addAlias(alias);
  }
  listAliases(domain?: string): Promise<Alias[]> {
    return this.directory.listAliases(domain);
  }
  deleteAlias(source: string): Promise<void> {
    return this.directory.deleteAlias(source);
  }
  resolveRecipient(address: string, opts?: { catchAll?: boolean }): Promise<Recipient[]> {
    return this.directory.resolveRecipient(address, opts);
  }
  setApopSecret(address: string, secret: string | null): Promise<void> {
    return this.directory.setApopSecret(address, secret);
  }
  getApopSecret(accountId: number): Promise<string | null> {
    return this.directory.getApopSecret(accountId);
  }
  recordPop3Login(accountId: number, minIntervalMs: number): Promise<boolean> {
    return this.directory.recordPop3Login(accountId, minIntervalMs);
  }

  setPop3Expire(target: { domain: string } | { address: string }, expire: Pop3Expire): Promise<void> {
    return this.directory.setPop3Expire(target, expire);
  }

  hasPop3ExpireOverrides(): Promise<boolean> {
    return this.directory.hasPop3ExpireOverrides();
  }

  // ---------------------------------------------------------------- app passwords

  createAppPassword(accountId: number, input: { label: string; secretHash: string }): Promise<AppPassword> {
    return this.directory.createAppPassword(accountId, input);
  }
  listAppPasswords(accountId: number): Promise<AppPassword[]> {
    return this.directory.listAppPasswords(accountId);
  }
  revokeAppPassword(accountId: number, id: number): Promise<boolean> {
    return this.directory.revokeAppPassword(accountId, id);
  }
  appPasswordCredentials(accountId: number): Promise<AppPasswordCredential[]> {
    return this.directory.appPasswordCredentials(accountId);
  }
  recordAppPasswordUse(id: number, use: AppPasswordUse): Promise<void> {
    return this.directory.recordAppPasswordUse(id, use);
  }

  claimQuotaWarning(accountId: number, thresholds: readonly number[]): Promise<QuotaWarningClaim | null> {
    return this.directory.claimQuotaWarning(accountId, thresholds);
  }

  // ---------------------------------------------------------------- Mailboxes

  listMailboxes(accountId: number): Promise<Mailbox[]> {
    return this.mailboxes.listMailboxes(accountId);
  }
  getMailbox(accountId: number, name: string): Promise<Mailbox | null> {
    return this.mailboxes.getMailbox(accountId, name);
  }
  getMailboxById(mailboxId: number): Promise<Mailbox | null> {
    return this.mailboxes.getMailboxById(mailboxId);
  }
  countRecent(mailboxId: number): Promise<number> {
    return this.mailboxes.countRecent(mailboxId);
  }
  deletedSize(mailboxId: number): Promise<number> {
    return this.mailboxes.deletedSize(mailboxId);
  }
  createMailbox(
    accountId: number,
    name: string,
    opts?: { specialUse?: SpecialUse | null },
  ): Promise<Mailbox> {
    return this.mailboxes.createMailbox(accountId, name, opts);
  }
  deleteMailbox(accountId: number, name: string): Promise<void> {
    return this.mailboxes.deleteMailbox(accountId, name);
  }
  renameMailbox(accountId: number, from: string, to: string): Promise<void> {
    return this.mailboxes.renameMailbox(accountId, from, to);
  }
  subscribe(accountId: number, name: string): Promise<void> {
    return this.mailboxes.subscribe(accountId, name);
  }
  unsubscribe(accountId: number, name: string): Promise<void> {
    return this.mailboxes.unsubscribe(accountId, name);
  }
  listSubscriptions(accountId: number): Promise<string[]> {
    return this.mailboxes.listSubscriptions(accountId);
  }

  // ---------------------------------------------------------------- MailboxAcls

  getAcl(mailboxId: number): Promise<AclEntry[]> {
    return this.acls.getAcl(mailboxId);
  }
  setAcl(mailboxId: number, identifier: string, rights: string): Promise<void> {
    return this.acls.setAcl(mailboxId, identifier, rights);
  }
  deleteAcl(mailboxId: number, identifier: string): Promise<boolean> {
    return this.acls.deleteAcl(mailboxId, identifier);
  }
  listAclGrants(address: string): Promise<AclGrant[]> {
    return this.acls.listAclGrants(address);
  }

  // ---------------------------------------------------------------- Messages

  append(req: AppendRequest): Promise<AppendOutcome[]> {
    return this.messages.append(req);
  }
  appendAll(reqs: AppendRequest[]): Promise<AppendOutcome[][]> {
    return this.messages.appendAll(reqs);
  }
  mailboxSummary(mailboxId: number): Promise<MailboxSummary> {
    return this.messages.mailboxSummary(mailboxId);
  }
  listMessages(mailboxId: number, opts?: { uids?: number[]; minUid?: number }): Promise<MessageMeta[]> {
    return this.messages.listMessages(mailboxId, opts);
  }
  hasMessage(mailboxId: number, uid: number): Promise<boolean> {
    return this.messages.hasMessage(mailboxId, uid);
  }
  listFlags(mailboxId: number, uids: number[]): Promise<MessageFlags[]> {
    return this.messages.listFlags(mailboxId, uids);
  }
  getMime(blobId: string): Promise<MimeRecord> {
    return this.messages.getMime(blobId);
  }
  listSortFields(
    mailboxId: number,
    uids: number[],
    wanted: readonly SortFieldName[],
  ): Promise<MessageSortFields[]> {
    return this.messages.listSortFields(mailboxId, uids, wanted);
  }
  updateFlags(mailboxId: number, uids: number[], update: FlagUpdate): Promise<FlagResult> {
    return this.messages.updateFlags(mailboxId, uids, update);
  }
  expunge(mailboxId: number, opts?: { uids?: number[]; onlyDeleted?: boolean }): Promise<number[]> {
    return this.messages.expunge(mailboxId, opts);
  }
  copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.messages.copy(fromMailboxId, uids, toMailboxId);
  }
  move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.messages.move(fromMailboxId, uids, toMailboxId);
  }
  changesSince(mailboxId: number, modseq: number): Promise<Change[]> {
    return this.messages.changesSince(mailboxId, modseq);
  }

  expungedSince(mailboxId: number, modseq: number): Promise<ExpungedSince> {
    return this.messages.expungedSince(mailboxId, modseq);
  }

  markPop3Retrieved(mailboxId: number, uids: number[], at: number): Promise<void> {
    return this.messages.markPop3Retrieved(mailboxId, uids, at);
  }

  expungeSavedBefore(mailboxId: number, before: number): Promise<number[]> {
    return this.messages.expungeSavedBefore(mailboxId, before);
  }

  expungePop3Retrieved(
    mailboxId: number,
    before: number,
    opts?: { includeImapTouched?: boolean },
  ): Promise<number[]> {
    return this.messages.expungePop3Retrieved(mailboxId, before, opts);
  }
  claimRecent(mailboxId: number): Promise<number[]> {
    return this.messages.claimRecent(mailboxId);
  }
  watch(mailboxId: number, listener: (mailboxId: number) => void): () => void {
    return this.messages.watch(mailboxId, listener);
  }

  watchAccount(accountId: number, listener: (mailboxIds: readonly number[]) => void): () => void {
    return this.messages.watchAccount(accountId, listener);
  }
  reserveQuota(accountId: number, bytes: number): Promise<QuotaReservation> {
    return this.messages.reserveQuota(accountId, bytes);
  }

  // ---------------------------------------------------------------- Search

  matchSearchField(
    mailboxId: number,
    field: SearchField,
    needle: string,
    range?: { minUid: number; maxUid: number },
  ): Promise<{ uids: number[]; unparsed: number[] }> {
    return this.search.matchSearchField(mailboxId, field, needle, range);
  }
  textParts(mailboxId: number, uids: number[]): Promise<Map<number, TextPartRange[]>> {
    return this.search.textParts(mailboxId, uids);
  }

  // ---------------------------------------------------------------- OutboundQueue

  listOutbound(): Promise<OutboundMessage[]> {
    return this.queue.listOutbound();
  }
  countOutbound(): Promise<number> {
    return this.queue.countOutbound();
  }
  deleteOutbound(id: number): Promise<void> {
    return this.queue.deleteOutbound(id);
  }
  claimOutbound(req: QueueClaimRequest): Promise<QueueClaim[]> {
    return this.queue.claimOutbound(req);
  }
  renewOutboundClaim(owner: string, recipientIds: number[], leaseMs: number): Promise<number[]> {
    return this.queue.renewOutboundClaim(owner, recipientIds, leaseMs);
  }
  releaseOutboundClaims(owner: string): Promise<number> {
    return this.queue.releaseOutboundClaims(owner);
  }

  releaseOutboundRecipients(owner: string, recipientIds: number[]): Promise<number> {
    return this.queue.releaseOutboundRecipients(owner, recipientIds);
  }
  nextOutboundDue(): Promise<Date | null> {
    return this.queue.nextOutboundDue();
  }
  recordOutboundAttempt(attempt: QueueAttempt): Promise<QueueAttemptResult> {
    return this.queue.recordOutboundAttempt(attempt);
  }

  claimOwedDsns(req: { owner: string; leaseMs: number; max: number; now?: Date }): Promise<OwedDsn[]> {
    return this.queue.claimOwedDsns(req);
  }

  finishOwedDsn(id: number): Promise<void> {
    return this.queue.finishOwedDsn(id);
  }

  deferOwedDsn(id: number, until: Date): Promise<void> {
    return this.queue.deferOwedDsn(id, until);
  }

  holdOutbound(id: number): Promise<number> {
    return this.queue.holdOutbound(id);
  }
  releaseOutbound(id: number): Promise<number> {
    return this.queue.releaseOutbound(id);
  }
  retryOutbound(id: number): Promise<number> {
    return this.queue.retryOutbound(id);
  }
  listQueue(filter?: QueueFilter): Promise<QueueListEntry[]> {
    return this.queue.listQueue(filter);
  }
  showQueued(id: number): Promise<QueueDetail | null> {
    return this.queue.showQueued(id);
  }

  // ---------------------------------------------------------------- TransportSecurity
  claimTlsReportRun(day: string, owner: string, leaseMs: number): Promise<'claimed' | 'done' | 'busy'> {
    return this.transportSecurity.claimTlsReportRun(day, owner, leaseMs);
  }

  finishTlsReportRun(day: string, owner: string): Promise<void> {
    return this.transportSecurity.finishTlsReportRun(day, owner);
  }

  getStsPolicy(domain: string): Promise<StoredStsPolicy | null> {
    return this.transportSecurity.getStsPolicy(domain);
  }
  putStsPolicy(policy: StoredStsPolicy): Promise<void> {
    return this.transportSecurity.putStsPolicy(policy);
  }
  recordTlsResult(result: TlsSessionResult): Promise<void> {
    return this.transportSecurity.recordTlsResult(result);
  }
  listTlsResults(filter?: {
    day?: string;
    before?: string;
    policyDomain?: string;
  }): Promise<TlsResultCount[]> {
    return this.transportSecurity.listTlsResults(filter);
  }
  deleteTlsResults(filter: { day?: string; before?: string; policyDomain?: string }): Promise<number> {
    return this.transportSecurity.deleteTlsResults(filter);
  }

  // ---------------------------------------------------------------- Leases

  acquireMailboxLock(mailboxId: number, owner: string, ttlMs: number): Promise<boolean> {
    return this.leases.acquireMailboxLock(mailboxId, owner, ttlMs);
  }
  refreshMailboxLock(mailboxId: number, owner: string, ttlMs: number): Promise<boolean> {
    return this.leases.refreshMailboxLock(mailboxId, owner, ttlMs);
  }
  releaseMailboxLock(mailboxId: number, owner: string): Promise<void> {
    return this.leases.releaseMailboxLock(mailboxId, owner);
  }

  // ---------------------------------------------------------------- Metadata

  getMetadata(target: MetadataTarget): Promise<MetadataEntry[]> {
    return this.metadata.getMetadata(target);
  }
  setMetadata(
    target: MetadataTarget,
    changes: readonly MetadataChange[],
    opts: { maxEntries: number },
  ): Promise<MetadataSetResult> {
    return this.metadata.setMetadata(target, changes, opts);
  }

  // ---------------------------------------------------------------- WebSessions

  createWebSession(session: WebSession, opts: { staleBefore: Date; maxPerAccount: number }): Promise<void> {
    return this.webSessions.createWebSession(session, opts);
  }
  getWebSession(idHash: string): Promise<WebSession | null> {
    return this.webSessions.getWebSession(idHash);
  }
  touchWebSession(idHash: string, lastSeenAt: Date): Promise<void> {
    return this.webSessions.touchWebSession(idHash, lastSeenAt);
  }
  deleteWebSession(idHash: string): Promise<void> {
    return this.webSessions.deleteWebSession(idHash);
  }
  deleteWebSessions(accountId: number, opts?: { keep?: string }): Promise<number> {
    return this.webSessions.deleteWebSessions(accountId, opts);
  }

  // ---------------------------------------------------------------- Maintenance

  collectGarbage(opts?: GcOptions): Promise<GcResult> {
    return this.gc.collectGarbage(opts);
  }

  /** Tests: the writer thread's WAL fsyncs fail with EIO while `fail` is set. */
  faultWriterFsync(fail: boolean): void {
    this.core.faultWriterFsync(fail);
  }

  async close(): Promise<void> {
    await this.core.close();
    this.messages.clearCaches();
  }
}
