// Quota warnings after a commit (issue 14; the rule: src/store/rules/quota-warning.ts). Every
// path by which a message enters mailboxes (SMTP, local delivery and import, IMAP APPEND and
// COPY) calls warnQuotaCrossings() once its commit is on disk, with the accounts it added to.
// Invariants:
// - a warning is delivered only by the caller whose claimQuotaWarning() raised the account's
//   warned level (one conditional UPDATE), so it is sent once across processes and nodes;
// - the warning goes to the account's INBOX as a 'notice' delivery, which the store takes even
//   past the quota (AppendRequest.ignoreQuota): a full mailbox still gets the message saying so;
// - it never fails the commit that triggered it (that commit has landed): errors are logged;
// - it is itself no trigger: a notice delivery carries no QuotaWarningSettings.

import {
  checkQuotaThresholds,
  quotaPercent,
  warningDue,
  type AccountUsage,
} from '../store/rules/quota-warning.js';
import type { Logger } from '../core/log.js';
import { Delivery, type DeliveryEnv } from './delivery.js';
import { buildQuotaWarning } from './quota-warning-message.js';

/** An account a commit added to, with its figures after the commit when the store told them. */
export interface AccountAfterCommit {
  accountId: number;
  usage?: AccountUsage;
}

/** What sending quota warnings needs: store.quota_warnings and our host name. */
export interface QuotaWarningSettings {
  /** Thresholds in percent (store.quota_warnings); empty: no warnings. */
  thresholds: readonly number[];
  hostname: string;
  /** Where a failed warning is reported (the commit itself has succeeded). */
  log?: Pick<Logger, 'warn' | 'info'>;
}

/**
 * Claims and sends the warning of each account that reached a new threshold. Resolves with the
 * number of warnings delivered; never rejects.
 */
export async function warnQuotaCrossings(
  env: Omit<DeliveryEnv, 'quotaWarnings'>,
  settings: QuotaWarningSettings,
  accounts: ReadonlyArray<AccountAfterCommit>,
): Promise<number> {
  if (settings.thresholds.length === 0) return 0;
  // Per account, its fullest figures of this commit (the last of its appends).
  const byAccount = new Map<number, AccountUsage | undefined>();
  for (const a of accounts) {
    const known = byAccount.get(a.accountId);
    const fuller =
      known === undefined || (a.usage !== undefined && quotaPercent(a.usage) >= quotaPercent(known));
    byAccount.set(a.accountId, fuller ? a.usage : known);
  }
  const thresholds = checkQuotaThresholds(settings.thresholds);
  let sent = 0;
  for (const [accountId, usage] of byAccount) {
    // Figures from the commit that reach no new threshold: no claim, no read (every append).
    if (usage !== undefined && !warningDue(usage, thresholds)) continue;
    try {
      if (await warnAccount(env, settings, accountId)) sent++;
    } catch (err) {
      settings.log?.warn({ err, accountId }, 'quota warning not delivered');
    }
  }
  return sent;
}

async function warnAccount(
  env: Omit<DeliveryEnv, 'quotaWarnings'>,
  settings: QuotaWarningSettings,
  accountId: number,
): Promise<boolean> {
  const claim = await env.store.claimQuotaWarning(accountId, settings.thresholds);
  if (claim === null) return false;
  const inbox = await env.store.getMailbox(accountId, 'INBOX');
  if (inbox === null) return false;
  const delivery = Delivery.start(
    { store: env.store, blobs: env.blobs, limits: env.limits },
    { kind: 'notice' },
  );
  delivery.addTarget({ mailboxId: inbox.id });
  try {
    await delivery.writeAll(buildQuotaWarning({ claim, hostname: settings.hostname }));
  } catch (err) {
    await delivery.abort();
    throw err;
  }
  const result = await delivery.commit();
  const ok = result.targets.some((t) => t.ok);
  if (ok) settings.log?.info({ user: claim.address, threshold: claim.threshold }, 'quota warning delivered');
  return ok;
}
