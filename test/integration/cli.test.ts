// The `postern` command line, run as a real process against real files: the operator's shell
// walkthrough (cli-script.sh: init, domains, users, aliases, a 1,000-message mbox import, a
// Maildir import), and `serve`. Error paths: cli-errors.test.ts; other commands: cli-admin.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { CLI, SCRIPT, ok, postern, startServe, tempDir } from './cli-harness.js';

/** Splits the script's output into its "== name" sections. */
function sections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let name = '';
  for (const line of stdout.split('\n')) {
    if (line.startsWith('== ')) {
      name = line.slice(3);
      out.set(name, '');
    } else if (name !== '') {
      out.set(name, out.get(name) + line + '\n');
    }
  }
  return out;
}

/** Rows of an aligned table (header dropped), split on runs of spaces. */
function tableRows(text: string): string[][] {
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/ {2,}/));
}

void test('the shell walkthrough: init, domains, users, aliases, status, mbox and Maildir import', async (t) => {
  const dir = await tempDir(t);
  const r = spawnSync('bash', [SCRIPT, dir], {
    encoding: 'utf8',
    env: { ...process.env, POSTERN_CLI: CLI, POSTERN_CONFIG: '' },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `script failed (${r.status})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const s = sections(r.stdout);

  assert.match(s.get('init')!, /^wrote postern\.toml$/m);
  assert.match(s.get('init')!, /^added domain example\.test$/m);
  const config = await readFile(path.join(dir, 'postern.toml'), 'utf8');
  assert.match(config, /^hostname = "mail\.example\.test"$/m);
  assert.match(config, /^# data_dir = "data"$/m);
  assert.ok(existsSync(path.join(dir, 'data')), 'data directory created');

  assert.match(
    s.get('domain add')!,
    /^added domain example\.org\nDKIM keys: p\d{4}a-ed \(ed25519\), p\d{4}a-rsa \(rsa\); publish them with `postern dns example\.org`\n$/,
  );
  assert.deepEqual(
    tableRows(s.get('domain list')!).map((row) => row[0]),
    ['example.org', 'example.test'].sort(),
  );
  assert.match(s.get('user add')!, /added user demo@example\.test\nadded user other@example\.org/);
  const users = tableRows(s.get('user list')!);
  assert.deepEqual(users.map((u) => u[0]).sort(), ['demo@example.test', 'other@example.org']);
  assert.deepEqual(users.find((u) => u[0] === 'other@example.org')?.slice(2), ['500 MB', 'active']);
  assert.deepEqual(tableRows(s.get('alias list')!).sort(), [
    ['@example.org', 'other@example.org'],
    ['postmaster@example.test', 'demo@example.test'],
  ]);

  const fresh = tableRows(s.get('mailbox status (new account)')!);
  assert.deepEqual(fresh.map((row) => row[0]).sort(), [
    'Archive',
    'Drafts',
    'INBOX',
    'Junk',
    'Sent',
    'Trash',
  ]);
  for (const row of fresh) assert.equal(row[1], '0', `${row[0]} is empty`);

  assert.match(
    s.get('import mbox')!,
    /^imported 1000 messages \(\d+(\.\d)? [KM]B\) into demo@example\.test\/INBOX in \d+\.\d s \(\d+ msg\/s\), 0 failed$/m,
  );
  assert.match(
    s.get('import maildir')!,
    /^imported 3 messages \(.*\) into demo@example\.test\/Archive in .*, 0 failed$/m,
  );

  const after = new Map(tableRows(s.get('mailbox status (after import)')!).map((row) => [row[0], row]));
  assert.equal(after.get('INBOX')?.[1], '1000');
  assert.equal(after.get('INBOX')?.[2], '1000', 'imported mbox messages are unseen');
  assert.equal(after.get('INBOX')?.[5], '1001', 'UIDNEXT follows the 1,000 UIDs');
  assert.equal(after.get('Archive')?.[1], '3');

  const json = JSON.parse(s.get('mailbox status json')!) as Array<{
    name: string;
    messages: number;
    unseen: number;
    size: number;
  }>;
  const inbox = json.find((m) => m.name === 'INBOX')!;
  assert.equal(inbox.messages, 1000);
  const archive = json.find((m) => m.name === 'Archive')!;
  assert.deepEqual([archive.messages, archive.unseen], [3, 1], 'Maildir S flags give \\Seen');
  // Every message is stored CRLF with ">From " unescaped: compute the expected total size.
  let expected = 0;
  for (let i = 1; i <= 1000; i++) {
    expected += Buffer.byteLength(
      `From: Sender ${i} <sender${i}@example.org>\r\nTo: demo@example.test\r\nSubject: message ${i}\r\n` +
        `Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <${i}@example.org>\r\n\r\nBody of message ${i}.\r\n` +
        'From here on, an escaped line.\r\nFrom the middle of a paragraph.\r\n',
    );
  }
  assert.equal(inbox.size, expected);
});

void test('serve prints the listeners it opened and stops on SIGTERM', async (t) => {
  const dir = await tempDir(t);
  ok(postern(dir, ['init']));
  const conf = await readFile(path.join(dir, 'postern.toml'), 'utf8');
  const names = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'];
  let local = conf;
  for (const name of names) {
    local = local.replace(new RegExp(`^# ${name} = ".*"$`, 'm'), `${name} = "127.0.0.1:0"`);
  }
  await writeFile(path.join(dir, 'postern.toml'), local);
  const serve = await startServe(dir);
  try {
    // Every configured listener is printed, once, with the real port it opened.
    assert.deepEqual([...serve.listeners.keys()].sort(), [...names].sort(), serve.out);
    for (const [name, port] of serve.listeners) assert.ok(port > 0, `${name} shows port ${port}`);
    assert.doesNotMatch(serve.out, /not started/);
    // The ports printed are the ones listening.
    await Promise.all(
      [...serve.listeners.values()].map(
        (port) =>
          new Promise<void>((resolve, reject) => {
            const s = net.connect({ host: '127.0.0.1', port }, () => {
              s.destroy();
              resolve();
            });
            s.once('error', reject);
          }),
      ),
    );
  } finally {
    assert.equal(await serve.stop(), 0);
  }
});
