// SMTP delivery end to end over real sockets: raw commands, PIPELINING, BDAT, nodemailer (MX,
// STARTTLS + AUTH submission, implicit TLS), Python's smtplib; the stored bytes are exactly the
// sent bytes with our trace headers in front.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import nodemailer from 'nodemailer';
import { ehlo, PASSWORDS, plainAuth, startSmtpServer, type SmtpTestServer } from './smtp-harness.js';

let server: SmtpTestServer;

before(async () => {
  server = await startSmtpServer({ bobQuota: 3000, limits: { messageSize: 200_000 } });
});
after(async () => {
  await server.close();
});

/** Splits a stored message into our prepended trace block and the rest. */
function assertStoredAs(stored: Buffer, sent: Buffer): string {
  assert.ok(stored.length > sent.length, 'something was prepended');
  const prefix = stored.subarray(0, stored.length - sent.length);
  assert.deepEqual(stored.subarray(stored.length - sent.length), sent, 'the sent bytes are stored unchanged');
  const text = prefix.toString('utf8');
  assert.ok(text.endsWith('\r\n'));
  for (const line of text.slice(0, -2).split('\r\n')) {
    assert.ok(/^[A-Za-z-]+: /.test(line) || /^[ \t]/.test(line), `trace line ${JSON.stringify(line)}`);
  }
  assert.match(text, /^Received: from client\.example\.net /m);
  return text;
}

function lastOf<T>(items: T[]): T {
  assert.ok(items.length > 0);
  return items[items.length - 1];
}

void test('EHLO lists the extensions; AUTH only where allowed', async () => {
  const { client, ehlo: mx } = await ehlo(server.ports.smtp);
  const keywords = mx.lines.map((l) => l.slice(4));
  for (const k of [
    'PIPELINING',
    'SIZE 200000',
    '8BITMIME',
    'SMTPUTF8',
    'CHUNKING',
    'BINARYMIME',
    'ENHANCEDSTATUSCODES',
    'DSN',
    'STARTTLS',
    'HELP',
  ]) {
    assert.ok(keywords.includes(k), `MX offers ${k}`);
  }
  assert.ok(!keywords.some((k) => k.startsWith('AUTH')), 'no AUTH on port 25 before TLS');
  assert.equal((await client.command('AUTH PLAIN ' + plainAuth('alice@example.test', 'x'))).code, 538);
  assert.equal((await client.command('HELO client.example.net')).code, 250);
  assert.equal((await client.command('VRFY alice')).code, 252);
  assert.equal((await client.command('VRFY nobody')).code, 252);
  assert.equal((await client.command('EXPN staff')).code, 502);
  assert.equal((await client.command('HELP')).code, 214);
  assert.equal((await client.command('NOOP')).code, 250);
  assert.equal((await client.command('QUIT')).code, 221);
  await client.closed();

  const sub = await ehlo(server.ports.submission);
  assert.ok(
    sub.ehlo.lines.some((l) => l.slice(4) === 'AUTH PLAIN LOGIN'),
    'loopback may AUTH on 587',
  );
  const mail = await sub.client.command('MAIL FROM:<alice@example.test>');
  assert.equal(mail.code, 530, 'AUTH required before MAIL on submission');
  sub.client.destroy();

  const tlsSub = await ehlo(server.ports.submissions, { tls: true });
  assert.ok(!tlsSub.ehlo.lines.some((l) => l.includes('STARTTLS')), 'no STARTTLS once in TLS');
  assert.ok(tlsSub.ehlo.lines.some((l) => l.slice(4) === 'AUTH PLAIN LOGIN'));
  tlsSub.client.destroy();
});

