// IMAP ENVELOPE (RFC 9051 §7.5.2) from the first value of each header field: raw strings,
// addresses split into name / adl / mailbox / host.

import { parseAddressList } from './address.js';
import type { Envelope } from './types.js';

export const EMPTY_ENVELOPE: Readonly<Envelope> = Object.freeze({
  date: null,
  subject: null,
  from: null,
  sender: null,
  replyTo: null,
  to: null,
  cc: null,
  bcc: null,
  inReplyTo: null,
  messageId: null,
});

export function envelopeOf(first: Map<string, string>): Envelope {
  const addrs = (name: string): Envelope['from'] => {
    const v = first.get(name);
    return v === undefined ? null : parseAddressList(v);
  };
  const from = addrs('from');
  return {
    date: first.get('date') ?? null,
    subject: first.get('subject') ?? null,
    from,
    // RFC 9051 §7.5.2: an absent or empty Sender or Reply-To takes the value of From.
    sender: addrs('sender') ?? from,
    replyTo: addrs('reply-to') ?? from,
    to: addrs('to'),
    cc: addrs('cc'),
    bcc: addrs('bcc'),
    inReplyTo: first.get('in-reply-to') ?? null,
    messageId: first.get('message-id') ?? null,
  };
}
