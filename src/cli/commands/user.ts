// postern user add|list|passwd|del|quota|apop-secret|pop3-expire|app-password (user-app-password.ts)

import { isPublicOwner } from '../../store/rules/public-owner.js';
import type { Command } from 'commander';
import { UsageError, isStoreError } from '../../core/errors.js';
import { hashPassword } from '../../auth/password.js';
import { formatSize, parseSize } from '../../config/units.js';
import type { MailStore } from '../../store/types.js';
import { withCommandStore } from '../context.js';
import { parseAddress, parseDomain } from '../address.js';
import { obtainPassword, type PasswordOptions } from '../password-input.js';
import { describePop3Expire, parsePop3Expire } from '../pop3-expire.js';
import { printJson, printTable } from '../table.js';
import { registerUserAppPassword } from './user-app-password.js';

export function parseQuota(text: string): number {
  const n = parseSize(text);
  if (n === null)
    throw new UsageError(`not a valid size: ${JSON.stringify(text)} (examples: 500M, 2G, 0 for unlimited)`);
  return n;
}

function parseMessageCount(text: string): number {
  if (!/^[0-9]{1,10}$/.test(text)) throw new UsageError(`not a message count: ${JSON.stringify(text)}`);
  return Number(text);
}

export function formatQuota(bytes: number): string {
  return bytes === 0 ? 'unlimited' : formatSize(bytes);
}

async function requireDomain(store: MailStore, domain: string): Promise<void> {
  if ((await store.getDomain(domain)) === null) {
    throw new UsageError(`domain ${domain} does not exist (add it with: postern domain add ${domain})`);
  }
}

function notFound(address: string): (err: unknown) => never {
  return (err: unknown) => {
    if (isStoreError(err, 'NOT_FOUND')) throw new UsageError(`no such user: ${address}`);
    throw err;
  };
}

