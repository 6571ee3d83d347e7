// The storage interface every protocol talks to. Backends: sqlite/ (embedded default) and,
// later, postgres/. Invariants every backend keeps (checked by test/conformance):
// - within a mailbox, UIDs strictly increase and are never reused while UIDVALIDITY holds;
// - every write to a mailbox takes a modseq greater than any before it in that mailbox, and
//   records one change-log row per message touched, in the same transaction;
// - a promise that resolves for an append means the bytes and the metadata are on disk;
// - quota is checked inside the committing transaction, so a mailbox is never over quota
//   because of two racing deliveries.
// All methods are async so that a networked backend can implement the same interface.

import type { SearchField, TextPartRange } from '../mail/mime/search-fields.js';
import type { MimeRecord } from '../mail/mime/types.js';

/** RFC 6154 §2 special-use attributes. */
export const SPECIAL_USES = [
  '\\Sent',
  '\\Drafts',
  '\\Trash',
  '\\Junk',
  '\\Archive',
  '\\All',
  '\\Flagged',
] as const;
export type SpecialUse = (typeof SPECIAL_USES)[number];

/** The hierarchy delimiter of every mailbox name (announced by IMAP NAMESPACE). */
export const MAILBOX_DELIMITER = '/';

/** The mailboxes every new account gets. */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse: SpecialUse | null }> = [
  { name: 'INBOX', specialUse: null },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

/** IMAP system flags (RFC 9051 §2.3.2); \Recent is not stored per message (see claimRecent). */
export const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const;
export type SystemFlag = (typeof SYSTEM_FLAGS)[number];

export interface Domain {
  id: number;
  name: string; // lower-case ASCII (IDNA A-label for internationalised names)
  createdAt: Date;
}

export type AccountState = 'active' | 'disabled';

export interface Account {
  id: number;
  domainId: number;
  address: string; // lower-case local@domain
  passwordHash: string;
  /** Bytes allowed across all mailboxes; 0 means unlimited. */
  quotaBytes: number;
  /** Bytes used: the sum of the sizes of every message in every mailbox of the account. */
  usedBytes: number;
  state: AccountState;
  createdAt: Date;
}

export interface Alias {
  /** `local@domain` for an exact alias, `@domain` for the catch-all of a domain. */
  source: string;
  /** A local or remote address. */
  destination: string;
}

export interface Mailbox {
  id: number;
  accountId: number;
  name: string; // full name with MAILBOX_DELIMITER, INBOX always spelled `INBOX`
  specialUse: SpecialUse | null;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  messages: number;
  unseen: number;
  deleted: number;
  size: number; // bytes of all messages in the mailbox
  /** RFC 3501 \Recent: messages no session has claimed yet (claimRecent), and the UID below them. */
  recent: number;
  recentUid: number;
}

export interface MessageMeta {
  mailboxId: number;
  uid: number;
  modseq: number;
  /** System flags then keywords, each once, in a stable order. */
  flags: string[];
  internalDate: Date;
  size: number;
  blobId: string; // sha256 hex of the stored bytes
}

export type Change =
  | { kind: 'added'; modseq: number; uid: number; flags: string[] }
  | { kind: 'flags'; modseq: number; uid: number; flags: string[] }
  | { kind: 'expunged'; modseq: number; uid: number };

/** A blob already written and made durable by the BlobStore, with its MIME index. */
export interface StoredBlob {
  blobId: string;
  size: number;
  mime: MimeRecord;
}

export interface AppendTarget {
  mailboxId: number;
  flags?: string[];
  internalDate?: Date;
}

export type AppendOutcome =
  | { ok: true; mailboxId: number; uid: number; modseq: number; uidValidity: number }
  | { ok: false; mailboxId: number; error: import('../core/errors.js').StoreError };

export interface AppendRequest {
  blob: StoredBlob;
  /** Local mailboxes; may be empty when `outbound` is given (a message with only remote recipients). */
  targets: AppendTarget[];
  /** When true, one failing target fails them all and nothing is stored (nor queued). */
  allOrNothing?: boolean;
  /** Queue a copy for remote delivery, in the same transaction as the local targets. */
  outbound?: OutboundEnvelope;
}

/** One remote recipient with its DSN parameters (RFC 3461 §4.1 NOTIFY, §4.2 ORCPT). */
export interface OutboundRecipient {
  address: string;
  /** NOTIFY values upper-cased (NEVER, SUCCESS, FAILURE, DELAY), or null when not given. */
  notify: string[] | null;
  /** ORCPT as received ("rfc822;addr"), or null. */
  orcpt: string | null;
}

/** The SMTP envelope of a message queued for remote delivery. */
export interface OutboundEnvelope {
  /** The reverse-path; '' for the null sender <>. */
  mailFrom: string;
  recipients: OutboundRecipient[];
  /** RFC 3461 §4.4 ENVID, or null. */
  envid: string | null;
  /** RFC 3461 §4.3 RET, or null. */
  ret: 'FULL' | 'HDRS' | null;
  /** RFC 6152 / RFC 3030 BODY. */
  body: '7BIT' | '8BITMIME' | 'BINARYMIME';
  /** RFC 6531 SMTPUTF8 was given on MAIL FROM. */
  smtputf8: boolean;
  /** The authenticated submitter, or null (relayed from an MX session: forwarding). */
  accountId: number | null;
}

/** A queued outbound message. */
export interface OutboundMessage extends OutboundEnvelope {
  id: number;
  blobId: string;
  size: number;
  queuedAt: Date;
  /** When the next delivery attempt is due. */
  nextAttemptAt: Date;
  attempts: number;
}

export interface MessageFlags {
  uid: number;
  modseq: number;
  flags: readonly string[];
}

export interface MailboxSummary {
  /** Shared with the store's cache: never modify it (copy first). */
  uids: readonly number[];
  firstUnseenUid: number;
  keywords: string[];
}

export type FlagMode = 'add' | 'remove' | 'replace';

export interface FlagUpdate {
  mode: FlagMode;
  flags: string[];
  /** CONDSTORE: only messages whose modseq is <= this are changed. */
  unchangedSince?: number;
}

export interface FlagResult {
  /** Messages whose flags changed, with their new flags and modseq. */
  changed: Array<{ uid: number; modseq: number; flags: string[] }>;
  /** UIDs refused because of unchangedSince. */
  modified: number[];
}

export interface CopyResult {
  uidValidity: number;
  /** Pairs of (source uid, destination uid), in source UID order. */
  mapping: Array<[number, number]>;
}

export interface GcOptions {
  /** Overrides the store's grace period for unreferenced blobs (0: remove at once). */
  graceMs?: number;
  /** Overrides the age past which files no row names are removed (0: at once; only when idle). */
  orphanAgeMs?: number;
}

export interface GcResult {
  /** Unreferenced blobs whose rows were removed (their files too, unless reused meanwhile). */
  blobsRemoved: number;
  bytesFreed: number;
  /** Blob and temp files that no row named. */
  orphanFilesRemoved: number;
  orphanBytesFreed: number;
}

/** Quota held by reserveQuota(); release() gives it back (idempotent). */
export interface QuotaReservation {
  release(): void;
}

/** Where a message for an address goes once aliases and sub-addressing are applied. */
export type Recipient =
  | { kind: 'local'; accountId: number; address: string; mailbox: string }
  | { kind: 'remote'; address: string };

export interface MailStore {
  readonly backend: 'sqlite' | 'postgres';

  // Domains
  createDomain(name: string): Promise<Domain>;
  listDomains(): Promise<Domain[]>;
  getDomain(name: string): Promise<Domain | null>;
  /** Fails with HAS_CHILDREN while the domain has accounts. */
  deleteDomain(name: string): Promise<void>;

  // Accounts
  createAccount(input: { address: string; passwordHash: string; quotaBytes?: number }): Promise<Account>;
  getAccount(address: string): Promise<Account | null>;
  getAccountById(id: number): Promise<Account | null>;
  listAccounts(domain?: string): Promise<Account[]>;
  setPasswordHash(address: string, passwordHash: string): Promise<void>;
  setQuota(address: string, quotaBytes: number): Promise<void>;
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
   * rows only, as the submission sender check asks.
   */
  resolveRecipient(address: string, opts?: { catchAll?: boolean }): Promise<Recipient[]>;

  // Mailboxes
  listMailboxes(accountId: number): Promise<Mailbox[]>;
  getMailbox(accountId: number, name: string): Promise<Mailbox | null>;
  getMailboxById(mailboxId: number): Promise<Mailbox | null>;
  createMailbox(accountId: number, name: string, opts?: { specialUse?: SpecialUse | null }): Promise<Mailbox>;
  /** Deletes the mailbox and its messages (not its children). INBOX cannot be deleted. */
  deleteMailbox(accountId: number, name: string): Promise<void>;
  /** Renames a mailbox and every child; renaming INBOX moves its messages to the new name. */
  renameMailbox(accountId: number, from: string, to: string): Promise<void>;
  subscribe(accountId: number, name: string): Promise<void>;
  unsubscribe(accountId: number, name: string): Promise<void>;
  listSubscriptions(accountId: number): Promise<string[]>;

  // Messages
  /** Group-committed: concurrent calls share one transaction and one fsync. */
  append(req: AppendRequest): Promise<AppendOutcome[]>;
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
  updateFlags(mailboxId: number, uids: number[], update: FlagUpdate): Promise<FlagResult>;
  /** Removes the messages with these UIDs (or, without uids, every \Deleted message). Returns expunged UIDs. */
  expunge(mailboxId: number, opts?: { uids?: number[]; onlyDeleted?: boolean }): Promise<number[]>;
  copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /** Copy then expunge in one transaction (RFC 6851). */
  move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /** The change log after `modseq`, in modseq order. */
  changesSince(mailboxId: number, modseq: number): Promise<Change[]>;
  /**
   * RFC 3501 \Recent: atomically returns the UIDs that no session has seen as recent yet
   * and marks them seen, so exactly one session gets each.
   */
  claimRecent(mailboxId: number): Promise<number[]>;

  /** Change notification: called (at least once) after any committed change to the mailbox, by any process. */
  watch(mailboxId: number, listener: (mailboxId: number) => void): () => void;

  // Mailbox locks (POP3 exclusive access, RFC 1939 §8), shared by every process on the store
  /**
   * Takes the lease on a mailbox for `owner` until now + ttlMs. True when taken (or already
   * held by `owner`, then extended); false while another owner holds an unexpired lease.
   */
  acquireMailboxLock(mailboxId: number, owner: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease of `owner`; false when it lapsed and is held by someone else (or nobody). */
  refreshMailboxLock(mailboxId: number, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up (nothing happens when `owner` does not hold it). */
  releaseMailboxLock(mailboxId: number, owner: string): Promise<void>;

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

  // Outbound queue (messages for remote recipients; sending comes in a later issue)
  /** Queued messages, oldest first. */
  listOutbound(): Promise<OutboundMessage[]>;
  countOutbound(): Promise<number>;
  /** Removes a queued message (delivered, or bounced) and releases its blob. NOT_FOUND if absent. */
  deleteOutbound(id: number): Promise<void>;

  /**
   * Deletes blobs no message or queued message refers to any more (row, search row and file,
   * after a grace period for in-flight deliveries), then files that no row names at all and
   * that are older than the orphan age (left by a crash or a failed delivery). Safe to run in
   * several processes at once, and while deliveries run.
   */
  collectGarbage(opts?: GcOptions): Promise<GcResult>;

  /**
   * Holds `bytes` of the account's quota for a message still arriving (a streamed APPEND
   * literal), so that concurrent streams cannot together exceed it. OVER_QUOTA when the used
   * bytes plus every reservation plus `bytes` exceed the quota. Reservations are per process.
   */
  reserveQuota(accountId: number, bytes: number): Promise<QuotaReservation>;

  close(): Promise<void>;
}
