// An owed DSN as the queue stores it (OutboundQueue.recordOutboundAttempt's `dsn`, the
// outbound_dsn_owed rows): the report's message-level part and one block per recipient, as
// JSON with dates in ISO form. The store keeps the text opaque; this file is its only reader
// and writer, so what a crashed process owed is read back exactly as it was written.

import type { OwedDsn, OwedDsnParts, QueuedMessageHead } from '../store/types.js';
import type { DsnRecipient } from './dsn.js';

export interface OwedDsnHead {
  envelopeSender: string;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  arrivalDate: Date;
  /** The original was a REQUIRETLS message: so is its report (RFC 8689 §5). */
  requireTls: boolean;
}

interface HeadJson {
  envelopeSender: string;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  arrivalDate: string;
  /** Absent in rows written before it was kept: false. */
  requireTls?: boolean;
}

interface BlockJson {
  finalRecipient: string;
  orcpt: string | null;
  action: DsnRecipient['action'];
  status: string;
  remoteMta: string | null;
  diagnostic: string | null;
  lastAttemptDate: string | null;
  willRetryUntil: string | null;
}

const iso = (d: Date | null | undefined): string | null => (d == null ? null : d.toISOString());
const date = (s: string | null): Date | null => (s === null ? null : new Date(s));

/** The parts to store with an attempt whose recorded outcomes call for these reports. */
export function owedDsnParts(
  message: QueuedMessageHead,
  reports: ReadonlyMap<number, DsnRecipient>,
  leaseMs: number,
): OwedDsnParts {
  const head: HeadJson = {
    envelopeSender: message.mailFrom,
    envid: message.envid,
    ret: message.ret,
    arrivalDate: message.queuedAt.toISOString(),
    ...(message.requireTls === true ? { requireTls: true } : {}),
  };
  const blocks = new Map<number, string>();
  for (const [id, r] of reports) {
    const b: BlockJson = {
      finalRecipient: r.finalRecipient,
      orcpt: r.orcpt ?? null,
      action: r.action,
      status: r.status,
      remoteMta: r.remoteMta ?? null,
      diagnostic: r.diagnostic ?? null,
      lastAttemptDate: iso(r.lastAttemptDate),
      willRetryUntil: iso(r.willRetryUntil),
    };
    blocks.set(id, JSON.stringify(b));
  }
  return { head: JSON.stringify(head), blocks, leaseMs };
}

/** An owed row read back: what Bouncer.send needs besides the original. */
export function readOwedDsn(owed: OwedDsn): { head: OwedDsnHead; recipients: DsnRecipient[] } {
  const h = JSON.parse(owed.head) as HeadJson;
  const recipients = owed.blocks.map((text): DsnRecipient => {
    const b = JSON.parse(text) as BlockJson;
    return {
      finalRecipient: b.finalRecipient,
      orcpt: b.orcpt,
      action: b.action,
      status: b.status,
      remoteMta: b.remoteMta,
      diagnostic: b.diagnostic,
      lastAttemptDate: date(b.lastAttemptDate),
      willRetryUntil: date(b.willRetryUntil),
    };
  });
  return {
    head: {
      envelopeSender: h.envelopeSender,
      envid: h.envid,
      ret: h.ret,
      arrivalDate: new Date(h.arrivalDate),
      requireTls: h.requireTls === true,
    },
    recipients,
  };
}
