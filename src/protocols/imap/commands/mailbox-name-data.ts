// How a mailbox name is written in LIST, LSUB, STATUS and SELECT responses (RFC 9051 §9
// `mailbox = "INBOX" / astring`): as an atom when every character may stand in one, the way
// Dovecot prints INBOX, Sent or a/b; otherwise as a string, quoted or literal as the encoder picks.

import { atom, type ImapData } from '../../../wire/imap/encoder.js';

/** `wire` is the name already in its wire form (modified UTF-7, or UTF-8 after UTF8=ACCEPT). */
export function mailboxNameData(wire: string): ImapData {
  if (wire.length === 0 || wire.length > 200 || wire.toUpperCase() === 'NIL') return wire;
  for (let i = 0; i < wire.length; i++) {
    const c = wire.charCodeAt(i);
    // RFC 9051 §9 ASTRING-CHAR: ATOM-CHAR or "]"; so not "(", ")", "{", SP, CTL, "%", "*", '"', "\".
    if (c <= 0x20 || c >= 0x7f || c === 0x28 || c === 0x29 || c === 0x7b || c === 0x25 || c === 0x2a)
      return wire;
    if (c === 0x22 || c === 0x5c) return wire;
  }
  return atom(wire);
}
