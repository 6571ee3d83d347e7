// The `changes` table: one row per message touched by a write, in its transaction (the change
// feed every session catches up from), and the rows that only tell other processes that a
// mailbox was deleted or renamed.

import type { Change } from '../types.js';
import { flagList } from '../rules/flags.js';
import type { FlagChangeRow } from '../flag-index.js';
import type { WriteTx } from './write-tx.js';

export const KIND_ADDED = 0;
export const KIND_FLAGS = 1;
export const KIND_EXPUNGED = 2;
/** The mailbox was deleted or renamed: lets other processes notice; never returned by changesSince. */
export const KIND_MAILBOX_EVENT = 3;
/**
 * The event of a mailbox-event row, in its `flags` column: null for the structural events
 * (create, delete, rename, subscription); these for a SETMETADATA that changed entries
 * (RFC 5465 §5.7), on the mailbox, or on the account's INBOX for its server-level entries.
 */
export const MAILBOX_EVENT_METADATA = 1;
export const MAILBOX_EVENT_SERVER_METADATA = 2;

export interface ChangeRow {
  kind: number;
  modseq: number;
  uid: number;
  flags: number | null;
  keywords: string | null;
}

/** Logs one change row in the write, and notes the mailbox and the row's seq in `tx`. */
export function logChange(
  tx: WriteTx,
  mailboxId: number,
  modseq: number,
  uid: number,
  kind: number,
  flags: number | null,
  keywords: string | null,
): void {
  const r = tx.sql
    .stmt('INSERT INTO changes (mailbox_id, modseq, uid, kind, flags, keywords) VALUES (?, ?, ?, ?, ?, ?)')
    .run(mailboxId, modseq, uid, kind, flags, keywords);
  tx.recordSeq(Number(r.lastInsertRowid));
  tx.mailboxes.add(mailboxId);
}

export function toChange(r: ChangeRow): Change {
  switch (r.kind) {
    case KIND_ADDED:
      return { kind: 'added', modseq: r.modseq, uid: r.uid, flags: flagList(r.flags ?? 0, r.keywords) };
    case KIND_FLAGS:
      return { kind: 'flags', modseq: r.modseq, uid: r.uid, flags: flagList(r.flags ?? 0, r.keywords) };
    default:
      return { kind: 'expunged', modseq: r.modseq, uid: r.uid };
  }
}

export function toFlagChangeRow(r: ChangeRow): FlagChangeRow {
  return {
    kind: r.kind === KIND_ADDED ? 'added' : r.kind === KIND_FLAGS ? 'flags' : 'expunged',
    modseq: r.modseq,
    uid: r.uid,
    bits: r.flags ?? 0,
    keywords: r.keywords,
  };
}
