// postern mailbox status ADDRESS

import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { formatSize } from '../../config/units.js';
import { withCommandStore } from '../context.js';
import { parseAddress } from '../address.js';
import { printJson, printTable } from '../table.js';

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
}
