// The storage interface every protocol talks to, split by role so that a caller can ask for
// only what it uses and a backend implements one small interface per file. MailStore is every
// role at once. Backends: sqlite/ (embedded default) and, later, postgres/; the rules that do
// not depend on the backend are in rules/. Invariants every backend keeps (checked by
// test/conformance):
// - within a mailbox, UIDs strictly increase and are never reused while UIDVALIDITY holds;
// - every write to a mailbox takes a modseq greater than any before it in that mailbox, and
//   records one change-log row per message touched, in the same transaction;
// - a promise that resolves for an append means the bytes and the metadata are on disk;
// - quota is checked inside the committing transaction, so a mailbox is never over quota
//   because of two racing deliveries.
// All methods are async so that a networked backend can implement the same interface.

import type { SearchField, TextPartRange } from '../mail/mime/search-fields.js';
import type { MimeRecord } from '../mail/mime/types.js';
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
  CopyResult,
  DkimKey,
  Domain,
  FlagResult,
  FlagUpdate,
  GcOptions,
  GcResult,
  Mailbox,
  MailboxSummary,
  MessageFlags,
  MessageMeta,
  NewDkimKey,
  OutboundMessage,
  Pop3Expire,
  QueueAttempt,
  QueueAttemptResult,
  OwedDsn,
  QueueClaim,
  QueueClaimRequest,
  QueueDetail,
  QueueFilter,
  QueueListEntry,
  QuotaReservation,
  Recipient,
  SpecialUse,
  WebSession,
} from './types.js';
import type { QuotaWarningClaim } from './rules/quota-warning.js';
import type { MetadataChange, MetadataEntry, MetadataSetResult, MetadataTarget } from './metadata-types.js';
import type { StoredStsPolicy, TlsResultCount, TlsSessionResult } from './tls-types.js';
import type { MessageSortFields, SortFieldName } from './rules/sort-fields.js';

/** Domains, accounts, aliases and recipient resolution; the per-account POP3 bookkeeping. */
export interface Directory {
  // Domains
  createDomain(name: string): Promise<Domain>;
  listDomains(): Promise<Domain[]>;
  getDomain(name: string): Promise<Domain | null>;
  /** Fails with HAS_CHILDREN while the domain has accounts. */
  deleteDomain(name: string): Promise<void>;

  // Accounts
  /**
   * A new account with the default mailboxes. A domain's public-folder owner
   * (rules/public-owner.ts) is refused unless `publicOwner` is set (it is then made with INBOX only).
   */
  createAccount(input: {
    address: string;
    passwordHash: string;
    quotaBytes?: number;
    publicOwner?: boolean;
  }): Promise<Account>;
  getAccount(address: string): Promise<Account | null>;
  getAccountById(id: number): Promise<Account | null>;
  listAccounts(domain?: string): Promise<Account[]>;
  setPasswordHash(address: string, passwordHash: string): Promise<void>;
  setQuota(address: string, quotaBytes: number): Promise<void>;
  /** The most messages the account may hold across its mailboxes (0: unlimited). */
  setMessageQuota(address: string, quotaMessages: number): Promise<void>;
  /** Removes the account, its mailboxes and messages; blobs are released for GC. */
  deleteAccount(address: string): Promise<void>;

  // Aliases
  addAlias(alias: Alias): Promise<void>;
  listAliases(domain?: string): Promise<Alias[]>;
  deleteAlias(source: string): Promise<void>;
  /**
   * Resolves an envelope recipient: exact account, exact alias, sub-address (`user+tag@`
   * delivers to user), then the domain's catch-all. Returns [] for an unknown recipient
   * of a local domain and [{kind:'remote'}] for a non-local domain. With `catchAll: false`
   * catch-all aliases are not followed (at any depth): who an address belongs to by explicit
   * rows only, as the submission sender check asks. (Rules: rules/recipient-resolver.ts.)
   */
  resolveRecipient(address: string, opts?: { catchAll?: boolean }): Promise<Recipient[]>;

