// The data types of the storage interface: what the roles of src/store/roles.ts take and
// return. MailStore (every role at once) is defined there and re-exported here.

import type { MimeRecord } from '../mail/mime/types.js';

export type { DkimKeys, MailStore } from './roles.js';

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
  /** POP3 retention of the domain's accounts; null inherits pop3.expire_days. */
  pop3Expire: Pop3Expire;
}

export type DkimKeyState = 'pending' | 'active' | 'retired';

/** DKIM signing algorithms: RSA (RFC 6376, rsa-sha256) and Ed25519 (RFC 8463, ed25519-sha256). */
export type DkimAlgorithm = 'ed25519' | 'rsa';

/**
 * A domain's DKIM key: active keys sign; pending ones (staged by a rotation in two steps) and
 * retired ones are only published.
 */
export interface DkimKey {
  id: number;
  /** The domain (lower-case A-label) whose mail it signs: d= of the signature. */
  domain: string;
  /** s= of the signature; the DNS record is `<selector>._domainkey.<domain>`. */
  selector: string;
  algorithm: DkimAlgorithm;
  /** PKCS#8 PEM. A secret: never logged, never printed by `dkim show`. */
  privateKeyPem: string;
  /** The p= value of the DNS record (base64): SubjectPublicKeyInfo for RSA, the raw 32 bytes for Ed25519. */
  publicKey: string;
  state: DkimKeyState;
  createdAt: Date;
  retiredAt: Date | null;
}

/** What addDkimKeys stores for one key. */
export interface NewDkimKey {
  selector: string;
  algorithm: DkimAlgorithm;
  privateKeyPem: string;
  publicKey: string;
}

export type AccountState = 'active' | 'disabled';

/**
 * A POP3 retention setting (RFC 2449 §6.7 EXPIRE): days after POP3 first retrieved a message
 * until it is expunged, 'never', or null to inherit (account -> domain -> pop3.expire_days).
 */
export type Pop3Expire = number | 'never' | null;

export interface Account {
  id: number;
  domainId: number;
  address: string; // lower-case local@domain
  passwordHash: string;
  /** Bytes allowed across all mailboxes; 0 means unlimited. */
  quotaBytes: number;
  /** Bytes used: the sum of the sizes of every message in every mailbox of the account. */
  usedBytes: number;
  /** Messages allowed across all mailboxes (RFC 9208 MESSAGE resource); 0 means unlimited. */
  quotaMessages: number;
  /** Messages in every mailbox of the account. */
  usedMessages: number;
  state: AccountState;
  createdAt: Date;
  /** POP3 retention of this account; null inherits the domain's. */
  pop3Expire: Pop3Expire;
}

/**
 * A per-device password of an account (issue 14): usable wherever the account's password is
 * (IMAP, POP3, SMTP AUTH), revocable one by one. The secret itself is never stored, only its
 * hash (src/auth/app-passwords.ts); revoking deletes the row.
 */
export interface AppPassword {
  id: number;
  accountId: number;
  label: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** 'imap', 'pop3' or 'smtp' (an AuthProtocol), as of the last recorded use. */
  lastUsedProtocol: string | null;
  /** The client address of the last recorded use. */
  lastUsedAddress: string | null;
}

/** An app password with its stored secret hash: what a login compares against. */
export interface AppPasswordCredential extends AppPassword {
  secretHash: string;
}

/** One use of an app password, as a login records it. */
export interface AppPasswordUse {
  at: Date;
  protocol: string;
  address: string;
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
  /** RFC 8474 MAILBOXID: stable through RENAME, never reused. */
  objectId: string;
  uidNext: number;
  highestModseq: number;
  messages: number;
  unseen: number;
  deleted: number;
  size: number; // bytes of all messages in the mailbox
  /**
   * RFC 3501 \Recent: the UID below the messages no session has claimed yet (claimRecent). Their
   * number, and DELETED-STORAGE, take a count: Mailboxes.countRecent and deletedSize.
   */
  recentUid: number;
}

/** One access control entry of a mailbox (RFC 4314 §2): rights in canonical order ("lrswipkxtea"). */
export interface AclEntry {
  /** "anyone" or an account address. */
  identifier: string;
  rights: string;
}

/** A mailbox of another account that an ACL entry opens to a user (by address or "anyone"). */
export interface AclGrant {
  mailbox: Mailbox;
  /** The owner's address. */
  owner: string;
  /** The union of the user's own entry and the "anyone" entry. */
  rights: string;
}

/** Messages.expungedSince(): the UIDs the change log still knows, and whether that is all. */
export interface ExpungedSince {
  uids: number[];
  complete: boolean;
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
  /** RFC 8514: when the message was saved into this mailbox (APPEND, delivery, COPY, MOVE). */
  saveDate: Date;
}

