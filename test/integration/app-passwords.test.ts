// App passwords end to end (issue 14): the server runs in this process (so its scrypt runs can
// be counted) with IMAP, POP3 and submission listeners; the real `postern` CLI, another process
// on the same store, makes, lists and revokes app passwords. Real clients log in: imapflow and
// a raw IMAP LOGIN, Python's poplib (USER/PASS), nodemailer (AUTH PLAIN and AUTH LOGIN). A
// revoked app password must fail at the next login on every protocol, however often it was
// used before, while the account's other app passwords and its password go on working.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { scryptRuns } from '../../src/auth/password.js';
import { runServer, type ReadyInfo } from '../../src/app/server.js';
import { loadConfig } from '../../src/config/load.js';
import { ImapRawClient } from '../helpers/imap-raw-client.js';
import { POSTERN_CLI } from '../helpers/postern-imap.js';
import { runPython } from '../helpers/python.js';
import { tempDir } from './server-fixture.js';

const run = promisify(execFile);

async function cli(configFile: string, args: string[], input = ''): Promise<string> {
  const child = run(process.execPath, [POSTERN_CLI, '--config', configFile, ...args], { timeout: 60_000 });
  child.child.stdin?.end(input);
  return (await child).stdout;
}

interface Listed {
  id: number;
  label: string;
  lastUsedAt: string | null;
  lastUsedProtocol: string | null;
  lastUsedAddress: string | null;
}

/** 'ok' or 'refused', and the scrypt runs this process made meanwhile. */
type Outcome = { result: 'ok' | 'refused'; scrypt: number };

async function counted(attempt: () => Promise<boolean>): Promise<Outcome> {
  const before = scryptRuns();
  const ok = await attempt();
  return { result: ok ? 'ok' : 'refused', scrypt: scryptRuns() - before };
}

function imapflow(port: number, user: string, pass: string): Promise<Outcome> {
  return counted(async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port,
      secure: false,
      tls: { rejectUnauthorized: false },
      auth: { user, pass },
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 5000,
      greetingTimeout: 5000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      if ((err as { authenticationFailed?: boolean }).authenticationFailed === true) return false;
      throw err;
    }
    const status = await client.status('INBOX', { messages: true });
    assert.ok(status !== false && typeof status.messages === 'number', 'STATUS INBOX answered');
    await client.logout();
    return true;
  });
}

function imapLogin(port: number, user: string, pass: string): Promise<Outcome> {
  return counted(async () => {
    const c = await ImapRawClient.connect(port);
    try {
      const r = await c.command(`LOGIN ${user} "${pass}"`);
      return r.status === 'OK';
    } finally {
      await c.close();
    }
  });
}

const POPLIB = `
import poplib, sys
port, user = int(sys.argv[1]), sys.argv[2]
password = sys.stdin.readline().rstrip('\\n')
p = poplib.POP3('127.0.0.1', port, timeout=10)
p.user(user)
try:
    p.pass_(password)
except poplib.error_proto as e:
    print('refused', e)
    sys.exit(0)
print('ok', p.stat()[0])
p.quit()
`;

function poplib(port: number, user: string, pass: string): Promise<Outcome> {
  return counted(async () => {
    const out = await runPythonArgs(POPLIB, [String(port), user], pass + '\n');
    assert.match(out, /^(ok \d+|refused .*)\n$/);
    return out.startsWith('ok');
  });
}

/** runPython with arguments: the script reads them from sys.argv after '-c'. */
function runPythonArgs(script: string, args: string[], stdin: string): Promise<string> {
  const prelude = `import sys\nsys.argv = ['-c', ${args.map((a) => JSON.stringify(a)).join(', ')}]\n`;
  return runPython(prelude + script, stdin);
}

