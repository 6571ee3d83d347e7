// POP3 retention, run by the maintenance schedule: in every account whose effective
// pop3.expire_days is a number, INBOX messages that POP3 first retrieved more than that many
// days ago are expunged (IMAP sessions see the expunges). Messages POP3 never retrieved (read
// only over IMAP, or not yet downloaded) are never touched, and neither, unless pop3.expire_imap,
// is a message whose flags IMAP changed after POP3 retrieved it (flagged, answered, keyworded,
// marked unread and read again: its modseq moved), since an IMAP user of the same mailbox is
// then using it. (An IMAP read of a message POP3 already marked \Seen changes nothing, so it
// leaves no trace: such a user keeps a message by flagging it or moving it out of INBOX.) Safe in several processes at once:
// each expunge re-reads the rows in its own write transaction.

import type { Directory, Mailboxes, Messages } from './roles.js';
import { effectivePop3Expire } from './rules/pop3-expire.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface Pop3RetentionOptions {
  /** The server's pop3.expire_days. */
  serverDefault: 'NEVER' | number;
  /** The current time in ms (tests move it). */
  now: number;
  /** pop3.expire_imap: expunge also the messages IMAP changed after POP3 retrieved them. */
  includeImapTouched?: boolean;
}

export interface Pop3RetentionResult {
  /** Accounts whose retention is a number of days. */
  accounts: number;
  /** Messages expunged. */
  expunged: number;
}

export async function expirePop3Retrieved(
  store: Pick<Directory, 'listDomains' | 'listAccounts'> &
    Pick<Mailboxes, 'getMailbox'> &
    Pick<Messages, 'expungePop3Retrieved'>,
  opts: Pop3RetentionOptions,
): Promise<Pop3RetentionResult> {
  const result: Pop3RetentionResult = { accounts: 0, expunged: 0 };
  for (const domain of await store.listDomains()) {
    for (const account of await store.listAccounts(domain.name)) {
      const days = effectivePop3Expire(account.pop3Expire, domain.pop3Expire, opts.serverDefault);
      if (days === 'never') continue;
      result.accounts++;
      const inbox = await store.getMailbox(account.id, 'INBOX');
      if (inbox === null) continue;
      const before = opts.now - days * DAY_MS;
      const expunged = await store.expungePop3Retrieved(inbox.id, before, {
        includeImapTouched: opts.includeImapTouched === true,
      });
      result.expunged += expunged.length;
    }
  }
  return result;
}
