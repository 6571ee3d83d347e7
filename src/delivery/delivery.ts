// One delivery: the transactional way by which a message enters mailboxes (and, from SMTP, the
// outbound queue): start (for a source) -> recipients or target mailboxes -> body -> commit, or
// abort. SMTP DATA/BDAT, IMAP APPEND and `postern import` all go through it; protocol code only
// parses, orders and answers. Invariants:
// - the body is the delivery's: a blob writer under limits.messageSize (APPEND, import), or the
//   SMTP spool (InboundMessage: memory, then a file in <dataDir>/tmp); the bytes are stored
//   exactly as given, plus, for SMTP, the trace headers this delivery adds (Received,
//   Authentication-Results; our own authserv-id's Authentication-Results fields removed);
// - a streamed body's announced size counts against the account's quota from reserve() until
//   the commit is done or the delivery aborted (concurrent streams cannot together pass it);
// - metadata is committed only after the blob is durable, or in the same transaction as its
//   bytes (a small message carries them), so a committed message never points at lost bytes;
// - commit() gives one outcome per target mailbox (stored with its UID, or failed with its
//   StoreError) and per remote recipient (queued); it throws only when nothing was stored
//   (too large, header section too large, an I/O error, or a commit that may have landed with
//   its fsync failing: then the blob is left alone for GC to judge);
// - APPEND: the blob is finished (moved into blobs/) only after the quota check; when no target
//   took it, it is discarded at once (unless another delivery reused the file); from SMTP and
//   import a blob no target refers to is left for garbage collection;
// - abort() removes what was written (temp file, spool) and releases the reservation at once;
//   it is safe at any time, more than once, and a no-op once commit() has started;
// - with a CommitTicket, the store's append is queued only after the previous ticket's (UIDs
//   follow ticket order); the ticket is released in every case;
// - a commit that queued a copy for remote recipients calls env.onQueued (the outbound queue
//   worker of this process wakes up) once it is on disk.

import type { Limits } from '../core/limits.js';
import { StoreError } from '../core/errors.js';
import type { DnsResolver } from '../dns/resolver.js';
import type { BlobStore, BlobWriter } from '../store/blob/types.js';
import type {
  AppendOutcome,
  AppendRequest,
  AppendTarget,
  MailStore,
  OutboundEnvelope,
  OutboundRecipient,
  QuotaReservation,
  StoredBlob,
} from '../store/types.js';
import type { CommitTicket } from './commit-order.js';
import type { HeaderSection } from './header-section-scanner.js';
import { InboundMessage } from './inbound.js';
import { junkTargets } from './junk-mailbox.js';
import { accountExceedsQuota, overQuotaError } from '../store/rules/quota.js';
import { messageBlobOptions } from './message-blob-options.js';
import { warnQuotaCrossings, type AccountAfterCommit, type QuotaWarningSettings } from './quota-warning.js';
import type { MessageVerifier } from './message-verifier.js';
import { smtpTrace, type SmtpSessionFacts, type SmtpTrace } from './smtp-trace.js';

export type { SmtpSessionFacts, SmtpTrace } from './smtp-trace.js';

/** Bytes handed to a blob writer at once from one big buffer (its in-flight bound holds). */
const WRITE_SLICE_BYTES = 1024 * 1024;

/** What every delivery needs. */
export interface DeliveryEnv {
  store: MailStore;
  blobs: BlobStore;
  limits: Limits;
  /** Called after a commit that queued the message for remote recipients (wakes the sender). */
  onQueued?: () => void;
  /**
   * Quota warnings (store.quota_warnings): after a commit that stored messages, each target
   * account that reached a new threshold gets its warning (quota-warning.ts). Absent: none.
   */
  quotaWarnings?: QuotaWarningSettings;
}