function submit(port: number, user: string, pass: string, method: 'PLAIN' | 'LOGIN'): Promise<Outcome> {
  return counted(async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      requireTLS: true,
      name: 'phone.example.net',
      auth: { user, pass },
      authMethod: method,
      tls: { rejectUnauthorized: false },
    });
    try {
      await transport.sendMail({
        envelope: { from: user, to: [user] },
        raw: `From: ${user}\r\nTo: ${user}\r\nSubject: from the phone\r\n\r\nHi\r\n`,
      });
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'EAUTH') return false;
      throw err;
    } finally {
      transport.close();
    }
  });
}

void test(
  'app passwords from the CLI log in over IMAP, POP3 and SMTP; revoked, each fails at the next login',
  { timeout: 180_000 },
  async () => {
    const dir = await tempDir('app-passwords');
    const configFile = path.join(dir, 'postern.toml');
    await writeFile(
      configFile,
      [
        'hostname = "mail.example.test"',
        'data_dir = "data"',
        '[listen]',
        ...['smtp', 'submissions', 'imaps', 'pop3s', 'http'].map((n) => `${n} = ""`),
        'imap = "127.0.0.1:0"',
        'pop3 = "127.0.0.1:0"',
        'submission = "127.0.0.1:0"',
        '[auth]',
        'scrypt_log_n = 10',
        '[log]',
        'level = "fatal"',
        '[limits]',
        'auth_failure_delay = 0',
        // Every refused login below counts towards a ban of 127.0.0.1; keep it out of reach.
        'auth_failures_before_ban = 1000',
        '',
      ].join('\n'),
    );
    const user = 'alice@example.test';
    const controller = new AbortController();
    let running: Promise<void> | null = null;
    try {
      await cli(configFile, ['domain', 'add', 'example.test']);
      await cli(configFile, ['user', 'add', user, '--password-stdin'], 'main-pw\n');
      const added = async (label: string): Promise<{ id: number; secret: string }> => {
        const out = JSON.parse(
          await cli(configFile, ['user', 'app-password', 'add', user, label, '--json']),
        ) as {
          id: number;
          secret: string;
        };
        assert.match(out.secret, /^[a-z]{5}(-[a-z]{5}){5}$/);
        return out;
      };
      const everywhere = await added('Phone');
      const popOnly = await added('Old laptop');
      const smtpOnly = await added('Printer');
      const human = await cli(configFile, ['user', 'app-password', 'add', user, 'Tablet']);
      const tablet = /^\s+([a-z-]{35})$/m.exec(human)?.[1];
      assert.ok(tablet !== undefined, `the secret is printed on a line of its own:\n${human}`);

      const config = await loadConfig(configFile);
      let ready!: (info: ReadyInfo) => void;
      const readyP = new Promise<ReadyInfo>((r) => (ready = r));
      running = runServer(config, { onReady: ready, signal: controller.signal, handleSignals: false });
      const ports = new Map((await readyP).listeners.map((l) => [l.name, l.port]));
      const imap = ports.get('imap')!;
      const pop3 = ports.get('pop3')!;
      const submission = ports.get('submission')!;

      const ok: Outcome = { result: 'ok', scrypt: 0 };
      // An app password costs no scrypt run, first login or hundredth.
      for (let i = 0; i < 2; i++) {
        assert.deepEqual(await imapflow(imap, user, everywhere.secret), ok, `imapflow ${i}`);
        assert.deepEqual(await imapLogin(imap, user, everywhere.secret), ok, `IMAP LOGIN ${i}`);
        assert.deepEqual(await poplib(pop3, user, everywhere.secret), ok, `poplib ${i}`);
        assert.deepEqual(await submit(submission, user, everywhere.secret, 'PLAIN'), ok, `AUTH PLAIN ${i}`);
        assert.deepEqual(await submit(submission, user, everywhere.secret, 'LOGIN'), ok, `AUTH LOGIN ${i}`);
      }
      // Typed on a phone: groups separated by spaces, a capital first letter.
      const typed = tablet.replace(/-/g, ' ');
      assert.deepEqual(await imapLogin(imap, user, typed[0]!.toUpperCase() + typed.slice(1)), ok);
      assert.deepEqual(await poplib(pop3, user, popOnly.secret), ok);
      assert.deepEqual(await submit(submission, user, smtpOnly.secret, 'PLAIN'), ok);
      // The account's password works as before, and warms the credential cache.
      assert.deepEqual(await imapLogin(imap, user, 'main-pw'), { result: 'ok', scrypt: 1 });
      assert.deepEqual(await imapLogin(imap, user, 'main-pw'), ok);

      // The list shows each one's last use: protocol and client address (recorded in the background).
      const list = async (): Promise<Listed[]> =>
        JSON.parse(await cli(configFile, ['user', 'app-password', 'list', user, '--json'])) as Listed[];
      let listed: Listed[] = [];
      for (let i = 0; i < 50; i++) {
        listed = await list();
        if (listed.every((p) => p.lastUsedAt !== null)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const byId = new Map(listed.map((p) => [p.id, p]));
      assert.deepEqual(
        listed.map((p) => p.label),
        ['Tablet', 'Printer', 'Old laptop', 'Phone'],
        'newest first',
      );
      // Uses are recorded at most once a minute each: the first one of the Phone was IMAP.
      assert.deepEqual(
        [everywhere, popOnly, smtpOnly].map((a) => [
          byId.get(a.id)?.lastUsedProtocol,
          byId.get(a.id)?.lastUsedAddress,
        ]),
        [
          ['imap', '127.0.0.1'],
          ['pop3', '127.0.0.1'],
          ['smtp', '127.0.0.1'],
        ],
      );
      const lastUsed = Date.parse(byId.get(everywhere.id)!.lastUsedAt!);
      assert.ok(Math.abs(Date.now() - lastUsed) < 120_000, `last use ${byId.get(everywhere.id)!.lastUsedAt}`);
      const table = await cli(configFile, ['user', 'app-password', 'list', user]);
      assert.match(table, /^\s*\d+\s+Phone\s+\S+ \S+\s+\S+ \S+\s+imap\s+127\.0\.0\.1$/m);

      // Revoke one: it fails on every protocol at the next login (a scrypt run each: the miss
      // goes on to the account's password), the others go on working.
      assert.match(
        await cli(configFile, ['user', 'app-password', 'revoke', user, String(everywhere.id)]),
        /revoked app password/,
      );
      const refused = (o: Outcome): void => assert.equal(o.result, 'refused');
      refused(await imapflow(imap, user, everywhere.secret));
      assert.deepEqual(await imapLogin(imap, user, everywhere.secret), { result: 'refused', scrypt: 1 });
      assert.deepEqual(await poplib(pop3, user, everywhere.secret), { result: 'refused', scrypt: 1 });
      refused(await submit(submission, user, everywhere.secret, 'PLAIN'));
      refused(await submit(submission, user, everywhere.secret, 'LOGIN'));
      assert.deepEqual(await poplib(pop3, user, popOnly.secret), ok);
      assert.deepEqual(await submit(submission, user, smtpOnly.secret, 'LOGIN'), ok);
      assert.deepEqual(await imapflow(imap, user, tablet), ok);
      assert.deepEqual(await imapLogin(imap, user, 'main-pw'), ok, 'the password, still cached');
      assert.deepEqual(
        (await list()).map((p) => p.label),
        ['Tablet', 'Printer', 'Old laptop'],
      );

      for (const a of [popOnly, smtpOnly]) {
        await cli(configFile, ['user', 'app-password', 'revoke', user, String(a.id)]);
      }
      refused(await poplib(pop3, user, popOnly.secret));
      refused(await submit(submission, user, smtpOnly.secret, 'PLAIN'));
      await assert.rejects(
        cli(configFile, ['user', 'app-password', 'revoke', user, String(everywhere.id)]),
        /has no app password/,
      );
    } finally {
      controller.abort();
      await running;
      await rm(dir, { recursive: true, force: true });
    }
  },
);
