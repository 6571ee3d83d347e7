// CREATE (RFC 9051 §6.3.4, with USE of RFC 6154 §3 CREATE-SPECIAL-USE), DELETE (§6.3.5),
// RENAME (§6.3.6), SUBSCRIBE and UNSUBSCRIBE (§6.3.7, §6.3.8). Names are validated by the store
// (src/store/rules/mailbox-name.ts): empty levels ("a//b", "/a"), "." and "..", control
// characters, "*" and "%", over-long or too deep names are refused with NO [CANNOT]; undecodable
// names are refused by mailboxArg. Invariants:
// - CREATE makes the missing superior levels too (the store does it, RFC 9051 §6.3.4); one
//   trailing delimiter only declares the intent to create inferiors and is dropped;
// - DELETE of a mailbox with inferiors removes its messages and leaves its name as a \Noselect
//   level (RFC 9051 §6.3.5); INBOX cannot be deleted; deleting the mailbox this session has
//   selected first leaves the selected state (Dovecot does the same); another session that has
//   it selected is told with BYE after its next command (see session.ts syncView);
// - RENAME moves inferiors with their parent; renaming INBOX moves its messages to the new name
//   and leaves INBOX empty (RFC 9051 §6.3.6); the store checks every target name, so an existing
//   one is NO [ALREADYEXISTS]; a session that has the renamed mailbox selected keeps its view.

