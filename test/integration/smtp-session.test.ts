// The SMTP session's lifecycle over real sockets: RFC 5321 §4.5.3.2 timeouts, graceful shutdown
// (421 4.3.2), transaction resets (RSET, EHLO, BDAT aborted), messages over the 256 KiB held in
// memory (spooled to <dataDir>/tmp, stored byte for byte, the spool removed after the commit
// or RSET; after a disconnect: smtp-hostile.test.ts), and the production wiring through
// runServer and src/app/protocol-registry.ts.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { hashPassword } from '../../src/auth/password.js';
import { runServer, type ReadyInfo } from '../../src/app/server.js';
import { openStore } from '../../src/app/open-store.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { LOOPBACK_0, tempDir, testConfig } from './server-fixture.js';
import { waitUntil } from '../helpers/wait-until.js';
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

/** Waits until the message being received has gone to a spool file (exactly one). */
async function spooled(server: SmtpTestServer): Promise<void> {
  await waitUntil(async () => (await spoolFiles(server.dir)).length === 1, {
    what: 'the message in a spool file',
  });
}

/** The stored message is our trace headers followed by exactly the bytes the client sent. */
function assertStoredAs(stored: Buffer | undefined, body: Buffer, what: string): void {
  assert.ok(stored !== undefined, `${what}: stored`);
  assert.equal(stored.length > body.length, true, `${what}: trace headers prepended`);
  const prefix = stored.subarray(0, stored.length - body.length).toString('latin1');
  assert.match(
    prefix,
    /^Received-SPF: [^]*\r\nReceived: from /,
    `${what}: the prefix is our trace header block`,
  );
  assert.ok(prefix.endsWith('\r\n') && !prefix.includes('\r\n\r\n'), `${what}: only header lines`);
  assert.ok(stored.subarray(stored.length - body.length).equals(body), `${what}: body byte for byte`);
}