export function registerUser(program: Command): void {
  const user = program.command('user').description('manage mail users (accounts)');

  user
    .command('add <address>')
    .description('add a user; the domain must exist')
    .option('--password <password>', 'the password (visible to other local users: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .option('--quota <size>', 'storage quota, e.g. 500M or 2G; 0 = unlimited', '0')
    .action(async (input: string, opts: PasswordOptions & { quota: string }, cmd: Command) => {
      const { address, domain } = parseAddress(input);
      const quotaBytes = parseQuota(opts.quota);
      await withCommandStore(cmd, async ({ store, config }) => {
        await requireDomain(store, domain);
        if ((await store.getAccount(address)) !== null)
          throw new UsageError(`user ${address} already exists`);
        const passwordHash = await hashPassword(await obtainPassword(opts), { logN: config.auth.scryptLogN });
        try {
          await store.createAccount({ address, passwordHash, quotaBytes });
        } catch (err) {
          if (isStoreError(err, 'ALREADY_EXISTS')) throw new UsageError(`user ${address} already exists`);
          throw err;
        }
      });
      process.stdout.write(`added user ${address}\n`);
    });

  user
    .command('list')
    .description('list users')
    .option('--domain <domain>', 'only the users of this domain')
    .option('--json', 'print JSON')
    .action(async (opts: { domain?: string; json?: boolean }, cmd: Command) => {
      const domain = opts.domain === undefined ? undefined : parseDomain(opts.domain);
      await withCommandStore(cmd, async ({ store }) => {
        const accounts = await store.listAccounts(domain);
        if (opts.json === true) {
          return printJson(
            accounts.map((a) => ({
              address: a.address,
              quotaBytes: a.quotaBytes,
              usedBytes: a.usedBytes,
              quotaMessages: a.quotaMessages,
              usedMessages: a.usedMessages,
              state: a.state,
              ...(isPublicOwner(a.address) ? { publicFolders: true } : {}),
              createdAt: a.createdAt.toISOString(),
            })),
          );
        }
        printTable(
          [
            { header: 'ADDRESS' },
            { header: 'USED', right: true },
            { header: 'QUOTA', right: true },
            { header: 'STATE' },
          ],
          accounts.map((a) => [
            a.address,
            formatSize(a.usedBytes),
            formatQuota(a.quotaBytes),
            // The hidden owner of a domain's public folders never logs in: not a user's state.
            isPublicOwner(a.address) ? 'public folders' : a.state,
          ]),
        );
      });
    });

  user
    .command('passwd <address>')
    .description("change a user's password (prompts twice on a terminal)")
    .option('--password <password>', 'the new password')
    .option('--password-stdin', 'read the new password from the first line of standard input')
    .action(async (input: string, opts: PasswordOptions, cmd: Command) => {
      const { address } = parseAddress(input);
      await withCommandStore(cmd, async ({ store, config }) => {
        if ((await store.getAccount(address)) === null) throw new UsageError(`no such user: ${address}`);
        // The server's credential cache is bound to the stored hash: the old password stops
        // working at the next login in every process, with no message to send.
        const passwordHash = await hashPassword(await obtainPassword(opts), { logN: config.auth.scryptLogN });
        await store.setPasswordHash(address, passwordHash).catch(notFound(address));
      });
      process.stdout.write(`changed the password of ${address}\n`);
    });

  user
    .command('del <address>')
    .description('delete a user with all their mailboxes and messages')
    .action(async (input: string, _opts: unknown, cmd: Command) => {
      // ".shared@DOMAIN" too: every public folder of the domain goes with it (docs/cli.md).
      const { address } = parseAddress(input, { allowPublicOwner: true });
      await withCommandStore(cmd, async ({ store }) => {
        await store.deleteAccount(address).catch(notFound(address));
      });
      process.stdout.write(`deleted user ${address}\n`);
    });

  user
    .command('apop-secret <address>')
    .description('set the shared secret for POP3 APOP (needs pop3.apop = true), or remove it with --clear')
    .option('--password <secret>', 'the secret (visible to other local users: prefer --password-stdin)')
    .option('--password-stdin', 'read the secret from the first line of standard input')
    .option('--clear', 'remove the secret: APOP is refused for this user')
    .action(async (input: string, opts: PasswordOptions & { clear?: boolean }, cmd: Command) => {
      const { address } = parseAddress(input);
      await withCommandStore(cmd, async ({ store }) => {
        if ((await store.getAccount(address)) === null) throw new UsageError(`no such user: ${address}`);
        // RFC 1939 §7: APOP needs the secret itself, so it is stored in clear (not the password).
        const secret = opts.clear === true ? null : await obtainPassword(opts);
        await store.setApopSecret(address, secret).catch(notFound(address));
      });
      process.stdout.write(
        opts.clear === true
          ? `removed the APOP secret of ${address}\n`
          : `set the APOP secret of ${address}\n`,
      );
    });

  user
    .command('quota <address> <size>')
    .description("set a user's quota, e.g. 500M or 2G; 0 = unlimited")
    .option('--messages <count>', 'also limit the number of messages (RFC 9208 MESSAGE); 0 = unlimited')
    .action(async (input: string, size: string, opts: { messages?: string }, cmd: Command) => {
      // The public folders of a domain count on ".shared@DOMAIN" (docs/cli.md).
      const { address } = parseAddress(input, { allowPublicOwner: true });
      const quotaBytes = parseQuota(size);
      const quotaMessages = opts.messages === undefined ? undefined : parseMessageCount(opts.messages);
      await withCommandStore(cmd, async ({ store }) => {
        await store.setQuota(address, quotaBytes).catch(notFound(address));
        if (quotaMessages !== undefined)
          await store.setMessageQuota(address, quotaMessages).catch(notFound(address));
      });
      process.stdout.write(`quota of ${address}: ${formatQuota(quotaBytes)}\n`);
      if (quotaMessages !== undefined)
        process.stdout.write(
          `message quota of ${address}: ${quotaMessages === 0 ? 'unlimited' : `${quotaMessages} messages`}\n`,
        );
    });

  user
    .command('pop3-expire <address> <days>')
    .description(
      'days after POP3 first retrieves a message until it is deleted, for this user: a number, "never", or "default" (the domain\'s)',
    )
    .action(async (input: string, days: string, _opts: unknown, cmd: Command) => {
      const { address } = parseAddress(input);
      const expire = parsePop3Expire(days);
      await withCommandStore(cmd, async ({ store }) => {
        await store.setPop3Expire({ address }, expire).catch(notFound(address));
      });
      process.stdout.write(`POP3 retention of ${address}: ${describePop3Expire(expire)}\n`);
    });

  registerUserAppPassword(user);
}
