// Hostile input against the SMTP sessions, one test per item of issue 3's list: smuggling,
// STARTTLS injection, talking before the banner, huge lines, recipient floods, malformed
// paths and parameters, AUTH abuse, relay attempts, shell metacharacters, __proto__ headers,
// and a connection cut before the final dot. Each asserts the protocol answer, that the
// connection is still usable (or cleanly closed), and what was (not) stored.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitUntil } from '../helpers/wait-until.js';
import { ensurePublicOwner } from '../../src/store/public-folders.js';
import {
  dotStuff,
  ehlo,
  largeMessage,
  PASSWORDS,
  plainAuth,
  RawSmtpClient,
  spoolFiles,
  startSmtpServer,
  type SmtpTestServer,
} from './smtp-harness.js';

let server: SmtpTestServer;
let normalizing: SmtpTestServer;

before(async () => {
  [server, normalizing] = await Promise.all([
    startSmtpServer({ smtp: { maxUnknownRecipients: 50 } }),
    startSmtpServer({ smtp: { bareLineEndings: 'normalize' } }),
  ]);
});
after(async () => {
  await Promise.all([server.close(), normalizing.close()]);
});

async function inboxSize(s: SmtpTestServer, address = 'alice@example.test'): Promise<number> {
  return (await s.inbox(address)).length;
}

// Each sequence would end DATA for a lax server, and the smuggled MAIL would start a second,
// forged message; only CRLF "." CRLF ends DATA here.
const SMUGGLING = ['\n.\n', '\r.\r', '\n.\r\n', '\r\n.\n', '\r.\r\n', '\r\n.\r', '\n.\r'];

void test('SMTP smuggling: bare line endings are refused, nothing stored, no smuggled command runs', async () => {
  for (const seq of SMUGGLING) {
    const { client } = await ehlo(server.ports.smtp);
    const before = await inboxSize(server);
    assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    client.write(
      `Subject: smuggle\r\n\r\nhello${seq}MAIL FROM:<admin@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nforged\r\n.\r\n`,
    );
    const end = await client.reply();
    assert.equal(end.code, 550, `sequence ${JSON.stringify(seq)}`);
    assert.match(end.text, /^5\.6\.0/);
    // The next reply belongs to our NOOP: no reply was produced for the smuggled commands.
    assert.equal((await client.command('NOOP')).code, 250);
    assert.equal(await inboxSize(server), before, 'nothing stored');
    assert.equal(await inboxSize(server, 'bob@example.test'), 0);
    client.destroy();
  }
});

void test('SMTP smuggling with bare_line_endings = "normalize": one message, CRLF everywhere', async () => {
  const { client } = await ehlo(normalizing.ports.smtp);
  assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  client.write('Subject: n\r\n\r\nhello\n.\nMAIL FROM:<admin@example.test>\r\n.\r\n');
  assert.equal((await client.reply()).code, 250);
  const stored = (await normalizing.inbox('alice@example.test'))[0].toString('latin1');
  assert.ok(
    stored.endsWith('\r\n\r\nhello\r\n.\r\nMAIL FROM:<admin@example.test>\r\n'),
    JSON.stringify(stored.slice(-60)),
  );
  assert.equal(await inboxSize(normalizing, 'bob@example.test'), 0);
  client.destroy();
});

void test('STARTTLS injection: commands pipelined after STARTTLS are discarded, state is reset', async () => {
  const { client } = await ehlo(server.ports.smtp);
  client.write('STARTTLS\r\nMAIL FROM:<evil@remote.example>\r\nRCPT TO:<alice@example.test>\r\n');
  const ready = await client.reply();
  assert.equal(ready.code, 220);
  await client.upgrade();
  // No EHLO since TLS began: MAIL is out of sequence, so the injected MAIL did not stick.
  const mail = await client.command('MAIL FROM:<a@remote.example>');
  assert.equal(mail.code, 503);
  const again = await client.command('EHLO client.example.net');
  assert.equal(again.code, 250);
  assert.ok(!again.lines.some((l) => l.includes('STARTTLS')), 'no STARTTLS inside TLS');
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 503, 'no transaction survived');
  assert.equal((await client.command('STARTTLS')).code, 503);
  client.destroy();
});

