// `postern user apop-secret`: sets and clears the APOP secret (RFC 1939 §7) kept apart from the
// password hash; the rendered config lists the [pop3] keys; `postern domain|user pop3-expire`.

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
    '# expire_days = "NEVER"',
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

void test('domain and user pop3-expire set the POP3 retention, "default" inherits again, mistakes are refused', async (t) => {
  const dir = await tempDir(t);
  ok(postern(dir, ['init', '--domain', 'example.test']));
  ok(postern(dir, ['user', 'add', 'a@example.test', '--password', 'first-pass']));
  const settings = async (): Promise<[unknown, unknown]> => {
    const { store } = await openStore(await loadConfig(path.join(dir, 'postern.toml')));
    try {
      return [
        (await store.getDomain('example.test'))!.pop3Expire,
        (await store.getAccount('a@example.test'))!.pop3Expire,
      ];
    } finally {
      await store.close();
    }
  };
  assert.deepEqual(await settings(), [null, null]);
  assert.equal(
    ok(postern(dir, ['domain', 'pop3-expire', 'example.test', '14'])),
    'POP3 retention of example.test: 14 days\n',
  );
  assert.equal(
    ok(postern(dir, ['user', 'pop3-expire', 'a@example.test', 'never'])),
    'POP3 retention of a@example.test: never\n',
  );
  assert.deepEqual(await settings(), [14, 'never']);
  ok(postern(dir, ['user', 'pop3-expire', 'a@example.test', 'default']));
  assert.deepEqual(await settings(), [14, null]);
  assert.match(
    fails(postern(dir, ['user', 'pop3-expire', 'a@example.test', 'soon'])),
    /expected a number of days/,
  );
  assert.match(fails(postern(dir, ['user', 'pop3-expire', 'b@example.test', '3'])), /no such user/);
  assert.match(fails(postern(dir, ['domain', 'pop3-expire', 'other.test', '3'])), /no such domain/);
});
