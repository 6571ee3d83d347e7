// What an attempt's results mean for the queue and for the sender: a pure function from the
// per-recipient results of one attempt (domain-attempt.ts), the schedule and the time, to the
// outcomes to record and the DSN blocks they call for. Rules:
// - delivered: recorded; a "relayed" notice when NOTIFY=SUCCESS reached a server without DSN
//   (RFC 3461 §6.2); "delivered" notices never come from us for remote recipients;
// - failed (5xx, permanent routing failure): recorded; a "failed" notice when NOTIFY wants one
//   (by default it does, RFC 3461 §4.1);
// - deferred: due again when the schedule says, or failed as expired (5.4.7) once the message's
//   lifetime is over; a "delayed" notice once, when delayWarningDue says (NOTIFY=DELAY only).

import type { QueuedMessageHead, RecipientOutcome } from '../store/types.js';
import type { RecipientResult } from './domain-attempt.js';
import { notifyWants, type DsnRecipient } from './dsn.js';
import {
  afterTemporaryFailure,
  delayWarningDue,
  expiresAt,
  type RandomSource,
  type RetrySchedule,
} from './schedule.js';

export interface AttemptOutcomes {
  /** One per result, in order: what recordOutboundAttempt takes. */
  outcomes: RecipientOutcome[];
  /** The DSN block due for a recipient id, sent only once its outcome is recorded. */
  reports: Map<number, DsnRecipient>;
}

/** The reply's enhanced status when its class fits, else `<class>.0.0`. */
function statusOf(reply: { enhanced: string | null }, cls: '4' | '5'): string {
  return reply.enhanced !== null && reply.enhanced.startsWith(`${cls}.`) ? reply.enhanced : `${cls}.0.0`;
}

export function attemptOutcomes(
  results: readonly RecipientResult[],
  ctx: { message: QueuedMessageHead; schedule: RetrySchedule; now: Date; random?: RandomSource },
): AttemptOutcomes {
  const { message, schedule, now } = ctx;
  const outcomes: RecipientOutcome[] = [];
  const reports = new Map<number, DsnRecipient>();
  for (const res of results) {
    const r = res.recipient;
    const base = {
      recipientId: r.id,
      reply: res.reply,
      ...(res.remoteMta !== null ? { remoteMta: res.remoteMta } : {}),
    };
    const diagnostic = `${res.reply.code} ${res.reply.enhanced ?? ''} ${res.reply.text}`.replace(/ +/g, ' ');
    const dsn = (action: DsnRecipient['action'], status: string): DsnRecipient => ({
      finalRecipient: r.address,
      orcpt: r.orcpt,
      action,
      status,
      remoteMta: res.remoteMta,
      diagnostic,
      lastAttemptDate: now,
    });
    if (res.kind === 'delivered') {
      outcomes.push({ ...base, kind: 'delivered' });
      if (res.relayed) reports.set(r.id, dsn('relayed', '2.0.0'));
      continue;
    }
    if (res.kind === 'failed') {
      outcomes.push({ ...base, kind: 'failed' });
      if (notifyWants(r.notify, 'failed')) reports.set(r.id, dsn('failed', statusOf(res.reply, '5')));
      continue;
    }
    const next = afterTemporaryFailure(
      schedule,
      { queuedAt: message.queuedAt, attempts: r.attempts + 1, now },
      ctx.random,
    );
    if (next.kind === 'expired') {
      outcomes.push({ ...base, kind: 'failed' });
      if (notifyWants(r.notify, 'failed')) {
        // RFC 3463 X.4.7 "delivery time expired"; class 5: we give up (RFC 3464 Action: failed).
        reports.set(r.id, { ...dsn('failed', '5.4.7'), diagnostic: `${diagnostic} (delivery time expired)` });
      }
      continue;
    }
    const warn = delayWarningDue(schedule, {
      queuedAt: message.queuedAt,
      now,
      warnedAt: r.delayWarnedAt,
      notify: r.notify,
    });
    outcomes.push({ ...base, kind: 'deferred', until: next.at, ...(warn ? { delayWarned: true } : {}) });
    if (warn) {
      reports.set(r.id, {
        ...dsn('delayed', statusOf(res.reply, '4')),
        willRetryUntil: expiresAt(schedule, message.queuedAt),
      });
    }
  }
  return { outcomes, reports };
}
