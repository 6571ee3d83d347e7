// `postern` user, alias, domain and mailbox commands beyond the walkthrough, their --json
// output, and an import in which one message is too large.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/app/open-store.js';
import { ok, postern, startServe, tempDir } from './cli-harness.js';
import { RawPop3Client } from './pop3-harness.js';

void test('user passwd/quota/del, alias del, domain del, --json listings, oversized messages in an import', async (t) => {
  const dir = await tempDir(t);
  ok(postern(dir, ['init', '--domain', 'example.test']));
  // A small message_size to check that an oversized message fails alone.
  const conf = await readFile(path.join(dir, 'postern.toml'), 'utf8');
  await writeFile(
    path.join(dir, 'postern.toml'),
    conf.replace('# message_size = "50M"', 'message_size = "1K"'),
  );
  ok(postern(dir, ['user', 'add', 'a@example.test', '--password', 'first-pass', '--quota', '2G']));
  ok(postern(dir, ['user', 'passwd', 'a@example.test', '--password-stdin'], { input: 'second-pass\n' }));
  assert.equal(
    ok(postern(dir, ['user', 'quota', 'a@example.test', '0', '--messages', '5000'])),
    'quota of a@example.test: unlimited\nmessage quota of a@example.test: 5000 messages\n',
  );
  const users = JSON.parse(
    ok(postern(dir, ['user', 'list', '--json', '--domain', 'example.test'])),
  ) as Array<{
    address: string;
    quotaBytes: number;
    quotaMessages: number;
    usedMessages: number;
    passwordHash?: string;
  }>;
  assert.deepEqual(
    users.map((u) => [u.address, u.quotaBytes, u.quotaMessages, u.usedMessages]),
    [['a@example.test', 0, 5000, 0]],
  );
  assert.equal(users[0]!.passwordHash, undefined, 'hashes are not printed');

  const mbox =
    'From x Mon Jan  1 00:00:00 2024\nSubject: small\n\nok\n\n' +
    `From y Mon Jan  1 00:00:00 2024\nSubject: big\n\n${'z'.repeat(3000)}\n\n` +
    'From z Mon Jan  1 00:00:00 2024\nSubject: small 2\n\nok\n';
  await writeFile(path.join(dir, 'in.mbox'), mbox);
  const r = postern(dir, ['import', 'a@example.test', 'in.mbox', '--mailbox', 'Old/2024']);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^imported 2 messages .* into a@example\.test\/Old\/2024 .*, 1 failed$/m);
  assert.match(r.stderr, /failed: message 2 \(From y .*larger than limits\.message_size \(1K\)/);
  assert.match(r.stderr, /^created mailbox Old\/2024$/m);
  const status = JSON.parse(ok(postern(dir, ['mailbox', 'status', 'a@example.test', '--json']))) as Array<{
    name: string;
    messages: number;
  }>;
  assert.equal(status.find((m) => m.name === 'Old/2024')?.messages, 2);

  ok(postern(dir, ['alias', 'add', '@example.test', 'a@example.test']));
  assert.deepEqual(JSON.parse(ok(postern(dir, ['alias', 'list', '--json']))), [
    { source: '@example.test', destination: 'a@example.test' },
  ]);
  ok(postern(dir, ['alias', 'del', '@example.test']));
  assert.deepEqual(JSON.parse(ok(postern(dir, ['alias', 'list', '--json']))), []);
  ok(postern(dir, ['user', 'del', 'a@example.test']));
  ok(postern(dir, ['domain', 'del', 'example.test']));
  assert.deepEqual(JSON.parse(ok(postern(dir, ['domain', 'list', '--json']))), []);
});

void test('import keeps the input order: UIDs follow the Maildir name order despite concurrent writes', async (t) => {
  const dir = await tempDir(t);
  ok(postern(dir, ['init', '--domain', 'example.test']));
  ok(postern(dir, ['user', 'add', 'o@example.test', '--password', 'order-pass']));
  const md = path.join(dir, 'md');
  await mkdir(path.join(md, 'cur'), { recursive: true });
  await mkdir(path.join(md, 'new'));
  const count = 40;
  for (let i = 0; i < count; i++) {
    // Sizes vary so that blob writes finish out of order.
    const body = 'x'.repeat(((i * 7919) % 13) * 20_000);
    await writeFile(
      path.join(md, 'cur', `${1_700_000_000 + i}.M${i}.host:2,S`),
      `Subject: n${i}\n\n${body}\n`,
    );
  }
  ok(postern(dir, ['import', 'o@example.test', md]));

  const config = await loadConfig(path.join(dir, 'postern.toml'));
  const { store, blobs } = await openStore(config);
  try {
    const account = (await store.getAccount('o@example.test'))!;
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    const msgs = await store.listMessages(inbox.id);
    const subjects: string[] = [];
    for (const m of msgs) {
      const head = (await blobs.readAll(m.blobId)).subarray(0, 40).toString('latin1');
      subjects.push(head.slice('Subject: '.length, head.indexOf('\r\n')));
      assert.deepEqual(m.flags, ['\\Seen']);
    }
    assert.deepEqual(
      subjects,
      Array.from({ length: count }, (_, i) => `n${i}`),
    );
  } finally {
    await store.close();
  }
});

void test('user passwd: the new password logs in over POP3, the old one is refused', async (t) => {
  const dir = await tempDir(t);
  ok(postern(dir, ['init', '--domain', 'example.test']));
  const conf = await readFile(path.join(dir, 'postern.toml'), 'utf8');
  await writeFile(path.join(dir, 'postern.toml'), conf.replace(/^# pop3 = ".*"$/m, 'pop3 = "127.0.0.1:0"'));
  ok(postern(dir, ['user', 'add', 'a@example.test', '--password', 'first-pass']));
  ok(postern(dir, ['user', 'passwd', 'a@example.test', '--password-stdin'], { input: 'second-pass\n' }));
  const serve = await startServe(dir);
  try {
    const port = serve.listeners.get('pop3');
    assert.ok(port !== undefined, serve.out);
    // The default password hash and failure delay: a login takes about a second.
    const login = async (password: string): Promise<boolean> => {
      const { client, greeting } = await RawPop3Client.open(port);
      assert.equal(greeting.ok, true);
      try {
        assert.equal((await client.command('USER a@example.test')).ok, true);
        return (await client.command(`PASS ${password}`, 30_000)).ok;
      } finally {
        client.socket.destroy();
      }
    };
    assert.equal(await login('first-pass'), false, 'the old password is refused');
    assert.equal(await login('second-pass'), true, 'the new password logs in');
  } finally {
    assert.equal(await serve.stop(), 0);
  }
});
