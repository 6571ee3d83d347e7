// Quota warnings as IMAP sees them (issue 14): the settings APPEND and COPY hand to the delivery
// layer, and the `* OK [ALERT]` a login of a nearly full account gets. RFC 9051 §7.1: ALERT text
// "MUST be presented to the user", so it is sent once per login, before the tagged OK, and only
// from the lowest configured threshold up.

import type { PosternConfig } from '../../config/types.js';
import type { Logger } from '../../core/log.js';
import type { QuotaWarningSettings } from '../../delivery/quota-warning.js';
import { describeQuotaUsage, quotaPercent, type QuotaUsage } from '../../store/rules/quota-warning.js';

export function quotaWarningSettings(
  config: Pick<PosternConfig, 'store' | 'hostname'>,
  log: Logger,
): QuotaWarningSettings {
  return { thresholds: config.store.quotaWarnings, hostname: config.hostname, log };
}

/** The ALERT text for an account at or above the lowest threshold, else null. */
export function quotaAlertText(usage: QuotaUsage, thresholds: readonly number[]): string | null {
  if (thresholds.length === 0) return null;
  const lowest = Math.min(...thresholds);
  if (quotaPercent(usage) < lowest) return null;
  return `Your mailbox is ${describeQuotaUsage(usage)}. Delete messages to make room.`;
}
