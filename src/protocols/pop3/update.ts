// The UPDATE state (RFC 1939 §6): after QUIT in TRANSACTION, the messages marked by DELE are
// dealt with as pop3.delete_mode says, then the lease is given up. Invariants:
// - this is the only place where POP3 removes or changes messages (besides RETR's \Seen);
// - messages another session already expunged are skipped, not an error;
// - nothing is acknowledged (+OK) before the store has committed the change.

import type { Logger } from '../../core/log.js';
import type { PosternConfig } from '../../config/types.js';
import type { Mailboxes, Messages } from '../../store/roles.js';

/** The account's Trash: the mailbox with \Trash, else "Trash" (created when missing). */
async function trashMailbox(store: Mailboxes, accountId: number): Promise<number> {
  const boxes = await store.listMailboxes(accountId);
  const marked = boxes.find((b) => b.specialUse === '\\Trash') ?? boxes.find((b) => b.name === 'Trash');
  if (marked !== undefined) return marked.id;
  return (await store.createMailbox(accountId, 'Trash', { specialUse: '\\Trash' })).id;
}

/** Applies the deletions; resolves once they are committed. */
export async function applyDeletions(opts: {
  store: Mailboxes & Messages;
  mode: PosternConfig['pop3']['deleteMode'];
  accountId: number;
  mailboxId: number;
  uids: number[];
  log: Logger;
}): Promise<void> {
  const { store, mailboxId, uids } = opts;
  if (uids.length === 0) return;
  switch (opts.mode) {
    case 'expunge':
      await store.expunge(mailboxId, { uids });
      break;
    case 'trash': {
      const trash = await trashMailbox(store, opts.accountId);
      // Still there (another session may have expunged some): move skips nothing silently.
      const present = (await store.listMessages(mailboxId, { uids })).map((m) => m.uid);
      if (present.length > 0) {
        if (trash === mailboxId) await store.expunge(mailboxId, { uids: present });
        else await store.move(mailboxId, present, trash);
      }
      break;
    }
    case 'flag':
      await store.updateFlags(mailboxId, uids, { mode: 'add', flags: ['\\Deleted'] });
      break;
  }
  opts.log.info({ mailboxId, count: uids.length, mode: opts.mode }, 'pop3 deletions applied');
}