/** What a delivery from SMTP needs besides: the spool directory and the trace's helpers. */
export interface SmtpDeliveryEnv extends DeliveryEnv {
  dataDir: string;
  /** Our host name: Received "by", and the authserv-id of Authentication-Results (RFC 8601). */
  hostname: string;
  resolver: DnsResolver;
  verifier: MessageVerifier;
  /** Bytes of body kept in memory before the spool file (InboundMessage's default if absent). */
  memoryLimit?: number;
}

/** The SMTP envelope of a message (RFC 5321 §2.3.1), as MAIL FROM gave it. */
export interface SmtpEnvelope {
  /** Queue id: names the message in Received, the 250 reply and the log. */
  id: string;
  /** The reverse-path; '' for the null sender <>. */
  mailFrom: string;
  body: OutboundEnvelope['body'];
  smtputf8: boolean;
  ret: OutboundEnvelope['ret'];
  envid: string | null;
  /** RFC 8689 REQUIRETLS on MAIL FROM (absent: false). */
  requireTls?: boolean;
  /** The one recipient to name in Received "for" (RFC 5321 §4.4), or null. */
  forRecipient: string | null;
  /** The authenticated submitter, or null. */
  accountId: number | null;
}

export type DeliverySource =
  | { kind: 'smtp'; envelope: SmtpEnvelope; session: SmtpSessionFacts }
  /** IMAP APPEND into mailboxes of this account (its quota is reserved and checked). */
  | { kind: 'append'; accountId: number }
  | { kind: 'import' }
  /**
   * A message the server writes to one of its users (the quota warning): stored even past the
   * account's quota (RFC 9208 leaves this to the server; the point is to tell a full mailbox).
   */
  | { kind: 'notice' }
  /**
   * A report we generate (a DSN, RFC 3464): sent with the null reverse-path (RFC 5321 §4.5.5),
   * to local mailboxes and/or queued for remote recipients; no trace headers, no quota hold.
   */
  | { kind: 'report'; body: OutboundEnvelope['body']; smtputf8: boolean; requireTls?: boolean };

/** A remote recipient's outcome: its copy is queued (issue 12 sends it, with a DSN on failure). */
export interface RemoteOutcome {
  address: string;
  queued: true;
}

export interface DeliveryResult {
  /** One per target mailbox, in the order they were added. */
  targets: AppendOutcome[];
  /** One per remote recipient, in the order they were added (SMTP and reports). */
  remote: RemoteOutcome[];
  /** The stored message (what a DSN about a failed target reads), or null when nothing was stored. */
  blob: { blobId: string; size: number } | null;
}

export interface CommitOptions {
  /** Queue the store's append in ticket order (pipelined APPEND, import). */
  order?: CommitTicket;
  /** One failing target fails them all and nothing is stored (RFC 3502 MULTIAPPEND). */
  allOrNothing?: boolean;
}

type DeliveryState = 'open' | 'committing' | 'done';

export class Delivery {
  private readonly targets: AppendTarget[] = [];
  private readonly remote: OutboundRecipient[] = [];
  private state: DeliveryState = 'open';
  private reservation: QuotaReservation | null = null;
  /** What `reservation` holds: the room reserve() found with the account's other streams. */
  private reservedBytes = 0;
  /** APPEND and import: the body's blob writer, made with the first byte. */
  private writer: BlobWriter | null = null;
  /** CATENATE: a writer finished by finishForReading(), discarded by cleanUp(). */
  private finishedWriter: BlobWriter | null = null;
  /** SMTP: the spool. */
  private readonly inbound: InboundMessage | null;
  private trace: Promise<SmtpTrace> | null = null;

  private constructor(
    private readonly env: DeliveryEnv | SmtpDeliveryEnv,
    readonly source: DeliverySource,
  ) {
    if (source.kind === 'smtp') {
      const smtp = env as SmtpDeliveryEnv;
      this.inbound = new InboundMessage({
        store: env.store,
        blobs: env.blobs,
        limits: env.limits,
        dataDir: smtp.dataDir,
        authservId: smtp.hostname,
        ...(smtp.memoryLimit !== undefined ? { memoryLimit: smtp.memoryLimit } : {}),
      });
    } else {
      this.inbound = null;
    }
  }

