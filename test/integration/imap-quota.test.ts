// IMAP QUOTA (RFC 9208) over real sockets, on one store served by both the SMTP and the IMAP
// listeners: GETQUOTAROOT / GETQUOTA report exactly what the store holds and SMTP enforces
// (STORAGE in KiB, MESSAGE as a count), SETQUOTA is refused, STATUS DELETED-STORAGE, and the
// message-count limit refuses SMTP RCPT (452 4.2.2), IMAP APPEND before `+` and COPY
// (NO [OVERQUOTA]) alike. Also through real clients: imapflow's getQuota() and Python imaplib's
// getquotaroot().

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { Authenticator } from '../../src/auth/authenticator.js';
import { AuthFailureTracker } from '../../src/auth/failure-tracker.js';
import { createLogger } from '../../src/core/log.js';
import { createImapHandler } from '../../src/protocols/imap/handler.js';
import { ListenerSet } from '../../src/server/listeners.js';
import { loadTlsMaterial } from '../../src/server/tls.js';
import { runPython } from '../helpers/python.js';
import { message, RawImapClient } from './imap-harness.js';
import { LOOPBACK_0 } from './server-fixture.js';
import { ehlo, PASSWORDS, startSmtpServer, type SmtpTestServer } from './smtp-harness.js';

const ALICE = 'alice@example.test';

/** Sends one message to `to` over SMTP (port 25); returns the final reply code. */
async function sendSmtp(port: number, to: string, subject: string): Promise<{ rcpt: number; data: number }> {
  const { client } = await ehlo(port);
  try {
    assert.equal((await client.command('MAIL FROM:<x@remote.example>')).code, 250);
    const rcpt = (await client.command(`RCPT TO:<${to}>`)).code;
    if (rcpt !== 250) return { rcpt, data: 0 };
    assert.equal((await client.command('DATA')).code, 354);
    client.write(`${message(subject)}.\r\n`);
    return { rcpt, data: (await client.reply()).code };
  } finally {
    client.destroy();
  }
}

