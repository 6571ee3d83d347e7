// postern mailbox status ADDRESS
// postern mailbox acl ADDRESS MAILBOX; postern mailbox share ADDRESS MAILBOX IDENTIFIER RIGHTS;
// postern mailbox unshare ADDRESS MAILBOX IDENTIFIER: the RFC 4314 ACL of one of a user's
// mailboxes, as IMAP SETACL/DELETEACL/GETACL change and show it (rules: store/rules/acl.ts).
// postern mailbox create|delete ADDRESS MAILBOX: makes or removes a mailbox.
// With --public, ADDRESS is a domain and MAILBOX one of its public folders (IMAP "shared/MAILBOX",
// owned by the domain's hidden account, store/rules/public-owner.ts); `create --public` makes
// that account the first time.

import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { formatSize } from '../../config/units.js';
import { withCommandStore } from '../context.js';
import { parseAddress, parseDomain } from '../address.js';
import { publicOwnerAddress } from '../../store/rules/public-owner.js';
import { ensurePublicOwner } from '../../store/public-folders.js';
import { printJson, printTable } from '../table.js';
import { isStoreError } from '../../core/errors.js';
import {
  ALL_RIGHTS,
  applyRightsChange,
  normalizeIdentifier,
  parseRightsChange,
  rightsForWire,
} from '../../store/rules/acl.js';
import type { Account, Mailbox, MailStore } from '../../store/types.js';

interface OwnerOptions {
  /** ADDRESS is a domain, MAILBOX one of its public folders. */
  public?: boolean;
}

/** The owner's address a command names: a user's, or with --public a domain's public owner. */
function ownerAddress(input: string, opts: OwnerOptions): string {
  return opts.public === true ? publicOwnerAddress(parseDomain(input)) : parseAddress(input).address;
}

/** How a command's output names the owner. */
function ownerLabel(input: string, owner: string, opts: OwnerOptions): string {
  return opts.public === true ? `public folders of ${parseDomain(input)}` : owner;
}

/** The owner's account, or a usage error. */
async function ownerAccount(store: MailStore, input: string, opts: OwnerOptions): Promise<Account> {
  const owner = ownerAddress(input, opts);
  const account = await store.getAccount(owner);
  if (account !== null) return account;
  throw new UsageError(
    opts.public === true ? `${parseDomain(input)} has no public folders` : `no such user: ${owner}`,
  );
}

/** The mailbox of a user (or a public folder) by its owner's name (no namespace prefix here). */
async function ownMailbox(
  store: MailStore,
  input: string,
  name: string,
  opts: OwnerOptions = {},
): Promise<{ owner: string; box: Mailbox }> {
  const account = await ownerAccount(store, input, opts);
  const box = await store.getMailbox(account.id, name);
  if (box === null || (opts.public === true && box.name === 'INBOX')) {
    throw new UsageError(`no such mailbox of ${ownerLabel(input, account.address, opts)}: ${name}`);
  }
  return { owner: account.address, box };
}

function identifierArg(input: string, owner: string): string {
  const id = normalizeIdentifier(input);
  if (id === null) throw new UsageError(`an identifier is "anyone" or an address: ${input}`);
  if (id === owner) throw new UsageError("the owner's rights cannot be changed (the owner has every right)");
  return id;
}