export type Change =
  | { kind: 'added'; modseq: number; uid: number; flags: string[] }
  | { kind: 'flags'; modseq: number; uid: number; flags: string[] }
  | { kind: 'expunged'; modseq: number; uid: number };

/** A blob written by the BlobStore, with its MIME index: durable as a file, or carrying its bytes. */
export interface StoredBlob {
  blobId: string;
  size: number;
  mime: MimeRecord;
  /**
   * The bytes of a small blob that has no file (see InlineBlobStore): the append stores them in
   * the transaction of its message rows, unless the backend already holds this blob. (A
   * Uint8Array: a Buffer does not stay one across a worker thread's structured clone.)
   */
  inline?: Uint8Array;
}

export interface AppendTarget {
  mailboxId: number;
  flags?: string[];
  internalDate?: Date;
}

export type AppendOutcome =
  | {
      ok: true;
      mailboxId: number;
      accountId: number;
      uid: number;
      modseq: number;
      uidValidity: number;
      /** The account's figures right after this append (quota warnings need no read then). */
      usage: import('./rules/quota-warning.js').AccountUsage;
    }
  | { ok: false; mailboxId: number; error: import('../core/errors.js').StoreError };

export interface AppendRequest {
  blob: StoredBlob;
  /** Local mailboxes; may be empty when `outbound` is given (a message with only remote recipients). */
  targets: AppendTarget[];
  /** When true, one failing target fails them all and nothing is stored (nor queued). */
  allOrNothing?: boolean;
  /** Queue a copy for remote delivery, in the same transaction as the local targets. */
  outbound?: OutboundEnvelope;
  /**
   * Store even past the accounts' quotas. Only for the server's own quota warning (delivery
   * source 'notice'): the message saying the mailbox is full must not be refused for being full.
   */
  ignoreQuota?: boolean;
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
  /** RFC 8689 REQUIRETLS was given on MAIL FROM (absent: false). */
  requireTls?: boolean;
  /** The authenticated submitter, or null (relayed from an MX session: forwarding). */
  accountId: number | null;
}

/** A local recipient whose copy of an accepted message could not be stored (quota filled since RCPT). */
export interface LocalFailure {
  /** The recipient as given in RCPT TO. */
  address: string;
  /** RFC 3461 NOTIFY (upper case) and ORCPT as received, or null. */
  notify: string[] | null;
  orcpt: string | null;
  /** RFC 3463 status ("5.2.2") and a one-line diagnostic. */
  status: string;
  text: string;
}