void test('raw pipelined delivery: alias, sub-address, stored bytes exact, one blob', async () => {
  const { client } = await ehlo(server.ports.smtp);
  const body = Buffer.from(
    'From: Sender <sender@remote.example>\r\nTo: sales@example.test\r\nSubject: pipelined\r\n\r\n' +
      'line one\r\n..a line that starts with a dot\r\nlast\r\n',
  );
  const stuffed = body.toString('latin1').replace(/\r\n\./g, '\r\n..');
  client.write(
    'MAIL FROM:<sender@remote.example> SIZE=200 BODY=8BITMIME\r\n' +
      'RCPT TO:<sales@example.test>\r\n' +
      'RCPT TO:<alice+news@example.test>\r\n' +
      'RCPT TO:<bob@example.test> NOTIFY=FAILURE ORCPT=rfc822;bob@example.test\r\n' +
      'DATA\r\n',
  );
  assert.equal((await client.reply()).code, 250);
  assert.equal((await client.reply()).code, 250);
  assert.equal((await client.reply()).code, 250);
  assert.equal((await client.reply()).code, 250);
  assert.equal((await client.reply()).code, 354);
  client.write(stuffed + '.\r\n');
  const done = await client.reply();
  assert.equal(done.code, 250);
  assert.match(done.text, /^2\.0\.0 OK queued as [0-9A-Z]+$/);
  assert.equal((await client.command('QUIT')).code, 221);

  const alice = await server.inbox('alice@example.test');
  const bob = await server.inbox('bob@example.test');
  const trace = assertStoredAs(lastOf(alice), body);
  assert.deepEqual(lastOf(bob), lastOf(alice), 'one stored message for every recipient');
  assert.match(trace, /with ESMTP\s+id [0-9A-Z]+/);
  assert.match(trace, /^Authentication-Results: mail\.example\.test/m);
  assert.ok(!trace.includes(' for <'), 'no "for" clause with several recipients');
});

void test('BDAT with BINARYMIME, and DATA refused for BINARYMIME', async () => {
  const { client } = await ehlo(server.ports.smtp);
  const part1 = Buffer.from('Subject: chunks\r\n\r\nbinary \x00\x01 and a bare\nLF and\r\n.\r\n');
  const part2 = Buffer.from('end\r\n');
  assert.equal((await client.command('MAIL FROM:<x@remote.example> BODY=BINARYMIME')).code, 250);
  assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 250);
  assert.equal((await client.command('DATA')).code, 503, 'BINARYMIME needs BDAT');
  client.write(Buffer.concat([Buffer.from(`BDAT ${part1.length}\r\n`), part1]));
  const r1 = await client.reply();
  assert.equal(r1.code, 250);
  assert.match(r1.text, new RegExp(`${part1.length} octets`));
  client.write(Buffer.concat([Buffer.from(`BDAT ${part2.length} LAST\r\n`), part2]));
  assert.equal((await client.reply()).code, 250);
  const stored = lastOf(await server.inbox('bob@example.test'));
  const trace = assertStoredAs(stored, Buffer.concat([part1, part2]));
  assert.match(trace, /for <bob@example\.test>/);
  // BDAT 0 LAST with no transaction: bytes consumed, 503, session still in step.
  assert.equal((await client.command('BDAT 0 LAST')).code, 503);
  assert.equal((await client.command('NOOP')).code, 250);
  client.destroy();
});

void test('SIZE: declared too large, and enforced while streaming; session stays usable', async () => {
  const { client } = await ehlo(server.ports.smtp);
  const big = await client.command('MAIL FROM:<x@remote.example> SIZE=200001');
  assert.equal(big.code, 552);
  assert.match(big.text, /^5\.3\.4/);
  assert.equal((await client.command('MAIL FROM:<x@remote.example>')).code, 250);
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
  const before = (await server.inbox('alice@example.test')).length;
  assert.equal((await client.command('DATA')).code, 354);
  const line = 'x'.repeat(998) + '\r\n';
  client.write('Subject: big\r\n\r\n' + line.repeat(300) + '.\r\n');
  const over = await client.reply();
  assert.equal(over.code, 552);
  assert.match(over.text, /^5\.3\.4/);
  assert.equal((await server.inbox('alice@example.test')).length, before, 'nothing stored');
  assert.equal((await client.command('MAIL FROM:<x@remote.example>')).code, 250, 'transaction was reset');
  client.destroy();
});

