// Apple Mail's folder names as aliases of the special-use mailboxes. Apple Mail (and iOS Mail
// set up by hand) looks for "Sent Messages" and "Deleted Messages" and, when it does not read
// or trust the SPECIAL-USE attributes (RFC 6154), SELECTs, APPENDs to or CREATEs them, which
// would leave the account with two sent and two trash folders. Invariants:
// - an alias applies only while no mailbox has that very name: a real "Sent Messages" wins;
// - it names the account's mailbox with the attribute (\Sent, \Trash), found by attribute, not
//   by name, so a renamed Sent mailbox is still found; no such mailbox, no alias;
// - aliases are never listed (LIST shows the real mailbox only, so no twins appear), and
//   DELETE and RENAME do not follow them (a destructive command acts on real names only);
// - CREATE of an alias that resolves answers NO [ALREADYEXISTS]: the folder the client wants
//   exists (RFC 9051 §6.3.4: creating an existing mailbox is an error).

import type { Mailboxes } from '../../store/roles.js';
import type { Mailbox, SpecialUse } from '../../store/types.js';

/** The alias names, exact (mailbox names are case-sensitive except INBOX), and what they stand for. */
export const SPECIAL_USE_ALIASES: ReadonlyMap<string, SpecialUse> = new Map<string, SpecialUse>([
  ['Sent Messages', '\\Sent'],
  ['Deleted Messages', '\\Trash'],
]);

/** The mailbox an alias stands for, or null when `name` is no alias or nothing has its attribute. */
export async function aliasTarget(
  store: Pick<Mailboxes, 'listMailboxes'>,
  accountId: number,
  name: string,
): Promise<Mailbox | null> {
  const use = SPECIAL_USE_ALIASES.get(name);
  if (use === undefined) return null;
  const boxes = await store.listMailboxes(accountId);
  return boxes.find((m) => m.specialUse === use) ?? null;
}

/** The mailbox of this name, else the special-use mailbox the name is an alias of, else null. */
export async function findMailbox(
  store: Pick<Mailboxes, 'getMailbox' | 'listMailboxes'>,
  accountId: number,
  name: string,
): Promise<Mailbox | null> {
  const real = await store.getMailbox(accountId, name);
  if (real !== null) return real;
  return aliasTarget(store, accountId, name);
}