/** What a DSN for local recipients that lost an accepted message needs (RFC 3464 "failed"). */
export interface LocalFailureReport {
  mailFrom: string;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  arrivalDate: Date;
  /** The message as stored for the other recipients (the DSN returns it, or its headers). */
  blob: { blobId: string; size: number };
  failures: LocalFailure[];
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

/**
 * Where a recipient of a queued message stands. queued: never tried; deferred: tried, due again
 * at nextAttemptAt; held: kept by an administrator until released; delivered and failed are
 * final (a message whose recipients are all final leaves the queue).
 */
export type RecipientStatus = 'queued' | 'deferred' | 'delivered' | 'failed' | 'held';
export const RECIPIENT_STATUSES: readonly RecipientStatus[] = [
  'queued',
  'deferred',
  'delivered',
  'failed',
  'held',
];

/** A remote server's reply (RFC 5321 §4.2; RFC 3463 enhanced status code when given). */
export interface RemoteReply {
  code: number;
  enhanced: string | null;
  text: string;
}

/** One recipient of a queued message and its delivery state. */
export interface QueuedRecipient extends OutboundRecipient {
  /** Stable id of this recipient row: what attempt outcomes name. */
  id: number;
  messageId: number;
  /** The lower-cased domain after the last "@" (routing, concurrency per destination). */
  domain: string;
  status: RecipientStatus;
  attempts: number;
  lastAttemptAt: Date | null;
  nextAttemptAt: Date;
  lastReply: RemoteReply | null;
  /** The MTA that gave lastReply (host name or address), or null. */
  remoteMta: string | null;
  /** When the "delayed" DSN was sent for it (RFC 3464 action=delayed), or null. */
  delayWarnedAt: Date | null;
  /** The claim on it: who is sending it, until when (null when unclaimed). */
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
}

/** A queued message without its recipient list. */
export type QueuedMessageHead = Omit<OutboundMessage, 'recipients'>;

/** A line of `queue list`: the message and how many recipients are in each state. */
export interface QueueListEntry extends QueuedMessageHead {
  counts: Record<RecipientStatus, number>;
}

/** `queue show`: the message and every recipient's state, in envelope order. */
export interface QueueDetail extends QueuedMessageHead {
  recipients: QueuedRecipient[];
}

export interface QueueFilter {
  /** Only messages with at least one recipient in this state. */
  status?: RecipientStatus;
  /** Only messages with at least one recipient at this domain (case-insensitive). */
  domain?: string;
  /** Only messages with this envelope sender (case-insensitive; '' for <>). */
  sender?: string;
  /** Messages with an id above this one (paging). */
  afterId?: number;
  /** At most this many (default 100, at most 10,000). */
  limit?: number;
}

/** What a sender asks for: due recipients, leased to `owner` until now + leaseMs. */
export interface QueueClaimRequest {
  owner: string;
  leaseMs: number;
  /** At most this many recipients (1 to 10,000). */
  maxRecipients: number;
  /** Lower-cased recipient domains to leave alone (the claimer cannot send more to them now). */
  skipDomains?: string[];
  /** The time to compare with (default: now). */
  now?: Date;
}

/** A claimed message: its head and the recipients leased to the claimer (due, unheld). */
export interface QueueClaim {
  message: QueuedMessageHead;
  recipients: QueuedRecipient[];
}

/** What an attempt did for one claimed recipient. */
export type RecipientOutcome =
  | { recipientId: number; kind: 'delivered'; reply?: RemoteReply; remoteMta?: string }
  | { recipientId: number; kind: 'failed'; reply?: RemoteReply; remoteMta?: string }
  | {
      recipientId: number;
      kind: 'deferred';
      /** When it is due again. */
      until: Date;
      reply?: RemoteReply;
      remoteMta?: string;
      /** The "delayed" DSN was sent with this attempt. */
      delayWarned?: boolean;
    };

/** The DSN an outcome calls for: JSON written and read by src/outbound (opaque to the store). */
export interface OwedDsnParts {
  /** One JSON block per recipient reported, by recipient id; only recorded ones are kept. */
  blocks: ReadonlyMap<number, string>;
  /** The report's message-level part (sender, ENVID, RET, arrival), JSON. */
  head: string;
  /** The recorder's lease on it (it sends it at once; another process only once this lapses). */
  leaseMs: number;
}

/** A DSN recorded as owed and not yet sent (it keeps the original's blob referenced). */
export interface OwedDsn {
  id: number;
  blobId: string;
  size: number;
  head: string;
  blocks: string[];
  createdAt: Date;
  attempts: number;
}

export interface QueueAttempt {
  /** The claimer: outcomes for recipients it no longer holds are not recorded. */
  owner: string;
  messageId: number;
  outcomes: RecipientOutcome[];
  /** When the attempt was made (default: now). */
  at?: Date;
  /**
   * The DSN these outcomes call for: stored as owed in the same transaction (with the blocks
   * of recorded recipients only), so that a crash before it is sent cannot lose it.
   */
  dsn?: OwedDsnParts;
}

export interface QueueAttemptResult {
  /** Recipient ids whose outcome was recorded. */
  recorded: number[];
  /** Recipient ids not recorded: gone, claimed by another owner meanwhile, or already final. */
  lost: number[];
  /** Every recipient is final: the message left the queue and its blob was released. */
  finished: boolean;
  /** The owed DSN stored with the outcomes (null: none was asked for or none was recorded). */
  owedDsn: OwedDsn | null;
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
  /** Overrides how long expunges stay in the change log (0: prune all that a run has clocked). */
  changeLogRetentionMs?: number;
}

export interface GcResult {
  /** Unreferenced blobs whose rows were removed (their files too, unless reused meanwhile). */
  blobsRemoved: number;
  bytesFreed: number;
  /** Blob and temp files that no row named. */
  orphanFilesRemoved: number;
  orphanBytesFreed: number;
  /** Expunge and mailbox-event rows pruned from the change log. */
  changeRowsPruned: number;
}

/** Quota held by reserveQuota(); release() gives it back (idempotent). */
export interface QuotaReservation {
  release(): void;
}

/** Where a message for an address goes once aliases and sub-addressing are applied. */
export type Recipient =
  | { kind: 'local'; accountId: number; address: string; mailbox: string }
  | { kind: 'remote'; address: string };

/**
 * A session of the user's web page (src/web). The id the browser holds is never stored: only
 * its SHA-256 (hex), so a copy of the database logs nobody in.
 */
export interface WebSession {
  idHash: string;
  accountId: number;
  createdAt: Date;
  /** The absolute end: the session is over at this time however active it is. */
  expiresAt: Date;
  /** The last request seen (updated at most once a minute); the idle timeout counts from it. */
  lastSeenAt: Date;
}
