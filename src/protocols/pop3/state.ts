// The state of one POP3 session (RFC 1939 §3), as a discriminated union: the maildrop, its
// lease and the account exist only in TRANSACTION, where RFC 1939 allows them.

import type { Account } from '../../store/types.js';
import type { MailboxLease } from './mailbox-lease.js';
import type { ReadAhead } from './read-ahead.js';
import type { SeenMarker } from './seen-marker.js';
import type { Maildrop } from './snapshot.js';

export type Pop3SessionState =
  /** Before login. `user` is the name given by USER, waiting for PASS (RFC 1939 §7). */
  | { kind: 'authorization'; user: string | null }
  /** Logged in: the INBOX snapshot, held exclusively (RFC 1939 §8). */
  | {
      kind: 'transaction';
      account: Account;
      maildrop: Maildrop;
      lease: MailboxLease;
      seen: SeenMarker;
      readAhead: ReadAhead;
    }
  /** QUIT in TRANSACTION: deletions being applied, no more commands (RFC 1939 §6). */
  | { kind: 'update' };

export type Pop3StateKind = Pop3SessionState['kind'];
