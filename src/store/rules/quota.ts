// Account quota: `quotaBytes` bounds the sum of the sizes of every message of the account
// (0: unlimited). Backends check it inside the committing transaction; reservations hold room
// for messages still arriving (streamed APPEND literals), per process.

import { StoreError } from '../../core/errors.js';
import type { QuotaReservation } from '../types.js';

/** Whether adding `extraBytes` to `usedBytes` goes over `quotaBytes`. */
export function exceedsQuota(quotaBytes: number, usedBytes: number, extraBytes: number): boolean {
  return quotaBytes > 0 && usedBytes + extraBytes > quotaBytes;
}

/**
 * Whether `bytes` in `messages` more messages go over either of the account's quotas (storage,
 * RFC 9208 §5.1; message count, §5.2). SMTP (RCPT, the commit) and IMAP use this one rule.
 */
export function accountExceedsQuota(
  account: { quotaBytes: number; usedBytes: number; quotaMessages: number; usedMessages: number },
  bytes: number,
  messages: number,
): boolean {
  return (
    exceedsQuota(account.quotaBytes, account.usedBytes, bytes) ||
    (messages > 0 && exceedsQuota(account.quotaMessages, account.usedMessages, messages))
  );
}

export function overQuotaError(): StoreError {
  return new StoreError('OVER_QUOTA', 'the mailbox is over its quota');
}

/** Bytes held by reserveQuota() in this process, by account. */
export class QuotaReservations {
  private readonly held = new Map<number, number>();

  /**
   * Holds `bytes` for the account whose stored quota and usage are given; OVER_QUOTA when the
   * usage plus every reservation plus `bytes` exceed the quota.
   */
  reserve(
    accountId: number,
    bytes: number,
    account: { quotaBytes: number; usedBytes: number },
  ): QuotaReservation {
    const held = this.held.get(accountId) ?? 0;
    if (exceedsQuota(account.quotaBytes, account.usedBytes + held, bytes)) throw overQuotaError();
    this.held.set(accountId, held + bytes);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.held.get(accountId) ?? 0) - bytes;
        if (left > 0) this.held.set(accountId, left);
        else this.held.delete(accountId);
      },
    };
  }
}