/** Resolves once what was written so far has been handed to the kernel (its own TCP segment). */
function flushed(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const INJECTED_MESSAGE =
  'MAIL FROM:<evil@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n' +
  'Subject: injected\r\n\r\ninjected\r\n.\r\n';

async function injectedStored(): Promise<boolean> {
  return (await server.inbox('alice@example.test')).some((m) => m.includes('Subject: injected'));
}

void test('STARTTLS injection in a later packet, before the reply: discarded, never executed', async () => {
  const { client } = await ehlo(server.ports.smtp);
  client.socket.setNoDelay(true);
  client.write('STARTTLS\r\n');
  await flushed();
  client.write(INJECTED_MESSAGE);
  assert.equal((await client.reply()).code, 220, 'the first reply is the one to STARTTLS');
  // The injected bytes either were discarded (the handshake works, no command ran) or reached
  // the TLS layer (the handshake fails); they are never read as commands.
  const upgraded = await client.upgrade().then(
    () => true,
    () => false,
  );
  if (upgraded) {
    assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 503, 'no EHLO since TLS');
    assert.equal((await client.command('EHLO client.example.net')).code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 503, 'no transaction');
  }
  client.destroy();
  assert.equal(await injectedStored(), false, 'the injected message was not stored');
});

void test('STARTTLS injection in a later packet, after the reply: the handshake fails, nothing runs', async () => {
  const { client } = await ehlo(server.ports.smtp);
  assert.equal((await client.command('STARTTLS')).code, 220);
  client.write(INJECTED_MESSAGE);
  await assert.rejects(client.upgrade(), 'plaintext where the TLS handshake belongs');
  client.destroy();
  assert.equal(await injectedStored(), false, 'the injected message was not stored');
});

void test('commands before the banner get 554 and the connection is closed', async () => {
  const impatient = await startSmtpServer({
    greetingDelayMs: 300,
    protocol: { greetingDelayForLoopback: true },
  });
  try {
    const client = await RawSmtpClient.connect(impatient.ports.smtp);
    client.write('EHLO early.example\r\n');
    const reply = await client.reply();
    assert.equal(reply.code, 554);
    await client.closed();
    // A patient client gets the banner after the delay.
    const patient = await RawSmtpClient.connect(impatient.ports.smtp);
    assert.equal((await patient.reply()).code, 220);
    // Submission never delays.
    const started = Date.now();
    const sub = await RawSmtpClient.connect(impatient.ports.submission);
    assert.equal((await sub.reply()).code, 220);
    assert.ok(Date.now() - started < 250);
    patient.destroy();
    sub.destroy();
  } finally {
    await impatient.close();
  }
});

void test('a 1 MiB line without LF: 500 5.5.6 once it ends, memory bounded, session usable', async () => {
  const { client } = await ehlo(server.ports.smtp);
  const chunk = 'A'.repeat(64 * 1024);
  for (let i = 0; i < 16; i++) client.write(chunk);
  client.write('\r\n');
  const reply = await client.reply();
  assert.equal(reply.code, 500);
  assert.match(reply.text, /^5\.5\.6/);
  assert.equal((await client.command('NOOP')).code, 250);
  client.destroy();
});

