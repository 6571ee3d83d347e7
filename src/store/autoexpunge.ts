// Auto-expunge (Dovecot's autoexpunge), run by the maintenance schedule: messages saved into
// an account's \Trash or \Junk mailbox (RFC 6154 special use) longer ago than
// store.autoexpunge_trash / store.autoexpunge_junk are expunged. Age is the RFC 8514 save date
// (when the message entered that mailbox), not the message's date. Safe in several processes.

import type { Directory, Mailboxes, Messages } from './roles.js';

export interface AutoexpungeOptions {
  /** Seconds for \Trash and \Junk; 0 leaves that mailbox alone. */
  trashSeconds: number;
  junkSeconds: number;
  /** The current time in ms (tests move it). */
  now: number;
}

export async function autoexpunge(
  store: Pick<Directory, 'listDomains' | 'listAccounts'> &
    Pick<Mailboxes, 'listMailboxes'> &
    Pick<Messages, 'expungeSavedBefore'>,
  opts: AutoexpungeOptions,
): Promise<{ expunged: number }> {
  let expunged = 0;
  if (opts.trashSeconds === 0 && opts.junkSeconds === 0) return { expunged };
  for (const domain of await store.listDomains()) {
    for (const account of await store.listAccounts(domain.name)) {
      for (const mb of await store.listMailboxes(account.id)) {
        const seconds =
          mb.specialUse === '\\Trash' ? opts.trashSeconds : mb.specialUse === '\\Junk' ? opts.junkSeconds : 0;
        if (seconds === 0) continue;
        expunged += (await store.expungeSavedBefore(mb.id, opts.now - seconds * 1000)).length;
      }
    }
  }
  return { expunged };
}