  // APOP (RFC 1939 §7) needs the shared secret itself, not a hash: kept apart, unset by default
  /** Sets (or, with null, removes) the APOP secret of an account. NOT_FOUND for an unknown account. */
  setApopSecret(address: string, secret: string | null): Promise<void>;
  /** The APOP secret of an account, or null when none is set. */
  getApopSecret(accountId: number): Promise<string | null>;
  /**
   * POP3 LOGIN-DELAY (RFC 2449 §6.5), across processes: records a login of the account now
   * unless the previous recorded one is less than `minIntervalMs` old. True when the login may
   * go ahead (and was recorded), false when it comes too soon.
   */
  recordPop3Login(accountId: number, minIntervalMs: number): Promise<boolean>;
  /**
   * Sets the POP3 retention (RFC 2449 §6.7 EXPIRE) of a domain or an account; null inherits.
   * NOT_FOUND for an unknown domain or account.
   */
  setPop3Expire(target: { domain: string } | { address: string }, expire: Pop3Expire): Promise<void>;
  /** Whether any domain or account has its own POP3 retention (CAPA then says `EXPIRE n USER`). */
  hasPop3ExpireOverrides(): Promise<boolean>;

  // App passwords (issue 14): per-device passwords; only a hash of each secret is stored
  /**
   * Adds an app password to an account (NOT_FOUND for an unknown account; INVALID_ARGUMENT for
   * a bad label or hash, or when the account already holds MAX_APP_PASSWORDS).
   */
  createAppPassword(accountId: number, input: { label: string; secretHash: string }): Promise<AppPassword>;
  /** The account's app passwords, newest first ([] for an unknown account). */
  listAppPasswords(accountId: number): Promise<AppPassword[]>;
  /** Deletes one app password; false when there is none with this id for this account. */
  revokeAppPassword(accountId: number, id: number): Promise<boolean>;
  /** The account's app passwords with their secret hashes, for a login to compare against. */
  appPasswordCredentials(accountId: number): Promise<AppPasswordCredential[]>;
  /** Records a use of an app password; nothing happens when it was revoked meanwhile. */
  recordAppPasswordUse(id: number, use: AppPasswordUse): Promise<void>;
  /**
   * Quota warnings (rules/quota-warning.ts), called right after a commit that added to the
   * account: when its usage has reached a threshold higher than any already warned about, raises
   * the warned level with one conditional write and returns the claim; exactly one caller across
   * processes gets it and sends the warning. Null otherwise (no write when nothing new is reached).
   */
  claimQuotaWarning(accountId: number, thresholds: readonly number[]): Promise<QuotaWarningClaim | null>;
}

/**
 * DKIM signing keys per local domain (stored with the directory, so every node on a shared store
 * signs with the same keys). Active keys sign; retired ones stay until deleted so their DNS
 * records can still be published for mail signed before a rotation. Deleting a domain deletes
 * its keys.
 */
export interface DkimKeys {
  /**
   * Stores keys for a local domain in one transaction, active (with `retireActive` the domain's
   * active keys are retired in the same transaction: a rotation) or, with `pending`, staged:
   * published but not signing until activateDkimKeys. NOT_FOUND for a domain that is not local,
   * ALREADY_EXISTS for a selector the domain already has (retired keys included),
   * INVALID_ARGUMENT for `pending` with `retireActive`.
   */
  addDkimKeys(
    domain: string,
    keys: NewDkimKey[],
    opts?: { retireActive?: boolean; pending?: boolean },
  ): Promise<DkimKey[]>;
  /**
   * The second step of a staged rotation, in one transaction: the pending keys become active
   * and the active ones retired. Nothing changes when there is no pending key. NOT_FOUND for a
   * domain that is not local.
   */
  activateDkimKeys(domain: string): Promise<{ activated: DkimKey[]; retired: DkimKey[] }>;
  /** The domain's keys: active, then pending, then retired; each oldest first. [] for an unknown domain. */
  listDkimKeys(domain: string, opts?: { activeOnly?: boolean }): Promise<DkimKey[]>;
  /** Removes a retired or pending key. NOT_FOUND when absent; INVALID_ARGUMENT for an active key (rotate first). */
  deleteDkimKey(domain: string, selector: string): Promise<void>;
}

