// The maildrop of a POP3 session: the INBOX's messages at login (RFC 1939 §8: the server must
// give the session a fixed view; new mail shows up at the next login). Invariants:
// - message numbers are 1-based positions in this list and never change during the session;
// - "deleted" marks live only here until the UPDATE state (RFC 1939 §6): a dropped connection
//   loses them, so nothing is deleted;
// - the UIDL of a message is derived from the mailbox's UIDVALIDITY and the message's UID only,
//   so it is the same in every session, process and after a restart (see uidlOf).

import type { Mailbox, MessageMeta } from '../../store/types.js';

export interface MaildropMessage {
  /** 1-based message number. */
  readonly number: number;
  readonly uid: number;
  /** Octets of the stored message, which is what RETR sends before byte-stuffing (CRLF lines). */
  readonly size: number;
  readonly blobId: string;
  readonly uidl: string;
  /**
   * Retrieved by RETR in this session (marked once: \Seen, and the start of its retention when
   * POP3 had never retrieved it; see seen-marker.ts).
   */
  retrieved: boolean;
  /** Marked by DELE, cleared by RSET. */
  deleted: boolean;
}

/**
 * RFC 1939 §7 UIDL: 1 to 70 characters in 0x21-0x7E, unique and permanent for the message.
 * UIDVALIDITY and UID (RFC 9051 §2.3.1.1) together name a message for ever: UIDs are never
 * reused while UIDVALIDITY holds, and UIDVALIDITY values are never reused in a store.
 * At most 10 + 1 + 10 characters.
 */
export function uidlOf(uidValidity: number, uid: number): string {
  return `${uidValidity}.${uid}`;
}

export class Maildrop {
  readonly mailboxId: number;
  readonly uidValidity: number;
  private readonly messages: MaildropMessage[];

  constructor(mailbox: Pick<Mailbox, 'id' | 'uidValidity'>, metas: readonly MessageMeta[]) {
    this.mailboxId = mailbox.id;
    this.uidValidity = mailbox.uidValidity;
    this.messages = metas.map((m, i) => ({
      number: i + 1,
      uid: m.uid,
      size: m.size,
      blobId: m.blobId,
      uidl: uidlOf(mailbox.uidValidity, m.uid),
      retrieved: false,
      deleted: false,
    }));
  }

  /** The message numbered `n`, or null when there is none or it is marked deleted (RFC 1939 §5). */
  get(n: number): MaildropMessage | null {
    const m = this.messages[n - 1];
    return m === undefined || m.deleted ? null : m;
  }

  /** Messages not marked deleted, in number order. */
  live(): MaildropMessage[] {
    return this.messages.filter((m) => !m.deleted);
  }

  /** STAT: count and octets of the messages not marked deleted. */
  stat(): { count: number; octets: number } {
    let count = 0;
    let octets = 0;
    for (const m of this.messages) {
      if (m.deleted) continue;
      count++;
      octets += m.size;
    }
    return { count, octets };
  }

  /** RSET: unmarks every message; returns how many were marked. */
  reset(): number {
    let n = 0;
    for (const m of this.messages) {
      if (m.deleted) n++;
      m.deleted = false;
    }
    return n;
  }

  /** UIDs marked deleted, ascending (for the UPDATE state). */
  deletedUids(): number[] {
    return this.messages.filter((m) => m.deleted).map((m) => m.uid);
  }

  get size(): number {
    return this.messages.length;
  }
}