void test('2,000 pipelined RCPTs: 452 4.5.3 past limits.recipients, earlier ones kept', async () => {
  const { client } = await ehlo(server.ports.smtp);
  let batch = 'MAIL FROM:<bulk@remote.example>\r\n';
  for (let i = 0; i < 2000; i++) batch += `RCPT TO:<alice+${i}@example.test>\r\n`;
  batch += 'DATA\r\n';
  client.write(batch);
  assert.equal((await client.reply()).code, 250);
  const counts = new Map<number, number>();
  for (let i = 0; i < 2000; i++) {
    const r = await client.reply();
    counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
    if (r.code === 452) assert.match(r.text, /^4\.5\.3/);
  }
  assert.deepEqual([...counts].sort(), [
    [250, 1000],
    [452, 1000],
  ]);
  assert.equal((await client.reply()).code, 354);
  const before = await inboxSize(server);
  client.write('Subject: many\r\n\r\nhi\r\n.\r\n');
  assert.equal((await client.reply()).code, 250);
  assert.equal(await inboxSize(server), before + 1, 'stored once for the one account');
  client.destroy();
});

void test('malformed paths and parameters get 5xx and the session continues', async () => {
  let { client } = await ehlo(server.ports.smtp);
  const cases: Array<[string, number]> = [
    ['MAIL FROM:<a@remote.example> SIZE=-1', 501],
    ['MAIL FROM:<a@remote.example> SIZE=99999999999999999999999999', 552],
    ['MAIL FROM:<a@remote.example> SIZE=12abc', 501],
    ['MAIL FROM:<a@remote.example> BODY=9BIT', 501],
    ['MAIL FROM:<a@remote.example> FOO=bar', 555],
    ['MAIL FROM:<a@remote.example> ENVID=a=b', 501],
    ['MAIL FROM:<a@remote.example> RET=NONE', 501],
    ['MAIL FROM:a@remote.example', 501],
    ['MAIL FROM:<a@@remote.example>', 553],
    ['MAIL FROM:<<a@remote.example>>', 501],
    ['MAIL FROM:<a@remote.example', 501],
    ['MAIL TO:<a@remote.example>', 501],
  ];
  for (const [line, code] of cases) {
    const r = await client.command(line);
    assert.equal(Math.floor(r.code / 100), 5, `${line} -> ${r.code}`);
    assert.equal(r.code, code, `${line} -> ${r.lines.join('|')}`);
  }
  // Truncated UTF-8 in a path.
  client.write(
    Buffer.concat([
      Buffer.from('MAIL FROM:<j'),
      Buffer.from([0xc3]),
      Buffer.from('@remote.example> SMTPUTF8\r\n'),
    ]),
  );
  assert.equal((await client.reply()).code, 500);
  // UTF-8 without SMTPUTF8.
  assert.equal((await client.command('MAIL FROM:<jörg@remote.example>')).code, 553);
  client.destroy();
  // A fresh session: the errors above count towards limits.badCommands.
  ({ client } = await ehlo(server.ports.smtp));
  assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
  for (const [line, code] of [
    ['RCPT TO:<alice@example.test> NOTIFY=SOMETIMES', 501],
    ['RCPT TO:<alice@example.test> NOTIFY=NEVER,SUCCESS', 501],
    ['RCPT TO:<alice@example.test> ORCPT=nosemicolon', 501],
    ['RCPT TO:<alice@example.test> XYZ', 555],
    ['RCPT TO:<>', 553],
    ['RCPT TO:<alice@exa mple.test>', 501],
  ] as const) {
    const r = await client.command(line);
    assert.equal(r.code, code, `${line} -> ${r.lines.join('|')}`);
  }
  assert.equal((await client.command('RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE')).code, 250);
  client.destroy();
});

void test('too many bad commands: 421 and close', async () => {
  const { client } = await ehlo(server.ports.smtp);
  let last = await client.command('XYZZY');
  assert.equal(last.code, 500);
  for (let i = 1; i < server.config.limits.badCommands; i++) last = await client.command('XYZZY');
  assert.equal(last.code, 500);
  assert.equal((await client.reply()).code, 421);
  await client.closed();
});