export function registerMailbox(program: Command): void {
  const mailbox = program
    .command('mailbox')
    .description("inspect a user's mailboxes and a domain's public folders");
  const publicOption = '--public';
  const publicHelp = 'ADDRESS is a domain and MAILBOX one of its public folders (IMAP "shared/MAILBOX")';

  mailbox
    .command('create <address> <mailbox>')
    .description("creates a user's mailbox, or with --public a public folder of a domain")
    .option(publicOption, publicHelp)
    .action(async (input: string, name: string, opts: OwnerOptions, cmd: Command) => {
      await withCommandStore(cmd, async ({ store }) => {
        const account =
          opts.public === true
            ? await ensurePublicOwner(store, parseDomain(input)).catch((err: unknown) => {
                if (isStoreError(err, 'NOT_FOUND')) throw new UsageError(`no such domain: ${input}`);
                throw err;
              })
            : await ownerAccount(store, input, opts);
        const label = ownerLabel(input, account.address, opts);
        if (name.toUpperCase() === 'INBOX' || (await store.getMailbox(account.id, name)) !== null) {
          throw new UsageError(`${label} already has a mailbox ${name}`);
        }
        try {
          await store.createMailbox(account.id, name);
        } catch (err) {
          if (isStoreError(err, 'INVALID_ARGUMENT'))
            throw new UsageError(`invalid mailbox name: ${err.message}`);
          throw err;
        }
        process.stdout.write(`created ${name} (${label})\n`);
      });
    });

  mailbox
    .command('delete <address> <mailbox>')
    .description('deletes a mailbox with its messages (and its inferiors: they are not kept)')
    .option(publicOption, publicHelp)
    .action(async (input: string, name: string, opts: OwnerOptions, cmd: Command) => {
      await withCommandStore(cmd, async ({ store }) => {
        const { owner, box } = await ownMailbox(store, input, name, opts);
        if (box.name === 'INBOX') throw new UsageError('INBOX cannot be deleted');
        const account = await ownerAccount(store, input, opts);
        const prefix = box.name + '/';
        const inferiors = (await store.listMailboxes(account.id)).filter((m) => m.name.startsWith(prefix));
        // Deepest first, so that each is a leaf when it goes.
        for (const m of inferiors.sort((a, b) => b.name.length - a.name.length)) {
          await store.deleteMailbox(account.id, m.name);
        }
        await store.deleteMailbox(account.id, box.name);
        process.stdout.write(`deleted ${box.name} (${ownerLabel(input, owner, opts)})\n`);
      });
    });

  mailbox
    .command('status <address>')
    .description('per mailbox: messages, unseen, size, UIDVALIDITY, UIDNEXT')
    .option('--json', 'print JSON')
    .option(publicOption, 'ADDRESS is a domain: its public folders (IMAP "shared/")')
    .action(async (input: string, opts: OwnerOptions & { json?: boolean }, cmd: Command) => {
      await withCommandStore(cmd, async ({ store }) => {
        const account = await ownerAccount(store, input, opts);
        // INBOX first, then the store's order (RFC 9051 §5.1: INBOX is special).
        // A public-folder owner's INBOX is no public folder.
        const all = (await store.listMailboxes(account.id)).filter(
          (m) => opts.public !== true || m.name !== 'INBOX',
        );
        const boxes = [...all.filter((m) => m.name === 'INBOX'), ...all.filter((m) => m.name !== 'INBOX')];
        if (opts.json === true) {
          return printJson(
            boxes.map((m) => ({
              name: m.name,
              specialUse: m.specialUse,
              messages: m.messages,
              unseen: m.unseen,
              size: m.size,
              uidValidity: m.uidValidity,
              uidNext: m.uidNext,
            })),
          );
        }
        printTable(
          [
            { header: 'MAILBOX' },
            { header: 'MESSAGES', right: true },
            { header: 'UNSEEN', right: true },
            { header: 'SIZE', right: true },
            { header: 'UIDVALIDITY', right: true },
            { header: 'UIDNEXT', right: true },
          ],
          boxes.map((m) => [
            m.name,
            String(m.messages),
            String(m.unseen),
            formatSize(m.size),
            String(m.uidValidity),
            String(m.uidNext),
          ]),
        );
      });
    });

  mailbox
    .command('acl <address> <mailbox>')
    .description('who may use the mailbox and how (RFC 4314 rights; the owner has all)')
    .option('--json', 'print JSON')
    .option(publicOption, publicHelp)
    .action(async (input: string, name: string, opts: OwnerOptions & { json?: boolean }, cmd: Command) => {
      await withCommandStore(cmd, async ({ store }) => {
        const { owner, box } = await ownMailbox(store, input, name, opts);
        const rows = [
          // A public folder's owner is hidden (as in IMAP GETACL).
          ...(opts.public === true ? [] : [{ identifier: owner, rights: rightsForWire(ALL_RIGHTS) }]),
          ...(await store.getAcl(box.id)).map((e) => ({
            identifier: e.identifier,
            rights: rightsForWire(e.rights),
          })),
        ];
        if (opts.json === true) return printJson(rows);
        printTable(
          [{ header: 'IDENTIFIER' }, { header: 'RIGHTS' }],
          rows.map((r) => [r.identifier, r.rights]),
        );
      });
    });

  mailbox
    .command('share <address> <mailbox> <identifier> <rights>')
    .description(
      'gives IDENTIFIER (an address or "anyone") RIGHTS on the mailbox: "lr" replaces, "+w" adds, "-- -w" removes',
    )
    .option(publicOption, publicHelp)
    .action(
      async (
        input: string,
        name: string,
        ident: string,
        rightsText: string,
        opts: OwnerOptions,
        cmd: Command,
      ) => {
        await withCommandStore(cmd, async ({ store }) => {
          const { owner, box } = await ownMailbox(store, input, name, opts);
          const id = identifierArg(ident, owner);
          let change;
          try {
            change = parseRightsChange(rightsText);
          } catch (err) {
            if (isStoreError(err, 'INVALID_ARGUMENT')) throw new UsageError(`invalid rights: ${err.message}`);
            throw err;
          }
          const current = (await store.getAcl(box.id)).find((e) => e.identifier === id)?.rights ?? '';
          const next = applyRightsChange(current, change);
          await store.setAcl(box.id, id, next);
          process.stdout.write(
            `${id} on ${ownerLabel(input, owner, opts)} ${box.name}: ${next === '' ? 'no rights' : rightsForWire(next)}\n`,
          );
        });
      },
    );

  mailbox
    .command('unshare <address> <mailbox> <identifier>')
    .description("removes IDENTIFIER's entry from the mailbox's ACL")
    .option(publicOption, publicHelp)
    .action(async (input: string, name: string, ident: string, opts: OwnerOptions, cmd: Command) => {
      await withCommandStore(cmd, async ({ store }) => {
        const { owner, box } = await ownMailbox(store, input, name, opts);
        const id = identifierArg(ident, owner);
        const removed = await store.deleteAcl(box.id, id);
        const label = ownerLabel(input, owner, opts);
        process.stdout.write(`${id} on ${label} ${box.name}: ${removed ? 'removed' : 'had no entry'}\n`);
      });
    });
}