/** An account's mailboxes and subscriptions (names: rules/mailbox-name.ts). */
export interface Mailboxes {
  listMailboxes(accountId: number): Promise<Mailbox[]>;
  getMailbox(accountId: number, name: string): Promise<Mailbox | null>;
  getMailboxById(mailboxId: number): Promise<Mailbox | null>;
  /** RFC 3501 \Recent: how many messages no session has claimed yet (0 for an unknown mailbox). */
  countRecent(mailboxId: number): Promise<number>;
  /** Bytes of the messages with \Deleted: what EXPUNGE would free (RFC 9208 DELETED-STORAGE). */
  deletedSize(mailboxId: number): Promise<number>;
  createMailbox(accountId: number, name: string, opts?: { specialUse?: SpecialUse | null }): Promise<Mailbox>;
  /** Deletes the mailbox and its messages (not its children). INBOX cannot be deleted. */
  deleteMailbox(accountId: number, name: string): Promise<void>;
  /** Renames a mailbox and every child; renaming INBOX moves its messages to the new name. */
  renameMailbox(accountId: number, from: string, to: string): Promise<void>;
  subscribe(accountId: number, name: string): Promise<void>;
  unsubscribe(accountId: number, name: string): Promise<void>;
  listSubscriptions(accountId: number): Promise<string[]>;
}

/**
 * Access control lists of mailboxes (RFC 4314; rights rules: rules/acl.ts). The owner's rights
 * are implicit (all of them) and never stored; rows name other accounts or "anyone". A
 * mailbox's rows go with the mailbox, an account's rows (as identifier) with the account.
 */
export interface MailboxAcls {
  /** The stored entries of a mailbox, by identifier. */
  getAcl(mailboxId: number): Promise<AclEntry[]>;
  /** Sets an identifier's rights (canonical rights; "" removes the entry). NOT_FOUND for a missing mailbox. */
  setAcl(mailboxId: number, identifier: string, rights: string): Promise<void>;
  /** Removes an identifier's entry; false when there was none. */
  deleteAcl(mailboxId: number, identifier: string): Promise<boolean>;
  /** Other accounts' mailboxes with an entry for `address` or "anyone", by owner then name. */
  listAclGrants(address: string): Promise<AclGrant[]>;
}

/** Messages of mailboxes, with the change feed every write to them records. */
export interface Messages {
  /** Group-committed: concurrent calls share one transaction and one fsync. */
  append(req: AppendRequest): Promise<AppendOutcome[]>;
  /**
   * Several requests in one transaction, all or none (RFC 3502 MULTIAPPEND): one failing target
   * (over quota, mailbox gone) fails every target of every request with that error and nothing
   * is stored; UIDs of one mailbox follow the order of the requests. No outbound copies.
   */
  appendAll(reqs: AppendRequest[]): Promise<AppendOutcome[][]>;
  /**
   * What opening a mailbox needs, without building MessageMeta objects (IMAP SELECT of a large
   * mailbox): every UID ascending, the first UID without \Seen (0 when none), the keywords in use.
   */
  mailboxSummary(mailboxId: number): Promise<MailboxSummary>;
  /** Metadata of messages in UID order; `uids` limits to those UIDs (missing ones are skipped). */
  listMessages(mailboxId: number, opts?: { uids?: number[]; minUid?: number }): Promise<MessageMeta[]>;
  /** Whether the mailbox holds a message with this UID (false when the mailbox is gone too). */
  hasMessage(mailboxId: number, uid: number): Promise<boolean>;
  /**
   * UID, modseq and flags of messages in UID order (missing UIDs skipped): what FETCH of flags
   * needs, lighter than listMessages. The flag arrays may be shared between messages: read-only.
   */
  listFlags(mailboxId: number, uids: number[]): Promise<MessageFlags[]>;
  getMime(blobId: string): Promise<MimeRecord>;
  /**
   * What SORT and THREAD compare (RFC 5256, RFC 5957) for the messages with these UIDs
   * (ascending; missing ones skipped), in UID order, without parsing MIME records where the
   * store keeps the fields (docs/architecture.md, "SORT and THREAD keys"). Only the `wanted`
   * fields are sure to be filled; the others may read as emptySortFields() has them.
   */
  listSortFields(
    mailboxId: number,
    uids: number[],
    wanted: readonly SortFieldName[],
  ): Promise<MessageSortFields[]>;
  updateFlags(mailboxId: number, uids: number[], update: FlagUpdate): Promise<FlagResult>;
  /** Removes the messages with these UIDs (or, without uids, every \Deleted message). Returns expunged UIDs. */
  expunge(mailboxId: number, opts?: { uids?: number[]; onlyDeleted?: boolean }): Promise<number[]>;
  copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /** Copy then expunge in one transaction (RFC 6851). */
  move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /** The change log after `modseq`, in modseq order. */
  changesSince(mailboxId: number, modseq: number): Promise<Change[]>;
  /**
   * The UIDs expunged after `modseq` (RFC 7162 VANISHED), ascending. `complete` is false when
   * expunges after `modseq` were pruned from the change log (docs/architecture.md, "Change log
   * retention"): the caller then treats every UID it cannot find as expunged.
   */
  expungedSince(mailboxId: number, modseq: number): Promise<ExpungedSince>;
  /**
   * A POP3 session retrieved these messages (RETR): sets \Seen (a flag change clients see) and,
   * where not yet set, the time POP3 first retrieved each (the start of its retention), in one
   * transaction.
   */
  markPop3Retrieved(mailboxId: number, uids: number[], at: number): Promise<void>;
  /** Expunges the messages saved into the mailbox at or before `before` (RFC 8514 save date); returns their UIDs. */
  expungeSavedBefore(mailboxId: number, before: number): Promise<number[]>;
  /**
   * Expunges the messages of the mailbox that POP3 first retrieved at or before `before`;
   * returns their UIDs. A message whose flags changed after that retrieval (IMAP marked it:
   * its modseq moved) is kept unless `includeImapTouched` (pop3.expire_imap).
   */
  expungePop3Retrieved(
    mailboxId: number,
    before: number,
    opts?: { includeImapTouched?: boolean },
  ): Promise<number[]>;
  /**
   * RFC 3501 \Recent: atomically returns the UIDs that no session has seen as recent yet
   * and marks them seen, so exactly one session gets each.
   */
  claimRecent(mailboxId: number): Promise<number[]>;

