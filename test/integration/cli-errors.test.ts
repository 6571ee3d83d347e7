// `postern` error paths: every error is one line on stderr with exit status 1, naming the
// config key or the cause; POSTERN_DEBUG=1 adds the stack trace.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fails, ok, postern, tempDir } from './cli-harness.js';

void test('errors: one line on stderr, exit status 1, the key or the cause named', async (t) => {
  const dir = await tempDir(t);

  // Unknown command and unknown option.
  assert.equal(fails(postern(dir, ['frobnicate'])), "error: unknown command 'frobnicate'");
  assert.match(fails(postern(dir, ['domain', 'list', '--bogus'])), /unknown option '--bogus'/);
  // No config file.
  assert.match(
    fails(postern(dir, ['domain', 'list'])),
    /^error: postern\.toml: no such file \(run "postern init"/,
  );

  // A bad key in the config names the key.
  await writeFile(path.join(dir, 'postern.toml'), '[listen]\nimapp = "127.0.0.1:143"\n');
  assert.match(fails(postern(dir, ['domain', 'list'])), /^error: postern\.toml: listen\.imapp: unknown key/);
  await writeFile(path.join(dir, 'postern.toml'), '[listen]\nimap = "143"\n');
  assert.equal(
    fails(postern(dir, ['domain', 'list'])),
    'error: postern.toml: listen.imap: expected "HOST:PORT" or "", got "143"',
  );
  await writeFile(path.join(dir, 'postern.toml'), '[limits]\nmessage_size = "lots"\n');
  assert.match(
    fails(postern(dir, ['user', 'list'])),
    /^error: postern\.toml: limits\.message_size: expected a size/,
  );
  // POSTERN_DEBUG=1 adds the stack trace.
  const debug = postern(dir, ['user', 'list'], { env: { POSTERN_DEBUG: '1' } });
  assert.equal(debug.status, 1);
  assert.match(debug.stderr, /^\s+at /m);

  // A working config; --config and POSTERN_CONFIG both select it.
  const cfg = path.join(dir, 'conf', 'main.toml');
  ok(postern(dir, ['init', '--config', cfg, '--domain', 'example.test']));
  assert.match(fails(postern(dir, ['init', '--config', cfg])), /already exists \(use --force/);
  ok(postern(dir, ['init', '--config', cfg, '--force']));
  ok(
    postern(dir, ['user', 'add', 'demo@example.test', '--password', 'pw-one-two'], {
      env: { POSTERN_CONFIG: cfg },
    }),
  );

  // User add to a missing domain; duplicate user; bad addresses and domains; bad sizes.
  assert.equal(
    fails(postern(dir, ['user', 'add', 'a@missing.test', '--password', 'x', '--config', cfg])),
    'error: domain missing.test does not exist (add it with: postern domain add missing.test)',
  );
  assert.equal(
    fails(postern(dir, ['user', 'add', 'DEMO@example.test', '--password', 'x', '--config', cfg])),
    'error: user demo@example.test already exists',
  );
  assert.match(
    fails(postern(dir, ['user', 'add', 'no-at-sign', '--password', 'x', '--config', cfg])),
    /not a valid address/,
  );
  assert.match(
    fails(postern(dir, ['domain', 'add', 'bad_domain.test', '--config', cfg])),
    /not a valid domain name/,
  );
  assert.equal(
    fails(postern(dir, ['domain', 'add', 'example.test', '--config', cfg])),
    'error: domain example.test already exists',
  );
  assert.match(
    fails(postern(dir, ['user', 'quota', 'demo@example.test', 'huge', '--config', cfg])),
    /not a valid size/,
  );
  assert.match(
    fails(postern(dir, ['user', 'add', 'b@example.test', '--config', cfg])),
    /give --password PASSWORD or --password-stdin/,
  );
  assert.match(
    fails(
      postern(dir, ['user', 'add', 'b@example.test', '--password', 'x', '--password-stdin', '--config', cfg]),
    ),
    /either --password or --password-stdin/,
  );
  assert.equal(
    fails(postern(dir, ['user', 'del', 'ghost@example.test', '--config', cfg])),
    'error: no such user: ghost@example.test',
  );
  assert.match(
    fails(postern(dir, ['domain', 'del', 'example.test', '--config', cfg])),
    /still has 1 user\(s\); delete them first/,
  );
  assert.match(
    fails(postern(dir, ['mailbox', 'status', 'ghost@example.test', '--config', cfg])),
    /no such user/,
  );
  assert.match(
    fails(postern(dir, ['alias', 'add', 'x@elsewhere.test', 'demo@example.test', '--config', cfg])),
    /domain elsewhere\.test does not exist/,
  );

  // Import errors: a missing path, a file that is not an mbox, a directory that is not a Maildir.
  assert.match(
    fails(postern(dir, ['import', 'demo@example.test', path.join(dir, 'nope'), '--config', cfg])),
    /no such file or directory/,
  );
  await writeFile(path.join(dir, 'not.mbox'), 'Subject: hi\n\nbody\n');
  assert.match(
    fails(postern(dir, ['import', 'demo@example.test', path.join(dir, 'not.mbox'), '--config', cfg])),
    /not an mbox file/,
  );
  assert.match(
    fails(postern(dir, ['import', 'demo@example.test', path.join(dir, 'conf'), '--config', cfg])),
    /not a Maildir/,
  );
});
