// `postern user apop-secret`: sets and clears the APOP secret (RFC 1939 §7) kept apart from the
// password hash; the rendered config lists the [pop3] keys.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/app/open-store.js';
import { fails, ok, postern, tempDir } from './cli-harness.js';

void test('user apop-secret sets, replaces and clears the secret; unknown users are refused', async (t) => {
  const dir = await tempDir(t);
  ok(postern(dir, ['init', '--domain', 'example.test']));
  const toml = await readFile(path.join(dir, 'postern.toml'), 'utf8');
  for (const key of [
    '[pop3]',
    '# delete_mode = "expunge"',
    '# apop = false',
    '# login_delay = 0',
    '# expire = "NEVER"',
  ]) {
    assert.ok(toml.includes(key), `postern.toml lists ${key}`);
  }
  ok(postern(dir, ['user', 'add', 'a@example.test', '--password', 'first-pass']));
  const secretOf = async (): Promise<string | null> => {
    const { store } = await openStore(await loadConfig(path.join(dir, 'postern.toml')));
    try {
      return await store.getApopSecret((await store.getAccount('a@example.test'))!.id);
    } finally {
      await store.close();
    }
  };
  assert.equal(await secretOf(), null, 'no APOP secret by default');
  assert.equal(
    ok(postern(dir, ['user', 'apop-secret', 'a@example.test', '--password-stdin'], { input: 'tanstaaf\n' })),
    'set the APOP secret of a@example.test\n',
  );
  assert.equal(await secretOf(), 'tanstaaf');
  ok(postern(dir, ['user', 'apop-secret', 'A@example.test', '--password', 'other']));
  assert.equal(await secretOf(), 'other');
  assert.equal(
    ok(postern(dir, ['user', 'apop-secret', 'a@example.test', '--clear'])),
    'removed the APOP secret of a@example.test\n',
  );
  assert.equal(await secretOf(), null);
  assert.match(
    fails(postern(dir, ['user', 'apop-secret', 'b@example.test', '--password', 'x'])),
    /no such user/,
  );
});
