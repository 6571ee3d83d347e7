// postern user app-password add|list|revoke: per-device passwords (issue 14). The secret is
// printed once, by `add`, and never stored: only its hash is (src/auth/app-passwords.ts). A
// revocation holds at the next login in every server process (logins read the rows each time).

import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { issueAppPassword, listAppPasswords, revokeAppPassword } from '../../auth/app-passwords.js';
import type { AppPassword, MailStore } from '../../store/types.js';
import { parseAddress } from '../address.js';
import { withCommandStore } from '../context.js';
import { printJson, printTable } from '../table.js';

async function accountId(store: MailStore, address: string): Promise<number> {
  const account = await store.getAccount(address);
  if (account === null) throw new UsageError(`no such user: ${address}`);
  return account.id;
}

function parseId(text: string): number {
  if (!/^[0-9]{1,15}$/.test(text)) throw new UsageError(`not an app password id: ${JSON.stringify(text)}`);
  return Number(text);
}

/** Minutes are enough to tell uses apart (uses are recorded at most once a minute). */
function when(d: Date | null): string {
  return d === null ? '-' : d.toISOString().slice(0, 16).replace('T', ' ') + 'Z';
}

function asJson(p: AppPassword): Record<string, unknown> {
  return {
    id: p.id,
    label: p.label,
    createdAt: p.createdAt.toISOString(),
    lastUsedAt: p.lastUsedAt?.toISOString() ?? null,
    lastUsedProtocol: p.lastUsedProtocol,
    lastUsedAddress: p.lastUsedAddress,
  };
}

export function registerUserAppPassword(user: Command): void {
  const appPassword = user
    .command('app-password')
    .description('per-device passwords for IMAP, POP3 and SMTP, revocable one by one');

  appPassword
    .command('add <address> <label>')
    .description('make an app password and print it (shown only this once)')
    .option('--json', 'print JSON (with the secret)')
    .action(async (input: string, label: string, opts: { json?: boolean }, cmd: Command) => {
      const { address } = parseAddress(input);
      const issued = await withCommandStore(cmd, async ({ store }) =>
        issueAppPassword(store, await accountId(store, address), label),
      );
      if (opts.json === true) return printJson({ ...asJson(issued.appPassword), secret: issued.secret });
      process.stdout.write(
        `app password ${issued.appPassword.id} (${issued.appPassword.label}) of ${address}:\n\n` +
          `    ${issued.secret}\n\n` +
          'It is shown only now. Type it in the device instead of the password (spaces, hyphens\n' +
          `and case do not matter); revoke it with: postern user app-password revoke ${address} ${issued.appPassword.id}\n`,
      );
    });

  appPassword
    .command('list <address>')
    .description("a user's app passwords, newest first, with their last use")
    .option('--json', 'print JSON')
    .action(async (input: string, opts: { json?: boolean }, cmd: Command) => {
      const { address } = parseAddress(input);
      const list = await withCommandStore(cmd, async ({ store }) =>
        listAppPasswords(store, await accountId(store, address)),
      );
      if (opts.json === true) return printJson(list.map(asJson));
      printTable(
        [
          { header: 'ID', right: true },
          { header: 'LABEL' },
          { header: 'CREATED' },
          { header: 'LAST USED' },
          { header: 'BY' },
          { header: 'FROM' },
        ],
        list.map((p) => [
          String(p.id),
          p.label,
          when(p.createdAt),
          when(p.lastUsedAt),
          p.lastUsedProtocol ?? '-',
          p.lastUsedAddress ?? '-',
        ]),
      );
    });

  appPassword
    .command('revoke <address> <id>')
    .description('revoke one app password: the next login with it fails')
    .action(async (input: string, idText: string, _opts: unknown, cmd: Command) => {
      const { address } = parseAddress(input);
      const id = parseId(idText);
      await withCommandStore(cmd, async ({ store }) => {
        if (!(await revokeAppPassword(store, await accountId(store, address), id)))
          throw new UsageError(`${address} has no app password ${id}`);
      });
      process.stdout.write(`revoked app password ${id} of ${address}\n`);
    });
}
