// IMAP session core over real sockets: greeting, CAPABILITY, LOGIN rules, AUTHENTICATE with
// SASL-IR and continuation, STARTTLS, ENABLE, ID, NOOP, LOGOUT, IDLE notification.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

void describe('IMAP session core', () => {
  let server: ImapTestServer;
  before(async () => {
    server = await startImapServer();
  });
  after(async () => {
    await server.close();
  });

  void it('greets with capabilities and answers CAPABILITY, ID, NOOP, LOGOUT', async () => {
    const c = await RawImapClient.connect(server.ports.imap);
    assert.match(c.greeting, /^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 .*STARTTLS.*AUTH=PLAIN/);
    const cap = await c.command('CAPABILITY');
    assert.equal(cap.status, 'OK');
    assert.match(cap.untagged[0]!, /^\* CAPABILITY IMAP4rev1 /);
    const id = await c.command('ID ("name" "test")');
    assert.equal(id.untagged[0], '* ID ("name" "Postern" "vendor" "Postern")');
    assert.equal((await c.command('NOOP')).status, 'OK');
    assert.equal((await c.command('SELECT INBOX')).status, 'BAD');
    assert.equal((await c.command('FOO')).status, 'BAD');
    const bye = await c.command('LOGOUT');
    assert.equal(bye.untagged[0], '* BYE Logging out');
    assert.equal(bye.status, 'OK');
    await c.closed();
  });

  void it('LOGIN: right and wrong passwords, capabilities in the OK', async () => {
    const c = await RawImapClient.connect(server.ports.imap);
    const bad = await c.command('LOGIN alice@example.test wrong');
    assert.match(bad.tagged, / NO \[AUTHENTICATIONFAILED\]/);
    const ok = await c.command('LOGIN "alice@example.test" "alice-secret-1"');
    assert.match(ok.tagged, / OK \[CAPABILITY IMAP4rev1 .*NAMESPACE/);
    assert.equal((await c.command('LOGIN alice@example.test alice-secret-1')).status, 'BAD');
    c.destroy();
  });

  void it('AUTHENTICATE PLAIN with SASL-IR and with a continuation; cancel is BAD', async () => {
    const ir = Buffer.from('\0bob@example.test\0bob-secret-2').toString('base64');
    const c = await RawImapClient.connect(server.ports.imap);
    assert.equal((await c.command(`AUTHENTICATE PLAIN ${ir}`)).status, 'OK');
    c.destroy();
    const d = await RawImapClient.connect(server.ports.imap);
    d.write('a1 AUTHENTICATE PLAIN\r\n');
    assert.equal(await d.response(), '+ ');
    d.write('*\r\n');
    assert.match((await d.until('a1')).tagged, /^a1 BAD/);
    d.write('a2 AUTHENTICATE PLAIN\r\n');
    await d.response();
    d.write(`${ir}\r\n`);
    assert.equal((await d.until('a2')).status, 'OK');
    d.destroy();
  });

  void it('STARTTLS discards pipelined input and changes capabilities', async () => {
    const c = await RawImapClient.connect(server.ports.imap);
    c.write('s1 STARTTLS\r\ns2 LOGIN alice@example.test alice-secret-1\r\n');
    const r = await c.until('s1');
    assert.equal(r.status, 'OK');
    await c.upgrade();
    const cap = await c.command('CAPABILITY');
    assert.doesNotMatch(cap.untagged[0]!, /STARTTLS/);
    // The pipelined LOGIN was dropped: still not authenticated.
    assert.equal((await c.command('SELECT INBOX')).status, 'BAD');
    c.destroy();
  });

  void it('STARTTLS injection in a later packet (before or after the reply): never executed', async () => {
    const injected = 's2 LOGIN alice@example.test alice-secret-1\r\ns3 CREATE Injected\r\n';
    const created = async (): Promise<boolean> => {
      const account = await server.store.getAccount('alice@example.test');
      return (await server.store.getMailbox(account!.id, 'Injected')) !== null;
    };
    // Before the reply: discarded (the handshake works, not authenticated) or fed to TLS (the
    // handshake fails).
    const c = await RawImapClient.connect(server.ports.imap);
    c.socket.setNoDelay(true);
    c.write('s1 STARTTLS\r\n');
    await new Promise((resolve) => setImmediate(resolve));
    c.write(injected);
    assert.equal((await c.until('s1')).status, 'OK');
    const upgraded = await c.upgrade().then(
      () => true,
      () => false,
    );
    if (upgraded) assert.equal((await c.command('SELECT INBOX')).status, 'BAD', 'not authenticated');
    c.destroy();
    // After the reply: the bytes reach the TLS layer and the handshake fails.
    const d = await RawImapClient.connect(server.ports.imap);
    assert.equal((await d.command('STARTTLS')).status, 'OK');
    d.write(injected);
    await assert.rejects(d.upgrade());
    d.destroy();
    assert.equal(await created(), false, 'the injected CREATE never ran');
  });

  void it('imaps: TLS from the start', async () => {
    const c = await RawImapClient.connect(server.ports.imaps, { tls: true });
    assert.doesNotMatch(c.greeting, /STARTTLS/);
    assert.equal((await c.command('LOGIN alice@example.test alice-secret-1')).status, 'OK');
    c.destroy();
  });

  void it('ENABLE IMAP4rev2 and UTF8=ACCEPT', async () => {
    const c = await RawImapClient.login(server.ports.imap, 'alice@example.test');
    const r = await c.command('ENABLE IMAP4rev2 UTF8=ACCEPT X-UNKNOWN');
    assert.deepEqual(r.untagged, ['* ENABLED IMAP4rev2 UTF8=ACCEPT']);
    assert.deepEqual((await c.command('ENABLE IMAP4rev2')).untagged, ['* ENABLED']);
    c.destroy();
  });
});

void describe('imap session end', () => {
  void it('autologout: an idle session gets BYE after limits.idle_timeout and is closed', async () => {
    const server = await startImapServer({ limits: { idleTimeout: 1 } });
    try {
      const c = await RawImapClient.login(server.ports.imap, 'alice@example.test');
      assert.equal((await c.command('SELECT INBOX')).status, 'OK');
      const started = Date.now();
      const bye = await c.response(10_000);
      assert.match(bye, /^\* BYE /);
      assert.ok(Date.now() - started >= 900, `BYE after ${Date.now() - started} ms of idle`);
      await c.closed();
    } finally {
      await server.close();
    }
  });

  void it('graceful shutdown: BYE to sessions not logged in, selected and in IDLE, then closed', async () => {
    const server = await startImapServer();
    try {
      const idle = await RawImapClient.connect(server.ports.imap);
      const selected = await RawImapClient.login(server.ports.imap, 'alice@example.test');
      assert.equal((await selected.command('SELECT INBOX')).status, 'OK');
      const idling = await RawImapClient.login(server.ports.imap, 'bob@example.test');
      idling.write('i1 IDLE\r\n');
      assert.match(await idling.response(), /^\+/);
      const shutdown = server.shutdownListeners(5000);
      for (const c of [idle, selected, idling]) {
        assert.match(await c.response(10_000), /^\* BYE /);
        await c.closed();
      }
      await shutdown;
    } finally {
      await server.close();
    }
  });
});
