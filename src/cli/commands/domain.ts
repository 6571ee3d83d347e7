// postern domain add|list|del

import type { Command } from 'commander';
import { UsageError, isStoreError } from '../../core/errors.js';
import { withCommandStore } from '../context.js';
import { parseDomain } from '../address.js';
import { printJson, printTable } from '../table.js';

export function registerDomain(program: Command): void {
  const domain = program.command('domain').description('manage mail domains');

  domain
    .command('add <domain>')
    .description('add a mail domain')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const d = parseDomain(name);
      await withCommandStore(cmd, async ({ store }) => {
        try {
          await store.createDomain(d);
        } catch (err) {
          if (isStoreError(err, 'ALREADY_EXISTS')) throw new UsageError(`domain ${d} already exists`);
          throw err;
        }
      });
      process.stdout.write(`added domain ${d}\n`);
    });

  domain
    .command('list')
    .description('list mail domains')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withCommandStore(cmd, async ({ store }) => {
        const domains = await store.listDomains();
        const rows = [];
        for (const d of domains) {
          const accounts = (await store.listAccounts(d.name)).length;
          const aliases = (await store.listAliases(d.name)).length;
          rows.push({ name: d.name, accounts, aliases, createdAt: d.createdAt.toISOString() });
        }
        if (opts.json === true) return printJson(rows);
        printTable(
          [
            { header: 'DOMAIN' },
            { header: 'USERS', right: true },
            { header: 'ALIASES', right: true },
            { header: 'CREATED' },
          ],
          rows.map((r) => [r.name, String(r.accounts), String(r.aliases), r.createdAt]),
        );
      });
    });

  domain
    .command('del <domain>')
    .description('delete a mail domain that has no users left')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const d = parseDomain(name);
      await withCommandStore(cmd, async ({ store }) => {
        try {
          await store.deleteDomain(d);
        } catch (err) {
          if (isStoreError(err, 'NOT_FOUND')) throw new UsageError(`no such domain: ${d}`);
          if (isStoreError(err, 'HAS_CHILDREN')) {
            const n = (await store.listAccounts(d)).length;
            throw new UsageError(`domain ${d} still has ${n} user(s); delete them first`);
          }
          throw err;
        }
      });
      process.stdout.write(`deleted domain ${d}\n`);
    });
}
