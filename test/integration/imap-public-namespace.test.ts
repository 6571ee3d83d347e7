// The public shared namespace (RFC 2342 §5 "shared/") over real sockets: the administrator makes
// shared/Support for example.test (the domain's hidden owner, store/public-folders.ts) with
// "anyone lr" and "alice lrswipkxte"; alice appends, bob of the same domain lists and reads it
// but cannot append, carol of another domain never sees it; the hidden owner cannot log in nor
// be used as an Other Users name; a personal "shared" cannot be made; imapflow finds and opens
// the folder through NAMESPACE.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { hashPassword } from '../../src/auth/password.js';
import { ensurePublicOwner } from '../../src/store/public-folders.js';
import { publicOwnerAddress } from '../../src/store/rules/public-owner.js';
import {
  IMAP_PASSWORDS,
  message,
  RawImapClient,
  startImapServer,
  type ImapTestServer,
} from './imap-harness.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const CAROL = 'carol@other.test';
const CAROL_PASSWORD = 'carol-secret-3';
const SUPPORT = 'shared/Support';

async function appendTo(c: RawImapClient, mailbox: string, body: string): Promise<string> {
  const tag = c.tag();
  const bytes = Buffer.from(body);
  c.write(`${tag} APPEND ${mailbox} {${bytes.length}+}\r\n`);
  c.write(Buffer.concat([bytes, Buffer.from('\r\n')]));
  return (await c.until(tag)).tagged;
}

