// Mailbox names on the wire (RFC 9051 §5.1, §5.1.3; RFC 3501 §5.1.3): modified UTF-7 unless the
// client enabled UTF8=ACCEPT (RFC 6855 §3), then UTF-8. The store keeps names as Unicode text
// with "/" as the delimiter and spells INBOX in upper case; it also refuses empty levels, "..",
// control characters and over-long or too deep names (src/store/rules/mailbox-name.ts), and
// noSuchMailbox words IMAP's refusal of a name with that same rule.

import { astring, type ImapToken } from '../../wire/imap/reader.js';
import { decodeMutf7, encodeMutf7, Mutf7Error } from '../../wire/imap/mutf7.js';
import { mailboxNameProblem } from '../../store/rules/mailbox-name.js';
import { ImapBad, ImapNo } from './errors.js';

/** The mailbox name argument as Unicode text, or a BAD/NO explaining why it is not one. */
export function mailboxArg(token: ImapToken | undefined, opts: { utf8: boolean }): string {
  if (token === undefined || token.kind === 'list' || token.kind === 'streamed') {
    throw new ImapBad('Mailbox name expected');
  }
  if (token.kind === 'string' && token.value.includes(0)) throw new ImapBad('NUL in mailbox name');
  const text = astring(token);
  if (text === null) throw new ImapBad('Mailbox name expected');
  if (text.includes('\r') || text.includes('\n')) throw new ImapBad('CR or LF in mailbox name');
  if (text.toUpperCase() === 'INBOX') return 'INBOX';
  if (opts.utf8) {
    if (token.kind === 'string' && !isValidUtf8(token.value)) throw new ImapBad('Mailbox name is not UTF-8');
    return text;
  }
  try {
    return decodeMutf7(text);
  } catch (err) {
    if (err instanceof Mutf7Error)
      throw new ImapNo(`Invalid modified UTF-7 mailbox name: ${err.message}`, { name: 'CANNOT' });
    throw err;
  }
}

/** The wire form of a stored mailbox name. */
export function mailboxWire(name: string, opts: { utf8: boolean }): string {
  return opts.utf8 ? name : encodeMutf7(name);
}

function isValidUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

/**
 * The NO for a mailbox the store did not find, for SELECT, EXAMINE, STATUS, DELETE and SUBSCRIBE
 * (as Dovecot answers them): CANNOT with the reason for a name that can never exist (the
 * store's own rule), else NONEXISTENT.
 */
export function noSuchMailbox(name: string): ImapNo {
  const reason = mailboxNameProblem(name);
  return reason === null
    ? new ImapNo('Mailbox does not exist', { name: 'NONEXISTENT' })
    : new ImapNo(reason.charAt(0).toUpperCase() + reason.slice(1), { name: 'CANNOT' });
}
