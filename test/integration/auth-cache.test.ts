// The verified-credentials cache across processes: the server runs in this process (so its
// scrypt runs can be counted), and the real `postern` CLI, another process on the same SQLite
// store, changes a password or deletes a user while it runs. The old password must be refused
// at the very next login and the new one accepted, with no message between the processes.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { scryptRuns } from '../../src/auth/password.js';
import { loadConfig } from '../../src/config/load.js';
import { runServer, type ReadyInfo } from '../../src/app/server.js';
import { SQLITE_FILE_NAME } from '../../src/store/sqlite/sqlite-store.js';
import { ImapRawClient } from '../helpers/imap-raw-client.js';
import { POSTERN_CLI, startPosternImap } from '../helpers/postern-imap.js';
import { tempDir } from './server-fixture.js';

const run = promisify(execFile);

async function cli(configFile: string, args: string[], input = ''): Promise<string> {
  const child = run(process.execPath, [POSTERN_CLI, '--config', configFile, ...args], { timeout: 60_000 });
  child.child.stdin?.end(input);
  return (await child).stdout;
}

/** One IMAP LOGIN on a fresh connection: its status and the scrypt runs this process made meanwhile. */
async function login(
  port: number,
  user: string,
  password: string,
): Promise<{ status: string; scrypt: number }> {
  const before = scryptRuns();
  const c = await ImapRawClient.connect(port);
  try {
    const r = await c.command(`LOGIN ${user} ${password}`);
    return { status: r.status, scrypt: scryptRuns() - before };
  } finally {
    await c.close();
  }
}

void test(
  'user passwd and user del in another process take effect at the next login',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('auth-cache');
    const configFile = path.join(dir, 'postern.toml');
    await writeFile(
      configFile,
      [
        'hostname = "mail.example.test"',
        'data_dir = "data"',
        '[listen]',
        ...['smtp', 'submission', 'submissions', 'imaps', 'pop3', 'pop3s', 'http'].map((n) => `${n} = ""`),
        'imap = "127.0.0.1:0"',
        '[auth]',
        // Cheap hashes for the test; it also shows that `user add` and `user passwd` use the key.
        'scrypt_log_n = 10',
        '[log]',
        'level = "fatal"',
        '[limits]',
        'auth_failure_delay = 0',
        '',
      ].join('\n'),
    );
    const controller = new AbortController();
    let running: Promise<void> | null = null;
    try {
      await cli(configFile, ['domain', 'add', 'example.test']);
      await cli(configFile, ['user', 'add', 'alice@example.test', '--password-stdin'], 'old-pw\n');
      await cli(configFile, ['user', 'add', 'bob@example.test', '--password-stdin'], 'bob-pw\n');
      const config = await loadConfig(configFile);
      let ready!: (info: ReadyInfo) => void;
      const readyP = new Promise<ReadyInfo>((r) => (ready = r));
      running = runServer(config, { onReady: ready, signal: controller.signal, handleSignals: false });
      const port = (await readyP).listeners.find((l) => l.name === 'imap')!.port;

      assert.deepEqual(await login(port, 'alice@example.test', 'old-pw'), { status: 'OK', scrypt: 1 });
      assert.deepEqual(
        await login(port, 'alice@example.test', 'old-pw'),
        { status: 'OK', scrypt: 0 },
        'cached',
      );
      assert.deepEqual(await login(port, 'bob@example.test', 'bob-pw'), { status: 'OK', scrypt: 1 });
      assert.deepEqual(
        await login(port, 'bob@example.test', 'bob-pw'),
        { status: 'OK', scrypt: 0 },
        'cached',
      );

      await cli(configFile, ['user', 'passwd', 'alice@example.test', '--password-stdin'], 'new-pw\n');
      assert.deepEqual(await login(port, 'alice@example.test', 'old-pw'), { status: 'NO', scrypt: 1 });
      assert.deepEqual(await login(port, 'alice@example.test', 'new-pw'), { status: 'OK', scrypt: 1 });
      assert.deepEqual(await login(port, 'alice@example.test', 'new-pw'), { status: 'OK', scrypt: 0 });
      assert.deepEqual(await login(port, 'alice@example.test', 'old-pw'), { status: 'NO', scrypt: 1 });

      await cli(configFile, ['user', 'del', 'bob@example.test']);
      assert.deepEqual(await login(port, 'bob@example.test', 'bob-pw'), { status: 'NO', scrypt: 1 });

      const db = new Database(path.join(config.dataDir, SQLITE_FILE_NAME), { readonly: true });
      try {
        const row = db
          .prepare('SELECT password_hash FROM accounts WHERE address = ?')
          .get('alice@example.test') as {
          password_hash: string;
        };
        assert.match(row.password_hash, /^\$scrypt\$ln=10,r=8,p=1\$/, 'user passwd used auth.scrypt_log_n');
      } finally {
        db.close();
      }
    } finally {
      controller.abort();
      await running;
      await rm(dir, { recursive: true, force: true });
    }
  },
);

void test(
  'cluster: a password changed by the CLI is refused by every worker at once',
  { timeout: 120_000 },
  async () => {
    const server = await startPosternImap({
      domains: ['example.test'],
      users: [{ address: 'carol@example.test', password: 'old-pw' }],
      workers: 2,
      extraToml: '[auth]\nscrypt_log_n = 10\n[limits]\nauth_failure_delay = 0',
    });
    try {
      // Node's cluster hands connections to the workers in turn: 6 logins warm both caches.
      for (let i = 0; i < 6; i++) {
        assert.equal((await login(server.imapPort, 'carol@example.test', 'old-pw')).status, 'OK');
      }
      await server.cli(['user', 'passwd', 'carol@example.test', '--password-stdin'], 'new-pw\n');
      for (let i = 0; i < 6; i++) {
        assert.equal(
          (await login(server.imapPort, 'carol@example.test', 'old-pw')).status,
          'NO',
          `old, ${i}`,
        );
        assert.equal(
          (await login(server.imapPort, 'carol@example.test', 'new-pw')).status,
          'OK',
          `new, ${i}`,
        );
      }
    } finally {
      await server.stop();
    }
  },
);