  /** Change notification: called (at least once) after any committed change to the mailbox, by any process. */
  watch(mailboxId: number, listener: (mailboxId: number) => void): () => void;
  /**
   * Change notification for a whole account (IMAP NOTIFY): called with the ids of its mailboxes
   * that changed (messages, flags, and the mailbox itself: created, renamed, deleted, a
   * subscription to its name), by any process, from the same feed as watch(): no extra polling.
   */
  watchAccount(accountId: number, listener: (mailboxIds: readonly number[]) => void): () => void;

  /**
   * Holds `bytes` of the account's quota for a message still arriving (a streamed APPEND
   * literal), so that concurrent streams cannot together exceed it. OVER_QUOTA when the used
   * bytes plus every reservation plus `bytes` exceed the quota. Reservations are per process.
   */
  reserveQuota(accountId: number, bytes: number): Promise<QuotaReservation>;
}

/** IMAP SEARCH matched inside the store. */
export interface Search {
  /**
   * IMAP SEARCH on a decoded, case-folded header field (src/mail/mime/search-fields.ts), matched
   * inside the store: the UIDs (ascending) of the mailbox's messages whose field contains
   * `needle` (already folded with foldSearchText); `unparsed` lists messages that have the field
   * but whose addresses could not be decoded (the caller reads the header to decide). `range`
   * limits the UIDs looked at (callers split a large mailbox so no one call runs long).
   */
  matchSearchField(
    mailboxId: number,
    field: SearchField,
    needle: string,
    range?: { minUid: number; maxUid: number },
  ): Promise<{ uids: number[]; unparsed: number[] }>;
  /** The text parts (what BODY searches) of these messages' blobs, by UID; missing UIDs are absent. */
  textParts(mailboxId: number, uids: number[]): Promise<Map<number, TextPartRange[]>>;
}

/**
 * Messages for remote recipients, queued by append with one state per recipient. Senders claim
 * due recipients with a lease (owner + expiry), so several processes on one store never send
 * the same recipient at once; a lease that lapses (its process died) makes them claimable
 * again. A message whose recipients are all final (delivered or failed) leaves the queue and
 * its blob reference is released. Times are milliseconds-precise Dates.
 */
