// The backend-independent rules of the outbound queue's operations: what a claim, an attempt's
// outcomes and a list filter may hold (checked before a backend runs anything, so bad input is
// an INVALID_ARGUMENT naming the field), and the domain a recipient is routed by.

import { StoreError } from '../../core/errors.js';
import {
  RECIPIENT_STATUSES,
  type OwedDsnParts,
  type QueueAttempt,
  type QueueClaimRequest,
  type QueueFilter,
  type RecipientOutcome,
} from '../types.js';
import { isCount } from './count.js';
import { MAX_OUTBOUND_RECIPIENTS } from './outbound-envelope.js';

/** Most recipients one claim may lease (bounds the memory of a claim's answer). */
export const MAX_CLAIM_RECIPIENTS = 10_000;
/** Longest lease: a sender that needs longer renews it. */
export const MAX_QUEUE_LEASE_MS = 24 * 3600_000;
export const DEFAULT_QUEUE_LIST_LIMIT = 100;
export const MAX_QUEUE_LIST_LIMIT = 10_000;

function bad(what: string): never {
  throw new StoreError('INVALID_ARGUMENT', `queue: ${what}`);
}

/** The lower-cased part after the last "@" ("" when there is none). */
export function recipientDomain(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

export function checkQueueOwner(owner: unknown): asserts owner is string {
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > 200) {
    bad('owner must be 1 to 200 characters');
  }
}

export function checkLeaseMs(leaseMs: unknown): asserts leaseMs is number {
  if (
    !Number.isSafeInteger(leaseMs) ||
    (leaseMs as number) <= 0 ||
    (leaseMs as number) > MAX_QUEUE_LEASE_MS
  ) {
    bad(`leaseMs must be an integer from 1 to ${MAX_QUEUE_LEASE_MS}`);
  }
}

function checkTime(what: string, d: unknown): number {
  if (!(d instanceof Date) || !Number.isFinite(d.getTime())) bad(`${what} must be a valid Date`);
  return d.getTime();
}

/** A claim's arguments as the backend takes them. */
export function checkClaim(req: QueueClaimRequest): {
  owner: string;
  leaseMs: number;
  max: number;
  now: number;
  skip: string[];
} {
  if (typeof req !== 'object' || req === null) bad('claim must be an object');
  checkQueueOwner(req.owner);
  checkLeaseMs(req.leaseMs);
  if (
    !Number.isSafeInteger(req.maxRecipients) ||
    req.maxRecipients < 1 ||
    req.maxRecipients > MAX_CLAIM_RECIPIENTS
  ) {
    bad(`maxRecipients must be an integer from 1 to ${MAX_CLAIM_RECIPIENTS}`);
  }
  const now = req.now === undefined ? Date.now() : checkTime('now', req.now);
  const skip = req.skipDomains ?? [];
  if (!Array.isArray(skip) || skip.length > MAX_CLAIM_RECIPIENTS || skip.some((d) => typeof d !== 'string')) {
    bad('skipDomains must be a list of domains');
  }
  return { owner: req.owner, leaseMs: req.leaseMs, max: req.maxRecipients, now, skip: [...skip] };
}

export function checkRecipientIds(ids: unknown): asserts ids is number[] {
  if (!Array.isArray(ids) || ids.length > MAX_OUTBOUND_RECIPIENTS || !ids.every((id) => isCount(id))) {
    bad('recipient ids must be a list of positive integers');
  }
}

const REPLY_CODE_MIN = 200;
const REPLY_CODE_MAX = 599;
const MAX_REPLY_TEXT = 4096;