void describe('IMAP QUOTA', () => {
  let server: SmtpTestServer;
  let imap: ListenerSet;
  let imapPort: number;

  before(async () => {
    server = await startSmtpServer();
    const config = { ...server.config, listen: { ...server.config.listen, imap: LOOPBACK_0 } };
    const tracker = new AuthFailureTracker({ limits: config.limits });
    const authenticator = new Authenticator({ store: server.store, limits: config.limits, tracker });
    const deps = {
      config,
      store: server.store,
      blobs: server.blobs,
      log: createLogger(config.log),
      authenticator,
      tls: await loadTlsMaterial(config),
    };
    imap = await ListenerSet.start({ deps, handlers: new Map([['imap', createImapHandler]]) });
    imapPort = imap.listening.find((l) => l.name === 'imap')!.port;
  });
  after(async () => {
    await imap.shutdown({ graceMs: 0 });
    await server.close();
  });

  async function login(): Promise<RawImapClient> {
    const c = await RawImapClient.connect(imapPort);
    const r = await c.command(`LOGIN ${ALICE} ${PASSWORDS[ALICE]}`);
    assert.equal(r.status, 'OK', r.tagged);
    return c;
  }

  async function account() {
    const a = await server.store.getAccount(ALICE);
    assert.ok(a !== null);
    return a;
  }

  void it('announces QUOTA, RES-STORAGE and RES-MESSAGE; an unlimited account has no quota root', async () => {
    const c = await login();
    const caps = (await c.command('CAPABILITY')).untagged.join(' ').split(' ');
    for (const cap of ['QUOTA', 'QUOTA=RES-STORAGE', 'QUOTA=RES-MESSAGE']) assert.ok(caps.includes(cap), cap);
    assert.ok(!caps.includes('QUOTASET'), 'SETQUOTA is not offered');
    const root = await c.command('GETQUOTAROOT INBOX');
    assert.equal(root.status, 'OK', root.tagged);
    assert.deepEqual(root.untagged, ['* QUOTAROOT INBOX']);
    const get = await c.command('GETQUOTA ""');
    assert.match(get.tagged, /NO \[NONEXISTENT\]/);
    assert.match((await c.command('GETQUOTAROOT NoSuchBox')).tagged, /NO \[NONEXISTENT\]/);
    c.destroy();
  });

  void it('GETQUOTAROOT / GETQUOTA give the numbers the store holds and SMTP enforces', async () => {
    assert.deepEqual(await sendSmtp(server.ports.smtp, ALICE, 'one'), { rcpt: 250, data: 250 });
    assert.deepEqual(await sendSmtp(server.ports.smtp, ALICE, 'two'), { rcpt: 250, data: 250 });
    await server.store.setQuota(ALICE, 10 * 1024 * 1024);
    await server.store.setMessageQuota(ALICE, 3);
    const a = await account();
    assert.equal(a.usedMessages, 2);
    const kib = Math.ceil(a.usedBytes / 1024);
    assert.ok(a.usedBytes > 0);
    const c = await login();
    const root = await c.command('GETQUOTAROOT INBOX');
    assert.equal(root.status, 'OK', root.tagged);
    assert.deepEqual(root.untagged, [
      '* QUOTAROOT INBOX ""',
      `* QUOTA "" (STORAGE ${kib} 10240 MESSAGE 2 3)`,
    ]);
    const get = await c.command('GETQUOTA ""');
    assert.deepEqual(get.untagged, [`* QUOTA "" (STORAGE ${kib} 10240 MESSAGE 2 3)`]);
    assert.match((await c.command('GETQUOTA "other"')).tagged, /NO \[NONEXISTENT\]/);
    // RFC 9208 §4.1.3: users may not set their own limits.
    assert.match((await c.command('SETQUOTA "" (STORAGE 99999999)')).tagged, /NO \[NOPERM\]/);
    assert.match((await c.command('SETQUOTA ""')).tagged, / BAD /);
    assert.equal((await account()).quotaBytes, 10 * 1024 * 1024, 'unchanged');
    c.destroy();
  });

  void it('the message-count limit refuses SMTP RCPT, APPEND and COPY; MOVE within the account works', async () => {
    await server.store.setQuota(ALICE, 0);
    await server.store.setMessageQuota(ALICE, 3);
    assert.deepEqual(await sendSmtp(server.ports.smtp, ALICE, 'three'), { rcpt: 250, data: 250 });
    assert.equal((await account()).usedMessages, 3);
    // Full: SMTP refuses at RCPT, as for the storage quota.
    assert.deepEqual(await sendSmtp(server.ports.smtp, ALICE, 'four'), { rcpt: 452, data: 0 });
    const c = await login();
    // APPEND is refused before the continuation: the literal is never sent.
    const t = c.tag();
    c.write(`${t} APPEND INBOX {20}\r\n`);
    assert.match((await c.until(t)).tagged, /NO \[OVERQUOTA\]/);
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    assert.match((await c.command('COPY 1 Archive')).tagged, /NO \[OVERQUOTA\]/);
    assert.equal((await c.command('MOVE 1 Archive')).status, 'OK');
    const root = await c.command('GETQUOTAROOT Archive');
    assert.deepEqual(root.untagged.slice(0, 2), ['* QUOTAROOT Archive ""', '* QUOTA "" (MESSAGE 3 3)']);
    // Expunging makes room again for both protocols.
    assert.equal((await c.command('STORE 1 +FLAGS (\\Deleted)')).status, 'OK');
    assert.equal((await c.command('EXPUNGE')).status, 'OK');
    assert.equal((await account()).usedMessages, 2);
    assert.deepEqual(await sendSmtp(server.ports.smtp, ALICE, 'five'), { rcpt: 250, data: 250 });
    await server.store.setMessageQuota(ALICE, 0);
    c.destroy();
  });

  void it('STATUS DELETED and DELETED-STORAGE (KiB) follow \\Deleted', async () => {
    const c = await login();
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    let s = await c.command('STATUS Archive (DELETED DELETED-STORAGE)');
    assert.deepEqual(s.untagged, ['* STATUS Archive (DELETED 0 DELETED-STORAGE 0)']);
    assert.equal((await c.command('STORE 1:2 +FLAGS.SILENT (\\Deleted)')).status, 'OK');
    const box = await server.store.getMailbox((await account()).id, 'INBOX');
    const metas = await server.store.listMessages(box!.id);
    const bytes = metas.slice(0, 2).reduce((n, m) => n + m.size, 0);
    s = await c.command('STATUS INBOX (DELETED DELETED-STORAGE MESSAGES)');
    assert.deepEqual(s.untagged, [
      `* STATUS INBOX (DELETED 2 DELETED-STORAGE ${Math.ceil(bytes / 1024)} MESSAGES ${metas.length})`,
    ]);
    assert.equal((await c.command('STORE 1:2 -FLAGS.SILENT (\\Deleted)')).status, 'OK');
    s = await c.command('STATUS INBOX (DELETED-STORAGE)');
    assert.deepEqual(s.untagged, ['* STATUS INBOX (DELETED-STORAGE 0)']);
    c.destroy();
  });

  void it("imapflow's getQuota() and Python imaplib's getquotaroot() read it", async () => {
    await server.store.setQuota(ALICE, 5 * 1024 * 1024);
    await server.store.setMessageQuota(ALICE, 1000);
    const a = await account();
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: imapPort,
      secure: false,
      doSTARTTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: ALICE, pass: PASSWORDS[ALICE]! },
      logger: false,
      disableAutoIdle: true,
    });
    await client.connect();
    const quota = await client.getQuota('INBOX');
    await client.logout();
    assert.ok(quota !== false);
    assert.equal(quota.storage?.usage, Math.ceil(a.usedBytes / 1024) * 1024);
    assert.equal(quota.storage?.limit, 5 * 1024 * 1024);
    assert.equal((quota as unknown as { message?: { usage: number; limit: number } }).message?.limit, 1000);

    const script = String.raw`
import imaplib, json, sys
cfg = json.loads(sys.stdin.read())
m = imaplib.IMAP4('127.0.0.1', cfg['port'], timeout=10)
m.login(cfg['user'], cfg['password'])
typ, data = m.getquotaroot('INBOX')
out = {'typ': typ, 'data': [[x.decode() for x in d] for d in data]}
typ, data = m.getquota('""')
out['getquota'] = [typ, [x.decode() for x in data]]
m.logout()
print(json.dumps(out))
`;
    const out = JSON.parse(
      await runPython(script, JSON.stringify({ port: imapPort, user: ALICE, password: PASSWORDS[ALICE] })),
    ) as { typ: string; data: string[][]; getquota: [string, string[]] };
    const line = `"" (STORAGE ${Math.ceil(a.usedBytes / 1024)} 5120 MESSAGE ${a.usedMessages} 1000)`;
    assert.equal(out.typ, 'OK');
    assert.deepEqual(out.data, [['INBOX ""'], [line]]);
    assert.deepEqual(out.getquota, ['OK', [line]]);
  });
});