void describe('IMAP public shared namespace (shared/)', () => {
  let server: ImapTestServer;
  before(async () => {
    server = await startImapServer();
    const store = server.store;
    await store.createDomain('other.test');
    await store.createAccount({ address: CAROL, passwordHash: await hashPassword(CAROL_PASSWORD) });
    // What `postern mailbox create --public example.test Support` and `share --public` do.
    const owner = await ensurePublicOwner(store, 'example.test');
    const support = await store.createMailbox(owner.id, 'Support');
    await store.setAcl(support.id, 'anyone', 'lr');
    await store.setAcl(support.id, ALICE, 'lrswipkxte');
    // Another domain's public folder, open to anyone: example.test users must not see it.
    const otherOwner = await ensurePublicOwner(store, 'other.test');
    const news = await store.createMailbox(otherOwner.id, 'News');
    await store.setAcl(news.id, 'anyone', 'lr');
  });
  after(async () => {
    await server.close();
  });

  const carol = (): Promise<RawImapClient> =>
    RawImapClient.login(server.ports.imap, CAROL, { password: CAROL_PASSWORD });

  void it('announces the shared namespace', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.deepEqual((await c.command('NAMESPACE')).untagged, [
      '* NAMESPACE (("" "/")) (("user/" "/")) (("shared/" "/"))',
    ]);
    c.destroy();
  });

  void it('alice appends to shared/Support; the message counts on the hidden owner', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.deepEqual((await c.command(`MYRIGHTS ${SUPPORT}`)).untagged, [
      `* MYRIGHTS ${SUPPORT} lrswipkxtecd`,
    ]);
    assert.match(await appendTo(c, SUPPORT, message('Ticket 1', 'printer on fire')), /^\S+ OK/);
    // CREATE below it needs "k" on shared/Support (RFC 4314 §4): alice has it; it takes its ACL.
    assert.equal((await c.command('CREATE shared/Support/2027')).status, 'OK');
    const list = (await c.command('LIST "" "shared/*"')).untagged;
    assert.deepEqual(list, [
      '* LIST (\\HasChildren) "/" shared/Support',
      '* LIST (\\HasNoChildren) "/" shared/Support/2027',
    ]);
    // The top level is the administrator's: nobody creates there.
    assert.match((await c.command('CREATE shared/Mine')).tagged, /NO \[NOPERM\]/);
    // GETACL needs "a" (RFC 4314 §4), which only the administrator gave nobody here.
    assert.match((await c.command(`GETACL ${SUPPORT}`)).tagged, /NO \[NOPERM\]/);
    c.destroy();
    const owner = await server.store.getAccount(publicOwnerAddress('example.test'));
    assert.equal(owner?.usedMessages, 1);
    const alice = await server.store.getAccount(ALICE);
    assert.equal(alice?.usedMessages, 0);
  });

  void it('bob lists and reads shared/Support but cannot append', async () => {
    const c = await RawImapClient.login(server.ports.imap, BOB);
    const list = (await c.command('LIST "" "*"')).untagged;
    assert.ok(list.includes('* LIST (\\Noselect \\HasChildren) "/" shared'), JSON.stringify(list));
    assert.ok(list.includes('* LIST (\\HasChildren) "/" shared/Support'), JSON.stringify(list));
    assert.ok(!list.some((l) => l.includes('News')), JSON.stringify(list));
    const extended = (await c.command('LIST "" "shared/%" RETURN (CHILDREN STATUS (MESSAGES))')).untagged;
    assert.deepEqual(extended, [
      '* LIST (\\HasChildren) "/" shared/Support',
      '* STATUS shared/Support (MESSAGES 1)',
    ]);
    assert.equal((await c.command(`SELECT ${SUPPORT}`)).status, 'OK');
    const fetched = await c.command('FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]');
    assert.ok(fetched.untagged.join('\n').includes('Ticket 1'), JSON.stringify(fetched.untagged));
    // Read-only for bob (no "s w t e"): STORE is refused, COPY out to his own INBOX works.
    assert.match((await c.command('STORE 1 +FLAGS (\\Seen)')).tagged, /NO/);
    assert.equal((await c.command('COPY 1 INBOX')).status, 'OK');
    assert.equal((await c.command('SUBSCRIBE shared/Support')).status, 'OK');
    assert.deepEqual((await c.command('LSUB "" "shared/*"')).untagged, ['* LSUB () "/" shared/Support']);
    assert.deepEqual((await c.command('LIST (SUBSCRIBED) "" "shared/*"')).untagged, [
      '* LIST (\\HasChildren \\Subscribed) "/" shared/Support',
    ]);
    assert.match(await appendTo(c, SUPPORT, message('Nope', 'x')), /NO \[NOPERM\]/);
    assert.match((await c.command(`SETACL ${SUPPORT} ${BOB} +i`)).tagged, /NO \[NOPERM\]/);
    // The hidden owner is no Other Users name, and it cannot log in.
    const owner = publicOwnerAddress('example.test');
    assert.match((await c.command(`SELECT "user/${owner}/Support"`)).tagged, /NO \[NONEXISTENT\]/);
    c.destroy();
    const d = await RawImapClient.connect(server.ports.imap);
    assert.equal((await d.command(`LOGIN "${owner}" whatever`)).status, 'NO');
    d.destroy();
  });

  void it("carol of another domain sees only her own domain's public folders", async () => {
    const c = await carol();
    const list = (await c.command('LIST "" "*"')).untagged;
    assert.ok(list.includes('* LIST (\\HasNoChildren) "/" shared/News'), JSON.stringify(list));
    assert.ok(!list.some((l) => l.includes('Support')), JSON.stringify(list));
    assert.match((await c.command(`SELECT ${SUPPORT}`)).tagged, /NO \[NONEXISTENT\]/);
    assert.match((await c.command(`STATUS ${SUPPORT} (MESSAGES)`)).tagged, /NO \[NONEXISTENT\]/);
    c.destroy();
  });

  void it('a personal "shared" cannot be made; an old one stays reachable', async () => {
    const c = await RawImapClient.login(server.ports.imap, BOB);
    assert.match((await c.command('CREATE shared')).tagged, /NO \[CANNOT\]/);
    assert.match((await c.command('RENAME INBOX shared')).tagged, /NO \[CANNOT\]/);
    // A personal "shared/Old" from before the namespace (made behind IMAP's back here).
    const bob = (await server.store.getAccount(BOB))!;
    await server.store.createMailbox(bob.id, 'shared/Old');
    const list = (await c.command('LIST "" "shared/*"')).untagged;
    assert.ok(list.includes('* LIST (\\HasNoChildren) "/" shared/Old'), JSON.stringify(list));
    assert.equal((await c.command('SELECT shared/Old')).status, 'OK');
    assert.match((await c.command('CREATE shared/Old/Sub')).tagged, /NO \[CANNOT\]/);
    assert.equal((await c.command('RENAME shared/Old Archive/Old')).status, 'OK');
    c.destroy();
  });

  void it('a user holding "a" manages a public folder\'s ACL; the hidden owner is never listed', async () => {
    const owner = await ensurePublicOwner(server.store, 'example.test');
    const team = await server.store.createMailbox(owner.id, 'Team');
    await server.store.setAcl(team.id, BOB, 'lra');
    const b = await RawImapClient.login(server.ports.imap, BOB);
    assert.deepEqual((await b.command('GETACL shared/Team')).untagged, [`* ACL shared/Team ${BOB} lra`]);
    assert.equal((await b.command('SETACL shared/Team anyone lr')).status, 'OK');
    assert.deepEqual((await b.command('GETACL shared/Team')).untagged, [
      `* ACL shared/Team anyone lr ${BOB} lra`,
    ]);
    assert.match((await b.command(`SETACL shared/Team "${owner.address}" l`)).tagged, /NO \[CANNOT\]/);
    assert.deepEqual((await b.command('LISTRIGHTS shared/Team anyone')).untagged, [
      '* LISTRIGHTS shared/Team anyone "" l r s w i p k x t e a c d',
    ]);
    assert.deepEqual((await b.command('MYRIGHTS shared/Team')).untagged, ['* MYRIGHTS shared/Team lra']);
    b.destroy();
    // "anyone" of example.test: alice now sees it; carol of other.test still does not.
    const a = await RawImapClient.login(server.ports.imap, ALICE);
    assert.deepEqual((await a.command('MYRIGHTS shared/Team')).untagged, ['* MYRIGHTS shared/Team lr']);
    a.destroy();
    const c = await carol();
    assert.match((await c.command('MYRIGHTS shared/Team')).tagged, /NO \[NONEXISTENT\]/);
    c.destroy();
  });

  void it('imapflow lists and opens shared/Support through its namespace handling', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: server.ports.imap,
      secure: false,
      auth: { user: BOB, pass: IMAP_PASSWORDS[BOB]! },
      tls: { rejectUnauthorized: false },
      logger: false,
    });
    await client.connect();
    try {
      assert.deepEqual(client.namespaces?.shared, [{ prefix: 'shared/', delimiter: '/' }]);
      const boxes = await client.list();
      const support = boxes.find((b) => b.path === SUPPORT);
      assert.ok(support !== undefined, JSON.stringify(boxes.map((b) => b.path)));
      assert.deepEqual(support.parent, ['shared']);
      const lock = await client.getMailboxLock(SUPPORT, { readOnly: true });
      try {
        const msg = await client.fetchOne('1', { envelope: true });
        assert.ok(msg !== false);
        assert.equal(msg.envelope?.subject, 'Ticket 1');
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  });
});
