// The real server (runServer, the protocol registry) in this process, with the listeners a test
// names on 127.0.0.1 port 0 and some hosted domains: for the autoconfig tests, whose answers
// depend on which listeners are open, and for the user's page (accounts, limits, a setup hook).

import { rm } from 'node:fs/promises';
import { openStore } from '../../src/app/open-store.js';
import { hashPassword } from '../../src/auth/password.js';
import { runServer, type ReadyInfo } from '../../src/app/server.js';
import type { ListenAddress, ListenerName } from '../../src/config/types.js';
import type { Limits } from '../../src/core/limits.js';
import type { MailStore } from '../../src/store/types.js';
import { LOOPBACK_0, tempDir, testConfig } from '../integration/server-fixture.js';

/** The password of every account made with `accounts`. */
export const ACCOUNT_PASSWORD = 'correct horse battery';

export interface AutoconfigServer {
  hostname: string;
  /** The data directory: the generated certificate is <dataDir>/tls/cert.pem. */
  dataDir: string;
  /** The real port of an open listener; throws when it is not open. */
  port(name: ListenerName): number;
  has(name: ListenerName): boolean;
  stop(): Promise<void>;
}

export async function startAutoconfigServer(opts: {
  listeners: ListenerName[];
  domains: string[];
  hostname?: string;
  /** Accounts to create (all with PASSWORD): the Apple profile is behind the user's login. */
  accounts?: string[];
  limits?: Partial<Limits>;
  /** Runs on the store before the server starts (quotas, mailboxes). */
  setup?: (store: MailStore) => Promise<void>;
}): Promise<AutoconfigServer> {
  const dir = await tempDir('autoconfig');
  const listen: Partial<Record<ListenerName, ListenAddress>> = {};
  for (const name of opts.listeners) listen[name] = LOOPBACK_0;
  const config = testConfig(dir, { listen, limits: opts.limits });
  if (opts.hostname !== undefined) config.hostname = opts.hostname;
  const { store } = await openStore(config);
  try {
    for (const d of opts.domains) await store.createDomain(d);
    for (const address of opts.accounts ?? []) {
      await store.createAccount({
        address,
        passwordHash: await hashPassword(ACCOUNT_PASSWORD, { logN: 10 }),
      });
    }
    await opts.setup?.(store);
  } finally {
    await store.close();
  }
  const controller = new AbortController();
  let ready!: (info: ReadyInfo) => void;
  const readyP = new Promise<ReadyInfo>((r) => (ready = r));
  const running = runServer(config, { onReady: ready, signal: controller.signal, handleSignals: false });
  const info = await Promise.race([
    readyP,
    running.then(() => {
      throw new Error('the server stopped before it was ready');
    }),
  ]);
  const ports = new Map(info.listeners.map((l) => [l.name, l.port]));
  return {
    hostname: config.hostname,
    dataDir: dir,
    port(name) {
      const p = ports.get(name);
      if (p === undefined) throw new Error(`${name} is not open`);
      return p;
    },
    has: (name) => ports.has(name),
    async stop() {
      controller.abort();
      await running;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
