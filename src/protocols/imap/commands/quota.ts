// QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA, and SETQUOTA refused. Invariants:
// - an account has one quota root, "" (RFC 9208 §4.1.2 example), covering every mailbox of the
//   account; it exists only while the account has a limit (a QUOTA response needs at least one
//   resource, §7 quota-list), so an unlimited account has no root at all;
// - the numbers are the ones the store enforces for SMTP and IMAP alike (accounts.used_bytes,
//   used_messages, quota_bytes, quota_messages), read fresh for each command: STORAGE in KiB
//   (§5.1: units of 1024 octets; usage rounded up, the limit down, so a client that sees room
//   has it), MESSAGE as a count (§5.2);
// - users may not change their quota: SETQUOTA is NO (§4.1.3), and QUOTASET is not announced.

import type { Account } from '../../../store/types.js';
import { atom, type ImapData } from '../../../wire/imap/encoder.js';
import { astring } from '../../../wire/imap/reader.js';
import type { ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import { mailboxArg, mailboxWire, noSuchMailbox } from '../mailbox-name.js';
import { AUTHENTICATED } from '../state.js';
import { mailboxNameData } from './mailbox-name-data.js';
import { findMailbox } from '../special-use-alias.js';

/** The name of every account's one quota root. */
export const QUOTA_ROOT = '';

/** Bytes as the STORAGE resource counts them (RFC 9208 §5.1), rounded up. */
export function storageKib(bytes: number): number {
  return Math.ceil(bytes / 1024);
}

/** The `(RESOURCE usage limit ...)` list of the account's root, or null when it has no limit. */
export function quotaResources(account: Account): ImapData[] | null {
  const out: ImapData[] = [];
  if (account.quotaBytes > 0)
    out.push(atom('STORAGE'), storageKib(account.usedBytes), Math.floor(account.quotaBytes / 1024));
  if (account.quotaMessages > 0) out.push(atom('MESSAGE'), account.usedMessages, account.quotaMessages);
  return out.length === 0 ? null : out;
}

/** The session's account as stored now (usage changes under the session). */
async function currentAccount(ctx: ImapSessionContext): Promise<Account> {
  const state = ctx.state;
  if (state.kind !== 'authenticated' && state.kind !== 'selected') throw new ImapBad('Not authenticated');
  const account = await ctx.env.store.getAccountById(state.account.id);
  if (account === null) throw new ImapNo('The account is gone');
  return account;
}

export const QUOTA_COMMANDS: ImapCommandSpec[] = [
  {
    // RFC 9208 §4.1.2: the mailbox's roots, then each root's QUOTA.
    name: 'GETQUOTAROOT',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 1) throw new ImapBad('GETQUOTAROOT takes a mailbox name');
      const name = mailboxArg(cmd.args[0], { utf8: ctx.utf8 });
      const account = await currentAccount(ctx);
      const mailbox = await findMailbox(ctx.env.store, account.id, name);
      if (mailbox === null) throw noSuchMailbox(name);
      const wire = mailboxNameData(mailboxWire(mailbox.name, { utf8: ctx.utf8 }));
      const resources = quotaResources(account);
      if (resources === null) {
        ctx.untagged(atom('QUOTAROOT'), wire);
        return;
      }
      ctx.untagged(atom('QUOTAROOT'), wire, QUOTA_ROOT);
      ctx.untagged(atom('QUOTA'), QUOTA_ROOT, resources);
    },
  },
  {
    // RFC 9208 §4.1.1: a root that does not exist is NO.
    name: 'GETQUOTA',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      const root = cmd.args.length === 1 ? astring(cmd.args[0]) : null;
      if (root === null) throw new ImapBad('GETQUOTA takes a quota root');
      const account = await currentAccount(ctx);
      const resources = root === QUOTA_ROOT ? quotaResources(account) : null;
      if (resources === null) throw new ImapNo('No such quota root', { name: 'NONEXISTENT' });
      ctx.untagged(atom('QUOTA'), QUOTA_ROOT, resources);
    },
  },
  {
    // RFC 9208 §4.1.3: the server may refuse; limits are the administrator's (`postern user quota`).
    name: 'SETQUOTA',
    states: AUTHENTICATED,
    handle(_ctx, cmd) {
      const [root, list] = cmd.args;
      if (cmd.args.length !== 2 || astring(root) === null || list?.kind !== 'list')
        return Promise.reject(new ImapBad('SETQUOTA takes a quota root and a list of limits'));
      return Promise.reject(new ImapNo('Quotas are set by the administrator', { name: 'NOPERM' }));
    },
  },
];
