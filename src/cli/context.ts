// What every command shares: the --config option, loading the config, opening the store (the
// same SQLite files a running server uses; SQLite WAL lets both work at once) and closing it.

import type { Command } from 'commander';
import { loadConfig, resolveConfigPath } from '../config/load.js';
import type { PosternConfig } from '../config/types.js';
import type { BlobStore } from '../store/blob/types.js';
import type { MailStore } from '../store/types.js';

export interface GlobalOptions {
  config?: string;
}

export interface StoreContext {
  config: PosternConfig;
  store: MailStore;
  blobs: BlobStore;
}

/** The --config value of this command or of the program. */
export function configOption(cmd: Command): string | undefined {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  return opts.config;
}

export async function loadCommandConfig(cmd: Command): Promise<PosternConfig> {
  return loadConfig(resolveConfigPath(configOption(cmd)));
}

/** Opens the store of `config`, runs `fn`, and closes the store whatever happens. */
export async function withStore<T>(config: PosternConfig, fn: (ctx: StoreContext) => Promise<T>): Promise<T> {
  // Loaded on demand so that --help and argument errors never load the store.
  const { openStore } = await import('../app/open-store.js');
  const { store, blobs } = await openStore(config);
  try {
    return await fn({ config, store, blobs });
  } finally {
    await store.close();
  }
}

/** Loads the command's config and runs `fn` with its store open. */
export async function withCommandStore<T>(cmd: Command, fn: (ctx: StoreContext) => Promise<T>): Promise<T> {
  return withStore(await loadCommandConfig(cmd), fn);
}