void test('AUTH abuse: bad base64, "*", oversized response, authzid != authcid, then 421', async () => {
  // Port 587 from loopback allows AUTH without TLS; limits.authFailuresPerSession is 3.
  const { client } = await ehlo(server.ports.submission);
  const bad = await client.command('AUTH PLAIN not*base64!');
  assert.equal(bad.code, 501);
  assert.match(bad.text, /^5\.5\.2/);
  assert.equal((await client.command('AUTH LOGIN')).code, 334);
  const cancel = await client.command('*');
  assert.equal(cancel.code, 501);
  const proxy = await client.command(
    'AUTH PLAIN ' + plainAuth('alice@example.test', PASSWORDS['alice@example.test'], 'bob@example.test'),
  );
  assert.equal(proxy.code, 535, 'authorization identity different from the authentication identity');
  assert.equal((await client.reply()).code, 421);
  await client.closed();

  const second = await ehlo(server.ports.submission);
  assert.equal((await second.client.command('AUTH PLAIN')).code, 334);
  const huge = await second.client.command('A'.repeat(6000));
  assert.equal(huge.code, 500);
  assert.match(huge.text, /^5\.5\.6/);
  const wrong = await second.client.command('AUTH PLAIN ' + plainAuth('alice@example.test', 'wrong'));
  assert.equal(wrong.code, 535);
  assert.match(wrong.text, /^5\.7\.8/);
  assert.equal((await second.client.command('AUTH XOAUTH9')).code, 504);
  const ok = await second.client.command(
    'AUTH PLAIN ' + plainAuth('alice@example.test', PASSWORDS['alice@example.test']),
  );
  assert.equal(ok.code, 235, 'a good login still works after failures below the limit');
  assert.equal((await second.client.command('AUTH PLAIN ' + plainAuth('a', 'b'))).code, 503);
  second.client.destroy();
});

void test('open relay: every spelling refused without AUTH, the outbound spool stays empty', async () => {
  const { client } = await ehlo(server.ports.smtp);
  assert.equal((await client.command('MAIL FROM:<spammer@remote.example>')).code, 250);
  const spellings = [
    'victim@remote.example',
    'VICTIM@REMOTE.EXAMPLE',
    'victim@remote.example.',
    'victim%remote.example@example.test',
    'remote.example!victim@example.test',
    'victim!remote.example@example.test',
    '@example.test:victim@remote.example',
    '@example.test,@other.example:victim@remote.example',
    '"victim@remote.example"@example.test',
    '"victim%remote.example"@example.test',
    'victim@[192.0.2.1]',
    'victim@[IPv6:2001:db8::1]',
    'postmaster@remote.example',
  ];
  for (const rcpt of spellings) {
    const r = await client.command(`RCPT TO:<${rcpt}>`);
    if (rcpt.endsWith('.')) assert.equal(r.code, 553, `${rcpt} -> ${r.lines.join('|')}`);
    else assert.equal(r.lines.join('|'), '554 5.7.1 Relay access denied', rcpt);
  }
  assert.equal((await client.command('DATA')).code, 554, 'no valid recipients');
  assert.equal(await server.store.countOutbound(), 0);
  // Port 587 without AUTH does not even take MAIL.
  const sub = await ehlo(server.ports.submission);
  assert.equal((await sub.client.command('MAIL FROM:<alice@example.test>')).code, 530);
  sub.client.destroy();
  client.destroy();
});

void test('unknown recipients: 550 5.1.1, and the session is cut after smtp.max_unknown_recipients', async () => {
  const strict = await startSmtpServer({ smtp: { maxUnknownRecipients: 3, unknownRecipientDelay: 50 } });
  try {
    const { client } = await ehlo(strict.ports.smtp);
    assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
    const started = Date.now();
    const first = await client.command('RCPT TO:<nobody@example.test>');
    assert.equal(first.code, 550);
    assert.match(first.text, /^5\.1\.1/);
    assert.ok(Date.now() - started >= 45, 'answered after the delay');
    assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await client.command('RCPT TO:<nobody2@example.test>')).code, 550);
    assert.equal((await client.command('RCPT TO:<nobody3@example.test>')).code, 550);
    assert.equal((await client.reply()).code, 421);
    await client.closed();
  } finally {
    await strict.close();
  }
});

