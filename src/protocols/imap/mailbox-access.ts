// Which mailbox a client's name means, and what the user may do with it (RFC 4314 ACL, RFC 2342
// namespaces). Three namespaces: personal (prefix "", the user's own mailboxes, every right),
// Other Users (prefix "user/": "user/<owner address>/<owner's name>") and shared (prefix
// "shared/": the public folders of the user's domain, owned by its hidden public-folder account,
// store/rules/public-owner.ts). In the last two the user has the rights the owner's ACL gives
// the user or "anyone". Invariants:
// - a name whose first level is "user" always means the Other Users namespace, and one whose
//   first level is "shared" the shared namespace, so no personal mailbox can be created or
//   renamed to "user", "shared" or below them (reservedName);
// - a personal mailbox named "shared" or "shared/..." made before the shared namespace existed
//   stays reachable by its name while no public folder of that name is visible to the user
//   (ownerOf); LIST shows it unless such a public folder hides it;
// - public folders are reached only as "shared/...", by users of their own domain: never as
//   "user/<public owner>/..." (so "anyone" on a public folder means anyone of its domain);
// - a mailbox the user has no right on at all answers as nonexistent, and one without `l` is
//   only reported as existing to a command the user has the right for (RFC 4314 §6: do not
//   reveal what the user may not see); "user/<own address>/..." is the user's own mailbox.

import type { Account, Mailbox, MailStore } from '../../store/types.js';
import { MAILBOX_DELIMITER } from '../../store/types.js';
import { ALL_RIGHTS, ANYONE, hasRight, unionRights } from '../../store/rules/acl.js';
import { domainOfAddress, isPublicOwner, publicOwnerAddress } from '../../store/rules/public-owner.js';
import { ImapNo } from './errors.js';
import { noSuchMailbox } from './mailbox-name.js';
import { findMailbox as findOwnMailbox } from './special-use-alias.js';

/** RFC 2342 §5: the Other Users namespace prefix (with its delimiter). */
export const OTHER_USERS_ROOT = 'user';
export const OTHER_USERS_PREFIX = OTHER_USERS_ROOT + MAILBOX_DELIMITER;
/** RFC 2342 §5: the shared namespace prefix (the domain's public folders). */
export const PUBLIC_ROOT = 'shared';
export const PUBLIC_PREFIX = PUBLIC_ROOT + MAILBOX_DELIMITER;

/** A client's name split by namespace. */
export type NameRef =
  | { kind: 'personal'; name: string }
  /** "user" or "user/<owner>": a level of the namespace, never a mailbox. */
  | { kind: 'otherLevel'; owner: string | null }
  | { kind: 'other'; owner: string; name: string }
  /** "shared": the level of the shared namespace, never a mailbox of its own. */
  | { kind: 'publicLevel' }
  /** "shared/<name>": a public folder of the user's domain, by its owner's name. */
  | { kind: 'public'; name: string };

export function splitName(name: string): NameRef {
  if (name === OTHER_USERS_ROOT) return { kind: 'otherLevel', owner: null };
  if (name === PUBLIC_ROOT) return { kind: 'publicLevel' };
  if (name.startsWith(PUBLIC_PREFIX)) return { kind: 'public', name: name.slice(PUBLIC_PREFIX.length) };
  if (!name.startsWith(OTHER_USERS_PREFIX)) return { kind: 'personal', name };
  const rest = name.slice(OTHER_USERS_PREFIX.length);
  const at = rest.indexOf(MAILBOX_DELIMITER);
  if (at === -1) return { kind: 'otherLevel', owner: rest };
  let own = rest.slice(at + 1);
  // RFC 9051 §5.1: INBOX is case-insensitive, in another user's tree as in one's own.
  const first = own.split(MAILBOX_DELIMITER, 1)[0] ?? '';
  if (first.toUpperCase() === 'INBOX') own = 'INBOX' + own.slice(first.length);
  return { kind: 'other', owner: rest.slice(0, at).toLowerCase(), name: own };
}

/** The name the user sees for a mailbox of `owner` (another account). */
export function otherUsersName(owner: string, name: string): string {
  return `${OTHER_USERS_PREFIX}${owner}${MAILBOX_DELIMITER}${name}`;
}

/** The name the user sees for a public folder of the user's domain. */
export function publicName(name: string): string {
  return PUBLIC_PREFIX + name;
}

/** The NO for a personal name in the reserved "user" or "shared" level (CREATE, RENAME target). */
export function reservedName(name: string): ImapNo | null {
  const ref = splitName(name);
  if (ref.kind === 'personal') return null;
  if (ref.kind === 'public' || ref.kind === 'publicLevel') {
    return new ImapNo(`"${PUBLIC_ROOT}" is the shared namespace`, { name: 'CANNOT' });
  }
  return new ImapNo(`"${OTHER_USERS_ROOT}" is the Other Users namespace`, { name: 'CANNOT' });
}

/** The account owning the public folders of the user's domain, or null when it has none. */
export async function publicOwnerOf(store: MailStore, account: Account): Promise<Account | null> {
  return store.getAccount(publicOwnerAddress(domainOfAddress(account.address)));
}

