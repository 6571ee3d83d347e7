// The checks made on a whole message at end of data (DATA's final dot, BDAT LAST), over real
// SMTP sessions: mail loops (too many Received:), an oversized header section, DMARC policies of
// domains published on the loopback DNS server (reject, quarantine into Junk, exemptions),
// forged Authentication-Results with our authserv-id, and the sender check on submission
// (MAIL FROM and every From: address must be the user's own address, sub-address or alias).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import nodemailer from 'nodemailer';
import { hashPassword } from '../../src/auth/password.js';
import {
  ehlo,
  PASSWORDS,
  plainAuth,
  RawSmtpClient,
  startSmtpServer,
  type SmtpTestServer,
} from './smtp-harness.js';

/** SPF -all and a DMARC policy: mail from 127.0.0.1 claiming these domains fails DMARC. */
const DNS = {
  'example.test': { TXT: ['v=spf1 -all'] },
  '_dmarc.example.test': { TXT: ['v=DMARC1; p=reject'] },
  'quarantine.example': { TXT: ['v=spf1 -all'] },
  '_dmarc.quarantine.example': { TXT: ['v=DMARC1; p=quarantine'] },
  'lists.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
  'probe.example': { TXT: ['v=spf1 -all'] },
};

let server: SmtpTestServer;
/** Exemptions configured: DMARC not applied for mail via lists.example; shared.example open to all users. */
let lenient: SmtpTestServer;

const WORK_PASSWORD = 'alice-work-secret';

before(async () => {
  [server, lenient] = await Promise.all([
    startSmtpServer({ dnsRecords: DNS }),
    startSmtpServer({
      dnsRecords: DNS,
      smtp: { dmarcExempt: ['lists.example'], senderLoginExemptDomains: ['shared.example'] },
    }),
  ]);
  // alice+work@ is an account of its own: not a sub-address of alice's.
  await server.store.createAccount({
    address: 'alice+work@example.test',
    passwordHash: await hashPassword(WORK_PASSWORD),
  });
  await server.store.addAlias({ source: 'boss@example.test', destination: 'bob@example.test' });
  await server.store.addAlias({ source: '@example.test', destination: 'alice@example.test' });
});
after(async () => {
  await Promise.all([server.close(), lenient.close()]);
});

async function count(s: SmtpTestServer, address: string, mailbox = 'INBOX'): Promise<number> {
  const account = await s.store.getAccount(address);
  const box = await s.store.getMailbox(account!.id, mailbox);
  return box === null ? 0 : (await s.store.listMessages(box.id)).length;
}

/** One message over DATA on the MX port; returns the reply to the final dot. */
async function sendMx(
  s: SmtpTestServer,
  opts: { from: string; to: string; message: string },
): Promise<{ code: number; text: string; client: RawSmtpClient }> {
  const { client } = await ehlo(s.ports.smtp);
  assert.equal((await client.command(`MAIL FROM:<${opts.from}>`)).code, 250);
  assert.equal((await client.command(`RCPT TO:<${opts.to}>`)).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  client.write(opts.message.replace(/\r\n\./g, '\r\n..') + '.\r\n');
  const r = await client.reply();
  return { code: r.code, text: r.text, client };
}

/**
 * Runs `attack` while a second connection sends NOOP after NOOP (5 ms apart); every NOOP must be answered
 * within 100 ms (the rest of the server stays responsive while the attack runs).
 */
async function whileProbing<T>(s: SmtpTestServer, attack: () => Promise<T>): Promise<T> {
  const { client: probe } = await ehlo(s.ports.smtp);
  let done = false;
  const latencies: number[] = [];
  const probing = (async () => {
    while (!done || latencies.length === 0) {
      const started = performance.now();
      const r = await probe.command('NOOP');
      assert.equal(r.code, 250);
      latencies.push(performance.now() - started);
      await sleep(5); // probes, not a second flood: the client shares the server's process
    }
  })();
  try {
    return await attack();
  } finally {
    done = true;
    await probing;
    probe.destroy();
    for (const ms of latencies) assert.ok(ms < 100, `a NOOP took ${ms.toFixed(1)} ms during the attack`);
  }
}

function received(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++)
    out += `Received: from hop${i}.example by hop${i + 1}.example; Fri, 4 Dec 2026 10:00:00 +0000\r\n`;
  return out;
}