function checkOutcome(o: RecipientOutcome): void {
  if (typeof o !== 'object' || o === null) bad('outcome must be an object');
  if (!isCount(o.recipientId)) bad('outcome recipientId must be a positive integer');
  if (o.kind !== 'delivered' && o.kind !== 'failed' && o.kind !== 'deferred') {
    bad('outcome kind must be delivered, failed or deferred');
  }
  if (o.kind === 'deferred') checkTime('deferred until', o.until);
  if (o.reply !== undefined) {
    const r = o.reply;
    if (!Number.isInteger(r?.code) || r.code < REPLY_CODE_MIN || r.code > REPLY_CODE_MAX) {
      bad('reply code must be an SMTP code from 200 to 599');
    }
    if (
      r.enhanced !== null &&
      (typeof r.enhanced !== 'string' || !/^[245]\.\d{1,3}\.\d{1,3}$/.test(r.enhanced))
    ) {
      bad('reply enhanced code must be null or like 5.1.1');
    }
    if (typeof r.text !== 'string' || r.text.length > MAX_REPLY_TEXT)
      bad('reply text must be a string of at most 4096 characters');
  }
  if (o.remoteMta !== undefined && (typeof o.remoteMta !== 'string' || o.remoteMta.length > 1000)) {
    bad('remoteMta must be a string');
  }
}

/** An attempt's arguments as the backend takes them (times as milliseconds). */
export function checkAttempt(a: QueueAttempt): { owner: string; messageId: number; at: number } {
  if (typeof a !== 'object' || a === null) bad('attempt must be an object');
  checkQueueOwner(a.owner);
  if (!isCount(a.messageId)) bad('messageId must be a positive integer');
  if (!Array.isArray(a.outcomes) || a.outcomes.length > MAX_OUTBOUND_RECIPIENTS)
    bad('outcomes must be a list');
  const seen = new Set<number>();
  for (const o of a.outcomes) {
    checkOutcome(o);
    if (seen.has(o.recipientId)) bad(`recipient ${o.recipientId} has two outcomes`);
    seen.add(o.recipientId);
  }
  const at = a.at === undefined ? Date.now() : checkTime('at', a.at);
  return { owner: a.owner, messageId: a.messageId, at };
}

/** A list filter with its defaults filled in. */
export function checkQueueFilter(f: QueueFilter = {}): {
  status: string | null;
  domain: string | null;
  sender: string | null;
  afterId: number;
  limit: number;
} {
  if (typeof f !== 'object' || f === null) bad('filter must be an object');
  if (f.status !== undefined && !RECIPIENT_STATUSES.includes(f.status)) {
    bad(`status must be one of ${RECIPIENT_STATUSES.join(', ')}`);
  }
  if (f.domain !== undefined && (typeof f.domain !== 'string' || f.domain === '' || f.domain.length > 255)) {
    bad('domain must be a non-empty string');
  }
  if (f.sender !== undefined && (typeof f.sender !== 'string' || f.sender.length > 1000))
    bad('sender must be a string');
  if (f.afterId !== undefined && !isCount(f.afterId)) bad('afterId must be a non-negative integer');
  if (
    f.limit !== undefined &&
    (!Number.isSafeInteger(f.limit) || f.limit < 1 || f.limit > MAX_QUEUE_LIST_LIMIT)
  ) {
    bad(`limit must be an integer from 1 to ${MAX_QUEUE_LIST_LIMIT}`);
  }
  return {
    status: f.status ?? null,
    domain: f.domain === undefined ? null : f.domain.toLowerCase(),
    sender: f.sender ?? null,
    afterId: f.afterId ?? 0,
    limit: f.limit ?? DEFAULT_QUEUE_LIST_LIMIT,
  };
}

/** Most bytes of one owed DSN's JSON (head and every block): a report, not a message. */
const MAX_OWED_DSN_JSON = 4 * 1024 * 1024;

/** The DSN parts of an attempt as a backend takes them (plain data: they cross to the writer). */
export function checkOwedDsnParts(dsn: OwedDsnParts): {
  head: string;
  blocks: Map<number, string>;
  leaseMs: number;
} {
  if (
    typeof dsn !== 'object' ||
    dsn === null ||
    typeof dsn.head !== 'string' ||
    !(dsn.blocks instanceof Map)
  ) {
    bad('dsn must have a head and blocks');
  }
  let total = dsn.head.length;
  for (const [id, block] of dsn.blocks) {
    if (!isCount(id) || typeof block !== 'string') bad('dsn blocks must map recipient ids to strings');
    total += block.length;
  }
  if (total > MAX_OWED_DSN_JSON) bad('dsn too large');
  checkLeaseMs(dsn.leaseMs);
  return { head: dsn.head, blocks: new Map(dsn.blocks), leaseMs: dsn.leaseMs };
}