export interface OutboundQueue {
  /** Queued messages with their envelope as accepted, oldest first. */
  listOutbound(): Promise<OutboundMessage[]>;
  countOutbound(): Promise<number>;
  /** Removes a queued message (whatever its recipients' states) and releases its blob. NOT_FOUND if absent. */
  deleteOutbound(id: number): Promise<void>;

  /**
   * Leases up to `maxRecipients` due recipients (queued or deferred, next attempt reached, no
   * unexpired lease of another owner), earliest due first, grouped by message in id order.
   */
  claimOutbound(req: QueueClaimRequest): Promise<QueueClaim[]>;
  /** Extends `owner`'s leases on these recipients; returns the ids it still holds. */
  renewOutboundClaim(owner: string, recipientIds: number[], leaseMs: number): Promise<number[]>;
  /** Gives up `owner`'s leases on these recipients (claimed but not to be sent now); returns how many. */
  releaseOutboundRecipients(owner: string, recipientIds: number[]): Promise<number>;
  /** Gives up every lease `owner` holds (shutdown); returns how many. */
  releaseOutboundClaims(owner: string): Promise<number>;
  /**
   * When the next claim can take something: the earliest time a queued or deferred recipient
   * is due and unleased (a lease counts until it lapses), or null when none waits.
   */
  nextOutboundDue(): Promise<Date | null>;
  /**
   * Records an attempt: per recipient delivered, failed (permanently) or deferred until a time.
   * Only recipients `owner` holds (its lease, even lapsed, not taken by another owner) and that
   * are not final are recorded; their leases end. NOT_FOUND when the message is gone.
   */
  recordOutboundAttempt(attempt: QueueAttempt): Promise<QueueAttemptResult>;
  /**
   * Leases up to `max` owed DSNs that are due and not leased by another owner (a sender
   * finishes what a crashed one left), oldest first.
   */
  claimOwedDsns(req: { owner: string; leaseMs: number; max: number; now?: Date }): Promise<OwedDsn[]>;
  /** The DSN was sent (or given up): the row goes and its blob reference is released. */
  finishOwedDsn(id: number): Promise<void>;
  /** The DSN could not be stored yet (the sender's mailbox is full): due again at `until`. */
  deferOwedDsn(id: number, until: Date): Promise<void>;
  /** Holds every recipient not final (claims stop; a send under way may still record). Returns how many. */
  holdOutbound(id: number): Promise<number>;
  /** Puts held recipients back, due now. Returns how many. */
  releaseOutbound(id: number): Promise<number>;
  /** Makes queued and deferred recipients due now. Returns how many. */
  retryOutbound(id: number): Promise<number>;
  /** Messages matching the filter, by id, with their recipient counts per state. */
  listQueue(filter?: QueueFilter): Promise<QueueListEntry[]>;
  /** One message and every recipient's state, or null. */
  showQueued(id: number): Promise<QueueDetail | null>;
}

