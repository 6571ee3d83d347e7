// The verify pool of a process: worker threads (src/workers/verify-worker.ts) that run SPF,
// DKIM, DMARC and ARC (mailauth) off the event loop, with the limits that bound each message:
// limits.verify_threads, limits.verify_timeout and limits.dkim_signatures. One per process,
// shared by the SMTP listeners (src/protocols/smtp/handler.ts); evaluateAuthentication
// (trace-headers.ts) sends it work.

import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/log.js';
import { WorkerPool } from '../workers/pool.js';

const VERIFY_WORKER = new URL('../workers/verify-worker.js', import.meta.url);

export interface MessageVerifierOptions {
  /** verifyThreads, verifyTimeout (seconds) and dkimSignatures are used. */
  limits: Pick<Limits, 'verifyThreads' | 'verifyTimeout' | 'dkimSignatures'>;
  /** Worker output (mailauth's console lines) and cut-off tasks are logged here. */
  log?: Logger;
  /** A budget in milliseconds instead of limits.verifyTimeout (tests). */
  budgetMs?: number;
}

export class MessageVerifier {
  readonly pool: WorkerPool;
  readonly maxDkimSignatures: number;

  constructor(opts: MessageVerifierOptions) {
    this.maxDkimSignatures = opts.limits.dkimSignatures;
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
