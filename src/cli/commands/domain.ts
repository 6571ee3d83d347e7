// postern domain add|list|del|pop3-expire, postern domain dkim show|rotate|remove. A domain is added with
// its DKIM keys (an Ed25519 and an RSA-2048 key, both signing; src/outbound/dkim-keys.ts).

import { isPublicOwner, publicOwnerAddress } from '../../store/rules/public-owner.js';
import type { Command } from 'commander';
import { UsageError, isStoreError } from '../../core/errors.js';
import { createDkimKeys, dkimRecordName, dkimRecordValue } from '../../outbound/dkim-keys.js';
import type { DkimKey, MailStore } from '../../store/types.js';
import { withCommandStore } from '../context.js';
import { parseDomain } from '../address.js';
import { describePop3Expire, parsePop3Expire } from '../pop3-expire.js';
import { printJson, printTable } from '../table.js';

function describeKeys(keys: readonly DkimKey[]): string {
  return keys.map((k) => `${k.selector} (${k.algorithm})`).join(', ');
}

/** A local domain or a one-line error. */
async function localDomain(store: MailStore, name: string): Promise<void> {
  if ((await store.getDomain(name)) === null) throw new UsageError(`no such domain: ${name}`);
}

export function registerDomain(program: Command): void {
  const domain = program.command('domain').description('manage mail domains');

  domain
    .command('add <domain>')
    .description('add a mail domain')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const d = parseDomain(name);
      const keys = await withCommandStore(cmd, async ({ store }) => {
        try {
          await store.createDomain(d);
        } catch (err) {
          if (isStoreError(err, 'ALREADY_EXISTS')) throw new UsageError(`domain ${d} already exists`);
          throw err;
        }
        return createDkimKeys(store, d);
      });
      process.stdout.write(
        `added domain ${d}\nDKIM keys: ${describeKeys(keys)}; publish them with \`postern dns ${d}\`\n`,
      );
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
            const accounts = await store.listAccounts(d);
            // The hidden owner of the public folders counts too (store/rules/public-owner.ts).
            const hidden = accounts.some((a) => isPublicOwner(a.address))
              ? `, one of them ${publicOwnerAddress(d)} with the public folders`
              : '';
            throw new UsageError(
              `domain ${d} still has ${accounts.length} user(s)${hidden}; delete them first`,
            );
          }
          throw err;
        }
      });
      process.stdout.write(`deleted domain ${d}\n`);
    });

  domain
    .command('pop3-expire <domain> <days>')
    .description(
      'days after POP3 first retrieves a message until it is deleted, for this domain\'s users: a number, "never", or "default" (pop3.expire_days)',
    )
    .action(async (name: string, days: string, _opts: unknown, cmd: Command) => {
      const d = parseDomain(name);
      const expire = parsePop3Expire(days);
      await withCommandStore(cmd, async ({ store }) => {
        await localDomain(store, d);
        await store.setPop3Expire({ domain: d }, expire);
      });
      process.stdout.write(`POP3 retention of ${d}: ${describePop3Expire(expire)}\n`);
    });

  registerDkim(domain);
}

function registerDkim(domain: Command): void {
  const dkim = domain.command('dkim').description("manage a domain's DKIM signing keys");

  dkim
    .command('show <domain>')
    .description('list the DKIM keys of a domain with their DNS records (never the private keys)')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const d = parseDomain(name);
      await withCommandStore(cmd, async ({ store }) => {
        await localDomain(store, d);
        const rows = (await store.listDkimKeys(d)).map((k) => ({
          selector: k.selector,
          algorithm: k.algorithm,
          state: k.state,
          createdAt: k.createdAt.toISOString(),
          retiredAt: k.retiredAt === null ? null : k.retiredAt.toISOString(),
          record: dkimRecordName(k),
          value: dkimRecordValue(k),
        }));
        if (opts.json === true) return printJson(rows);
        if (rows.length === 0) {
          process.stdout.write(`${d} has no DKIM keys: \`postern domain dkim rotate ${d}\` makes them\n`);
          return;
        }
        printTable(
          [
            { header: 'SELECTOR' },
            { header: 'ALGORITHM' },
            { header: 'STATE' },
            { header: 'CREATED' },
            { header: 'RECORD' },
          ],
          rows.map((r) => [r.selector, r.algorithm, r.state, r.createdAt, r.record]),
        );
      });
    });

  dkim
    .command('rotate <domain>')
    .description(
      'sign with a new Ed25519 + RSA key pair and retire the active one: the pair staged with --stage ' +
        'if there is one, else a new pair at once',
    )
    .option(
      '--stage',
      'make the new pair without signing with it yet: publish its records first, then rotate',
    )
    .action(async (name: string, opts: { stage?: boolean }, cmd: Command) => {
      const d = parseDomain(name);
      const lines = await withCommandStore(cmd, async ({ store }): Promise<string[]> => {
        await localDomain(store, d);
        const pending = (await store.listDkimKeys(d)).filter((k) => k.state === 'pending');
        if (opts.stage === true) {
          if (pending.length > 0) {
            throw new UsageError(
              `${d} already has staged DKIM keys (${describeKeys(pending)}): \`postern domain dkim rotate ${d}\` signs with them`,
            );
          }
          const keys = await createDkimKeys(store, d, { stage: true });
          return [
            `staged DKIM keys for ${d}: ${describeKeys(keys)}`,
            `publish their records (\`postern dns ${d}\`); once they resolve, ` +
              `\`postern domain dkim rotate ${d}\` signs with them`,
          ];
        }
        if (pending.length > 0) {
          const { activated, retired } = await store.activateDkimKeys(d);
          return [
            `signing for ${d} with the staged DKIM keys: ${describeKeys(activated)}`,
            ...(retired.length > 0 ? [`retired: ${describeKeys(retired)}`] : []),
            'a running server signs with them within a minute',
          ];
        }
        const retired = await store.listDkimKeys(d, { activeOnly: true });
        const keys = await createDkimKeys(store, d, { rotate: true });
        return [
          `new DKIM keys for ${d}: ${describeKeys(keys)}`,
          ...(retired.length > 0 ? [`retired: ${describeKeys(retired)}`] : []),
          `publish the new records now (\`postern dns ${d}\`); a running server signs with the new keys within a minute`,
        ];
      });
      process.stdout.write(lines.join('\n') + '\n');
    });

  dkim
    .command('remove <domain> <selector>')
    .description(
      'delete a retired or staged DKIM key (its record is then no longer printed by `postern dns`)',
    )
    .action(async (name: string, selector: string, _opts: unknown, cmd: Command) => {
      const d = parseDomain(name);
      await withCommandStore(cmd, async ({ store }) => {
        await localDomain(store, d);
        try {
          await store.deleteDkimKey(d, selector);
        } catch (err) {
          if (isStoreError(err, 'NOT_FOUND')) throw new UsageError(`${d} has no DKIM key ${selector}`);
          if (isStoreError(err, 'INVALID_ARGUMENT')) throw new UsageError(err.message);
          throw err;
        }
      });
      process.stdout.write(`removed DKIM key ${selector.toLowerCase()} of ${d}\n`);
    });
}