void test('quota: 452 4.2.2 at RCPT for the declared size, 552 5.2.2 at commit', async () => {
  const { client } = await ehlo(server.ports.smtp);
  assert.equal((await client.command('MAIL FROM:<x@remote.example> SIZE=5000')).code, 250);
  const full = await client.command('RCPT TO:<bob@example.test>');
  assert.equal(full.code, 452);
  assert.match(full.text, /^4\.2\.2/);
  assert.equal((await client.command('RSET')).code, 250);
  // Undeclared size: accepted at RCPT, refused when the store commits it.
  const before = (await server.inbox('bob@example.test')).length;
  assert.equal((await client.command('MAIL FROM:<x@remote.example>')).code, 250);
  assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  client.write('Subject: fills the mailbox\r\n\r\n' + 'y'.repeat(70).concat('\r\n').repeat(60) + '.\r\n');
  const over = await client.reply();
  assert.equal(over.code, 552);
  assert.match(over.text, /^5\.2\.2/);
  assert.equal((await server.inbox('bob@example.test')).length, before, 'never a half-stored message');
  client.destroy();
});

void test('nodemailer delivers to the MX (STARTTLS on 25) with exact bytes', async () => {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.ports.smtp,
    secure: false,
    name: 'client.example.net',
    tls: { rejectUnauthorized: false },
  });
  const raw = Buffer.from(
    'From: a@remote.example\r\nTo: alice@example.test\r\nSubject: nodemailer MX\r\n\r\nHello\r\n',
  );
  const info = await transport.sendMail({
    envelope: { from: 'a@remote.example', to: ['alice@example.test'] },
    raw,
  });
  assert.deepEqual(info.accepted, ['alice@example.test']);
  const trace = assertStoredAs(lastOf(await server.inbox('alice@example.test')), raw);
  assert.match(trace, /with ESMTPS\b/, 'nodemailer used STARTTLS');
  transport.close();
});

void test('nodemailer submission: STARTTLS + AUTH on 587, remote recipient queued with DSN parameters', async () => {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.ports.submission,
    secure: false,
    requireTLS: true,
    name: 'client.example.net',
    auth: { user: 'alice@example.test', pass: PASSWORDS['alice@example.test'] },
    tls: { rejectUnauthorized: false },
  });
  const raw = Buffer.from(
    'From: alice@example.test\r\nTo: friend@remote.example\r\nSubject: out\r\n\r\nHi\r\n',
  );
  const queued = await server.store.countOutbound();
  const info = await transport.sendMail({
    envelope: { from: 'alice@example.test', to: ['friend@remote.example', 'bob@example.test'] },
    raw,
    dsn: { id: 'env-1', return: 'headers', notify: ['failure', 'delay'], recipient: 'alice@example.test' },
  });
  assert.deepEqual([...info.accepted].sort(), ['bob@example.test', 'friend@remote.example']);
  assert.equal(await server.store.countOutbound(), queued + 1);
  const out = lastOf(await server.store.listOutbound());
  assert.equal(out.mailFrom, 'alice@example.test');
  assert.equal(out.envid, 'env-1');
  assert.equal(out.ret, 'HDRS');
  assert.deepEqual(
    out.recipients.map((r) => [r.address, r.notify]),
    [['friend@remote.example', ['FAILURE', 'DELAY']]],
  );
  const stored = await server.blobs.readAll(out.blobId);
  const trace = assertStoredAs(stored, raw);
  assert.match(trace, /with ESMTPSA\b/);
  assert.deepEqual(lastOf(await server.inbox('bob@example.test')), stored, 'local copy is the same blob');
  transport.close();

  // Someone else's address as the sender is refused.
  const { client } = await ehlo(server.ports.submission);
  assert.equal(
    (await client.command('AUTH PLAIN ' + plainAuth('bob@example.test', PASSWORDS['bob@example.test']))).code,
    235,
  );
  const spoof = await client.command('MAIL FROM:<alice@example.test>');
  assert.equal(spoof.code, 553);
  assert.match(spoof.text, /^5\.7\.1/);
  client.destroy();
});

void test('nodemailer over implicit TLS (465) with AUTH LOGIN; alias as sender', async () => {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.ports.submissions,
    secure: true,
    name: 'client.example.net',
    auth: { user: 'alice@example.test', pass: PASSWORDS['alice@example.test'], method: 'LOGIN' },
    tls: { rejectUnauthorized: false },
  });
  const raw = Buffer.from('From: sales@example.test\r\nTo: bob@example.test\r\nSubject: tls\r\n\r\nHi\r\n');
  const info = await transport.sendMail({
    envelope: { from: 'sales@example.test', to: ['bob@example.test'] },
    raw,
  });
  assert.deepEqual(info.accepted, ['bob@example.test']);
  assertStoredAs(lastOf(await server.inbox('bob@example.test')), raw);
  transport.close();
});