/** A mailbox as the user reaches it. */
export interface MailboxAccess {
  mailbox: Mailbox;
  /** The account that owns the mailbox (the user itself for a personal one). */
  owner: Account;
  /** The user's rights (canonical, "lrswipkxtea" for the owner). */
  rights: string;
  /** Whether it is in the Other Users namespace. */
  shared: boolean;
  /** The name as the client spells it (Unicode). */
  name: string;
}

/** The owner's account and the owner's name for a name, or null when it names none. */
export async function ownerOf(
  store: MailStore,
  account: Account,
  name: string,
): Promise<{ owner: Account; name: string } | null> {
  const ref = splitName(name);
  if (ref.kind === 'personal') return { owner: account, name: ref.name };
  if (ref.kind === 'publicLevel' || ref.kind === 'public') return publicOwnerFor(store, account, name, ref);
  if (ref.kind === 'otherLevel') return null;
  if (ref.owner === account.address) return { owner: account, name: ref.name };
  // Public folders are reached only through "shared/" (by their own domain's users).
  if (isPublicOwner(ref.owner)) return null;
  const owner = await store.getAccount(ref.owner);
  return owner === null ? null : { owner, name: ref.name };
}

/**
 * The owner of a "shared" name: the domain's public-folder account, or the user when the user
 * has a personal mailbox of that very name (made before the namespace existed) and no public
 * folder of that name is visible to the user.
 */
async function publicOwnerFor(
  store: MailStore,
  account: Account,
  name: string,
  ref: { kind: 'publicLevel' } | { kind: 'public'; name: string },
): Promise<{ owner: Account; name: string } | null> {
  const owner = await publicOwnerOf(store, account);
  if (owner !== null && ref.kind === 'public') {
    const box = await store.getMailbox(owner.id, ref.name);
    if (box !== null && (await rightsOn(store, account, box)) !== '') return { owner, name: ref.name };
  }
  if ((await store.getMailbox(account.id, name)) !== null) return { owner: account, name };
  return owner === null || ref.kind === 'publicLevel' ? null : { owner, name: ref.name };
}

/** The rights `account` has on a mailbox `owner` owns: all for the owner, else its ACL. */
export async function rightsOn(store: MailStore, account: Account, mailbox: Mailbox): Promise<string> {
  if (mailbox.accountId === account.id) return ALL_RIGHTS;
  const entries = await store.getAcl(mailbox.id);
  // RFC 4314 §2: the union of the rights of every identifier the user matches.
  return unionRights(
    ...entries
      .filter((e) => e.identifier === account.address || e.identifier === ANYONE)
      .map((e) => e.rights),
  );
}

/** The mailbox a name means with the user's rights on it, or null when none (or none visible). */
export async function findMailbox(
  store: MailStore,
  account: Account,
  name: string,
): Promise<MailboxAccess | null> {
  const found = await ownerOf(store, account, name);
  if (found === null) return null;
  // One's own names include Apple Mail's aliases of the special-use mailboxes (special-use-alias.ts).
  const mailbox =
    found.owner.id === account.id
      ? await findOwnMailbox(store, account.id, found.name)
      : await store.getMailbox(found.owner.id, found.name);
  if (mailbox === null) return null;
  const rights = await rightsOn(store, account, mailbox);
  if (rights === '') return null;
  return { mailbox, owner: found.owner, rights, shared: found.owner.id !== account.id, name };
}

/**
 * The mailbox a command needs `right` on. NO [NONEXISTENT] (or the caller's `missing`) when it
 * does not exist or the user may not know it does (no `l` and not the right asked for); NO
 * [NOPERM] when it is visible but the right is missing (RFC 4314 §4).
 */
export async function requireMailbox(
  store: MailStore,
  account: Account,
  name: string,
  right: string,
  opts: { missing?: () => ImapNo } = {},
): Promise<MailboxAccess> {
  const access = await findMailbox(store, account, name);
  const missing = opts.missing ?? ((): ImapNo => noSuchMailbox(name));
  if (access === null) throw missing();
  if (!hasRight(access.rights, right)) {
    if (!hasRight(access.rights, 'l')) throw missing();
    throw noPermission(right);
  }
  return access;
}

/** NO [NOPERM] for a missing right (RFC 4314 §4, RFC 5530 §3). */
export function noPermission(right: string): ImapNo {
  return new ImapNo(`Permission denied (the "${right}" right is needed)`, { name: 'NOPERM' });
}

/** The RFC 4314 §4 right that setting or clearing a flag needs. */
export function flagRight(flag: string): string {
  if (flag === '\\Seen') return 's';
  if (flag === '\\Deleted') return 't';
  return 'w';
}

/** The superior of a name ("a/b" for "a/b/c"), or null at the top level. */
export function parentName(name: string): string | null {
  const at = name.lastIndexOf(MAILBOX_DELIMITER);
  return at === -1 ? null : name.slice(0, at);
}