void test('a mail loop (60 Received:) is refused 554 5.4.6 at the final dot and BDAT LAST; 50 pass', async () => {
  const before = await count(server, 'bob@example.test');
  const r = await whileProbing(server, () =>
    sendMx(server, {
      from: 'x@remote.example',
      to: 'bob@example.test',
      message: `${received(60)}Subject: loop\r\n\r\nround and round\r\n`,
    }),
  );
  assert.equal(r.code, 554);
  assert.match(r.text, /^5\.4\.6 /);
  assert.equal(await count(server, 'bob@example.test'), before, 'nothing stored');
  assert.equal((await r.client.command('MAIL FROM:<x@remote.example>')).code, 250, 'the session goes on');
  r.client.destroy();

  // BDAT: the same check at LAST.
  const { client } = await ehlo(server.ports.smtp);
  const body = Buffer.from(`${received(51)}Subject: loop\r\n\r\nchunked\r\n`);
  assert.equal((await client.command('MAIL FROM:<x@remote.example>')).code, 250);
  assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 250);
  client.write(Buffer.concat([Buffer.from(`BDAT ${body.length - 10}\r\n`), body.subarray(0, -10)]));
  assert.equal((await client.reply()).code, 250);
  client.write(Buffer.concat([Buffer.from('BDAT 10 LAST\r\n'), body.subarray(-10)]));
  const last = await client.reply();
  assert.equal(last.code, 554);
  assert.match(last.text, /^5\.4\.6 /);
  assert.equal(await count(server, 'bob@example.test'), before, 'nothing stored');
  client.destroy();

  const ok = await sendMx(server, {
    from: 'x@remote.example',
    to: 'bob@example.test',
    message: `${received(50)}Subject: fifty hops\r\n\r\nfine\r\n`,
  });
  assert.equal(ok.code, 250, 'smtp.maxHops (50) Received: fields are allowed');
  ok.client.destroy();
  assert.equal(await count(server, 'bob@example.test'), before + 1);
});

void test('a header section over limits.messageHeaderSize (100 KiB) is refused 552 5.3.4 before verification', async () => {
  const before = await count(server, 'bob@example.test');
  const queries = server.dns.log.length;
  const filler = `X-Filler: ${'f'.repeat(990)}\r\n`.repeat(103); // 103 KiB of header fields
  const r = await whileProbing(server, () =>
    sendMx(server, {
      from: 'x@probe.example',
      to: 'bob@example.test',
      message: `From: x@probe.example\r\n${filler}Subject: big header\r\n\r\nbody\r\n`,
    }),
  );
  assert.equal(r.code, 552);
  assert.match(r.text, /^5\.3\.4 /);
  assert.equal(await count(server, 'bob@example.test'), before, 'nothing stored');
  assert.ok(
    !server.dns.log.slice(queries).some((q) => q.includes('probe.example')),
    'no SPF or DMARC lookup: the message never reached verification',
  );
  assert.equal((await r.client.command('NOOP')).code, 250, 'the session goes on');
  r.client.destroy();
});

void test("a stranger's mail from a p=reject local domain is refused 550 5.7.1", async () => {
  const before = await count(server, 'alice@example.test');
  const r = await sendMx(server, {
    from: 'bob@example.test',
    to: 'alice@example.test',
    message: 'From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: forged\r\n\r\npay this\r\n',
  });
  assert.equal(r.code, 550);
  assert.match(r.text, /^5\.7\.1 /);
  assert.equal(await count(server, 'alice@example.test'), before, 'nothing stored');
  r.client.destroy();
});

