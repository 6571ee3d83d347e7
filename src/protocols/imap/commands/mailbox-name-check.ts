// Why a mailbox name can never exist, for the NO [CANNOT] of SELECT, EXAMINE, STATUS, DELETE and
// SUBSCRIBE (as Dovecot answers them), where a plain lookup would only say NONEXISTENT. The store
// enforces the same rules when it creates or renames (src/store/sqlite/mailbox-name.ts); this is
// only the wording of the refusal, so a name it misses is still NONEXISTENT, never accepted.

import { MAILBOX_DELIMITER } from '../../../store/types.js';
import { ImapNo } from '../errors.js';

const MAX_NAME = 1000;
const MAX_DEPTH = 32;

/** The reason a name is invalid (RFC 9051 §5.1 hierarchy rules, our limits), or null. */
export function invalidMailboxName(name: string): string | null {
  if (name.length === 0) return 'Empty mailbox name';
  if (name.length > MAX_NAME) return 'Mailbox name too long';
  if (name.includes('*') || name.includes('%')) return 'Wildcard in mailbox name';
  const levels = name.split(MAILBOX_DELIMITER);
  if (levels.length > MAX_DEPTH) return 'Mailbox hierarchy too deep';
  for (const level of levels) {
    if (level === '') return 'Empty level in mailbox name';
    if (level === '.' || level === '..') return '"." or ".." level in mailbox name';
  }
  return null;
}

/** The NO for a mailbox the store did not find: CANNOT for impossible names, else NONEXISTENT. */
export function noSuchMailbox(name: string): ImapNo {
  const reason = invalidMailboxName(name);
  return reason === null
    ? new ImapNo('Mailbox does not exist', { name: 'NONEXISTENT' })
    : new ImapNo(reason, { name: 'CANNOT' });
}
