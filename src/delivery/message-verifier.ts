// The verify pool of a process: worker threads (src/workers/verify-worker.ts) that run SPF,
// DKIM, DMARC and ARC (mailauth) off the event loop, with the limits that bound each message:
// limits.verify_threads, limits.verify_timeout and limits.dkim_signatures. One per process,
// shared by the SMTP listeners (src/protocols/smtp/handler.ts); evaluateAuthentication
// (trace-headers.ts) sends it work.

import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/log.js';
import { WorkerPool } from '../workers/pool.js';
// Loaded with the process, before any listener exists: evaluating mailauth's modules takes from
// half a second to seconds of one synchronous stretch, which must not land while clients wait.
import { authenticateMessage } from './message-authentication.js';

const VERIFY_WORKER = new URL('../workers/verify-worker.js', import.meta.url);

export interface MessageVerifierOptions {
  /** verifyThreads, verifyTimeout (seconds) and dkimSignatures are used. */
  limits: Pick<Limits, 'verifyThreads' | 'verifyTimeout' | 'dkimSignatures'> &
    Partial<Pick<Limits, 'verifyInlineSize'>>;
  /** Worker output (mailauth's console lines) and cut-off tasks are logged here. */
  log?: Logger;
  /** A budget in milliseconds instead of limits.verifyTimeout (tests). */
  budgetMs?: number;
  /** Largest message verified on the event loop (default limits.verifyInlineSize; -1: none). */
  inlineBelow?: number;
}

export class MessageVerifier {
  readonly pool: WorkerPool;
  readonly maxDkimSignatures: number;
  /** Messages up to this size are verified on the event loop (see inline). */
  readonly inlineBelow: number;
  /** Verification on this thread, for messages up to inlineBelow bytes; null: everything goes to the pool. */
  readonly inline: typeof authenticateMessage | null;

  constructor(opts: MessageVerifierOptions) {
    this.maxDkimSignatures = opts.limits.dkimSignatures;
    this.inlineBelow = opts.inlineBelow ?? opts.limits.verifyInlineSize ?? -1;
    this.inline = this.inlineBelow > 0 ? authenticateMessage : null;
    this.pool = new WorkerPool({
      script: VERIFY_WORKER,
      size: opts.limits.verifyThreads,
      budgetMs: opts.budgetMs ?? opts.limits.verifyTimeout * 1000,
      log: opts.log?.child({ component: 'verify-pool' }),
    });
  }

  /**
   * Starts one thread now, in the background: loading mailauth takes a second or more on a busy
   * machine, and the first message should not pay it (nor a shutdown grace period wait for it).
   */
  prepare(): void {
    this.pool.warm(1).catch(() => undefined);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