void test('p=quarantine lands in Junk; a Junk mailbox is created when the recipient has none', async () => {
  const inbox = await count(server, 'alice@example.test');
  const junk = await count(server, 'alice@example.test', 'Junk');
  const r = await sendMx(server, {
    from: 'news@quarantine.example',
    to: 'alice@example.test',
    message: 'From: news@quarantine.example\r\nSubject: suspicious\r\n\r\nhello\r\n',
  });
  assert.equal(r.code, 250);
  r.client.destroy();
  assert.equal(await count(server, 'alice@example.test'), inbox, 'not in INBOX');
  assert.equal(await count(server, 'alice@example.test', 'Junk'), junk + 1, 'in Junk');

  const bob = await server.store.getAccount('bob@example.test');
  await server.store.deleteMailbox(bob!.id, 'Junk');
  const again = await sendMx(server, {
    from: 'news@quarantine.example',
    to: 'bob@example.test',
    message: 'From: news@quarantine.example\r\nSubject: suspicious\r\n\r\nhello\r\n',
  });
  assert.equal(again.code, 250);
  again.client.destroy();
  const created = await server.store.getMailbox(bob!.id, 'Junk');
  assert.equal(created?.specialUse, '\\Junk');
  assert.equal((await server.store.listMessages(created.id)).length, 1);
});

void test('smtp.dmarc_exempt: an SPF-verified sender domain in the list is not refused', async () => {
  // Envelope from lists.example (SPF passes from 127.0.0.1), From: a p=reject domain.
  const message = 'From: bob@example.test\r\nSubject: via a list\r\n\r\nposted\r\n';
  const exempt = await sendMx(lenient, { from: 'owner@lists.example', to: 'alice@example.test', message });
  assert.equal(exempt.code, 250);
  exempt.client.destroy();
  const strict = await sendMx(server, { from: 'owner@lists.example', to: 'alice@example.test', message });
  assert.equal(strict.code, 550, 'without the exemption the policy applies');
  strict.client.destroy();
});

void test('forged Authentication-Results with our authserv-id are removed; other ones stay', async () => {
  const forged =
    'Authentication-Results: MAIL.EXAMPLE.TEST;\r\n\tdmarc=pass (forged) header.from=example.test\r\n';
  const foreign = 'Authentication-Results: mx.remote.example; spf=pass smtp.mailfrom=remote.example\r\n';
  const rest = 'From: x@remote.example\r\nSubject: verdicts\r\n\r\nbody\r\n';
  const r = await sendMx(server, {
    from: 'x@remote.example',
    to: 'alice@example.test',
    message: forged + foreign + rest,
  });
  assert.equal(r.code, 250);
  r.client.destroy();
  const inbox = await server.inbox('alice@example.test');
  const stored = inbox[inbox.length - 1].toString();
  assert.ok(stored.endsWith(foreign + rest), 'the sent message minus the forged field');
  assert.ok(!stored.includes('(forged)'));
  const ours = stored.match(/^Authentication-Results: mail\.example\.test/gim) ?? [];
  assert.equal(ours.length, 1, 'only the one we added');
  assert.ok(stored.indexOf('Authentication-Results: mail.example.test') < stored.indexOf('\r\nReceived: '));

  // 1,700 of them (96 KiB, under the header limit): all removed, the server answering meanwhile.
  const bomb = 'Authentication-Results: mail.example.test (x); dkim=pass\r\n'.repeat(1700);
  const big = await whileProbing(server, () =>
    sendMx(server, { from: 'x@remote.example', to: 'alice@example.test', message: bomb + foreign + rest }),
  );
  assert.equal(big.code, 250);
  big.client.destroy();
  const after = await server.inbox('alice@example.test');
  const last = after[after.length - 1].toString();
  assert.ok(last.endsWith(foreign + rest));
  assert.equal((last.match(/^Authentication-Results: mail\.example\.test/gim) ?? []).length, 1);
});

async function submit(s: SmtpTestServer, user: string, password: string): Promise<RawSmtpClient> {
  const { client } = await ehlo(s.ports.submission);
  assert.equal((await client.command('AUTH PLAIN ' + plainAuth(user, password))).code, 235);
  return client;
}

