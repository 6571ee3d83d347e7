// Where quarantined mail goes (DMARC p=quarantine, RFC 7489 §6.3: "treat as suspicious"): the
// recipient's Junk mailbox, which is the one with the \Junk special use (RFC 6154), else the one
// named "Junk", else a new "Junk" with \Junk (a concurrent delivery may create it first: then
// that one is used).

import { isStoreError } from '../core/errors.js';
import type { AppendTarget, Mailbox } from '../store/types.js';
import type { Mailboxes } from '../store/roles.js';

export const JUNK_MAILBOX_NAME = 'Junk';

export async function junkMailbox(store: Mailboxes, accountId: number): Promise<Mailbox> {
  const mailboxes = await store.listMailboxes(accountId);
  const found =
    mailboxes.find((m) => m.specialUse === '\\Junk') ?? mailboxes.find((m) => m.name === JUNK_MAILBOX_NAME);
  if (found !== undefined) return found;
  try {
    return await store.createMailbox(accountId, JUNK_MAILBOX_NAME, { specialUse: '\\Junk' });
  } catch (err) {
    if (!isStoreError(err, 'ALREADY_EXISTS')) throw err;
    const raced = await store.getMailbox(accountId, JUNK_MAILBOX_NAME);
    if (raced === null) throw err;
    return raced;
  }
}

/** The same deliveries, each into the Junk mailbox of the account its mailbox belongs to. */
export async function junkTargets(
  store: Mailboxes,
  targets: readonly AppendTarget[],
): Promise<AppendTarget[]> {
  const out = new Map<number, AppendTarget>();
  for (const t of targets) {
    const mailbox = await store.getMailboxById(t.mailboxId);
    if (mailbox === null) continue; // removed since RCPT: as the commit would have found it
    const junk = await junkMailbox(store, mailbox.accountId);
    if (!out.has(junk.id)) out.set(junk.id, { ...t, mailboxId: junk.id });
  }
  return [...out.values()];
}
