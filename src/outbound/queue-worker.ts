// The outbound queue worker: claims due recipients with a lease, groups them by message and
// destination domain, sends each group (domain-attempt.ts) within the concurrency limits, and
// records every outcome, with the DSNs they call for (bouncer.ts). One per serving process;
// several processes (cluster workers, nodes) share the queue through the leases. Invariants:
// - a recipient is sent only while this worker holds its lease; leases are renewed while a
//   group waits or is being sent, and released on stop();
// - at most `concurrency` groups are sent at once, and `concurrencyPerDomain` to one domain;
// - every claimed recipient gets one recorded outcome: delivered, failed, or deferred until the
//   schedule's next time (failed as expired once max_queue_lifetime is over);
// - a DSN is owed in the same transaction as the outcomes it reports (outbound_dsn_owed, with
//   its own reference on the original's blob), only for outcomes that were recorded (a lost
//   lease means another worker owns them); it is sent right after, and an owed DSN left by a
//   crash, or deferred because the sender's mailbox was full, is sent by the next flush;
// - the worker wakes when a message is queued in this process (notify()), when a group ends,
//   and by a timer at the next due time (at most pollMs away, for other processes' queueing);
// - an error in one group defers that group; the loop itself never stops before stop().

import os from 'node:os';
import type { PosternConfig } from '../config/types.js';
import type { Logger } from '../core/log.js';
import type { BlobStore } from '../store/blob/types.js';
import type { LocalFailureReport, MailStore, OwedDsn, QueueClaim, QueuedRecipient } from '../store/types.js';
import { BounceLimiter } from './bounce-limiter.js';
import { Bouncer, type BounceResult } from './bouncer.js';
import { ConnectionCache } from './connection-cache.js';
import {
  attemptDomain,
  type DomainAttemptEnv,
  type MessageSigner,
  type TransportHooks,
  type RecipientResult,
} from './domain-attempt.js';
import { notifyWants, type DsnRecipient } from './dsn.js';
import { attemptOutcomes } from './attempt-outcomes.js';
import { owedDsnParts, readOwedDsn, type OwedDsnHead } from './owed-dsn.js';
import { afterTemporaryFailure } from './schedule.js';
import type { RouteResolver } from './route.js';
import type { RandomSource } from './schedule.js';
import type { SmtpClientOpenOptions } from './smtp-client.js';

export type { MessageSigner } from './domain-attempt.js';

export interface QueueWorkerOptions {
  store: MailStore;
  blobs: BlobStore;
  config: Pick<PosternConfig, 'hostname' | 'outbound' | 'limits'>;
  resolver: RouteResolver;
  log: Logger;
  /** The lease owner: unique per process and node (default `<host name>:<pid>`). */
  owner?: string;
  /** How long a claim lasts before another process may take it; renewed meanwhile (default: [outbound] lease). */
  leaseMs?: number;
  /** Longest sleep between two looks at the queue (default 30 s). */
  pollMs?: number;
  /** DKIM signing hook: called once per message and attempt, before sending. */
  signer?: MessageSigner;
  /** DANE, MTA-STS and TLS-RPT (transport-hooks.ts); absent: opportunistic TLS only. */
  transport?: TransportHooks;
  /** Trust anchors for remote certificates (tests). */
  tlsCa?: string | Buffer | Array<string | Buffer>;
  /** SMTP client timeouts (tests). */
  clientTimeouts?: SmtpClientOpenOptions['timeouts'];
  random?: RandomSource;
}

interface Group {
  claim: QueueClaim;
  domain: string;
  recipients: QueuedRecipient[];
}

const DEFAULT_POLL_MS = 30_000;
/** Groups claimed ahead of what can be sent at once (so a slow domain does not idle the rest). */
const PENDING_FACTOR = 2;
/** Longest wait between two looks for owed DSNs (fewer when pollMs is shorter). */
const OWED_LOOK_MS = 5000;
/** Recipients asked for per claim, at most. */
const CLAIM_BATCH = 500;

export class QueueWorker {
  readonly owner: string;
  private readonly opts: QueueWorkerOptions;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly cache: ConnectionCache;
  private readonly bouncer: Bouncer;
  private readonly pending: Group[] = [];
  private readonly active = new Set<Promise<void>>();
  private readonly perDomain = new Map<string, number>();
  /** Recipient ids held (pending or being sent): what lease renewal extends. */
  private readonly held = new Set<number>();
  /** DKIM header lines per claimed message (one attempt of its groups); gone with the claim. */
  private readonly signatures = new WeakMap<QueueClaim, Promise<string>>();
  private running: Promise<void> | null = null;
  private owedRunning = false;
  private owedLookedAt = 0;
  private owedFlush: Promise<void> | null = null;
  private stopping = false;
  private wakeRequested = false;
  private wake: (() => void) | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;