void test("submission: MAIL FROM must be the user's own address, sub-address or alias (553 5.7.1)", async () => {
  const alice = await submit(server, 'alice@example.test', PASSWORDS['alice@example.test']);
  for (const foreign of [
    'bob@example.test',
    'alice+work@example.test',
    'boss@example.test',
    'nobody@example.test',
    'alice@remote.example',
  ]) {
    const r = await alice.command(`MAIL FROM:<${foreign}>`);
    assert.equal(r.code, 553, foreign);
    assert.match(r.text, /^5\.7\.1 /);
  }
  for (const own of ['alice@example.test', 'Alice+News@Example.Test', 'sales@example.test', '']) {
    assert.equal((await alice.command(`MAIL FROM:<${own}>`)).code, 250, own);
    assert.equal((await alice.command('RSET')).code, 250);
  }
  alice.destroy();
  // alice+work@ logged in may use its own address, not alice's.
  const work = await submit(server, 'alice+work@example.test', WORK_PASSWORD);
  assert.equal((await work.command('MAIL FROM:<alice+work@example.test>')).code, 250);
  assert.equal((await work.command('RSET')).code, 250);
  assert.equal((await work.command('MAIL FROM:<alice@example.test>')).code, 553);
  work.destroy();
});

/** Submits one message as alice; returns the reply to the final dot. */
async function submitData(
  s: SmtpTestServer,
  envelope: string,
  header: string,
): Promise<{ code: number; text: string }> {
  const client = await submit(s, 'alice@example.test', PASSWORDS['alice@example.test']);
  assert.equal((await client.command(`MAIL FROM:<${envelope}>`)).code, 250);
  assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  client.write(`${header}To: bob@example.test\r\nSubject: as whom?\r\n\r\nhi\r\n.\r\n`);
  const r = await client.reply();
  assert.equal((await client.command('NOOP')).code, 250, 'the session goes on');
  client.destroy();
  return { code: r.code, text: r.text };
}

void test("submission: every From: address must be the user's (550 5.7.1 at end of data)", async () => {
  const before = await count(server, 'bob@example.test');
  for (const from of [
    'From: bob@example.test\r\n',
    'From: "Alice" <alice+work@example.test>\r\n',
    'From: alice@example.test, boss@example.test\r\nSender: alice@example.test\r\n',
    'From: alice@example.test\r\nFrom: bob@example.test\r\n',
    'From: Alice <alice>\r\n',
  ]) {
    const r = await submitData(server, 'alice@example.test', from);
    assert.equal(r.code, 550, from);
    assert.match(r.text, /^5\.7\.1 /);
  }
  // The null sender does not lift the From: check.
  assert.equal((await submitData(server, '', 'From: bob@example.test\r\n')).code, 550);
  assert.equal(await count(server, 'bob@example.test'), before, 'nothing stored');

  for (const from of [
    'From: Alice <alice@example.test>\r\n',
    'From: "Sales" <sales@example.test>\r\n',
    'From: alice+news@example.test\r\n',
    'From: =?UTF-8?Q?Al=C3=AFce?= <ALICE@example.test>,\r\n\tsales@example.test\r\n',
  ]) {
    assert.equal((await submitData(server, 'alice@example.test', from)).code, 250, from);
  }
  assert.equal((await submitData(server, '', 'From: alice@example.test\r\n')).code, 250, 'an MDN from alice');
  assert.equal(await count(server, 'bob@example.test'), before + 5);

  // nodemailer: the same refusal reaches the client as a failed send.
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.ports.submission,
    secure: false,
    name: 'client.example.net',
    auth: { user: 'alice@example.test', pass: PASSWORDS['alice@example.test'] },
    tls: { rejectUnauthorized: false },
  });
  await assert.rejects(
    transport.sendMail({
      envelope: { from: 'alice@example.test', to: ['bob@example.test'] },
      raw: 'From: bob@example.test\r\nTo: bob@example.test\r\nSubject: spoof\r\n\r\nhi\r\n',
    }),
    (err: { responseCode?: number }) => err.responseCode === 550,
  );
  transport.close();
  assert.equal(await count(server, 'bob@example.test'), before + 5);
});

void test('smtp.sender_login_exempt_domains: any user may send as an address of a listed domain', async () => {
  const client = await submit(lenient, 'alice@example.test', PASSWORDS['alice@example.test']);
  assert.equal((await client.command('MAIL FROM:<info@shared.example>')).code, 250);
  assert.equal((await client.command('RCPT TO:<bob@example.test>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  client.write('From: Info <info@shared.example>\r\nSubject: shared\r\n\r\nhi\r\n.\r\n');
  assert.equal((await client.reply()).code, 250);
  assert.equal(
    (await client.command('MAIL FROM:<bob@example.test>')).code,
    553,
    'other domains are still checked',
  );
  client.destroy();
});