void test("Python's smtplib delivers, with SMTPUTF8", async () => {
  const script = `
import smtplib, sys
port = int(sys.argv[1])
msg = b"From: py@remote.example\\r\\nTo: alice@example.test\\r\\nSubject: python\\r\\n\\r\\nfrom smtplib\\r\\n.dot line\\r\\n"
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.net") as s:
    s.sendmail("py@remote.example", ["alice@example.test"], msg)
    s.sendmail("j\\u00f6rg@remote.example", ["alice@example.test"], "Subject: utf8\\r\\n\\r\\nJ\\u00f6rg\\r\\n".encode(), mail_options=["SMTPUTF8", "BODY=8BITMIME"])
print("ok")
`;
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('python3', ['-c', script, String(server.ports.smtp)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`python3 exit ${code}: ${stderr}`)),
    );
  });
  assert.equal(out.trim(), 'ok');
  const inbox = await server.inbox('alice@example.test');
  assertStoredAs(
    inbox[inbox.length - 2],
    Buffer.from(
      'From: py@remote.example\r\nTo: alice@example.test\r\nSubject: python\r\n\r\nfrom smtplib\r\n.dot line\r\n',
    ),
  );
  const utf8 = assertStoredAs(lastOf(inbox), Buffer.from('Subject: utf8\r\n\r\nJörg\r\n'));
  assert.match(utf8, /with UTF8SMTP\b/);
});

void test('<Postmaster> without a domain reaches the postmaster of our domain (RFC 5321 §4.5.1)', async () => {
  const { client } = await ehlo(server.ports.smtp);
  assert.equal((await client.command('MAIL FROM:<>')).code, 250);
  assert.equal((await client.command('RCPT TO:<Postmaster>')).code, 550, 'no postmaster alias yet');
  await server.store.addAlias({ source: 'postmaster@example.test', destination: 'alice@example.test' });
  assert.equal((await client.command('RCPT TO:<Postmaster>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  const body = 'Subject: to the postmaster\r\n\r\nhello\r\n';
  client.write(body + '.\r\n');
  assert.equal((await client.reply()).code, 250);
  const trace = assertStoredAs(lastOf(await server.inbox('alice@example.test')), Buffer.from(body));
  assert.match(trace, /for <Postmaster>/);
  client.destroy();
});

void test('MX: an alias to a remote address queues the message for that address (forwarding)', async () => {
  await server.store.addAlias({ source: 'fwd@example.test', destination: 'friend@remote.example' });
  const queued = await server.store.countOutbound();
  const aliceBefore = (await server.inbox('alice@example.test')).length;
  const { client } = await ehlo(server.ports.smtp);
  const raw = Buffer.from('From: someone@x.test\r\nTo: fwd@example.test\r\nSubject: forwarded\r\n\r\nHi\r\n');
  assert.equal((await client.command('MAIL FROM:<someone@x.test>')).code, 250);
  assert.equal(
    (await client.command('RCPT TO:<fwd@example.test>')).code,
    250,
    'the alias is a local address',
  );
  // The same session may still not relay to the remote address itself.
  assert.equal((await client.command('RCPT TO:<friend@remote.example>')).code, 554);
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  client.write(Buffer.concat([raw, Buffer.from('.\r\n')]));
  assert.equal((await client.reply()).code, 250);
  assert.equal((await client.command('QUIT')).code, 221);
  assert.equal(await server.store.countOutbound(), queued + 1, 'one queued copy');
  const out = lastOf(await server.store.listOutbound());
  assert.equal(out.mailFrom, 'someone@x.test');
  assert.equal(out.accountId, null, 'forwarded from an MX session, not submitted');
  assert.deepEqual(
    out.recipients.map((r) => r.address),
    ['friend@remote.example'],
    'queued for the alias destination only',
  );
  const stored = await server.blobs.readAll(out.blobId);
  assertStoredAs(stored, raw);
  const inbox = await server.inbox('alice@example.test');
  assert.equal(inbox.length, aliceBefore + 1);
  assert.deepEqual(lastOf(inbox), stored, 'the local copy is the same blob');
  await server.store.deleteAlias('fwd@example.test');
});