void test('the hidden owner of public folders receives no mail, however it is spelled', async () => {
  await ensurePublicOwner(server.store, 'example.test');
  const { client } = await ehlo(server.ports.smtp);
  assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
  for (const rcpt of [
    '.shared@example.test',
    '".shared"@example.test',
    '.SHARED@Example.Test',
    '.shared+x@example.test',
  ]) {
    const r = await client.command(`RCPT TO:<${rcpt}>`);
    assert.ok(r.code >= 550 && r.code <= 554, `${rcpt} -> ${r.lines.join('|')}`);
  }
  assert.equal((await client.command('DATA')).code, 554, 'no valid recipients');
  client.destroy();
});

void test('shell metacharacters in addresses are just unknown addresses', async () => {
  const { client } = await ehlo(server.ports.smtp);
  assert.equal((await client.command('MAIL FROM:<"$(touch /tmp/pwned)"@remote.example>')).code, 250);
  for (const rcpt of [
    '"|/bin/sh -c id"@example.test',
    '`id`@example.test',
    '$(reboot)@example.test',
    'alice;ls@example.test',
    '"alice&&rm -rf /"@example.test',
    'alice|cat@example.test',
  ]) {
    const r = await client.command(`RCPT TO:<${rcpt}>`);
    assert.ok(
      r.code === 550 || r.code === 554 || r.code === 501 || r.code === 553,
      `${rcpt} -> ${r.lines.join('|')}`,
    );
  }
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  client.write('Subject: `id` $(reboot)\r\n\r\n|/bin/sh\r\n.\r\n');
  assert.equal((await client.reply()).code, 250);
  assert.equal(await server.store.countOutbound(), 0);
  client.destroy();
});

void test('__proto__ and constructor as header names are stored byte for byte', async () => {
  const { client } = await ehlo(server.ports.smtp);
  const body = '__proto__: {"polluted": true}\r\nconstructor: prototype\r\nSubject: proto\r\n\r\nbody\r\n';
  assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  client.write(body + '.\r\n');
  assert.equal((await client.reply()).code, 250);
  const inbox = await server.inbox('alice@example.test');
  assert.ok(inbox[inbox.length - 1].toString('latin1').endsWith(body));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  client.destroy();
});

void test('a connection cut before the final dot delivers nothing and leaves no spool file', async () => {
  // Over 256 KiB, so the message is in a spool file (<dataDir>/tmp) when the connection drops.
  for (const verb of ['DATA', 'BDAT']) {
    const { client } = await ehlo(server.ports.smtp);
    const before = await inboxSize(server);
    const message = largeMessage(400 * 1024, `cut ${verb}`);
    assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
    if (verb === 'DATA') {
      assert.equal((await client.command('DATA')).code, 354);
      client.write(dotStuff(message));
    } else {
      client.write(`BDAT ${message.length + 1000} LAST\r\n`);
      client.write(message);
    }
    await waitUntil(async () => (await spoolFiles(server.dir)).length === 1, {
      what: `${verb}: the message in a spool file`,
    });
    client.destroy();
    await waitUntil(async () => (await spoolFiles(server.dir)).length === 0, {
      what: `${verb}: the spool file removed after the disconnect`,
    });
    assert.equal(await inboxSize(server), before, `${verb}: nothing delivered`);
  }
});

void test('connection refusal: 421 4.7.0 too many connections', async () => {
  const limited = await startSmtpServer({ limits: { connectionsPerIp: 1 } });
  try {
    const first = await RawSmtpClient.connect(limited.ports.smtp);
    assert.equal((await first.reply()).code, 220);
    const second = await RawSmtpClient.connect(limited.ports.smtp);
    const refused = await second.reply();
    assert.equal(refused.code, 421);
    assert.match(refused.text, /^4\.7\.0 mail\.example\.test too many connections/);
    await second.closed();
    first.destroy();
  } finally {
    await limited.close();
  }
});
