// When a queued recipient is tried again, when its message expires, and when a "delayed"
// notice is due: pure functions of the [outbound] settings, the message's queue time, the
// attempts made and the current time (random numbers are passed in, so tests are exact).
// Invariants:
// - a retry is never scheduled after the message's expiry: the last wait is cut to end at it,
//   so the final attempt happens when the lifetime ends (RFC 5321 §4.5.4.1 asks senders to give
//   up after 4-5 days; Postfix's maximal_queue_lifetime is 5 days);
// - waits grow geometrically from retryFirst by retryFactor, never above retryMax, and jitter
//   moves each by at most retryJitter of it (never below one second);
// - an attempt at or after the expiry is `expired`: the recipient fails with a bounce.

import type { OutboundSettings } from '../config/types.js';

/** The settings the schedule reads (durations in seconds). */
export type RetrySchedule = Pick<
  OutboundSettings,
  'maxQueueLifetime' | 'delayWarning' | 'retryFirst' | 'retryFactor' | 'retryMax' | 'retryJitter'
>;

/** A number in [0, 1): Math.random, or a fixed value in tests. */
export type RandomSource = () => number;

const SECOND = 1000;

/**
 * The wait after the attempt numbered `attempts` (1 = after the first attempt) failed
 * temporarily, in milliseconds, before expiry is taken into account.
 */
export function retryDelayMs(
  schedule: RetrySchedule,
  attempts: number,
  random: RandomSource = Math.random,
): number {
  if (!Number.isSafeInteger(attempts) || attempts < 1)
    throw new RangeError('attempts must be an integer >= 1');
  // Grows until the cap; the loop is bounded because the factor is at least 1 and we stop at the cap.
  let base = schedule.retryFirst;
  for (let i = 1; i < attempts && base < schedule.retryMax; i++) {
    if (schedule.retryFactor <= 1) break;
    base *= schedule.retryFactor;
  }
  base = Math.min(base, schedule.retryMax);
  const r = Math.min(Math.max(random(), 0), 1);
  // Symmetric jitter: base * (1 ± retryJitter).
  const jittered = base * (1 + schedule.retryJitter * (2 * r - 1));
  return Math.max(SECOND, Math.round(jittered * SECOND));
}

/** When the message queued at `queuedAt` expires. */
export function expiresAt(schedule: RetrySchedule, queuedAt: Date): Date {
  return new Date(queuedAt.getTime() + schedule.maxQueueLifetime * SECOND);
}

export type RetryDecision =
  | { kind: 'retry'; at: Date }
  /** The lifetime is over: bounce (RFC 3464 Action: failed, Status 4.4.7). */
  | { kind: 'expired' };

/**
 * What follows a temporary failure at `now`, after `attempts` attempts in all (this one
 * included), for a message queued at `queuedAt`.
 */
export function afterTemporaryFailure(
  schedule: RetrySchedule,
  input: { queuedAt: Date; attempts: number; now: Date },
  random: RandomSource = Math.random,
): RetryDecision {
  const expiry = expiresAt(schedule, input.queuedAt).getTime();
  const now = input.now.getTime();
  if (now >= expiry) return { kind: 'expired' };
  const at = Math.min(now + retryDelayMs(schedule, input.attempts, random), expiry);
  return { kind: 'retry', at: new Date(at) };
}

/** True when the message's lifetime is over at `now` (an attempt due then is the last). */
export function isExpired(schedule: RetrySchedule, queuedAt: Date, now: Date): boolean {
  return now.getTime() >= expiresAt(schedule, queuedAt).getTime();
}

/** When the "delayed" notice of a message queued at `queuedAt` is due, or null when never. */
export function delayWarningAt(schedule: RetrySchedule, queuedAt: Date): Date | null {
  if (schedule.delayWarning <= 0 || schedule.delayWarning >= schedule.maxQueueLifetime) return null;
  return new Date(queuedAt.getTime() + schedule.delayWarning * SECOND);
}

/**
 * Whether a recipient still waiting at `now` should get its "delayed" notice now: the warning
 * age is reached, none was sent yet, and the recipient asked for it (RFC 3461 §4.1: NOTIFY
 * containing DELAY; without NOTIFY the sender's MTA decides, and we send none, as Postfix).
 */
export function delayWarningDue(
  schedule: RetrySchedule,
  input: { queuedAt: Date; now: Date; warnedAt: Date | null; notify: readonly string[] | null },
): boolean {
  if (input.warnedAt !== null) return false;
  if (input.notify === null || !input.notify.includes('DELAY')) return false;
  const at = delayWarningAt(schedule, input.queuedAt);
  return at !== null && input.now.getTime() >= at.getTime();
}
