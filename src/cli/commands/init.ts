// postern init: writes a commented config file and creates the data directory and store
// (and, with --domain, that domain with its DKIM keys).

import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError, isStoreError } from '../../core/errors.js';
import { buildConfig, renderConfigToml, resolveConfigPath } from '../../config/load.js';
import { createDkimKeys } from '../../outbound/dkim-keys.js';
import { configOption, withStore } from '../context.js';
import { parseDomain } from '../address.js';

interface InitOptions {
  domain?: string;
  hostname?: string;
  dataDir?: string;
  force?: boolean;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Writes via a temporary file and rename so a crash never leaves half a config. */
export async function writeFileAtomic(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, file);
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write a config file and create the data directory (and, with --domain, that domain)')
    .option('--domain <domain>', 'create this mail domain')
    .option('--hostname <name>', "the server host name (default: this machine's name)")
    .option('--data-dir <dir>', 'data directory (default: "data" beside the config file)')
    .option('--force', 'overwrite an existing config file')
    .action(async (opts: InitOptions, cmd: Command) => {
      const file = resolveConfigPath(configOption(cmd));
      const configPath = path.resolve(file);
      if ((await exists(configPath)) && opts.force !== true) {
        throw new UsageError(`${file} already exists (use --force to overwrite it)`);
      }
      const domain = opts.domain === undefined ? null : parseDomain(opts.domain);
      const config = buildConfig({
        configPath,
        ...(opts.hostname !== undefined ? { hostname: opts.hostname } : {}),
        dataDir:
          opts.dataDir !== undefined
            ? path.resolve(opts.dataDir)
            : path.join(path.dirname(configPath), 'data'),
      });
      await mkdir(path.dirname(configPath), { recursive: true });
      await writeFileAtomic(configPath, renderConfigToml(config), 0o640);
      await mkdir(config.dataDir, { recursive: true, mode: 0o750 });
      process.stdout.write(`wrote ${file}\ndata directory ${config.dataDir}\n`);
      await withStore(config, async ({ store }) => {
        if (domain === null) return;
        try {
          await store.createDomain(domain);
          const keys = await createDkimKeys(store, domain);
          process.stdout.write(
            `added domain ${domain}\nDKIM keys: ${keys.map((k) => `${k.selector} (${k.algorithm})`).join(', ')}; ` +
              `publish them with \`postern dns ${domain}\`\n`,
          );
        } catch (err) {
          if (!isStoreError(err, 'ALREADY_EXISTS')) throw err;
          process.stdout.write(`domain ${domain} already exists\n`);
        }
      });
    });
}
