// `postern dev` (what `npm start` runs): the first run creates .postern-dev/postern.toml with
// loopback listeners on unprivileged ports, the demo domain and user, and a credentials file
// that later runs reuse. The server part runs on a config with port 0 so tests never collide.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDevConfig, DEV_USER } from '../../src/cli/commands/dev.js';
import { DEV_LISTEN } from '../../src/config/load.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, '../../src/cli/main.js');

void test('ensureDevConfig writes the development config once, then reads it back', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-dev-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, '.postern-dev', 'postern.toml');
  const config = await ensureDevConfig(file);
  assert.equal(config.hostname, 'localhost');
  assert.equal(config.dataDir, path.join(dir, '.postern-dev', 'data'));
  assert.deepEqual(config.listen, DEV_LISTEN);
  assert.deepEqual(
    Object.values(config.listen).map((l) => l?.port),
    [2525, 2587, 2465, 1143, 1993, 1110, 1995, 8080, 8443],
  );
  assert.ok((await stat(config.dataDir)).isDirectory());
  const text = await readFile(file, 'utf8');
  assert.match(text, /^(# )?data_dir = "data"$/m);
  assert.match(text, /^imap = "127\.0\.0\.1:1143"$/m);
  // An edited file is kept as it is.
  await writeFile(file, text.replace('imap = "127.0.0.1:1143"', 'imap = "127.0.0.1:1144"'));
  assert.equal((await ensureDevConfig(file)).listen.imap?.port, 1144);
});

async function runDev(cwd: string, configFile: string): Promise<{ out: string; code: number | null }> {
  const child = spawn(process.execPath, [CLI, 'dev', '--config', configFile], {
    cwd,
    env: { ...process.env },
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!out.includes('Stop with Ctrl-C') && Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGTERM');
  const code = await exited;
  assert.match(out, /Stop with Ctrl-C/, `dev did not become ready\nstdout: ${out}\nstderr: ${err}`);
  return { out, code };
}

void test('dev creates the demo account, prints listeners and credentials, and reuses them', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-dev-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const devDir = path.join(dir, '.postern-dev');
  const configFile = path.join(devDir, 'postern.toml');
  // Port 0 everywhere so this test never collides with a developer's running `npm start`.
  const config = await ensureDevConfig(configFile);
  let text = await readFile(configFile, 'utf8');
  for (const [name, addr] of Object.entries(config.listen)) {
    text = text.replace(`${name} = "127.0.0.1:${addr?.port}"`, `${name} = "127.0.0.1:0"`);
  }
  await writeFile(configFile, text);

  const first = await runDev(dir, configFile);
  assert.equal(first.code, 0);
  const password = /password {2}(\S+)/.exec(first.out)?.[1];
  assert.ok(password !== undefined && password.length >= 16, first.out);
  assert.match(first.out, new RegExp(`user {6}${DEV_USER.replace('.', '\\.')}`));
  const creds = await readFile(path.join(devDir, 'demo-credentials.txt'), 'utf8');
  assert.match(creds, new RegExp(`^password: ${password}$`, 'm'));
  assert.equal(
    (await stat(path.join(devDir, 'demo-credentials.txt'))).mode & 0o077,
    0,
    'credentials are private',
  );
  // Every configured listener is printed, with the real port it opened.
  const printed = [...first.out.matchAll(/^ {2}(\w+) +127\.0\.0\.1:(\d+)$/gm)];
  assert.deepEqual(
    printed.map((m) => m[1]).sort(),
    Object.keys(config.listen)
      .filter((n) => config.listen[n as keyof typeof config.listen] !== null)
      .sort(),
    first.out,
  );
  for (const m of printed) assert.notEqual(m[2], '0', `${m[1]} shows port 0`);

  const second = await runDev(dir, configFile);
  assert.equal(second.code, 0);
  assert.equal(/password {2}(\S+)/.exec(second.out)?.[1], password, 'the same password on later runs');
});
