// Sends delivery status notifications (RFC 3464) to a message's envelope sender through the one
// delivery path (src/delivery/delivery.ts, source 'report'): with the null reverse-path (RFC
// 5321 §4.5.5), into the INBOX of a local sender (as an alias resolves it), or queued for a
// remote one. Invariants:
// - never to the null sender (mayBounceTo), so reports cannot loop;
// - at most bounce_rate_limit reports per sender address and hour (BounceLimiter): the rest are
//   dropped and logged (backscatter);
// - the original is read bounded (dsnBytesToRead: the whole message only up to 1 MiB, else its
//   header section), streamed from the blob store: a 1 GB message costs 64 KiB here;
// - a failure to report is logged, never thrown at the queue (the outcome stays recorded).

import { domainToASCII } from 'node:url';
import type { Limits } from '../core/limits.js';
import type { Logger } from '../core/log.js';
import { Delivery } from '../delivery/delivery.js';
import type { BlobStore } from '../store/blob/types.js';
import type { AppendTarget, MailStore, OutboundRecipient } from '../store/types.js';
import type { BounceLimiter } from './bounce-limiter.js';
import { buildDsn, dsnBytesToRead, mayBounceTo, type DsnRecipient } from './dsn.js';

export interface BouncerOptions {
  store: MailStore;
  blobs: BlobStore;
  limits: Limits;
  /** Reporting-MTA and the From: domain of reports. */
  hostname: string;
  limiter: BounceLimiter;
  log: Logger;
  /** A report queued for a remote sender wakes the queue worker. */
  onQueued?: () => void;
}

export interface BounceInput {
  envelopeSender: string;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  arrivalDate: Date;
  recipients: DsnRecipient[];
  /** At least dsnBytesToRead(originalSize) bytes of the original (readOriginal). */
  original: Uint8Array;
  originalSize: number;
  /**
   * The original asked REQUIRETLS: the report, which may carry its content, is queued with
   * REQUIRETLS too (RFC 8689 §5), so it is never sent in clear either.
   */
  requireTls?: boolean;
}

export type BounceResult = 'sent' | 'null-sender' | 'rate-limited' | 'no-such-sender' | 'error';

export class Bouncer {
  constructor(private readonly opts: BouncerOptions) {}

  /** The part of a stored message a report may return (see dsnBytesToRead), streamed. */
  async readOriginal(blobId: string, size: number): Promise<Buffer> {
    const want = dsnBytesToRead(size);
    if (want === 0) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    let got = 0;
    for await (const chunk of this.opts.blobs.read(blobId, { start: 0, end: want })) {
      const b = chunk as Buffer;
      chunks.push(b);
      got += b.length;
    }
    return Buffer.concat(chunks, got);
  }

  /** Builds and sends one report to the envelope sender; says what happened (never throws). */
  async send(input: BounceInput): Promise<BounceResult> {
    const { log } = this.opts;
    if (!mayBounceTo(input.envelopeSender)) return 'null-sender';
    const sender = input.envelopeSender;
    if (!this.opts.limiter.take(sender)) {
      log.warn(
        { to: sender.slice(0, 320), recipients: input.recipients.length },
        'bounce rate limit reached: DSN dropped',
      );
      return 'rate-limited';
    }
    try {
      const dsn = buildDsn({
        reportingMta: this.opts.hostname,
        envelopeSender: sender,
        envid: input.envid,
        ret: input.ret,
        arrivalDate: input.arrivalDate,
        recipients: input.recipients,
        original: input.original,
        originalSize: input.originalSize,
      });
      const { targets, remote } = await this.destinations(sender);
      if (targets.length === 0 && remote.length === 0) {
        log.warn(
          { to: sender.slice(0, 320) },
          'DSN not sent: the sender is a local address that does not exist',
        );
        return 'no-such-sender';
      }
      const delivery = Delivery.start(
        {
          store: this.opts.store,
          blobs: this.opts.blobs,
          limits: this.opts.limits,
          ...(this.opts.onQueued !== undefined ? { onQueued: this.opts.onQueued } : {}),
        },
        {
          kind: 'report',
          body: dsn.eightBit ? '8BITMIME' : '7BIT',
          smtputf8: dsn.smtputf8,
          ...(input.requireTls === true ? { requireTls: true } : {}),
        },
      );
      try {
        for (const t of targets) delivery.addTarget(t);
        for (const r of remote) delivery.addRemote(r);
        await delivery.writeAll(dsn.bytes);
      } catch (err) {
        await delivery.abort();
        throw err;
      }
      const result = await delivery.commit();
      const failed = result.targets.filter((o) => !o.ok);
      if (failed.length > 0 && failed.length === result.targets.length && result.remote.length === 0) {
        log.warn(
          { to: sender.slice(0, 320), error: failed[0]!.ok ? null : failed[0]!.error.code },
          'DSN not stored',
        );
        return 'error';
      }
      log.info(
        {
          to: sender.slice(0, 320),
          actions: [...new Set(input.recipients.map((r) => r.action))],
          recipients: input.recipients.length,
        },
        'DSN sent',
      );
      return 'sent';
    } catch (err) {
      log.error({ err, to: sender.slice(0, 320) }, 'DSN failed');
      return 'error';
    }
  }

  /** Where mail to `sender` goes: its INBOX (or the mailboxes an alias names), or the queue. */
  private async destinations(
    sender: string,
  ): Promise<{ targets: AppendTarget[]; remote: OutboundRecipient[] }> {
    const at = sender.lastIndexOf('@');
    const domain = at < 0 ? '' : domainToASCII(sender.slice(at + 1));
    if (at <= 0 || domain === '') return { targets: [], remote: [] };
    const lookup = `${sender.slice(0, at)}@${domain}`.toLowerCase();
    const resolved = await this.opts.store.resolveRecipient(lookup);
    const targets: AppendTarget[] = [];
    const remote: OutboundRecipient[] = [];
    const seen = new Set<number>();
    for (const r of resolved) {
      if (r.kind === 'remote') {
        // The sender itself, or where a local alias forwards.
        const address = resolved.length === 1 && r.address.toLowerCase() === lookup ? sender : r.address;
        if (!remote.some((x) => x.address === address)) remote.push({ address, notify: null, orcpt: null });
        continue;
      }
      const mailbox = await this.opts.store.getMailbox(r.accountId, r.mailbox);
      if (mailbox !== null && !seen.has(mailbox.id)) {
        seen.add(mailbox.id);
        targets.push({ mailboxId: mailbox.id });
      }
    }
    return { targets, remote };
  }
}
