// Quota warnings (issue 14, "no surprise mailbox full"): when a commit takes an account to or
// past a threshold (a percentage of its storage or message-count quota, RFC 9208 §5.1/§5.2,
// whichever is fuller) it had not reached before, the user gets one warning message. The store
// keeps, per account, the highest threshold already warned about (accounts.quota_warned_level);
// a warning is sent only by the caller that raised it with a conditional UPDATE, so racing
// deliveries in several processes send it once. When usage falls, the level is lowered inside
// the same transaction, keeping every threshold t with usage >= t - QUOTA_WARNING_HYSTERESIS:
// a mailbox hovering around 90 % (one message in, one out) does not get a warning each time,
// but one emptied to below 85 % is warned again at the next crossing of 90 %.

import { StoreError } from '../../core/errors.js';

/** Percentage points below a threshold that usage must fall to before that threshold warns again. */
export const QUOTA_WARNING_HYSTERESIS = 5;

/** What quota figures a warning is computed from (the Account fields). */
export interface QuotaUsage {
  quotaBytes: number;
  usedBytes: number;
  quotaMessages: number;
  usedMessages: number;
}

/** An account's figures as a commit left them, with the threshold it was last warned of (0: none). */
export interface AccountUsage extends QuotaUsage {
  warnedLevel: number;
}

/**
 * Whether these figures reach a threshold the account has not been warned of: only then is a
 * claim (claimQuotaWarning) worth its write. `thresholds` ascending (checkQuotaThresholds).
 */
export function warningDue(usage: AccountUsage, thresholds: readonly number[]): boolean {
  const reached = reachedThreshold(usage, thresholds);
  return reached !== 0 && reached > usage.warnedLevel;
}

/** A threshold claimed by claimQuotaWarning(): this caller, and no other, sends its warning. */
export interface QuotaWarningClaim {
  accountId: number;
  address: string;
  /** The threshold reached, in percent. */
  threshold: number;
  /** The account's figures just after the commit that crossed it. */
  usage: QuotaUsage;
}

/** How full the account is, in percent of whichever quota is fuller (0 when neither is set). */
export function quotaPercent(u: QuotaUsage): number {
  const bytes = u.quotaBytes > 0 ? (u.usedBytes * 100) / u.quotaBytes : 0;
  const messages = u.quotaMessages > 0 ? (u.usedMessages * 100) / u.quotaMessages : 0;
  return Math.max(bytes, messages);
}

/** The highest threshold `usage` has reached, or 0 (thresholds ascending or not). */
export function reachedThreshold(usage: QuotaUsage, thresholds: readonly number[]): number {
  const percent = quotaPercent(usage);
  let reached = 0;
  for (const t of thresholds) if (percent >= t && t > reached) reached = t;
  return reached;
}

/**
 * Thresholds from the configuration: whole percentages from 1 to 100, each once; returned
 * ascending. INVALID_ARGUMENT otherwise. (Above 100 could be crossed by the warning itself.)
 */
export function checkQuotaThresholds(thresholds: readonly unknown[]): number[] {
  const out = new Set<number>();
  for (const t of thresholds) {
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 100)
      throw new StoreError(
        'INVALID_ARGUMENT',
        `quota warning thresholds are whole percentages 1-100, got ${String(t)}`,
      );
    out.add(t);
  }
  return [...out].sort((a, b) => a - b);
}

/** The usage line of a warning and of the IMAP ALERT: "92% full: 9.2 MB of 10 MB, 40 of 1000 messages". */
export function describeQuotaUsage(u: QuotaUsage): string {
  const parts: string[] = [];
  if (u.quotaBytes > 0) parts.push(`${formatBytes(u.usedBytes)} of ${formatBytes(u.quotaBytes)}`);
  if (u.quotaMessages > 0) parts.push(`${u.usedMessages} of ${u.quotaMessages} messages`);
  return `${Math.floor(quotaPercent(u))}% full: ${parts.join(', ')}`;
}

function formatBytes(n: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${n} bytes` : `${value.toFixed(1).replace(/\.0$/, '')} ${units[unit]}`;
}
