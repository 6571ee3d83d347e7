// IMAP NOTIFY (RFC 5465, issue 13 "Notify"). Session A runs in a second server process (a child
// serving IMAP on the same data dir, as a second `postern serve` worker would), so everything it
// hears comes through the store's poll of other processes' change rows: another session's
// APPEND, CREATE/RENAME/DELETE, SUBSCRIBE and flag changes, and an SMTP delivery, all made in
// this process. Each assertion names the exact untagged responses; NOTIFY NONE stops them.
// The RFC's own examples (§3.1, with erratum 1804's parentheses) are replayed too.

import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createImapHandler } from '../../src/protocols/imap/handler.js';
import { createLogger } from '../../src/core/log.js';
import { ListenerSet } from '../../src/server/listeners.js';
import { loadTlsMaterial } from '../../src/server/tls.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { AuthFailureTracker } from '../../src/auth/failure-tracker.js';
import { message, RawImapClient } from './imap-harness.js';
import { LOOPBACK_0 } from './server-fixture.js';
import { RawSmtpClient, startSmtpServer, type SmtpTestServer } from './smtp-harness.js';

const ALICE = 'alice@example.test';
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'imap-store-worker.js');

/** A second server process serving IMAP on the same data dir (imap-store-worker.ts `serve`). */
async function startSecondProcess(dataDir: string): Promise<{ port: number; close(): Promise<void> }> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [WORKER, dataDir, 'serve'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 10_000) stderr += s;
  });
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker silent; stderr: ${stderr}`)), 10_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
  assert.match(ready, /^ready \d+$/, stderr);
  return {
    port: Number(ready.split(' ')[1]),
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await exited;
    },
  };
}

/** Logs alice in on `port` as an IMAP4rev2 client (no \Recent, no RECENT responses). */
async function rev2Login(port: number): Promise<RawImapClient> {
  const c = await RawImapClient.login(port, ALICE);
  const r = await c.command('ENABLE IMAP4rev2');
  assert.equal(r.status, 'OK', r.tagged);
  return c;
}

/** Reads untagged responses until `count` have come or `ms` pass; returns them. */
async function collect(c: RawImapClient, count: number, ms = 3000): Promise<string[]> {
  const out: string[] = [];
  const t0 = Date.now();
  while (out.length < count) {
    const left = ms - (Date.now() - t0);
    if (left <= 0) break;
    try {
      out.push(await c.response(left));
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('timeout')) break;
      throw err;
    }
  }
  return out;
}

void describe('IMAP NOTIFY', () => {
  let smtp: SmtpTestServer;
  let imap: ListenerSet;
  let localPort: number;
  let second: { port: number; close(): Promise<void> };

  before(async () => {
    smtp = await startSmtpServer();
    // This process serves IMAP too (session B), on the SMTP server's store.
    const config = { ...smtp.config, listen: { ...smtp.config.listen, imap: LOOPBACK_0 } };
    const tracker = new AuthFailureTracker({ limits: config.limits });
    const authenticator = new Authenticator({ store: smtp.store, limits: config.limits, tracker });
    imap = await ListenerSet.start({
      deps: {
        config,
        store: smtp.store,
        blobs: smtp.blobs,
        log: createLogger(config.log),
        authenticator,
        tls: await loadTlsMaterial(config),
      },
      handlers: new Map([['imap', createImapHandler]]),
    });
    localPort = imap.listening.find((l) => l.name === 'imap')!.port;
    second = await startSecondProcess(smtp.dir);
  });
  after(async () => {
    await second.close();
    await imap.shutdown({ graceMs: 500 });
    await smtp.close();
  });

  void it('announces NOTIFY after login', async () => {
    const a = await rev2Login(second.port);
    const caps = await a.command('CAPABILITY');
    assert.ok(caps.untagged[0]!.split(' ').includes('NOTIFY'), caps.untagged[0]);
    a.destroy();
  });

  void it("session A hears of another process's changes, exactly; NOTIFY NONE stops them", async () => {
    const b = await RawImapClient.login(localPort, ALICE);
    assert.equal((await b.command('CREATE Work')).status, 'OK');
    assert.equal(
      (await b.command(`APPEND INBOX {${message('one').length}+}\r\n${message('one')}`)).status,
      'OK',
    );

    const a = await rev2Login(second.port);
    const sel = await a.command('SELECT INBOX');
    assert.equal(sel.status, 'OK');
    const set = await a.command(
      'NOTIFY SET (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange)) ' +
        '(personal (MessageNew MessageExpunge MailboxName SubscriptionChange))',
    );
    assert.equal(set.status, 'OK', set.tagged);
    assert.deepEqual(set.untagged, [], 'without STATUS, NOTIFY SET sends nothing');

    // Another session's APPEND to another folder: its STATUS, without A sending a command.
    const work = message('to work');
    assert.equal((await b.command(`APPEND Work {${work.length}+}\r\n${work}`)).status, 'OK');
    const workBox = await smtp.store.getMailbox((await smtp.store.getAccount(ALICE))!.id, 'Work');
    const v = workBox!.uidValidity;
    assert.deepEqual(await collect(a, 1), [`* STATUS Work (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${v} UNSEEN 1)`]);

    // CREATE, RENAME, DELETE: LIST responses (§5.4), the rename with OLDNAME.
    assert.equal((await b.command('CREATE Projects')).status, 'OK');
    assert.deepEqual(await collect(a, 1), ['* LIST () "/" Projects']);
    assert.equal((await b.command('RENAME Projects Old/2026')).status, 'OK');
    assert.deepEqual(await collect(a, 2), [
      '* LIST () "/" Old',
      '* LIST () "/" Old/2026 ("OLDNAME" (Projects))',
    ]);
    assert.equal((await b.command('DELETE Old/2026')).status, 'OK');
    assert.deepEqual(await collect(a, 1), ['* LIST (\\NonExistent) "/" Old/2026']);

    // SUBSCRIBE and UNSUBSCRIBE: LIST with and without \Subscribed (§5.5).
    assert.equal((await b.command('SUBSCRIBE Work')).status, 'OK');
    assert.deepEqual(await collect(a, 1), ['* LIST (\\Subscribed) "/" Work']);
    assert.equal((await b.command('UNSUBSCRIBE Work')).status, 'OK');
    assert.deepEqual(await collect(a, 1), ['* LIST () "/" Work']);

    // An SMTP delivery to the selected INBOX: EXISTS, then FETCH with MessageNew's attributes.
    const s = await RawSmtpClient.connect(smtp.ports.smtp);
    assert.equal((await s.reply()).code, 220);
    assert.equal((await s.command('EHLO client.example.net')).code, 250);
    assert.equal((await s.command('MAIL FROM:<someone@example.net>')).code, 250);
    assert.equal((await s.command(`RCPT TO:<${ALICE}>`)).code, 250);
    assert.equal((await s.command('DATA')).code, 354);
    assert.equal((await s.command(`${message('by smtp')}.`)).code, 250);
    await s.command('QUIT');
    s.destroy();
    assert.deepEqual(await collect(a, 2), ['* 2 EXISTS', '* 2 FETCH (UID 2 FLAGS ())']);

    // Flag changes in the selected mailbox (another session's STORE): FETCH FLAGS.
    const b2 = await b.command('SELECT INBOX');
    assert.equal(b2.status, 'OK');
    assert.equal((await b.command('UID STORE 2 +FLAGS.SILENT (\\Flagged)')).status, 'OK');
    assert.deepEqual(await collect(a, 1), ['* 2 FETCH (FLAGS (\\Flagged))']);
    // An expunge with SELECTED (not SELECTED-DELAYED): sent at once (§6.1).
    assert.equal((await b.command('UID STORE 1 +FLAGS.SILENT (\\Deleted)')).status, 'OK');
    assert.deepEqual(await collect(a, 1), ['* 1 FETCH (FLAGS (\\Deleted))']);
    assert.equal((await b.command('EXPUNGE')).status, 'OK');
    assert.deepEqual(await collect(a, 1), ['* 1 EXPUNGE']);

    // NOTIFY NONE: nothing more, whatever happens.
    const none = await a.command('NOTIFY NONE');
    assert.equal(none.status, 'OK');
    assert.equal((await b.command(`APPEND Work {${work.length}+}\r\n${work}`)).status, 'OK');
    assert.equal((await b.command('CREATE Later')).status, 'OK');
    assert.deepEqual(await collect(a, 1, 700), [], 'no notification after NOTIFY NONE');
    // The selected mailbox still gets its usual updates after a command.
    const noop = await a.command('NOOP');
    assert.equal(noop.status, 'OK');
    a.destroy();
    b.destroy();
  });

  void it('NOTIFY SET STATUS sends the STATUS of each mailbox concerned (RFC 5465 §3.1)', async () => {
    const b = await RawImapClient.login(localPort, ALICE);
    for (const name of ['Lists', 'Lists/ietf', 'Lists/imap', 'misc'])
      assert.equal((await b.command(`CREATE ${name}`)).status, 'OK');
    const a = await rev2Login(second.port);
    // The RFC's example b (erratum 1804): the selected mailbox and a subtree.
    assert.equal((await a.command('SELECT INBOX')).status, 'OK');
    const r = await a.command(
      'NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT)]) MessageExpunge)) ' +
        '(subtree Lists (MessageNew MessageExpunge))',
    );
    assert.equal(r.status, 'OK', r.tagged);
    const names = r.untagged.map(
      (l) => /^\* STATUS (\S+) \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0\)$/.exec(l)?.[1],
    );
    assert.deepEqual(names, ['Lists', 'Lists/ietf', 'Lists/imap']);
    // A message in the subtree: STATUS; in misc (not named): nothing.
    const msg = message('to the list');
    assert.equal((await b.command(`APPEND misc {${msg.length}+}\r\n${msg}`)).status, 'OK');
    assert.equal((await b.command(`APPEND Lists/imap {${msg.length}+}\r\n${msg}`)).status, 'OK');
    const got = await collect(a, 1);
    assert.match(got[0] ?? '', /^\* STATUS Lists\/imap \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)$/);
    // Example e: replace the request (mailboxes misc added), without STATUS.
    const e = await a.command(
      'NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT)]) MessageExpunge)) ' +
        '(subtree Lists (MessageNew MessageExpunge)) (mailboxes misc (MessageNew MessageExpunge))',
    );
    assert.deepEqual([e.status, e.untagged], ['OK', []]);
    assert.equal((await b.command(`APPEND misc {${msg.length}+}\r\n${msg}`)).status, 'OK');
    assert.match((await collect(a, 1))[0] ?? '', /^\* STATUS misc \(MESSAGES 2 UIDNEXT 3 /);
    // A new message in the selected INBOX: EXISTS, then the header fields asked for.
    const inboxMsg = message('hello there');
    assert.equal((await b.command(`APPEND INBOX {${inboxMsg.length}+}\r\n${inboxMsg}`)).status, 'OK');
    const fetched = await collect(a, 2);
    assert.match(fetched[0] ?? '', /^\* \d+ EXISTS$/);
    assert.match(
      fetched[1] ?? '',
      /^\* \d+ FETCH \(UID \d+ BODY\[HEADER\.FIELDS \(FROM TO SUBJECT\)\] \{\d+\}\r\n/,
    );
    assert.match(fetched[1] ?? '', /Subject: hello there/);
    a.destroy();
    b.destroy();
  });

  void it('refuses what RFC 5465 refuses: BADEVENT for events Postern lacks, BAD for invalid groups', async () => {
    const a = await RawImapClient.login(localPort, ALICE);
    const badEvent = await a.command('NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))');
    assert.equal(
      badEvent.tagged.replace(/^\S+ /, ''),
      'NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange ' +
        'MailboxMetadataChange ServerMetadataChange)] Unsupported event AnnotationChange',
    );
    // RFC 5465 §5.7: with METADATA, the metadata events are served.
    const meta = await a.command('NOTIFY SET (personal (MailboxMetadataChange ServerMetadataChange))');
    assert.equal(meta.status, 'OK', meta.tagged);
    for (const bad of [
      'NOTIFY SET (personal (MessageNew))', // MessageNew without MessageExpunge (§5)
      'NOTIFY SET (personal (FlagChange))', // FlagChange without both
      'NOTIFY SET (selected (MailboxName))', // only message events for SELECTED (§6.1)
      'NOTIFY SET (selected (MailboxMetadataChange))',
      'NOTIFY SET (personal (MessageNew (UID) MessageExpunge))', // fetch-att only for SELECTED
      'NOTIFY SET (selected (MessageNew (NOSUCHITEM) MessageExpunge))',
      'NOTIFY SET (elsewhere (MessageNew MessageExpunge))',
      'NOTIFY SET',
      'NOTIFY SET STATUS',
      'NOTIFY NONE extra',
      'NOTIFY',
    ]) {
      const r = await a.command(bad);
      assert.equal(r.status, 'BAD', `${bad}: ${r.tagged}`);
    }
    // NONE as a group's events is valid; so is SELECTED-DELAYED.
    const ok = await a.command('NOTIFY SET (selected-delayed (MessageNew MessageExpunge)) (inboxes NONE)');
    assert.equal(ok.status, 'OK', ok.tagged);
    a.destroy();
  });

  void it("another process's SETMETADATA reaches A as METADATA with entry names (RFC 5465 §5.7, RFC 5464 §4.4.2)", async () => {
    const b = await RawImapClient.login(localPort, ALICE);
    assert.equal((await b.command('CREATE Meta')).status, 'OK');
    assert.equal((await b.command('CREATE Meta/sub')).status, 'OK');
    const a = await rev2Login(second.port);
    // A watches the Meta subtree's entries and the server's; C asked for other events only.
    const set = await a.command(
      'NOTIFY SET (subtree Meta (MailboxMetadataChange)) (inboxes (ServerMetadataChange))',
    );
    assert.deepEqual([set.status, set.untagged], ['OK', []], set.tagged);
    const c = await rev2Login(second.port);
    assert.equal(
      (await c.command('NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))')).status,
      'OK',
    );

    assert.equal((await b.command('SETMETADATA Meta (/private/comment "mine")')).status, 'OK');
    assert.deepEqual(await collect(a, 1), ['* METADATA Meta /private/comment']);
    // Two entries at once, one removal among them: one response naming both, no values.
    assert.equal(
      (await b.command('SETMETADATA Meta/sub (/shared/comment "ours" /private/comment NIL /private/x "1")'))
        .status,
      'OK',
    );
    assert.deepEqual(await collect(a, 1), ['* METADATA Meta/sub /private/x /shared/comment']);
    // The server level: mailbox "".
    assert.equal((await b.command('SETMETADATA "" (/shared/comment "server")')).status, 'OK');
    assert.deepEqual(await collect(a, 1), ['* METADATA "" /shared/comment']);
    // A session in B's own process hears it too (the commit's own announcement, no poll).
    const local = await rev2Login(localPort);
    assert.equal((await local.command('NOTIFY SET (personal (MailboxMetadataChange))')).status, 'OK');
    assert.equal((await b.command('SETMETADATA Meta/sub (/private/x "2")')).status, 'OK');
    assert.deepEqual(await collect(local, 1), ['* METADATA Meta/sub /private/x']);
    assert.deepEqual(await collect(a, 1), ['* METADATA Meta/sub /private/x']);
    local.destroy();
    // Outside A's filter (INBOX's own entries) and a value set again unchanged: nothing.
    assert.equal((await b.command('SETMETADATA INBOX (/private/comment "inbox")')).status, 'OK');
    assert.equal((await b.command('SETMETADATA Meta (/private/comment "mine")')).status, 'OK');
    assert.deepEqual(await collect(a, 1, 700), [], 'nothing outside the filter, nothing unchanged');
    assert.deepEqual(await collect(c, 1, 300), [], 'a session without metadata events hears none');

    // NOTIFY NONE stops them.
    assert.equal((await a.command('NOTIFY NONE')).status, 'OK');
    assert.equal((await b.command('SETMETADATA Meta (/private/comment "later")')).status, 'OK');
    assert.equal((await b.command('SETMETADATA "" (/shared/comment NIL)')).status, 'OK');
    assert.deepEqual(await collect(a, 1, 700), [], 'no METADATA after NOTIFY NONE');
    a.destroy();
    b.destroy();
    c.destroy();
  });

  void it('SELECTED-DELAYED holds expunges until a command may carry them (RFC 5465 §6.1)', async () => {
    const b = await RawImapClient.login(localPort, ALICE);
    assert.equal((await b.command('CREATE Delayed')).status, 'OK');
    const msg = message('delayed');
    for (let i = 0; i < 2; i++)
      assert.equal((await b.command(`APPEND Delayed {${msg.length}+}\r\n${msg}`)).status, 'OK');
    const a = await rev2Login(second.port);
    assert.equal((await a.command('SELECT Delayed')).status, 'OK');
    assert.equal(
      (await a.command('NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange))')).status,
      'OK',
    );
    assert.equal((await b.command('SELECT Delayed')).status, 'OK');
    assert.equal((await b.command('UID STORE 1 +FLAGS.SILENT (\\Deleted)')).status, 'OK');
    assert.deepEqual(await collect(a, 1), ['* 1 FETCH (FLAGS (\\Deleted))']);
    assert.equal((await b.command('EXPUNGE')).status, 'OK');
    assert.deepEqual(await collect(a, 1, 700), [], 'no EXPUNGE while no command runs');
    // FETCH by sequence number may not carry it (RFC 9051 §7.5.1); NOOP does.
    const f = await a.command('FETCH 1 (FLAGS)');
    assert.ok(!f.untagged.some((l) => / EXPUNGE$/.test(l)), JSON.stringify(f.untagged));
    const noop = await a.command('NOOP');
    assert.deepEqual(noop.untagged, ['* 1 EXPUNGE']);
    a.destroy();
    b.destroy();
  });

  void it("in IDLE, NOTIFY sends other mailboxes' STATUS as well", async () => {
    const b = await RawImapClient.login(localPort, ALICE);
    assert.equal((await b.command('CREATE Idle1')).status, 'OK');
    const a = await rev2Login(second.port);
    assert.equal((await a.command('NOTIFY SET (mailboxes Idle1 (MessageNew MessageExpunge))')).status, 'OK');
    a.write('i1 IDLE\r\n');
    assert.match(await a.response(), /^\+ /);
    const msg = message('idle');
    assert.equal((await b.command(`APPEND Idle1 {${msg.length}+}\r\n${msg}`)).status, 'OK');
    assert.match((await collect(a, 1))[0] ?? '', /^\* STATUS Idle1 \(MESSAGES 1 UIDNEXT 2 /);
    a.write('DONE\r\n');
    assert.equal((await a.until('i1')).status, 'OK');
    a.destroy();
    b.destroy();
  });
});