  /** A delivery from SMTP (its env carries the spool directory and the trace's helpers). */
  static start(env: SmtpDeliveryEnv, source: Extract<DeliverySource, { kind: 'smtp' }>): Delivery;
  static start(env: DeliveryEnv, source: Exclude<DeliverySource, { kind: 'smtp' }>): Delivery;
  static start(env: DeliveryEnv | SmtpDeliveryEnv, source: DeliverySource): Delivery {
    return new Delivery(env, source);
  }

  // ---- recipients ----

  /** A local mailbox to store the message in (once per mailbox: the caller folds duplicates). */
  addTarget(target: AppendTarget): void {
    this.checkOpen();
    this.targets.push(target);
  }

  /** A recipient on another server: the message is queued for it (SMTP and reports only). */
  addRemote(recipient: OutboundRecipient): void {
    this.checkOpen();
    if (this.source.kind !== 'smtp' && this.source.kind !== 'report') {
      throw new StoreError('INVALID_ARGUMENT', 'only a delivery from SMTP or a report has remote recipients');
    }
    this.remote.push(recipient);
  }

  // ---- body ----

  /**
   * Holds `bytes` of the account's quota for a body that is still arriving (a streamed APPEND
   * literal), until commit() is done or abort(). Rejects with OVER_QUOTA when the account has
   * not that much room left with its other reservations; nothing is held then.
   */
  async reserve(bytes: number): Promise<void> {
    this.checkOpen();
    if (this.source.kind !== 'append') return;
    this.reservation?.release();
    this.reservation = null;
    this.reservation = await this.env.store.reserveQuota(this.source.accountId, bytes);
    this.reservedBytes = bytes;
  }

  /**
   * One chunk of the body. Rejects with StoreError TOO_LARGE past limits.messageSize (nothing
   * more is taken then). The chunk may be reused once the promise resolves.
   */
  async write(chunk: Uint8Array): Promise<void> {
    this.checkOpen();
    if (this.inbound !== null) return this.inbound.write(chunk);
    this.writer ??= this.env.blobs.createWriter(messageBlobOptions(this.env.limits));
    return this.writer.write(chunk);
  }

  /** The whole body at once, or streamed from `source`. */
  async writeAll(source: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
    if (source instanceof Uint8Array) {
      if (source.length === 0) return this.write(source);
      for (let i = 0; i < source.length; i += WRITE_SLICE_BYTES) {
        await this.write(source.subarray(i, i + WRITE_SLICE_BYTES));
      }
      return;
    }
    for await (const chunk of source) await this.write(chunk);
  }

  /** Body bytes taken so far. */
  get size(): number {
    return this.inbound?.size ?? this.writer?.size ?? 0;
  }

  /**
   * SMTP: what the scan of the top-level header section found (size, Received count, From:).
   * Call it once the last write() resolved.
   */
  headerSection(): HeaderSection {
    if (this.inbound === null) throw new StoreError('INVALID_ARGUMENT', 'not a delivery from SMTP');
    return this.inbound.headerSection();
  }

  // ---- SMTP: trace and policy ----

  /**
   * SMTP: the trace headers this delivery will prepend, with the SPF/DKIM/DMARC verdicts of a
   * message from another server (null for an authenticated submission). Evaluated once, after
   * the body ended; commit() uses the same. An evaluation cut off by limits.verify_timeout
   * rejects with VerificationTimeout (the message should be refused with a temporary error).
   */
  authenticate(): Promise<SmtpTrace> {
    const { source, inbound } = this;
    if (source.kind !== 'smtp' || inbound === null) {
      return Promise.reject(new StoreError('INVALID_ARGUMENT', 'not a delivery from SMTP'));
    }
    const env = this.env as SmtpDeliveryEnv;
    this.trace ??= smtpTrace(env, {
      session: source.session,
      id: source.envelope.id,
      mailFrom: source.envelope.mailFrom,
      smtputf8: source.envelope.smtputf8,
      forRecipient: source.envelope.forRecipient,
      message: () => inbound.bodyStream(),
      size: inbound.size,
    }).then((trace) => {
      // Cut off by limits.verify_timeout: nothing is known yet; the client should retry.
      if (trace.authentication?.timedOut === true) throw new VerificationTimeout();
      return trace;
    });
    return this.trace;
  }