/** Mailbox locks (POP3 exclusive access, RFC 1939 §8), shared by every process on the store. */
export interface Leases {
  /**
   * Takes the lease on a mailbox for `owner` until now + ttlMs. True when taken (or already
   * held by `owner`, then extended); false while another owner holds an unexpired lease.
   */
  acquireMailboxLock(mailboxId: number, owner: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease of `owner`; false when it lapsed and is held by someone else (or nobody). */
  refreshMailboxLock(mailboxId: number, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up (nothing happens when `owner` does not hold it). */
  releaseMailboxLock(mailboxId: number, owner: string): Promise<void>;
}

/**
 * Outbound transport security (src/outbound/mta-sts.ts, tls-rpt.ts): MTA-STS policies as
 * fetched, and TLS results per session counted per UTC day for TLS-RPT reports. Writes are
 * not waited on for the disk: a cached policy or a count lost in a crash is harmless.
 */
export interface TransportSecurity {
  /** The stored MTA-STS policy of a domain (even expired: the caller decides), or null. */
  getStsPolicy(domain: string): Promise<StoredStsPolicy | null>;
  /** Stores (replaces) a domain's MTA-STS policy. */
  putStsPolicy(policy: StoredStsPolicy): Promise<void>;
  /** Counts one session's result under its day, policy and outcome. */
  recordTlsResult(result: TlsSessionResult): Promise<void>;
  /** The counted results, by day then policy domain; filters: a day, days before one, a domain. */
  listTlsResults(filter?: {
    day?: string;
    before?: string;
    policyDomain?: string;
  }): Promise<TlsResultCount[]>;
  /** Removes counted results (after a report was queued, or old ones). Returns how many rows. */
  deleteTlsResults(filter: { day?: string; before?: string; policyDomain?: string }): Promise<number>;
  /**
   * Claims the TLS-RPT run of a UTC day (YYYY-MM-DD) for `owner`: 'claimed' (run it now),
   * 'done' (finished by someone) or 'busy' (another owner's claim has not lapsed).
   */
  claimTlsReportRun(day: string, owner: string, leaseMs: number): Promise<'claimed' | 'done' | 'busy'>;
  /** Marks the day's run finished (by its owner). */
  finishTlsReportRun(day: string, owner: string): Promise<void>;
}

/**
 * IMAP METADATA (RFC 5464) entries per mailbox and per account (the server level). Entries go
 * with their mailbox: a RENAME keeps them (they are the mailbox's, not the name's), DELETE and
 * account deletion remove them.
 */
export interface Metadata {
  /** Every entry of the target, by name. NOT_FOUND when the mailbox is not the account's. */
  getMetadata(target: MetadataTarget): Promise<MetadataEntry[]>;
  /**
   * Applies the changes in one transaction, all or none (RFC 5464 §4.3). Refused (nothing
   * changed) when the account would then hold more than `maxEntries` entries over all its
   * mailboxes and its server level, and more than before. NOT_FOUND as for getMetadata.
   */
  setMetadata(
    target: MetadataTarget,
    changes: readonly MetadataChange[],
    opts: { maxEntries: number },
  ): Promise<MetadataSetResult>;
}

/**
 * Sessions of the user's web page, in the store so that every process and node sees the same
 * ones (a login on one worker, the next request on another). Writes that only add or refresh
 * a session do not wait for the disk (a session lost in a crash means logging in again);
 * deletions (logout, password change) do.
 */
export interface WebSessions {
  /**
   * Stores a new session. In the same transaction: deletes every session that expired
   * (expiresAt at or before `session.createdAt`, or last seen before `staleBefore`), then the
   * account's oldest ones beyond `maxPerAccount` (the new one counted).
   */
  createWebSession(session: WebSession, opts: { staleBefore: Date; maxPerAccount: number }): Promise<void>;
  /** The session with this id hash, or null (expiry is the caller's to judge). */
  getWebSession(idHash: string): Promise<WebSession | null>;
  /** Records activity. */
  touchWebSession(idHash: string, lastSeenAt: Date): Promise<void>;
  /** Ends one session (nothing happens when it is gone). */
  deleteWebSession(idHash: string): Promise<void>;
  /** Ends every session of the account except `keep` (an id hash); returns how many ended. */
  deleteWebSessions(accountId: number, opts?: { keep?: string }): Promise<number>;
}

/** Garbage collection and shutdown. */
export interface Maintenance {
  /**
   * Deletes blobs no message or queued message refers to any more (row, search row and file,
   * after a grace period for in-flight deliveries), then files that no row names at all and
   * that are older than the orphan age (left by a crash or a failed delivery). Safe to run in
   * several processes at once, and while deliveries run.
   */
  collectGarbage(opts?: GcOptions): Promise<GcResult>;
  close(): Promise<void>;
}

/** Write counters of a metadata store since it was opened (reported by GET /healthz/stats). */
export interface StoreStats {
  /** Write transactions committed. */
  commits: number;
  /** fsyncs of the write-ahead log made to acknowledge commits (group commit: fewer than commits). */
  fsyncs: number;
}

/** Every role of the store at once: what a backend implements and the server holds. */
export interface MailStore
  extends
    Directory,
    DkimKeys,
    Mailboxes,
    MailboxAcls,
    Messages,
    Search,
    OutboundQueue,
    TransportSecurity,
    Leases,
    Metadata,
    WebSessions,
    Maintenance {
  readonly backend: 'sqlite' | 'postgres';
  /** Counters, where the backend keeps them. */
  readonly stats?: Readonly<StoreStats>;
}
