// `postern serve` with the configuration `postern init` writes, as an operator starts it: every
// delay, limit and the password hashing at their defaults (the other system tests turn the
// delays off to run fast). Only the listeners (127.0.0.1, port 0) and the DNS servers (a
// loopback server this test runs) are changed. Debian's swaks sends on the MX port and on
// submission (STARTTLS + AUTH), curl downloads over POP3 (STLS) and POP3S, byte for byte; the
// default unknown-recipient and authentication-failure delays are in force; SIGTERM stops it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { ehlo, plainAuth } from '../integration/smtp-harness.js';
import { prepareDefaultPostern, startPostern, type PosternProcess } from './postern-process.js';

const USERS = [
  { address: 'alice@example.test', password: 'alice-default-1' },
  { address: 'bob@example.test', password: 'bob-default-2' },
];
/** The defaults of smtp.unknown_recipient_delay and limits.auth_failure_delay (docs/configuration.md). */
const DEFAULT_DELAY_MS = 1000;

let dir = '';
let dns: DnsTestServer | null = null;
let server: PosternProcess | null = null;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'postern-default-'));
  dns = await startDnsServer({
    'x.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
    'client.example.net': { A: ['127.0.0.1'] },
  });
  const listeners = ['smtp', 'submission', 'pop3', 'pop3s'];
  const configFile = await prepareDefaultPostern({
    dir,
    dnsAddress: dns.address,
    domain: 'example.test',
    users: USERS,
    listeners,
  });
  server = await startPostern(configFile, { listeners, readyTimeoutMs: 60_000 });
});

after(async () => {
  if (server !== null) {
    await server.stop(40_000);
    assert.equal(await server.exited, 0, `postern serve exit status; stderr: ${server.stderr()}`);
  }
  await dns?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { encoding: 'buffer', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr: stderr.toString('utf8') });
      },
    );
  });
}

function port(name: string): number {
  const p = server!.listeners.get(name);
  assert.ok(p !== undefined && p > 0, `listener ${name} printed`);
  return p;
}

/** A message with CRLF line ends and a line swaks must dot-stuff; ends with CRLF. */
function message(subject: string, from: string, to: string): Buffer {
  return Buffer.from(
    [
      `From: <${from}>`,
      `To: <${to}>`,
      `Subject: ${subject}`,
      'Date: Fri, 27 Nov 2026 10:00:00 +0000',
      '',
      'First line.',
      '.a line that starts with a dot',
      '',
    ].join('\r\n'),
    'utf8',
  );
}

/** swaks ends DATA with CRLF "." CRLF itself: the file leaves out the message's last CRLF. */
async function swaks(listener: string, sent: Buffer, args: string[]): Promise<Run> {
  const file = path.join(dir, `${listener}-${Date.now()}.eml`);
  await writeFile(file, sent.subarray(0, -2));
  const opts = ['--server', '127.0.0.1', '--port', String(port(listener)), '--helo', 'client.example.net'];
  return run('swaks', [...opts, '--timeout', '30', '--data', `@${file}`, ...args]);
}

/** The downloaded message is our trace headers followed by exactly the sent bytes. */
function assertDelivered(downloaded: Buffer, sent: Buffer, what: string): void {
  assert.ok(downloaded.length > sent.length, `${what}: trace headers prepended`);
  assert.equal(
    downloaded.subarray(downloaded.length - sent.length).toString('latin1'),
    sent.toString('latin1'),
    `${what}: the sent bytes, unchanged`,
  );
  assert.match(downloaded.toString('latin1'), /^Received(-SPF)?: /, what);
}

void test('swaks on the MX port and on submission, curl over POP3 STLS and POP3S: the bytes sent', async () => {
  const toAlice = message('default config MX', 'someone@x.test', 'alice@example.test');
  const mx = await swaks('smtp', toAlice, ['--from', 'someone@x.test', '--to', 'alice@example.test']);
  assert.equal(mx.code, 0, mx.stdout.toString() + mx.stderr);

  const toBob = message('default config submission', 'alice@example.test', 'bob@example.test');
  const sub = await swaks('submission', toBob, [
    '--tls',
    '--auth',
    'PLAIN',
    '--auth-user',
    USERS[0].address,
    '--auth-password',
    USERS[0].password,
    '--from',
    'alice@example.test',
    '--to',
    'bob@example.test',
  ]);
  assert.equal(sub.code, 0, sub.stdout.toString() + sub.stderr);
  assert.match(sub.stdout.toString(), /<~ {2}235 /, 'authenticated inside TLS');

  const alice = await run('curl', [
    '-sSk',
    '--ssl-reqd',
    '-u',
    `${USERS[0].address}:${USERS[0].password}`,
    `pop3://127.0.0.1:${port('pop3')}/1`,
  ]);
  assert.equal(alice.code, 0, alice.stderr);
  assertDelivered(alice.stdout, toAlice, 'MX to alice, by POP3 STLS');
  const bob = await run('curl', [
    '-sSk',
    '-u',
    `${USERS[1].address}:${USERS[1].password}`,
    `pop3s://127.0.0.1:${port('pop3s')}/1`,
  ]);
  assert.equal(bob.code, 0, bob.stderr);
  assertDelivered(bob.stdout, toBob, 'submission to bob, by POP3S');
});

void test('the default delays are in force: an unknown recipient and a failed AUTH each wait', async () => {
  const { client } = await ehlo(port('smtp'));
  try {
    assert.equal((await client.command('MAIL FROM:<someone@x.test>', 30_000)).code, 250);
    let started = Date.now();
    const unknown = await client.command('RCPT TO:<nobody@example.test>', 30_000);
    assert.equal(unknown.code, 550);
    assert.ok(
      Date.now() - started >= DEFAULT_DELAY_MS - 50,
      `unknown recipient answered after ${Date.now() - started} ms`,
    );

    // Plaintext AUTH is allowed from loopback; a wrong password waits before the 535.
    const sub = await ehlo(port('submission'));
    try {
      started = Date.now();
      const refused = await sub.client.command(`AUTH PLAIN ${plainAuth(USERS[0].address, 'wrong')}`, 30_000);
      assert.equal(refused.code, 535);
      assert.ok(Date.now() - started >= DEFAULT_DELAY_MS - 50, `535 after ${Date.now() - started} ms`);
      const ok = await sub.client.command(
        `AUTH PLAIN ${plainAuth(USERS[0].address, USERS[0].password)}`,
        30_000,
      );
      assert.equal(ok.code, 235);
    } finally {
      sub.client.destroy();
    }
  } finally {
    client.destroy();
  }
});