  /**
   * Files the message into each target account's Junk mailbox instead of the target mailboxes
   * (DMARC p=quarantine, RFC 7489 §6.3); a target whose mailbox is gone is dropped.
   */
  async quarantine(): Promise<void> {
    this.checkOpen();
    const moved = await junkTargets(this.env.store, this.targets);
    this.targets.splice(0, this.targets.length, ...moved);
  }

  // ---- end ----

  /**
   * Stores the message for every target (and queues it for the remote recipients) in one
   * commit, resolving once that commit is on disk with one outcome per target and recipient.
   */
  async commit(opts: CommitOptions = {}): Promise<DeliveryResult> {
    const { order } = opts;
    try {
      this.checkOpen();
      this.state = 'committing';
      const result = this.inbound !== null ? await this.commitSmtp() : await this.commitBlob(opts);
      if (result.remote.length > 0) this.env.onQueued?.();
      await this.warnQuota(result.targets);
      return result;
    } finally {
      order?.release();
      this.state = 'done';
      await this.cleanUp();
    }
  }

  /** After a commit on disk: the quota warnings of the accounts it stored into (never throws). */
  private async warnQuota(outcomes: readonly AppendOutcome[]): Promise<void> {
    const settings = this.env.quotaWarnings;
    if (settings === undefined || settings.thresholds.length === 0) return;
    await warnQuotaAfter(this.env, settings, storedAccounts(outcomes));
  }

  /** Discards the delivery: temp file or spool removed, reservation released, at once. */
  async abort(): Promise<void> {
    if (this.state === 'committing') return; // commit() cleans up itself
    this.state = 'done';
    await this.cleanUp();
  }

  /** Releases the reservation and removes what no commit took (a no-op for what one did). */
  private async cleanUp(): Promise<void> {
    this.reservation?.release();
    this.reservation = null;
    const writer = this.writer;
    this.writer = null;
    if (writer !== null) await writer.abort();
    const read = this.finishedWriter;
    this.finishedWriter = null;
    if (read !== null) await read.discard().catch(() => undefined);
    if (this.inbound !== null) await this.inbound.abort();
  }

  private async commitSmtp(): Promise<DeliveryResult> {
    const inbound = this.inbound!;
    const source = this.source as Extract<DeliverySource, { kind: 'smtp' }>;
    // Refusals that need no verification come first, as the spool would refuse them anyway.
    if (inbound.exceededSize) throw tooLargeError(this.env.limits.messageSize);
    if (inbound.headerSection().tooLarge) {
      throw new StoreError(
        'TOO_LARGE',
        `the header section exceeds the limit of ${this.env.limits.messageHeaderSize} bytes`,
      );
    }
    const trace = await this.authenticate();
    const envelope = source.envelope;
    const outbound: OutboundEnvelope | null =
      this.remote.length === 0
        ? null
        : {
            mailFrom: envelope.mailFrom,
            recipients: [...this.remote],
            envid: envelope.envid,
            ret: envelope.ret,
            body: envelope.body,
            smtputf8: envelope.smtputf8,
            ...(envelope.requireTls === true ? { requireTls: true } : {}),
            accountId: envelope.accountId,
          };
    const targets = await inbound.commit({ prefix: trace.prefix, local: [...this.targets], outbound });
    return {
      targets,
      remote: this.remote.map((r) => ({ address: r.address, queued: true })),
      blob: inbound.committedBlob,
    };
  }