  constructor(opts: QueueWorkerOptions) {
    this.opts = opts;
    this.owner = opts.owner ?? `${os.hostname()}:${process.pid}`;
    this.leaseMs = opts.leaseMs ?? opts.config.outbound.lease * 1000;
    this.pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    this.log = opts.log;
    const o = opts.config.outbound;
    this.cache = new ConnectionCache({
      maxIdle: o.connectionCacheSize,
      idleMs: o.connectionCacheIdle * 1000,
      reuseLimit: o.connectionReuseLimit,
    });
    this.bouncer = new Bouncer({
      store: opts.store,
      blobs: opts.blobs,
      limits: opts.config.limits,
      hostname: opts.config.hostname,
      limiter: new BounceLimiter({ perHour: o.bounceRateLimit }),
      log: opts.log,
      onQueued: () => this.notify(),
    });
  }

  start(): this {
    if (this.running !== null) return this;
    this.running = this.loop();
    this.renewTimer = setInterval(() => void this.renew(), Math.max(1000, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
    return this;
  }

  /** Something was queued (or a group ended): look at the queue now. */
  notify(): void {
    this.wakeRequested = true;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** DSNs for local recipients that lost an accepted message (commit-message.ts); never throws. */
  reportLocalFailures(report: LocalFailureReport): void {
    void (async () => {
      const original = await this.bouncer.readOriginal(report.blob.blobId, report.blob.size);
      const recipients: DsnRecipient[] = report.failures
        .filter((f) => notifyWants(f.notify, 'failed'))
        .map((f) => ({
          finalRecipient: f.address,
          orcpt: f.orcpt,
          action: 'failed',
          status: f.status,
          diagnostic: f.text,
          lastAttemptDate: report.arrivalDate,
        }));
      if (recipients.length === 0) return;
      await this.bouncer.send({
        envelopeSender: report.mailFrom,
        envid: report.envid,
        ret: report.ret,
        arrivalDate: report.arrivalDate,
        recipients,
        original,
        originalSize: report.blob.size,
      });
    })().catch((err: unknown) => this.log.error({ err }, 'DSN for local recipients failed'));
  }

  /** Stops claiming, lets the groups being sent finish, closes cached connections, releases leases. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.notify();
    if (this.renewTimer !== null) clearInterval(this.renewTimer);
    this.renewTimer = null;
    await this.running;
    await Promise.all([...this.active]);
    await this.owedFlush;
    await this.cache.closeAll();
    this.pending.length = 0;
    this.held.clear();
    await this.opts.store.releaseOutboundClaims(this.owner).catch((err: unknown) => {
      this.log.warn({ err }, 'releasing outbound claims failed');
    });
  }

  // ---- the loop ----

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.wakeRequested = false;
      let waitMs = this.pollMs;
      try {
        waitMs = await this.fill();
      } catch (err) {
        this.log.error({ err }, 'outbound queue: claim failed');
        waitMs = Math.min(this.pollMs, 1000);
      }
      if (this.stopping) break;
      await this.sleep(waitMs);
    }
  }

  /** Claims and starts what the limits allow; returns how long to sleep at most. */
  private async fill(): Promise<number> {
    const { concurrency } = this.opts.config.outbound;
    // Owed DSNs (left by a crash, or deferred) go out beside the groups, one flush at a time,
    // looked for at most every few seconds (not at every group's end: a claim is a write).
    const now = Date.now();
    if (!this.owedRunning && now - this.owedLookedAt >= Math.min(this.pollMs, OWED_LOOK_MS)) {
      this.owedLookedAt = now;
      this.owedFlush = this.flushOwed();
    }
    this.dispatch();
    let exhausted = false;
    const { concurrencyPerDomain } = this.opts.config.outbound;
    while (!this.stopping && this.pending.length < concurrency * PENDING_FACTOR) {
      const max = Math.min(CLAIM_BATCH, (concurrency * PENDING_FACTOR - this.pending.length) * 10);
      // Only what can run soon is held: a domain with concurrency_per_domain groups waiting
      // is skipped by the claim, and groups past that are released at once, so a busy domain
      // cannot fill the pending list while other domains wait.
      const waiting = new Map<string, number>();
      for (const g of this.pending) waiting.set(g.domain, (waiting.get(g.domain) ?? 0) + 1);
      const full = (domain: string): boolean => (waiting.get(domain) ?? 0) >= concurrencyPerDomain;
      const claims = await this.opts.store.claimOutbound({
        owner: this.owner,
        leaseMs: this.leaseMs,
        maxRecipients: max,
        skipDomains: [...waiting.keys()].filter(full),
      });
      let count = 0;
      const release: number[] = [];
      for (const claim of claims) {
        const byDomain = new Map<string, QueuedRecipient[]>();
        for (const r of claim.recipients) {
          count++;
          let list = byDomain.get(r.domain);
          if (list === undefined) byDomain.set(r.domain, (list = []));
          list.push(r);
        }
        for (const [domain, recipients] of byDomain) {
          if (full(domain)) {
            for (const r of recipients) release.push(r.id);
            continue;
          }
          waiting.set(domain, (waiting.get(domain) ?? 0) + 1);
          for (const r of recipients) this.held.add(r.id);
          this.pending.push({ claim, domain, recipients });
        }
      }
      if (release.length > 0) await this.opts.store.releaseOutboundRecipients(this.owner, release);
      this.dispatch();
      if (count < max) {
        exhausted = true;
        break;
      }
    }
    if (!exhausted) return this.pollMs; // full: a group ending wakes us
    const next = await this.opts.store.nextOutboundDue();
    if (next === null) return this.pollMs;
    return Math.min(this.pollMs, Math.max(50, next.getTime() - Date.now()));
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakeRequested || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Starts pending groups while the total and per-domain limits allow, in claim order. */
  private dispatch(): void {
    const { concurrency, concurrencyPerDomain } = this.opts.config.outbound;
    for (let i = 0; i < this.pending.length && this.active.size < concurrency;) {
      const g = this.pending[i]!;
      const busy = this.perDomain.get(g.domain) ?? 0;
      if (busy >= concurrencyPerDomain) {
        i++;
        continue;
      }
      this.pending.splice(i, 1);
      this.perDomain.set(g.domain, busy + 1);
      const run: Promise<void> = this.send(g)
        .catch((err: unknown) =>
          this.log.error({ err, messageId: g.claim.message.id }, 'outbound group failed'),
        )
        .finally(() => {
          this.active.delete(run);
          const n = (this.perDomain.get(g.domain) ?? 1) - 1;
          if (n <= 0) this.perDomain.delete(g.domain);
          else this.perDomain.set(g.domain, n);
          for (const r of g.recipients) this.held.delete(r.id);
          this.notify();
        });
      this.active.add(run);
    }
  }

  private async renew(): Promise<void> {
    if (this.held.size === 0 || this.stopping) return;
    try {
      await this.opts.store.renewOutboundClaim(this.owner, [...this.held], this.leaseMs);
    } catch (err) {
      this.log.warn({ err }, 'outbound queue: lease renewal failed');
    }
  }

  // ---- one group ----

  private attemptEnv(): DomainAttemptEnv {
    const { config } = this.opts;
    const o = config.outbound;
    const heloName = o.heloName ?? config.hostname;
    return {
      resolver: this.opts.resolver,
      ...(this.opts.transport !== undefined ? { transport: this.opts.transport } : {}),
      cache: this.cache,
      localHostnames: [...new Set([config.hostname.toLowerCase(), heloName.toLowerCase()])],
      port: o.port,
      heloName,
      requireTls: o.requireTls,
      ...(this.opts.tlsCa !== undefined ? { tlsCa: this.opts.tlsCa } : {}),
      ...(this.opts.clientTimeouts !== undefined ? { timeouts: this.opts.clientTimeouts } : {}),
      ...(this.opts.random !== undefined ? { random: this.opts.random } : {}),
      body: (blobId) => this.opts.blobs.read(blobId),
      mimeLimits: {
        mimeDepth: config.limits.mimeDepth,
        mimeParts: config.limits.mimeParts,
        headerSize: config.limits.headerSize,
      },
    };
  }

  private async send(g: Group): Promise<void> {
    const { message } = g.claim;
    const log = this.log.child({ queueMessage: message.id, domain: g.domain });
    let results: RecipientResult[];
    try {
      const prefix = await this.signature(g.claim);
      const { signer } = this.opts;
      results = await attemptDomain(this.attemptEnv(), {
        message,
        domain: g.domain,
        recipients: g.recipients,
        prefix,
        ...(signer !== undefined
          ? { sign: (body: () => AsyncIterable<Uint8Array>) => signer({ message, body }) }
          : {}),
      });
    } catch (err) {
      log.error({ err }, 'delivery attempt failed');
      results = g.recipients.map((recipient) => ({
        recipient,
        kind: 'deferred',
        reply: { code: 451, enhanced: '4.3.0', text: 'local error in processing' },
        remoteMta: null,
        relayed: false,
      }));
    }
    await this.record(g, results, log);
  }

  /** The signer's header lines for a claimed message: made once, shared by its domains' groups. */
  private signature(claim: QueueClaim): Promise<string> {
    const { signer } = this.opts;
    if (signer === undefined) return Promise.resolve('');
    let p = this.signatures.get(claim);
    if (p === undefined) {
      const { message } = claim;
      p = signer({ message, body: () => this.opts.blobs.read(message.blobId) });
      this.signatures.set(claim, p);
    }
    return p;
  }

  /** Turns results into recorded outcomes and the DSNs they call for. */
  private async record(g: Group, results: RecipientResult[], log: Logger): Promise<void> {
    const { message } = g.claim;
    const { outcomes, reports } = attemptOutcomes(results, {
      message,
      schedule: this.opts.config.outbound,
      now: new Date(),
      ...(this.opts.random !== undefined ? { random: this.opts.random } : {}),
    });
    // The DSN is owed in the transaction that records the outcomes (with a reference on the
    // original), so a crash before it is sent leaves it to be sent at the next start.
    const dsn =
      reports.size > 0 && this.mayReport(message.mailFrom)
        ? owedDsnParts(message, reports, this.leaseMs)
        : null;
    let recorded: Set<number>;
    let owed: OwedDsn | null;
    try {
      const result = await this.opts.store.recordOutboundAttempt({
        owner: this.owner,
        messageId: message.id,
        outcomes,
        ...(dsn !== null ? { dsn } : {}),
      });
      recorded = new Set(result.recorded);
      owed = result.owedDsn;
      if (result.lost.length > 0)
        log.warn({ lost: result.lost.length }, 'outcomes not recorded: claims lost');
    } catch (err) {
      log.error({ err }, 'recording the attempt failed');
      return;
    }
    for (const o of outcomes) {
      if (!recorded.has(o.recipientId)) continue;
      const res = results.find((x) => x.recipient.id === o.recipientId)!;
      log.info(
        {
          rcpt: res.recipient.address.slice(0, 320),
          outcome: o.kind,
          reply: `${res.reply.code} ${res.reply.enhanced ?? ''}`.trim(),
          mta: res.remoteMta,
          ...(o.kind === 'deferred' ? { until: o.until.toISOString() } : {}),
        },
        'outbound attempt',
      );
    }
    if (owed !== null) await this.sendOwed(owed);
  }

  /** Sends the owed DSNs that are due and unleased (a crashed process's, or deferred ones). */
  private async flushOwed(): Promise<void> {
    if (this.owedRunning || this.stopping) return;
    this.owedRunning = true;
    try {
      for (;;) {
        const owed = await this.opts.store.claimOwedDsns({
          owner: this.owner,
          leaseMs: this.leaseMs,
          max: 20,
        });
        for (const o of owed) {
          if (this.stopping) return;
          await this.sendOwed(o);
        }
        if (owed.length < 20) return;
      }
    } catch (err) {
      this.log.error({ err }, 'outbound queue: owed DSNs failed');
    } finally {
      this.owedRunning = false;
    }
  }

  /**
   * Sends one owed DSN; it is kept (deferred on the retry schedule) while it cannot be stored,
   * as when a local sender's mailbox is over quota, and given up with a log line once
   * max_queue_lifetime has passed: never dropped silently.
   */
  private async sendOwed(owed: OwedDsn): Promise<void> {
    const log = this.log.child({ owedDsn: owed.id });
    let result: BounceResult = 'error';
    let head: OwedDsnHead | null = null;
    try {
      const read = readOwedDsn(owed);
      head = read.head;
      const original = await this.bouncer.readOriginal(owed.blobId, owed.size);
      result = await this.bouncer.send({
        envelopeSender: head.envelopeSender,
        envid: head.envid,
        ret: head.ret,
        arrivalDate: head.arrivalDate,
        recipients: read.recipients,
        original,
        originalSize: owed.size,
        requireTls: head.requireTls,
      });
    } catch (err) {
      log.error({ err }, 'DSN failed');
    }
    try {
      if (result !== 'error') {
        await this.opts.store.finishOwedDsn(owed.id);
        return;
      }
      const now = new Date();
      const next = afterTemporaryFailure(
        this.opts.config.outbound,
        { queuedAt: owed.createdAt, attempts: owed.attempts + 1, now },
        this.opts.random,
      );
      if (next.kind === 'expired') {
        log.error(
          { to: head?.envelopeSender.slice(0, 320) ?? null, attempts: owed.attempts + 1 },
          'DSN given up: it could not be delivered before max_queue_lifetime',
        );
        await this.opts.store.finishOwedDsn(owed.id);
        return;
      }
      log.warn(
        { to: head?.envelopeSender.slice(0, 320) ?? null, until: next.at.toISOString() },
        'DSN not delivered: kept and retried',
      );
      await this.opts.store.deferOwedDsn(owed.id, next.at);
    } catch (err) {
      log.error({ err }, 'recording an owed DSN failed');
    }
  }

  private mayReport(mailFrom: string): boolean {
    return mailFrom !== '';
  }
}