void test('idle timeouts: 421 4.4.2 waiting for a command, and inside DATA (nothing stored)', async () => {
  const server = await startSmtpServer({ protocol: { commandTimeoutSeconds: 0.4, dataTimeoutSeconds: 0.8 } });
  try {
    const { client } = await ehlo(server.ports.smtp);
    const started = Date.now();
    const bye = await client.reply(3000);
    assert.equal(bye.code, 421);
    assert.match(bye.text, /^4\.4\.2/);
    assert.ok(Date.now() - started >= 300);
    await client.closed();

    const second = await ehlo(server.ports.smtp);
    assert.equal((await second.client.command('MAIL FROM:<a@remote.example>')).code, 250);
    assert.equal((await second.client.command('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await second.client.command('DATA')).code, 354);
    second.client.write('Subject: slow\r\n\r\n');
    const dataStarted = Date.now();
    const dataBye = await second.client.reply(3000);
    assert.equal(dataBye.code, 421);
    assert.ok(Date.now() - dataStarted >= 600, 'the DATA timeout is the longer one');
    await second.client.closed();
    assert.equal((await server.inbox('alice@example.test')).length, 0);
  } finally {
    await server.close();
  }
});

void test('graceful shutdown: 421 4.3.2 to idle sessions, the message in flight completes', async () => {
  const server = await startSmtpServer();
  try {
    const idle = await ehlo(server.ports.smtp);
    const busy = await ehlo(server.ports.smtp);
    assert.equal((await busy.client.command('MAIL FROM:<a@remote.example>')).code, 250);
    assert.equal((await busy.client.command('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await busy.client.command('DATA')).code, 354);
    busy.client.write('Subject: in flight\r\n\r\n');
    const shutdown = server.shutdownListeners(3000);
    const bye = await idle.client.reply();
    assert.equal(bye.code, 421);
    assert.match(bye.text, /^4\.3\.2/);
    busy.client.write('the end\r\n.\r\n');
    assert.equal((await busy.client.reply()).code, 250, 'DATA in flight finishes');
    assert.equal((await busy.client.reply()).code, 421, 'then the goodbye');
    await shutdown;
    assert.equal((await server.inbox('alice@example.test')).length, 1);
  } finally {
    await server.close();
  }
});

void test('RSET and EHLO reset the transaction; RSET drops a BDAT message in progress', async () => {
  const server = await startSmtpServer();
  try {
    const { client } = await ehlo(server.ports.smtp);
    assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
    // A message over 256 KiB goes to a spool file; RSET drops it and removes the file.
    const part = largeMessage(300 * 1024, 'reset');
    client.write(Buffer.concat([Buffer.from(`BDAT ${part.length}\r\n`), part]));
    assert.equal((await client.reply()).code, 250);
    assert.equal((await spoolFiles(server.dir)).length, 1, 'the chunk is in a spool file');
    assert.equal((await client.command('RSET')).code, 250);
    assert.deepEqual(await spoolFiles(server.dir), [], 'RSET removed the spool file');
    client.write('BDAT 3 LAST\r\nabc');
    assert.equal((await client.reply()).code, 503, 'no transaction after RSET; the 3 bytes were read');
    assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 503);
    assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
    assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 503, 'nested MAIL');
    assert.equal((await client.command('EHLO again.example')).code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 503, 'EHLO reset it');
    assert.equal((await client.command('QUIT')).code, 221);
    await client.closed();
    assert.equal((await server.inbox('alice@example.test')).length, 0);
  } finally {
    await server.close();
  }
});

void test('runServer serves smtp, submission and submissions through the registry', async () => {
  const dir = await tempDir('smtp-runtime');
  const dns = await startDnsServer({});
  try {
    const config = testConfig(dir, {
      listen: { smtp: LOOPBACK_0, submission: LOOPBACK_0, submissions: LOOPBACK_0 },
    });
    config.dns = { servers: [dns.address], cacheSeconds: 60 };
    const { store } = await openStore(config);
    await store.createDomain('example.test');
    await store.createAccount({
      address: 'alice@example.test',
      passwordHash: await hashPassword('pw-alice-1'),
    });
    await store.close();

    const controller = new AbortController();
    let ready!: (info: ReadyInfo) => void;
    const readyP = new Promise<ReadyInfo>((r) => (ready = r));
    const running = runServer(config, { onReady: ready, signal: controller.signal, handleSignals: false });
    const info = await readyP;
    assert.deepEqual(info.listeners.map((l) => l.name).sort(), ['smtp', 'submission', 'submissions']);
    const port = (name: string): number => info.listeners.find((l) => l.name === name)!.port;

    // Port 25 delays its banner, but not for loopback clients (local software, as postscreen).
    const started = Date.now();
    const mx = await RawSmtpClient.connect(port('smtp'));
    const banner = await mx.reply(5000);
    assert.equal(banner.code, 220);
    assert.equal(banner.text, 'mail.example.test ESMTP Postern');
    assert.ok(Date.now() - started < 800, 'no greeting delay from loopback');
    mx.destroy();

    const { client } = await ehlo(port('submissions'), { tls: true });
    assert.equal(
      (await client.command('AUTH PLAIN ' + plainAuth('alice@example.test', 'pw-alice-1'))).code,
      235,
    );
    assert.equal((await client.command('MAIL FROM:<alice@example.test>')).code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    client.write('Subject: via runServer\r\n\r\nhi\r\n.\r\n');
    assert.equal((await client.reply()).code, 250);
    assert.equal((await client.command('QUIT')).code, 221);
    controller.abort();
    await running;
  } finally {
    await dns.close();
    await rm(dir, { recursive: true, force: true });
  }
});

void test('AUTH LOGIN with an initial response (Outlook), AUTH PLAIN with an empty challenge', async () => {
  const server = await startSmtpServer();
  try {
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const first = await ehlo(server.ports.submission);
    const challenge = await first.client.command(`AUTH LOGIN ${b64('alice@example.test')}`);
    assert.equal(challenge.code, 334);
    assert.equal(Buffer.from(challenge.text, 'base64').toString(), 'Password:');
    assert.equal((await first.client.command(b64(PASSWORDS['alice@example.test']))).code, 235);
    assert.equal(
      (await first.client.command('MAIL FROM:<alice+lists@example.test>')).code,
      250,
      'own sub-address',
    );
    first.client.destroy();

    const second = await ehlo(server.ports.submission);
    const empty = await second.client.command('AUTH PLAIN');
    assert.equal(empty.lines[0], '334 ');
    const ok = await second.client.command(plainAuth('bob@example.test', PASSWORDS['bob@example.test']));
    assert.equal(ok.code, 235);
    assert.match(ok.text, /^2\.7\.0/);
    second.client.destroy();
  } finally {
    await server.close();
  }
});

void test('messages over 256 KiB by DATA and BDAT: spooled, stored byte for byte, the spool removed', async () => {
  const server = await startSmtpServer();
  try {
    const { client } = await ehlo(server.ports.smtp);
    // DATA: half the message, then (once it is in the spool file) the rest and the final dot.
    const viaData = largeMessage(600 * 1024, 'large by DATA');
    const wire = dotStuff(viaData);
    assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    client.write(wire.subarray(0, 300 * 1024));
    await spooled(server);
    client.write(Buffer.concat([wire.subarray(300 * 1024), Buffer.from('.\r\n')]));
    assert.equal((await client.reply(30_000)).code, 250);
    assert.deepEqual(await spoolFiles(server.dir), [], 'DATA: spool removed once stored');
    assertStoredAs((await server.inbox('alice@example.test'))[0], viaData, 'DATA');

    // BDAT in three chunks, the last one LAST; the first is already over 256 KiB.
    const viaBdat = largeMessage(700 * 1024, 'large by BDAT');
    assert.equal((await client.command('MAIL FROM:<a@remote.example>')).code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250);
    const cuts = [0, 280 * 1024, 500 * 1024, viaBdat.length];
    for (let i = 0; i < 3; i++) {
      const chunk = viaBdat.subarray(cuts[i], cuts[i + 1]);
      client.write(Buffer.concat([Buffer.from(`BDAT ${chunk.length}${i === 2 ? ' LAST' : ''}\r\n`), chunk]));
      assert.equal((await client.reply(30_000)).code, 250);
      if (i < 2)
        assert.equal((await spoolFiles(server.dir)).length, 1, `BDAT: chunk ${i + 1} in the spool file`);
    }
    assert.deepEqual(await spoolFiles(server.dir), [], 'BDAT: spool removed once stored');
    assertStoredAs((await server.inbox('alice@example.test'))[1], viaBdat, 'BDAT');
    assert.equal((await client.command('QUIT')).code, 221);
  } finally {
    await server.close();
  }
});
