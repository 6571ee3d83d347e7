// The verify pool seen from SMTP: a message whose verification goes over its budget gets
// 451 4.3.0 at the end of data (not a hang), the session stays usable, and the next message is
// verified by a fresh thread.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MessageVerifier } from '../../src/delivery/message-verifier.js';
import { ehlo, startSmtpServer, type SmtpTestServer } from './smtp-harness.js';

let server: SmtpTestServer;
const verifier = new MessageVerifier({
  limits: { verifyThreads: 1, verifyTimeout: 30, dkimSignatures: 5 },
  budgetMs: 2000,
});

before(async () => {
  // The header section limit (552 before any verification) is raised: this test is about the
  // verification budget, which a header under the limit can also exhaust on a slow machine.
  server = await startSmtpServer({ protocol: { verifier }, limits: { messageHeaderSize: 64 * 1024 * 1024 } });
});
after(async () => {
  await server.close();
  await verifier.close();
});

void test('verification over its budget: 451 4.3.0 at the end of data, then the pool serves the next message', async () => {
  const { client } = await ehlo(server.ports.smtp);
  assert.equal((await client.command('MAIL FROM:<sender@attacker.test>')).code, 250);
  assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  // 2 MB of one header field folded over 27,000 lines: mailauth's header parser is quadratic.
  const fold = ` ${'x'.repeat(72)}\r\n`.repeat(27_000);
  const t0 = Date.now();
  client.write(`From: <sender@attacker.test>\r\nX-Fold: a\r\n${fold}Subject: s\r\n\r\nbody\r\n.\r\n`);
  const end = await client.reply(30_000);
  const took = Date.now() - t0;
  assert.equal(end.code, 451, end.lines.join('|'));
  assert.match(end.text, /^4\.3\.0 /);
  assert.ok(took < 15_000, `answered after ${took} ms`);
  assert.equal(verifier.pool.timedOut, 1);
  assert.equal((await server.inbox('bob@example.test')).length, 0, 'nothing stored');
  assert.equal((await client.command('NOOP')).code, 250);

  await verifier.pool.warm();
  assert.equal((await client.command('MAIL FROM:<sender@attacker.test>')).code, 250);
  assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  client.write('From: <sender@attacker.test>\r\nSubject: fine\r\n\r\nbody\r\n.\r\n');
  assert.equal((await client.reply(30_000)).code, 250);
  const inbox = await server.inbox('bob@example.test');
  assert.equal(inbox.length, 1);
  assert.match(inbox[0]!.toString(), /^Received-SPF: none/m);
  assert.match(inbox[0]!.toString(), /^Authentication-Results: mail\.example\.test;/m);
  client.destroy();
});
