// postern dev (what `npm start` runs): a ready-to-use server for a newcomer, no root needed.
// First run creates ./.postern-dev/postern.toml (loopback, unprivileged ports), the domain
// example.test and the user demo@example.test with a random password kept in
// ./.postern-dev/demo-credentials.txt; later runs reuse all of it.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { isStoreError } from '../../core/errors.js';
import { hashPassword } from '../../auth/password.js';
import { buildConfig, DEV_LISTEN, loadConfig, renderConfigToml } from '../../config/load.js';
import type { PosternConfig } from '../../config/types.js';
import { createDkimKeys } from '../../outbound/dkim-keys.js';
import type { MailStore } from '../../store/types.js';
import { configOption, withStore } from '../context.js';
import { renderListeners, type ReadyInfo } from '../listener-report.js';
import { writeFileAtomic } from './init.js';

export const DEV_DIR = '.postern-dev';
export const DEV_DOMAIN = 'example.test';
export const DEV_USER = `demo@${DEV_DOMAIN}`;
const CREDENTIALS_FILE = 'demo-credentials.txt';

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** The dev config, created on first run. */
export async function ensureDevConfig(configFile: string): Promise<PosternConfig> {
  const configPath = path.resolve(configFile);
  if (!(await exists(configPath))) {
    await mkdir(path.dirname(configPath), { recursive: true, mode: 0o750 });
    const config = buildConfig({
      configPath,
      hostname: 'localhost',
      dataDir: path.join(path.dirname(configPath), 'data'),
      listen: { ...DEV_LISTEN },
      // The banner with ports and credentials stays readable; raise it in the file to see more.
      log: { level: 'warn' },
    });
    await writeFileAtomic(configPath, renderConfigToml(config), 0o640);
  }
  const config = await loadConfig(configFile);
  await mkdir(config.dataDir, { recursive: true, mode: 0o750 });
  return config;
}

function parseCredentials(text: string): string | null {
  for (const line of text.split('\n')) {
    if (line.startsWith('password: ')) return line.slice('password: '.length).trim() || null;
  }
  return null;
}

/** Creates the demo domain and user if missing; returns the demo password. */
export async function ensureDemoAccount(
  store: MailStore,
  credentialsPath: string,
  opts: { scryptLogN?: number } = {},
): Promise<string> {
  if ((await store.getDomain(DEV_DOMAIN)) === null) {
    try {
      await store.createDomain(DEV_DOMAIN);
      await createDkimKeys(store, DEV_DOMAIN);
    } catch (err) {
      if (!isStoreError(err, 'ALREADY_EXISTS')) throw err;
    }
  }
  let password: string | null = null;
  try {
    password = parseCredentials(await readFile(credentialsPath, 'utf8'));
  } catch {
    password = null;
  }
  const account = await store.getAccount(DEV_USER);
  if (password !== null && account !== null) return password;
  const fresh = password ?? randomBytes(12).toString('base64url');
  const hash = await hashPassword(fresh, { logN: opts.scryptLogN });
  if (account === null) await store.createAccount({ address: DEV_USER, passwordHash: hash });
  else await store.setPasswordHash(DEV_USER, hash); // the credentials file was lost: reset
  await writeFileAtomic(
    credentialsPath,
    `# Demo account of \`postern dev\` (development only)\naddress: ${DEV_USER}\npassword: ${fresh}\n`,
    0o600,
  );
  return fresh;
}

export function registerDev(program: Command): void {
  program
    .command('dev')
    .description(`development server: ${DEV_DIR}/postern.toml on 127.0.0.1, demo user ${DEV_USER}`)
    .action(async (_opts: unknown, cmd: Command) => {
      // --config picks another file; POSTERN_CONFIG is deliberately ignored here so that
      // `npm start` never runs against a production config by accident.
      const configFile = configOption(cmd) ?? path.join(DEV_DIR, 'postern.toml');
      const config = await ensureDevConfig(configFile);
      const credentialsPath = path.join(path.dirname(path.resolve(configFile)), CREDENTIALS_FILE);
      const password = await withStore(config, ({ store }) =>
        ensureDemoAccount(store, credentialsPath, { scryptLogN: config.auth.scryptLogN }),
      );
      const { runServer } = await import('../../app/server.js');
      await runServer(config, {
        onReady: (info: ReadyInfo) => {
          const rel = path.relative(process.cwd(), credentialsPath) || credentialsPath;
          process.stdout.write(
            `\nPostern development server (config ${path.relative(process.cwd(), config.configPath ?? '') || configFile})\n` +
              renderListeners(config, info) +
              `\n  user      ${DEV_USER}\n  password  ${password}   (saved in ${rel})\n\nStop with Ctrl-C.\n`,
          );
        },
      });
    });
}
