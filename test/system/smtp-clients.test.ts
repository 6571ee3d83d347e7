// Debian's SMTP clients against Postern (issue 3): swaks on the MX port (plain), on submission
// (STARTTLS + AUTH PLAIN and LOGIN) and on submissions (implicit TLS), and Postfix's
// smtp-source bursting with several sessions. The server is the integration harness (real
// listeners and store in a temp dir, DNS on loopback); the assertions read the store.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { hashPassword } from '../../src/auth/password.js';
import { PASSWORDS, startSmtpServer, type SmtpTestServer } from '../integration/smtp-harness.js';

let server: SmtpTestServer;
/** smtp-source -l 4096: 51 lines of 80 bytes (digit, 77 X, CRLF), 16 X, then its last CRLF. */
const BODY_BYTES = 4098;

before(async () => {
  server = await startSmtpServer({
    dnsRecords: {
      'x.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      'client.example.net': { A: ['127.0.0.1'] },
    },
  });
  await server.store.createAccount({
    address: 'carol@example.test',
    passwordHash: await hashPassword('carol-secret-3'),
  });
});
after(async () => {
  await server.close();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

function swaks(port: number, args: string[]): Promise<Run> {
  return run('swaks', [
    '--server',
    '127.0.0.1',
    '--port',
    String(port),
    '--helo',
    'client.example.net',
    '--timeout',
    '10',
    ...args,
  ]);
}

/** The part of a stored message in front of the sent bytes; checks the sent bytes are intact. */
function tracePrefix(stored: Buffer, sent: Buffer): string {
  assert.ok(stored.length > sent.length, 'trace headers were prepended');
  // Compared as latin1 text (one char per byte) so that a failure shows a readable diff.
  assert.equal(
    stored.subarray(stored.length - sent.length).toString('latin1'),
    sent.toString('latin1'),
    'the sent bytes are stored unchanged',
  );
  const prefix = stored.subarray(0, stored.length - sent.length).toString('utf8');
  assert.ok(prefix.endsWith('\r\n'));
  for (const line of prefix.slice(0, -2).split('\r\n')) {
    assert.ok(/^[A-Za-z-]+: /.test(line) || /^[ \t]/.test(line), `header line ${JSON.stringify(line)}`);
  }
  return prefix;
}

/**
 * A message with CRLF line endings, lines that need dot-stuffing and 8-bit text. The file for
 * swaks leaves out the last CRLF: swaks ends the data with CRLF "." CRLF itself, so the body on
 * the wire (after unstuffing) is the file plus CRLF, which is what this returns.
 */
function message(subject: string, from: string, to: string): Buffer {
  return Buffer.from(
    [
      `From: <${from}>`,
      `To: <${to}>`,
      `Subject: ${subject}`,
      `Message-ID: <${subject.replace(/[^a-z0-9]/gi, '')}@client.example.net>`,
      'Date: Fri, 27 Nov 2026 10:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'First line.',
      '.a line that starts with a dot (stuffed by swaks, unstuffed by Postern)',
      '..two dots',
      'Grüße aus dem Test',
      '',
    ].join('\r\n'),
    'utf8',
  );
}

/** Writes the swaks data file for `sent` (without its last CRLF); returns "@FILE". */
async function messageFile(name: string, sent: Buffer): Promise<string> {
  assert.equal(sent.subarray(-2).toString('latin1'), '\r\n');
  const file = path.join(server.dir, name);
  await writeFile(file, sent.subarray(0, -2));
  return `@${file}`;
}

void test('swaks on the MX port: stored bytes are the sent bytes after our trace headers', async () => {
  const sent = message('swaks MX plain', 'someone@x.test', 'alice@example.test');
  const before = (await server.inbox('alice@example.test')).length;
  const r = await swaks(server.ports.smtp, [
    '--from',
    'someone@x.test',
    '--to',
    'alice@example.test',
    '--data',
    await messageFile('mx.eml', sent),
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /<- {2}250 2\.0\.0 /);
  const inbox = await server.inbox('alice@example.test');
  assert.equal(inbox.length, before + 1);
  const prefix = tracePrefix(inbox[inbox.length - 1], sent);
  assert.match(
    prefix,
    /^Received: from client\.example\.net \(.*\[127\.0\.0\.1\]\)\r\n\tby mail\.example\.test /m,
  );
  assert.match(prefix, /\bwith ESMTP\s/, 'RFC 3848: no TLS, no AUTH');
  assert.match(prefix, /for <alice@example\.test>/);
  assert.match(prefix, /^Authentication-Results: mail\.example\.test;/m);
  assert.match(prefix, /spf=pass/);
});

void test('swaks on submission: STARTTLS then AUTH PLAIN, and AUTH LOGIN', async () => {
  for (const mech of ['PLAIN', 'LOGIN']) {
    const sent = message(`swaks submission ${mech}`, 'alice@example.test', 'bob@example.test');
    const before = (await server.inbox('bob@example.test')).length;
    const r = await swaks(server.ports.submission, [
      '--tls',
      '--auth',
      mech,
      '--auth-user',
      'alice@example.test',
      '--auth-password',
      PASSWORDS['alice@example.test'],
      '--from',
      'alice@example.test',
      '--to',
      'bob@example.test',
      '--data',
      await messageFile(`sub-${mech}.eml`, sent),
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /<- {2}220 .*\n=== TLS started/);
    assert.match(r.stdout, /<~ {2}235 /, 'authenticated inside TLS');
    const inbox = await server.inbox('bob@example.test');
    assert.equal(inbox.length, before + 1);
    const prefix = tracePrefix(inbox[inbox.length - 1], sent);
    assert.match(prefix, /\bwith ESMTPSA\s/, 'RFC 3848: ESMTP + STARTTLS + AUTH');
  }
});

void test('swaks on submissions (implicit TLS) with AUTH; a wrong password is refused', async () => {
  const sent = message('swaks submissions', 'alice@example.test', 'bob@example.test');
  const before = (await server.inbox('bob@example.test')).length;
  const common = [
    '--tls-on-connect',
    '--auth',
    'PLAIN',
    '--auth-user',
    'alice@example.test',
    '--from',
    'alice@example.test',
    '--to',
    'bob@example.test',
    '--data',
    await messageFile('subs.eml', sent),
  ];
  const bad = await swaks(server.ports.submissions, [...common, '--auth-password', 'wrong']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stdout, /<~\* {1,2}535 /);
  const r = await swaks(server.ports.submissions, [
    ...common,
    '--auth-password',
    PASSWORDS['alice@example.test'],
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const inbox = await server.inbox('bob@example.test');
  assert.equal(inbox.length, before + 1, 'one message: the refused attempt stored nothing');
  assert.match(tracePrefix(inbox[inbox.length - 1], sent), /\bwith ESMTPSA\s/);
});

void test('swaks relay attempt on the MX port is refused and nothing is spooled', async () => {
  const r = await swaks(server.ports.smtp, [
    '--from',
    'someone@x.test',
    '--to',
    'victim@elsewhere.test',
    '--data',
    await messageFile('relay.eml', message('relay', 'someone@x.test', 'victim@elsewhere.test')),
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout, /<\*\* {1,2}5\d\d /);
  assert.equal(await server.store.countOutbound(), 0);
});

void test('smtp-source: 200 messages of 4 KiB over 5 sessions, all stored', async () => {
  const r = await run(
    'smtp-source',
    [
      '-c',
      '-m',
      '200',
      '-s',
      '5',
      '-l',
      '4096',
      '-f',
      'a@x.test',
      '-t',
      'carol@example.test',
      `127.0.0.1:${server.ports.smtp}`,
    ],
    60_000,
  );
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stderr, /warning|fatal/);
  const inbox = await server.inbox('carol@example.test');
  assert.equal(inbox.length, 200);
  const ids = new Set<string>();
  for (const bytes of inbox) {
    // Our trace block, then smtp-source's own header and its body of numbered X lines.
    const text = bytes.toString('latin1');
    const start = text.indexOf('From: <a@x.test>\r\nTo: <carol@example.test>\r\n');
    assert.ok(start > 0, 'the sent message follows the trace headers');
    const trace = text.slice(0, start);
    assert.match(trace, /^Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby mail\.example\.test /m);
    assert.match(trace, /for <carol@example\.test>; /);
    assert.match(trace, /^Authentication-Results: mail\.example\.test;/m);
    const sent = text.slice(start);
    const id = /^Message-Id: <([^>\r\n]+)>\r$/m.exec(sent);
    assert.ok(id !== null);
    ids.add(id[1]);
    const body = sent.slice(sent.indexOf('\r\n\r\n') + 4);
    assert.equal(body.length, BODY_BYTES, 'smtp-source body stored whole');
    assert.match(body, /^(?:\dX{77}\r\n){51}X{16}\r\n$/, JSON.stringify(body.slice(-120)));
  }
  assert.equal(ids.size, 200, 'every stored message is a different one');
});

void test('swaks --pipeline on the MX port: pipelining after the EHLO reply is accepted (RFC 2920)', async () => {
  // The MX refuses unauthorised pipelining (smtp.forbid_unauth_pipelining); a client that waits
  // for the EHLO reply offering PIPELINING and then sends MAIL, RCPT and DATA in one group is fine.
  const sent = message('swaks MX pipelined', 'someone@x.test', 'alice@example.test');
  const before = (await server.inbox('alice@example.test')).length;
  const r = await swaks(server.ports.smtp, [
    '--pipeline',
    '--from',
    'someone@x.test',
    '--to',
    'alice@example.test',
    '--data',
    await messageFile('mx-pipelined.eml', sent),
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /<- {2}250 2\.0\.0 /);
  assert.doesNotMatch(r.stdout, /554 5\.5\.0/);
  assert.equal((await server.inbox('alice@example.test')).length, before + 1);
});