import { MAILBOX_DELIMITER, SPECIAL_USES, type Account, type SpecialUse } from '../../../store/types.js';
import { atom, raw } from '../../../wire/imap/encoder.js';
import type { ImapToken } from '../../../wire/imap/reader.js';
import type { ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import { mailboxArg, noSuchMailbox } from '../mailbox-name.js';
import { aliasTarget } from '../special-use-alias.js';
import {
  findMailbox,
  noPermission,
  ownerOf,
  parentName,
  requireMailbox,
  reservedName,
} from '../mailbox-access.js';
import { AUTHENTICATED } from '../state.js';
import { deselect } from './select.js';

/** RFC 6154 §2 attributes, by upper-case spelling. */
const SPECIAL_USE_BY_NAME = new Map<string, SpecialUse>(SPECIAL_USES.map((s) => [s.toUpperCase(), s]));

function accountOf(ctx: ImapSessionContext): Account {
  const state = ctx.state;
  if (state.kind !== 'authenticated' && state.kind !== 'selected') throw new ImapBad('Authenticate first');
  return state.account;
}

function accountId(ctx: ImapSessionContext): number {
  return accountOf(ctx).id;
}

/**
 * The owner and the owner's name of a name to create or rename to; in another user's tree the
 * user needs "k" on the superior (RFC 4314 §4), so nothing can be made at its top level.
 */
async function creatable(ctx: ImapSessionContext, name: string): Promise<{ owner: Account; name: string }> {
  const account = accountOf(ctx);
  const store = ctx.env.store;
  const found = await ownerOf(store, account, name);
  // A level of the Other Users or shared namespace, or an unknown owner: nothing can be made there.
  if (found === null) throw reservedName(name) ?? new ImapNo('No such mailbox owner', { name: 'CANNOT' });
  if (found.owner.id === account.id) return found;
  const parent = parentName(name);
  if (parentName(found.name) === null || parent === null) throw noPermission('k');
  const superior = await requireMailbox(store, account, parent, 'k', { missing: () => noPermission('k') });
  // A personal "shared/..." mailbox (mailbox-access.ts) is no superior of a public folder.
  if (superior.owner.id !== found.owner.id) throw reservedName(name) ?? noPermission('k');
  return found;
}

/** RFC 6154 §3: `(USE (\Sent))`; the store keeps one special use per mailbox. */
function parseCreateParams(token: ImapToken | undefined): SpecialUse | null {
  if (token === undefined) return null;
  if (token.kind !== 'list') throw new ImapBad('CREATE parameters must be a list');
  let use: SpecialUse | null = null;
  for (let i = 0; i < token.items.length; i += 2) {
    const name = token.items[i];
    const value = token.items[i + 1];
    if (name?.kind !== 'atom' || name.value.toUpperCase() !== 'USE' || value?.kind !== 'list') {
      throw new ImapBad('Unknown CREATE parameter');
    }
    for (const attr of value.items) {
      if (attr.kind !== 'atom') throw new ImapBad('Special-use attribute expected');
      const known = SPECIAL_USE_BY_NAME.get(attr.value.toUpperCase());
      if (known === undefined) throw new ImapNo('Unknown special-use attribute', { name: 'USEATTR' });
      if (use !== null && use !== known) {
        throw new ImapNo('Only one special-use attribute per mailbox', { name: 'USEATTR' });
      }
      use = known;
    }
  }
  return use;
}

export const MAILBOX_COMMANDS: ImapCommandSpec[] = [
  {
    name: 'CREATE',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length < 1 || cmd.args.length > 2) throw new ImapBad('CREATE takes a mailbox name');
      let name = mailboxArg(cmd.args[0], { utf8: ctx.utf8 });
      const specialUse = parseCreateParams(cmd.args[1]);
      // RFC 9051 §6.3.4: a trailing delimiter declares that inferiors will be created.
      if (name.endsWith(MAILBOX_DELIMITER)) name = name.slice(0, -1);
      if (name.toUpperCase() === 'INBOX') throw new ImapNo('INBOX already exists', { name: 'ALREADYEXISTS' });
      // Apple Mail's "Sent Messages" when \Sent exists: no twin (special-use-alias.ts).
      if ((await ctx.env.store.getMailbox(accountId(ctx), name)) === null) {
        const alias = await aliasTarget(ctx.env.store, accountId(ctx), name);
        if (alias !== null) throw new ImapNo(`${name} is ${alias.name} here`, { name: 'ALREADYEXISTS' });
      }
      const target = await creatable(ctx, name);
      const store = ctx.env.store;
      const created = await store.createMailbox(target.owner.id, target.name, { specialUse });
      if (target.owner.id !== accountId(ctx)) {
        // A mailbox made in another user's tree takes its superior's ACL (as Dovecot does), so
        // whoever could create it can use it.
        const parent = await store.getMailbox(target.owner.id, parentName(target.name) ?? '');
        if (parent !== null) {
          for (const e of await store.getAcl(parent.id))
            await store.setAcl(created.id, e.identifier, e.rights);
        }
      }
      // RFC 8474 §4.1: the new mailbox's MAILBOXID in the tagged OK.
      return { code: { name: 'MAILBOXID', data: [[atom(created.objectId)]] } };
    },
  },
  {
    name: 'DELETE',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 1) throw new ImapBad('DELETE takes a mailbox name');
      const clientName = mailboxArg(cmd.args[0], { utf8: ctx.utf8 });
      const account = accountOf(ctx);
      const store = ctx.env.store;
      const found = await ownerOf(store, account, clientName);
      if (found === null) throw noSuchMailbox(clientName);
      const { name } = found;
      const id = found.owner.id;
      if (name === 'INBOX') throw new ImapNo('INBOX cannot be deleted', { name: 'CANNOT' });
      // RFC 4314 §4: deleting another user's mailbox needs the "x" right on it.
      if (id !== account.id) await requireMailbox(store, account, clientName, 'x');
      const mailbox = await store.getMailbox(id, name);
      if (mailbox === null) {
        // RFC 9051 §6.3.5: a \Noselect level with inferiors cannot be deleted.
        const prefix = name + MAILBOX_DELIMITER;
        if ((await store.listMailboxes(id)).some((m) => m.name.startsWith(prefix))) {
          throw new ImapNo('Mailbox has children, delete them first');
        }
        throw noSuchMailbox(name);
      }
      const state = ctx.state;
      const selected = state.kind === 'selected' && state.view.mailboxId === mailbox.id;
      await store.deleteMailbox(id, name);
      if (selected) {
        // Nothing of it can be served any more: back to the authenticated state (RFC 9051 §7.1
        // CLOSED tells the client that the mailbox's responses end here). Dovecot disconnects.
        deselect(ctx);
        ctx.untagged(atom('OK'), raw('[CLOSED]'), atom('Mailbox deleted.'));
      }
    },
  },
  {
    name: 'RENAME',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 2) throw new ImapBad('RENAME takes two mailbox names');
      const from = mailboxArg(cmd.args[0], { utf8: ctx.utf8 });
      const to = mailboxArg(cmd.args[1], { utf8: ctx.utf8 });
      if (to === 'INBOX') throw new ImapNo('INBOX already exists', { name: 'ALREADYEXISTS' });
      const account = accountOf(ctx);
      const store = ctx.env.store;
      const source = await ownerOf(store, account, from);
      if (source === null) throw noSuchMailbox(from);
      // RFC 4314 §4: RENAME needs "x" on the mailbox and "k" on the new superior.
      if (source.owner.id !== account.id) await requireMailbox(store, account, from, 'x');
      const target = await creatable(ctx, to);
      if (target.owner.id !== source.owner.id) {
        throw new ImapNo('Cannot rename a mailbox to another user', { name: 'CANNOT' });
      }
      await store.renameMailbox(source.owner.id, source.name, target.name);
    },
  },
  {
    name: 'SUBSCRIBE',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 1) throw new ImapBad('SUBSCRIBE takes a mailbox name');
      const name = mailboxArg(cmd.args[0], { utf8: ctx.utf8 });
      const account = accountOf(ctx);
      // RFC 9051 §6.3.7 lets a server refuse names that do not exist; Dovecot does too. Another
      // user's mailbox must be one this user may list (RFC 4314 §4: "l").
      const found = await findMailbox(ctx.env.store, account, name);
      if (found === null || !found.rights.includes('l')) throw noSuchMailbox(name);
      // Through an alias the real mailbox is subscribed: LSUB never shows a name LIST lacks.
      await ctx.env.store.subscribe(account.id, found.shared ? name : found.mailbox.name);
    },
  },
  {
    name: 'UNSUBSCRIBE',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 1) throw new ImapBad('UNSUBSCRIBE takes a mailbox name');
      const name = mailboxArg(cmd.args[0], { utf8: ctx.utf8 });
      // RFC 9051 §6.3.8: a name may be unsubscribed whether or not its mailbox exists.
      await ctx.env.store.unsubscribe(accountId(ctx), name);
    },
  },
];