  private async commitBlob(opts: CommitOptions): Promise<DeliveryResult> {
    const report = this.source.kind === 'report' ? this.source : null;
    if (this.targets.length === 0 && (report === null || this.remote.length === 0)) {
      throw new StoreError('INVALID_ARGUMENT', 'a delivery needs at least one target mailbox');
    }
    const outbound: OutboundEnvelope | undefined =
      report === null || this.remote.length === 0
        ? undefined
        : {
            mailFrom: '',
            recipients: [...this.remote],
            envid: null,
            ret: null,
            body: report.body,
            smtputf8: report.smtputf8,
            ...(report.requireTls === true ? { requireTls: true } : {}),
            accountId: null,
          };
    const writer = this.writer ?? this.env.blobs.createWriter(messageBlobOptions(this.env.limits));
    this.writer = null;
    const append = this.source.kind === 'append';
    // Unfinished: its temp file goes; finished: its file goes unless another delivery reused it.
    const discard = (): Promise<void> => writer.discard().catch(() => undefined);
    let blob: StoredBlob;
    try {
      // Checked before the blob is finished, so a refused APPEND never reaches blobs/; a streamed
      // body's reservation (reserve()) was that check already, with the account's other streams.
      if (append && (this.reservation === null || this.reservedBytes < writer.size)) {
        const refused = await this.quotaRefusal(writer.size);
        if (refused !== null) {
          await discard();
          return {
            targets: this.targets.map((t) => ({ ok: false, mailboxId: t.mailboxId, error: refused })),
            remote: [],
            blob: null,
          };
        }
      }
      blob = await writer.finish();
    } catch (err) {
      await (append ? discard() : writer.abort());
      throw err;
    }
    // A rejected append() is left alone: its commit may have landed with only the fsync
    // failing, and then rows name the blob (garbage collection removes it if not).
    if (opts.order !== undefined) await opts.order.turn();
    const committed = this.env.store.append({
      blob,
      targets: [...this.targets],
      allOrNothing: opts.allOrNothing === true,
      ...(outbound !== undefined ? { outbound } : {}),
      ...(this.source.kind === 'notice' ? { ignoreQuota: true } : {}),
    });
    opts.order?.release(); // the append is queued: later tickets may queue theirs behind it
    const targets = await committed;
    // Refused inside the commit (quota raced another delivery, mailbox deleted): nothing names it.
    if (append && targets.every((o) => !o.ok)) await discard();
    const stored = targets.some((o) => o.ok) || outbound !== undefined;
    return {
      targets,
      remote: this.remote.map((r) => ({ address: r.address, queued: true })),
      blob: stored ? { blobId: blob.blobId, size: blob.size } : null,
    };
  }

  /** APPEND: OVER_QUOTA when the account has no room for `size` more bytes in `messages` more, else null. */
  private async quotaRefusal(size: number, messages = 1): Promise<StoreError | null> {
    if (this.source.kind !== 'append') return null;
    const account = await this.env.store.getAccountById(this.source.accountId);
    if (account !== null && accountExceedsQuota(account, size, messages)) return overQuotaError();
    return null;
  }

  /**
   * CATENATE (RFC 4469): the body written so far, finished as a blob to be read back into
   * another delivery. The delivery can then only be aborted, which discards that blob at once
   * (unless another delivery reused its file).
   */
  async finishForReading(): Promise<StoredBlob> {
    this.checkOpen();
    if (this.source.kind !== 'append') throw new StoreError('INVALID_ARGUMENT', 'not an APPEND delivery');
    this.state = 'done';
    const writer = this.writer ?? this.env.blobs.createWriter(messageBlobOptions(this.env.limits));
    this.writer = null;
    this.finishedWriter = writer;
    return writer.finish();
  }

