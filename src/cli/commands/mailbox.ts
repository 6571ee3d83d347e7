// postern mailbox status ADDRESS
// postern mailbox acl ADDRESS MAILBOX; postern mailbox share ADDRESS MAILBOX IDENTIFIER RIGHTS;
// postern mailbox unshare ADDRESS MAILBOX IDENTIFIER: the RFC 4314 ACL of one of a user's
// mailboxes, as IMAP SETACL/DELETEACL/GETACL change and show it (rules: store/rules/acl.ts).

import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { formatSize } from '../../config/units.js';
import { withCommandStore } from '../context.js';
import { parseAddress } from '../address.js';
import { printJson, printTable } from '../table.js';
import { isStoreError } from '../../core/errors.js';
import {
  ALL_RIGHTS,
  applyRightsChange,
  normalizeIdentifier,
  parseRightsChange,
  rightsForWire,
} from '../../store/rules/acl.js';
import type { Mailbox, MailStore } from '../../store/types.js';

/** The mailbox of a user by its own name (no Other Users prefix here), or a usage error. */
async function ownMailbox(
  store: MailStore,
  input: string,
  name: string,
): Promise<{ owner: string; box: Mailbox }> {
  const { address } = parseAddress(input);
  const account = await store.getAccount(address);
  if (account === null) throw new UsageError(`no such user: ${address}`);
  const box = await store.getMailbox(account.id, name);
  if (box === null) throw new UsageError(`no such mailbox of ${address}: ${name}`);
  return { owner: address, box };
}

function identifierArg(input: string, owner: string): string {
  const id = normalizeIdentifier(input);
  if (id === null) throw new UsageError(`an identifier is "anyone" or an address: ${input}`);
  if (id === owner) throw new UsageError("the owner's rights cannot be changed (the owner has every right)");
  return id;
}

export function registerMailbox(program: Command): void {
  const mailbox = program.command('mailbox').description("inspect a user's mailboxes");

  mailbox
    .command('status <address>')
    .description('per mailbox: messages, unseen, size, UIDVALIDITY, UIDNEXT')
    .option('--json', 'print JSON')
    .action(async (input: string, opts: { json?: boolean }, cmd: Command) => {
      const { address } = parseAddress(input);
      await withCommandStore(cmd, async ({ store }) => {
        const account = await store.getAccount(address);
        if (account === null) throw new UsageError(`no such user: ${address}`);
        // INBOX first, then the store's order (RFC 9051 §5.1: INBOX is special).
        const all = await store.listMailboxes(account.id);
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
    .action(async (input: string, name: string, opts: { json?: boolean }, cmd: Command) => {
      await withCommandStore(cmd, async ({ store }) => {
        const { owner, box } = await ownMailbox(store, input, name);
        const rows = [
          { identifier: owner, rights: rightsForWire(ALL_RIGHTS) },
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
    .action(
      async (
        input: string,
        name: string,
        ident: string,
        rightsText: string,
        _opts: unknown,
        cmd: Command,
      ) => {
        await withCommandStore(cmd, async ({ store }) => {
          const { owner, box } = await ownMailbox(store, input, name);
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
            `${id} on ${owner} ${box.name}: ${next === '' ? 'no rights' : rightsForWire(next)}\n`,
          );
        });
      },
    );

  mailbox
    .command('unshare <address> <mailbox> <identifier>')
    .description("removes IDENTIFIER's entry from the mailbox's ACL")
    .action(async (input: string, name: string, ident: string, _opts: unknown, cmd: Command) => {
      await withCommandStore(cmd, async ({ store }) => {
        const { owner, box } = await ownMailbox(store, input, name);
        const id = identifierArg(ident, owner);
        const removed = await store.deleteAcl(box.id, id);
        process.stdout.write(`${id} on ${owner} ${box.name}: ${removed ? 'removed' : 'had no entry'}\n`);
      });
    });
}
