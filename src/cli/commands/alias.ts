// postern alias add|list|del (FROM "@domain" is the domain's catch-all)

import type { Command } from 'commander';
import { UsageError, isStoreError } from '../../core/errors.js';
import { withCommandStore } from '../context.js';
import { parseAddress, parseDomain } from '../address.js';
import { printJson, printTable } from '../table.js';

/** An alias source: local@domain, or @domain for the catch-all. */
function parseSource(input: string): { source: string; domain: string } {
  if (input.startsWith('@')) {
    const domain = parseDomain(input.slice(1));
    return { source: `@${domain}`, domain };
  }
  const { address, domain } = parseAddress(input);
  return { source: address, domain };
}

export function registerAlias(program: Command): void {
  const alias = program.command('alias').description('manage aliases (FROM "@domain" = catch-all)');

  alias
    .command('add <from> <to>')
    .description('deliver mail for FROM (an address of a local domain, or @domain) to TO')
    .action(async (from: string, to: string, _opts: unknown, cmd: Command) => {
      const { source, domain } = parseSource(from);
      const destination = parseAddress(to).address;
      await withCommandStore(cmd, async ({ store }) => {
        if ((await store.getDomain(domain)) === null) {
          throw new UsageError(`domain ${domain} does not exist (add it with: postern domain add ${domain})`);
        }
        try {
          await store.addAlias({ source, destination });
        } catch (err) {
          if (isStoreError(err, 'ALREADY_EXISTS')) throw new UsageError(`alias ${source} already exists`);
          throw err;
        }
      });
      process.stdout.write(`added alias ${source} -> ${destination}\n`);
    });

  alias
    .command('list')
    .description('list aliases')
    .option('--domain <domain>', 'only the aliases of this domain')
    .option('--json', 'print JSON')
    .action(async (opts: { domain?: string; json?: boolean }, cmd: Command) => {
      const domain = opts.domain === undefined ? undefined : parseDomain(opts.domain);
      await withCommandStore(cmd, async ({ store }) => {
        const aliases = await store.listAliases(domain);
        if (opts.json === true)
          return printJson(aliases.map((a) => ({ source: a.source, destination: a.destination })));
        printTable(
          [{ header: 'FROM' }, { header: 'TO' }],
          aliases.map((a) => [a.source, a.destination]),
        );
      });
    });

  alias
    .command('del <from>')
    .description('delete an alias')
    .action(async (from: string, _opts: unknown, cmd: Command) => {
      const { source } = parseSource(from);
      await withCommandStore(cmd, async ({ store }) => {
        try {
          await store.deleteAlias(source);
        } catch (err) {
          if (isStoreError(err, 'NOT_FOUND')) throw new UsageError(`no such alias: ${source}`);
          throw err;
        }
      });
      process.stdout.write(`deleted alias ${source}\n`);
    });
}
