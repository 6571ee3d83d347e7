// CATENATE (RFC 4469): the parts of a message built by APPEND, written one after the other into
// the message's Delivery. Invariants:
// - a URL part names a message of the logged-in account only (its own mailboxes, this server's
//   host name or a relative URL, the user if named must be this account's): anything else, an
//   unknown mailbox, UIDVALIDITY or UID, or a missing section is NO [BADURL url] (§5);
// - bytes are copied by stream, never whole into memory: URL parts from the stored blob by byte
//   range, a streamed TEXT literal from the blob its own delivery finished for the purpose
//   (finishForReading), which is then discarded;
// - the size limit is the delivery's own (limits.message_size), so a result over it is
//   NO [TOOBIG] (§5).

import type { Delivery } from '../../delivery/delivery.js';
import { sectionRange } from '../../mail/mime/section.js';
import type { BlobStore } from '../../store/blob/types.js';
import type { Account, MailStore } from '../../store/types.js';
import { atom } from '../../wire/imap/encoder.js';
import { ImapNo } from './errors.js';
import { parseImapUrl } from './imap-url.js';

export interface CatenateEnv {
  store: MailStore;
  blobs: BlobStore;
  /** This server's host name: the only host an absolute URL may name. */
  hostname: string;
}

/** NO [BADURL url] (RFC 4469 §5); the URL is echoed as text without `]` or controls. */
export function badUrl(url: string, why: string): ImapNo {
  const echoed = url.slice(0, 512).replace(/[^\x21-\x5c\x5e-\x7e]/g, '?');
  return new ImapNo(`Bad URL: ${why}`, { name: 'BADURL', data: [atom(echoed.length > 0 ? echoed : '?')] });
}

/** Appends the bytes a CATENATE URL names to `into`. */
export async function writeUrlPart(
  env: CatenateEnv,
  account: Account,
  url: string,
  into: Delivery,
): Promise<void> {
  const parsed = parseImapUrl(url);
  if (parsed === null) throw badUrl(url, 'not an IMAP URL of this server');
  if (parsed.host !== null && parsed.host !== env.hostname.toLowerCase()) throw badUrl(url, 'another server');
  if (parsed.user !== null && parsed.user.toLowerCase() !== account.address.toLowerCase())
    throw badUrl(url, 'another user');
  const box = await env.store.getMailbox(account.id, parsed.mailbox);
  if (box === null) throw badUrl(url, 'no such mailbox');
  if (parsed.uidValidity !== null && parsed.uidValidity !== box.uidValidity)
    throw badUrl(url, 'UIDVALIDITY does not match');
  const [meta] = await env.store.listMessages(box.id, { uids: [parsed.uid] });
  if (meta === undefined) throw badUrl(url, 'no such message');
  let start = 0;
  let end = meta.size;
  if (parsed.part.length > 0 || parsed.text !== '') {
    const range = sectionRange(await env.store.getMime(meta.blobId), parsed.part, parsed.text);
    if (range === null) throw badUrl(url, 'no such section');
    ({ start, end } = range);
  }
  if (parsed.partial !== null) {
    start = Math.min(end, start + parsed.partial.offset);
    if (parsed.partial.length !== null) end = Math.min(end, start + parsed.partial.length);
  }
  if (end <= start) return;
  await into.writeAll(env.blobs.read(meta.blobId, { start, end }) as AsyncIterable<Uint8Array>);
}

/** Appends a TEXT part that was streamed into its own delivery, then discards that copy. */
export async function writeStreamedText(blobs: BlobStore, part: Delivery, into: Delivery): Promise<void> {
  try {
    const blob = await part.finishForReading();
    if (blob.inline !== undefined) await into.writeAll(blob.inline);
    else if (blob.size > 0)
      await into.writeAll(blobs.read(blob.blobId, { start: 0, end: blob.size }) as AsyncIterable<Uint8Array>);
  } finally {
    await part.abort();
  }
}