  /**
   * RFC 3502 MULTIAPPEND: commits APPEND deliveries (each with one target, all of one account)
   * in one store transaction, all or none: one refusal (quota for the sum of them, a mailbox
   * gone) refuses every one and leaves nothing stored. Returns one outcome per delivery.
   */
  static async commitAll(
    deliveries: readonly Delivery[],
    opts: { order?: CommitTicket } = {},
  ): Promise<AppendOutcome[]> {
    const { order } = opts;
    const finished: BlobWriter[] = [];
    const discardAll = (): Promise<unknown> =>
      Promise.all(finished.map((w) => w.discard().catch(() => undefined)));
    let appending = false;
    try {
      const first = deliveries[0];
      if (first === undefined) throw new StoreError('INVALID_ARGUMENT', 'nothing to commit');
      for (const d of deliveries) {
        d.checkOpen();
        if (d.source.kind !== 'append' || d.targets.length !== 1)
          throw new StoreError('INVALID_ARGUMENT', 'commitAll takes APPEND deliveries with one target each');
      }
      for (const d of deliveries) d.state = 'committing';
      const refuseAll = (error: StoreError): AppendOutcome[] =>
        deliveries.map((d) => ({ ok: false, mailboxId: d.targets[0]!.mailboxId, error }));
      // Checked for the whole batch before any blob is finished (RFC 9208 §4.3).
      const total = deliveries.reduce((n, d) => n + d.size, 0);
      const refused = await first.quotaRefusal(total, deliveries.length);
      if (refused !== null) return refuseAll(refused);
      const requests: AppendRequest[] = [];
      for (const d of deliveries) {
        const writer = d.writer ?? d.env.blobs.createWriter(messageBlobOptions(d.env.limits));
        d.writer = null;
        finished.push(writer);
        requests.push({ blob: await writer.finish(), targets: [...d.targets] });
      }
      if (order !== undefined) await order.turn();
      appending = true;
      const committed = first.env.store.appendAll(requests);
      order?.release();
      const outcomes = (await committed).map((o) => o[0]!);
      // Refused inside the commit: nothing names the blobs.
      if (outcomes.every((o) => !o.ok)) await discardAll();
      const settings = first.env.quotaWarnings;
      if (settings !== undefined) await warnQuotaAfter(first.env, settings, storedAccounts(outcomes));
      return outcomes;
    } catch (err) {
      // Before the store was asked, nothing names the finished blobs; a rejected appendAll() may
      // have landed with only its fsync failing, so its blobs are left to GC (as commitBlob).
      if (!appending) await discardAll();
      throw err;
    } finally {
      order?.release();
      for (const d of deliveries) {
        d.state = 'done';
        await d.cleanUp();
      }
    }
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new StoreError('INVALID_ARGUMENT', 'the delivery is closed');
  }
}

/**
 * Whether an account has room for `bytes` more with the streams it already has in flight
 * (RFC 9208 §4.3): rejects with OVER_QUOTA when it has not. Holds nothing.
 */
export async function checkQuotaRoom(store: MailStore, accountId: number, bytes: number): Promise<void> {
  (await store.reserveQuota(accountId, bytes)).release();
}

/**
 * The quota warnings due after a commit into these accounts (those of the targets it stored
 * into, with their figures after it, or an IMAP COPY's target account). Never rejects.
 */
export async function warnQuotaAfter(
  env: DeliveryEnv,
  settings: QuotaWarningSettings,
  accounts: ReadonlyArray<AccountAfterCommit>,
): Promise<void> {
  if (settings.thresholds.length === 0) return;
  const { quotaWarnings: _ignored, ...plain } = env;
  await warnQuotaCrossings(plain, settings, accounts);
}

/** The accounts a commit stored into, with their figures: from its successful outcomes. */
function storedAccounts(outcomes: readonly AppendOutcome[]): AccountAfterCommit[] {
  const out: AccountAfterCommit[] = [];
  for (const o of outcomes) if (o.ok) out.push({ accountId: o.accountId, usage: o.usage });
  return out;
}

/** The SMTP message's verification was cut off by limits.verify_timeout: refuse it for now. */
export class VerificationTimeout extends Error {
  constructor() {
    super('message verification timed out');
    this.name = 'VerificationTimeout';
  }
}

function tooLargeError(limit: number): StoreError {
  return new StoreError('TOO_LARGE', `the message exceeds the size limit of ${limit} bytes`);
}
