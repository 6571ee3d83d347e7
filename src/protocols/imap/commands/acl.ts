// ACL (RFC 4314 §3): SETACL, DELETEACL, GETACL, LISTRIGHTS and MYRIGHTS. Rights rules live in
// src/store/rules/acl.ts, name resolution and the rights check in mailbox-access.ts.
// Invariants:
// - the owner of a mailbox always has every right (RFC 4314 §2 lets a server fix rights): its
//   entry cannot be set or deleted, and GETACL lists it first with every right (except the
//   hidden owner of a public folder, which is not listed);
// - SETACL, DELETEACL, GETACL and LISTRIGHTS need "a", MYRIGHTS any right (RFC 4314 §4); a
//   mailbox the user may not list answers as nonexistent (RFC 4314 §6);
// - an unknown right is BAD and nothing changes (RFC 4314 §3.1); negative rights ("-name")
//   are not supported and answer NO;
// - an identifier is "anyone" or an account address, compared in the address's normal form.

import type { Account } from '../../../store/types.js';
import {
  ALL_RIGHTS,
  applyRightsChange,
  normalizeIdentifier,
  parseRightsChange,
  rightsForWire,
} from '../../../store/rules/acl.js';
import { isStoreError } from '../../../core/errors.js';
import { isPublicOwner } from '../../../store/rules/public-owner.js';
import { atom } from '../../../wire/imap/encoder.js';
import { astring, type ImapToken } from '../../../wire/imap/reader.js';
import type { ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import { findMailbox, requireMailbox, type MailboxAccess } from '../mailbox-access.js';
import { mailboxArg, mailboxWire, noSuchMailbox } from '../mailbox-name.js';
import { AUTHENTICATED } from '../state.js';
import { mailboxNameData } from './mailbox-name-data.js';

function userOf(ctx: ImapSessionContext): Account {
  const state = ctx.state;
  if (state.kind !== 'authenticated' && state.kind !== 'selected') throw new ImapBad('Authenticate first');
  return state.account;
}

function textArg(token: ImapToken | undefined, what: string): string {
  if (token === undefined || token.kind === 'list' || token.kind === 'streamed')
    throw new ImapBad(`${what} expected`);
  const text = astring(token);
  if (text === null) throw new ImapBad(`${what} expected`);
  return text;
}

/** The identifier argument in its stored form; NO for negative rights, BAD for garbage. */
function identifierArg(token: ImapToken | undefined): { given: string; id: string } {
  const given = textArg(token, 'Identifier');
  if (given.startsWith('-')) throw new ImapNo('Negative rights are not supported', { name: 'CANNOT' });
  const id = normalizeIdentifier(given);
  if (id === null) throw new ImapBad('Identifier must be "anyone" or an address');
  return { given, id };
}

/** The mailbox named by the first argument, with the "a" right (RFC 4314 §4). */
async function administered(ctx: ImapSessionContext, token: ImapToken | undefined): Promise<MailboxAccess> {
  const name = mailboxArg(token, { utf8: ctx.utf8 });
  return requireMailbox(ctx.env.store, userOf(ctx), name, 'a');
}

function wireName(ctx: ImapSessionContext, access: MailboxAccess): ReturnType<typeof mailboxNameData> {
  return mailboxNameData(mailboxWire(access.shared ? access.name : access.mailbox.name, { utf8: ctx.utf8 }));
}

/** An identifier or rights string as an astring: an atom where it can be one (as Dovecot). */
const astringData = mailboxNameData;

function refuseOwner(access: MailboxAccess, id: string): void {
  if (id === access.owner.address) {
    throw new ImapNo("The owner's rights cannot be changed", { name: 'CANNOT' });
  }
}

export const ACL_COMMANDS: ImapCommandSpec[] = [
  {
    // RFC 4314 §3.1: SETACL mailbox identifier [+|-]rights.
    name: 'SETACL',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 3) throw new ImapBad('SETACL takes a mailbox, an identifier and rights');
      const access = await administered(ctx, cmd.args[0]);
      const { id } = identifierArg(cmd.args[1]);
      let change;
      try {
        change = parseRightsChange(textArg(cmd.args[2], 'Rights'));
      } catch (err) {
        if (isStoreError(err, 'INVALID_ARGUMENT')) throw new ImapBad(`Invalid rights: ${err.message}`);
        throw err;
      }
      refuseOwner(access, id);
      const store = ctx.env.store;
      const current = (await store.getAcl(access.mailbox.id)).find((e) => e.identifier === id)?.rights ?? '';
      await store.setAcl(access.mailbox.id, id, applyRightsChange(current, change));
    },
  },
  {
    // RFC 4314 §3.2: DELETEACL mailbox identifier (no entry is not an error).
    name: 'DELETEACL',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 2) throw new ImapBad('DELETEACL takes a mailbox and an identifier');
      const access = await administered(ctx, cmd.args[0]);
      const { id } = identifierArg(cmd.args[1]);
      refuseOwner(access, id);
      await ctx.env.store.deleteAcl(access.mailbox.id, id);
    },
  },
  {
    // RFC 4314 §3.3: `* ACL mailbox (identifier rights)...`, the owner first.
    name: 'GETACL',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 1) throw new ImapBad('GETACL takes a mailbox');
      const access = await administered(ctx, cmd.args[0]);
      // A public folder's owner is the hidden account of its domain (store/rules/public-owner.ts):
      // not shown, its rights are fixed and nobody logs in as it.
      const data = isPublicOwner(access.owner.address)
        ? [wireName(ctx, access)]
        : [wireName(ctx, access), astringData(access.owner.address), astringData(rightsForWire(ALL_RIGHTS))];
      for (const e of await ctx.env.store.getAcl(access.mailbox.id)) {
        data.push(astringData(e.identifier), astringData(rightsForWire(e.rights)));
      }
      ctx.untagged(atom('ACL'), ...data);
    },
  },
  {
    // RFC 4314 §3.4: the rights always granted, then each right that may be granted alone.
    name: 'LISTRIGHTS',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 2) throw new ImapBad('LISTRIGHTS takes a mailbox and an identifier');
      const access = await administered(ctx, cmd.args[0]);
      const { given, id } = identifierArg(cmd.args[1]);
      // RFC 4314 §3.4: the identifier as the client spelled it.
      const head = [atom('LISTRIGHTS'), wireName(ctx, access), astringData(given)];
      if (id === access.owner.address) {
        ctx.untagged(...head, astringData(rightsForWire(ALL_RIGHTS)));
        return;
      }
      // "c" and "d" (RFC 4314 §2.1.1) are listed too, as Dovecot does.
      ctx.untagged(...head, '', ...[...ALL_RIGHTS, 'c', 'd'].map((r) => atom(r)));
    },
  },
  {
    // RFC 4314 §3.5: `* MYRIGHTS mailbox rights`; any right lets the user ask.
    name: 'MYRIGHTS',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 1) throw new ImapBad('MYRIGHTS takes a mailbox');
      const name = mailboxArg(cmd.args[0], { utf8: ctx.utf8 });
      const access = await findMailbox(ctx.env.store, userOf(ctx), name);
      if (access === null) throw noSuchMailbox(name);
      ctx.untagged(atom('MYRIGHTS'), wireName(ctx, access), astringData(rightsForWire(access.rights)));
    },
  },
];
