// Unauthorised pipelining (issue 10, finding 6): input sent after EHLO/HELO before its reply,
// while PIPELINING is not yet offered, or before the banner, gets 554 5.5.0 and the connection
// is closed without running it (RFC 2920 §3.1: EHLO ends a group; Postfix 3.9's
// smtpd_forbid_unauth_pipelining). Every client here is on 127.0.0.1: the check does not
// exempt loopback. Legitimate pipelining after an EHLO reply that offered PIPELINING is kept.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ehlo, RawSmtpClient, startSmtpServer, type Reply, type SmtpTestServer } from './smtp-harness.js';

let server: SmtpTestServer;

before(async () => {
  server = await startSmtpServer();
});
after(async () => {
  await server.close();
});

/**
 * A second, well-behaved session that sends NOOP every few milliseconds while `attack` runs;
 * every NOOP must be answered within 100 ms.
 */
async function whileProbing(port: number, attack: () => Promise<void>): Promise<void> {
  const { client: probe } = await ehlo(port);
  const times: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const r = await probe.command('NOOP');
      assert.equal(r.code, 250);
      times.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    await attack();
  } finally {
    running = false;
    await loop;
    probe.destroy();
  }
  assert.ok(times.length > 0, 'the probe ran');
  for (const t of times) assert.ok(t < 100, `a NOOP took ${t.toFixed(1)} ms during the attack`);
}

/** Reads every reply until the server closes the connection. */
async function repliesUntilClosed(client: RawSmtpClient): Promise<Reply[]> {
  const out: Reply[] = [];
  for (;;) {
    try {
      out.push(await client.reply(3000));
    } catch {
      return out;
    }
  }
}

void test('EHLO or HELO pipelined with more commands before the reply: 554 5.5.0, closed, nothing run', async () => {
  const before = (await server.inbox('alice@example.test')).length;
  await whileProbing(server.ports.smtp, async () => {
    const groups = [
      'EHLO bot.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.test>\r\n',
      'HELO bot.example\r\nMAIL FROM:<a@remote.example>\r\n',
      'EHLO bot.example\r\nQUIT\r\n',
      // A partial line behind EHLO is input too.
      'EHLO bot.example\r\nMAI',
    ];
    for (let round = 0; round < 2; round++) {
      for (const group of groups) {
        const client = await RawSmtpClient.connect(server.ports.smtp);
        assert.equal((await client.reply()).code, 220);
        client.write(group);
        const replies = await repliesUntilClosed(client);
        assert.equal(replies.length, 1, `one reply, the refusal: ${JSON.stringify(replies)}`);
        assert.equal(replies[0].code, 554);
        assert.match(replies[0].text, /^5\.5\.0 Error: SMTP protocol synchronization/);
        await client.closed();
      }
    }
  });
  assert.equal((await server.inbox('alice@example.test')).length, before, 'nothing delivered');
});

void test('inside TLS PIPELINING is offered anew: EHLO pipelined after STARTTLS is refused', async () => {
  const { client } = await ehlo(server.ports.smtp);
  assert.equal((await client.command('STARTTLS')).code, 220);
  await client.upgrade();
  client.write('EHLO bot.example\r\nMAIL FROM:<a@remote.example>\r\n');
  const refused = await client.reply();
  assert.equal(refused.code, 554);
  assert.match(refused.text, /^5\.5\.0/);
  await client.closed();
});

void test('after the EHLO reply offered PIPELINING, a pipelined group is accepted (RFC 2920)', async () => {
  const before = (await server.inbox('alice@example.test')).length;
  const { client, ehlo: reply } = await ehlo(server.ports.smtp);
  assert.ok(reply.lines.some((l) => l.slice(4) === 'PIPELINING'));
  client.write('MAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n');
  assert.equal((await client.reply()).code, 250);
  assert.equal((await client.reply()).code, 250);
  assert.equal((await client.reply()).code, 354);
  client.write('Subject: pipelined\r\n\r\nhello\r\n.\r\nRSET\r\nNOOP\r\n');
  assert.equal((await client.reply()).code, 250);
  assert.equal((await client.reply()).code, 250);
  assert.equal((await client.reply()).code, 250);
  // A second EHLO once PIPELINING is in force may be followed at once (we only guard the first).
  client.write('EHLO again.example\r\nNOOP\r\n');
  assert.equal((await client.reply()).code, 250);
  assert.equal((await client.reply()).code, 250);
  assert.equal((await client.command('QUIT')).code, 221);
  assert.equal((await server.inbox('alice@example.test')).length, before + 1);
});

void test('HELO, then commands once its reply has arrived: accepted', async () => {
  const client = await RawSmtpClient.connect(server.ports.smtp);
  assert.equal((await client.reply()).code, 220);
  assert.equal((await client.command('HELO patient.example')).code, 250);
  assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
  assert.equal((await client.command('QUIT')).code, 221);
});

void test('per listener: off on submission by default; smtp.forbid_unauth_pipelining chooses', async () => {
  // Default ["smtp"]: submission takes a pipelined EHLO group.
  const sub = await RawSmtpClient.connect(server.ports.submission);
  assert.equal((await sub.reply()).code, 220);
  sub.write('EHLO client.example\r\nNOOP\r\n');
  assert.equal((await sub.reply()).code, 250);
  assert.equal((await sub.reply()).code, 250);
  sub.destroy();

  const swapped = await startSmtpServer({ smtp: { forbidUnauthPipelining: ['submission'] } });
  try {
    const mx = await RawSmtpClient.connect(swapped.ports.smtp);
    assert.equal((await mx.reply()).code, 220);
    mx.write('EHLO client.example\r\nNOOP\r\n');
    assert.equal((await mx.reply()).code, 250, 'the MX no longer checks');
    assert.equal((await mx.reply()).code, 250);
    mx.destroy();
    const strict = await RawSmtpClient.connect(swapped.ports.submission);
    assert.equal((await strict.reply()).code, 220);
    strict.write('EHLO client.example\r\nNOOP\r\n');
    const refused = await strict.reply();
    assert.equal(refused.code, 554);
    assert.match(refused.text, /^5\.5\.0/);
    await strict.closed();
  } finally {
    await swapped.close();
  }
});

void test('input before the banner (greeting delay, loopback included): 554 5.5.0 and closed', async () => {
  const impatient = await startSmtpServer({
    greetingDelayMs: 300,
    protocol: { greetingDelayForLoopback: true },
  });
  try {
    await whileProbing(impatient.ports.submission, async () => {
      for (let i = 0; i < 5; i++) {
        const client = await RawSmtpClient.connect(impatient.ports.smtp);
        client.write('EHLO early.example\r\n');
        const replies = await repliesUntilClosed(client);
        assert.equal(replies.length, 1, JSON.stringify(replies));
        assert.equal(replies[0].code, 554);
        assert.match(replies[0].text, /^5\.5\.0 /);
      }
    });
  } finally {
    await impatient.close();
  }
});
