// Quota warnings over real sockets (issue 14, "no surprise mailbox full"): one store served by
// the SMTP and IMAP listeners, store.quota_warnings = [80, 90, 100]. A mailbox filled by SMTP
// delivery, IMAP APPEND and IMAP COPY gets exactly one warning per threshold, in its INBOX
// (counted by Subject), the 100% one while the mailbox is full (stored past the quota), while
// senders get 452 4.2.2; expunging below a threshold and crossing it again warns again; the same
// for the message-count quota; two store handles (two processes) delivering at once send one
// warning; an IMAP login of a nearly full account gets `* OK [ALERT]` before its tagged OK.
// The warning is checked as MIME by Python's email package.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../src/app/open-store.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { AuthFailureTracker } from '../../src/auth/failure-tracker.js';
import { createLogger } from '../../src/core/log.js';
import { deliverLocal } from '../../src/delivery/local.js';
import { hashPassword } from '../../src/auth/password.js';
import { createImapHandler } from '../../src/protocols/imap/handler.js';
import { ListenerSet } from '../../src/server/listeners.js';
import { loadTlsMaterial } from '../../src/server/tls.js';
import { runPython } from '../helpers/python.js';
import { message, RawImapClient } from './imap-harness.js';
import { LOOPBACK_0 } from './server-fixture.js';
import { ehlo, PASSWORDS, startSmtpServer, type SmtpTestServer } from './smtp-harness.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const THRESHOLDS = [80, 90, 100];

/** One message over SMTP port 25: the RCPT and DATA reply lines. */
async function sendSmtp(
  port: number,
  to: string,
  subject: string,
  body = 'Hello.\r\n',
): Promise<{ rcpt: string; data: string }> {
  const { client } = await ehlo(port);
  try {
    assert.equal((await client.command('MAIL FROM:<x@remote.example>')).code, 250);
    const r = await client.command(`RCPT TO:<${to}>`);
    const rcpt = `${r.code} ${r.text}`;
    if (r.code !== 250) return { rcpt, data: '' };
    assert.equal((await client.command('DATA')).code, 354);
    client.write(`${message(subject, body)}.\r\n`);
    const d = await client.reply();
    return { rcpt, data: `${d.code} ${d.text}` };
  } finally {
    client.destroy();
  }
}

/** Body text of about `bytes` bytes in 76-character lines. */
function filler(bytes: number): string {
  const line = 'x'.repeat(76) + '\r\n';
  return line.repeat(Math.max(1, Math.floor(bytes / line.length)));
}

void describe('quota warnings (store.quota_warnings)', () => {
  let server: SmtpTestServer;
  let imap: ListenerSet;
  let imapPort: number;

  before(async () => {
    server = await startSmtpServer();
    // Shared by reference with the SMTP listener's deps, and copied into the IMAP listener's.
    server.config.store.quotaWarnings = [...THRESHOLDS];
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

  async function login(address: string): Promise<{ c: RawImapClient; untagged: string[] }> {
    const c = await RawImapClient.connect(imapPort);
    const r = await c.command(`LOGIN ${address} ${PASSWORDS[address]}`);
    assert.equal(r.status, 'OK', r.tagged);
    return { c, untagged: r.untagged };
  }

  async function usage(address: string) {
    const a = await server.store.getAccount(address);
    assert.ok(a !== null);
    return a;
  }

  /** The thresholds of the warnings in the INBOX, in UID order. */
  async function warnings(address: string): Promise<number[]> {
    const out: number[] = [];
    for (const bytes of await server.inbox(address)) {
      const m = /^Subject: Your mailbox is (\d+)% full\r$/m.exec(bytes.toString('latin1'));
      if (m !== null) out.push(Number(m[1]));
    }
    return out;
  }

  /** APPEND of a message of exactly `size` bytes; the tagged response. */
  async function append(c: RawImapClient, mailbox: string, subject: string, size: number): Promise<string> {
    const head = message(subject, '');
    const bytes = head + 'y'.repeat(Math.max(0, size - head.length));
    assert.equal(bytes.length, size);
    const t = c.tag();
    c.write(`${t} APPEND ${mailbox} {${size}}\r\n`);
    const first = await c.response();
    if (!first.startsWith('+')) return first; // refused before the literal (over quota)
    c.write(`${bytes}\r\n`);
    return (await c.until(t)).tagged;
  }

  void it('byte quota: SMTP, APPEND and COPY each get one warning per threshold; the last arrives while full', async () => {
    const Q = 200_000;
    await server.store.setQuota(ALICE, Q);
    // 75%: no warning.
    assert.match((await sendSmtp(server.ports.smtp, ALICE, 'big', filler(150_000))).data, /^250 /);
    assert.ok((await usage(ALICE)).usedBytes < 0.8 * Q);
    assert.deepEqual(await warnings(ALICE), []);
    const { c, untagged } = await login(ALICE);
    assert.ok(!untagged.some((l) => l.includes('[ALERT]')), 'below 80%: no ALERT');
    // SMTP to 80-81%: one warning.
    const to80 = 0.805 * Q - (await usage(ALICE)).usedBytes;
    assert.match((await sendSmtp(server.ports.smtp, ALICE, 'to80', filler(to80 - 600))).data, /^250 /);
    const at80 = await usage(ALICE);
    assert.deepEqual(await warnings(ALICE), [80], `${at80.usedBytes} of ${Q}`);
    // A small message more: still under 90%, still one warning.
    assert.match((await sendSmtp(server.ports.smtp, ALICE, 'small')).data, /^250 /);
    assert.deepEqual(await warnings(ALICE), [80]);
    // APPEND half the way to 90.5%, then COPY it: the COPY crosses 90%.
    const half = Math.floor((0.905 * Q - (await usage(ALICE)).usedBytes) / 2);
    const appended = await append(c, 'INBOX', 'copied', half);
    const uid = /OK \[APPENDUID \d+ (\d+)\]/.exec(appended)?.[1];
    assert.ok(uid !== undefined, appended);
    assert.deepEqual(await warnings(ALICE), [80], 'the APPEND stays under 90%');
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    const copy = await c.command(`UID COPY ${uid} Archive`);
    assert.match(copy.tagged, /OK \[COPYUID/);
    assert.ok((await usage(ALICE)).usedBytes >= 0.9 * Q);
    assert.deepEqual(await warnings(ALICE), [80, 90]);
    // APPEND exactly to the quota: 100%, warned although the warning does not fit.
    const rest = Q - (await usage(ALICE)).usedBytes;
    assert.match(await append(c, 'INBOX', 'fill', rest), /OK/);
    assert.deepEqual(await warnings(ALICE), [80, 90, 100]);
    const full = await usage(ALICE);
    assert.ok(full.usedBytes > Q, `the 100% warning is stored past the quota: ${full.usedBytes} of ${Q}`);
    // Senders are refused as before, and nothing more is warned.
    const refused = await sendSmtp(server.ports.smtp, ALICE, 'refused');
    assert.match(refused.rcpt, /^452 4\.2\.2 /);
    assert.match(await append(c, 'INBOX', 'refused', 500), /NO \[OVERQUOTA\]/);
    assert.deepEqual(await warnings(ALICE), [80, 90, 100]);
    // A new login is told, before its tagged OK.
    const again = await login(ALICE);
    const alerts = again.untagged.filter((l) => l.startsWith('* OK [ALERT]'));
    assert.equal(alerts.length, 1, again.untagged.join('\n'));
    assert.match(alerts[0]!, /^\* OK \[ALERT\] Your mailbox is 100% full: .* of 200 KB\. /);
    again.c.destroy();
    // Expunge the big message: 25% used. Crossing 80% again warns again (once).
    assert.equal((await c.command('UID STORE 1 +FLAGS.SILENT (\\Deleted)')).status, 'OK');
    assert.equal((await c.command('EXPUNGE')).status, 'OK');
    assert.ok((await usage(ALICE)).usedBytes < 0.5 * Q);
    const back = 0.81 * Q - (await usage(ALICE)).usedBytes;
    assert.match((await sendSmtp(server.ports.smtp, ALICE, 'again', filler(back - 600))).data, /^250 /);
    assert.deepEqual(await warnings(ALICE), [80, 90, 100, 80]);
    assert.match((await sendSmtp(server.ports.smtp, ALICE, 'again2')).data, /^250 /);
    assert.deepEqual(await warnings(ALICE), [80, 90, 100, 80]);
    c.destroy();
    await server.store.setQuota(ALICE, 0);
  });

  void it('the warning is valid MIME from the postmaster, auto-generated, with the figures', async () => {
    const warning = (await server.inbox(ALICE)).find((b) =>
      b.toString('latin1').includes('Subject: Your mailbox is 90% full'),
    );
    assert.ok(warning !== undefined);
    const out = await runPython(
      `
import email, email.policy, json, sys
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
print(json.dumps({
  "defects": [type(d).__name__ for d in m.defects] + [type(d).__name__ for p in m.walk() for d in p.defects],
  "from": str(m["From"]), "to": str(m["To"]), "subject": str(m["Subject"]),
  "auto": str(m["Auto-Submitted"]), "id": str(m["Message-ID"]), "date": m["Date"].datetime is not None,
  "type": m.get_content_type(), "charset": m.get_content_charset(), "body": m.get_content(),
}))
`,
      warning,
    );
    const m = JSON.parse(out) as Record<string, unknown>;
    assert.deepEqual(m.defects, []);
    assert.equal(m.from, 'Mail System <postmaster@example.test>');
    assert.equal(m.to, ALICE);
    assert.equal(m.subject, 'Your mailbox is 90% full');
    assert.equal(m.auto, 'auto-generated');
    assert.match(String(m.id), /^<quota-[0-9a-f]{24}@/);
    assert.equal(m.date, true);
    assert.equal(m.type, 'text/plain');
    assert.equal(m.charset, 'us-ascii');
    assert.match(String(m.body), /Your mailbox alice@example\.test is 9\d% full: [\d.]+ KB of 200 KB\./);
  });

  void it('message-count quota: SMTP and APPEND to 16, 18 and 20 of 20 messages warn once each', async () => {
    await server.store.setMessageQuota(BOB, 20);
    const { c } = await login(BOB);
    const seen: number[][] = [];
    for (let i = 1; ; i++) {
      const used = (await usage(BOB)).usedMessages;
      if (used >= 20) break;
      if (i % 2 === 1) assert.match((await sendSmtp(server.ports.smtp, BOB, `m${i}`)).data, /^250 /);
      else assert.match(await append(c, 'INBOX', `m${i}`, 300), /OK/);
      seen.push(await warnings(BOB));
      assert.ok(i < 40, 'bounded');
    }
    const w = seen[seen.length - 1]!;
    assert.deepEqual(w, [80, 90, 100]);
    // Each warning came with the delivery that crossed: 16, then 18, then 20 messages held.
    const firstWith = (n: number): number => seen.findIndex((s) => s.length === n);
    assert.deepEqual([firstWith(1), firstWith(2), firstWith(3)], [15, 16, 17]);
    const a = await usage(BOB);
    assert.equal(a.usedMessages, 21, 'the 100% warning is the 21st of 20 messages');
    assert.match((await sendSmtp(server.ports.smtp, BOB, 'over')).rcpt, /^452 4\.2\.2 /);
    c.destroy();
    await server.store.setMessageQuota(BOB, 0);
  });

  void it('two store handles (two processes) delivering across 80% at once send one warning', async () => {
    const second = await openStore(server.config);
    try {
      for (const [round, address] of [
        [1, 'carol@example.test'],
        [2, 'dave@example.test'],
      ] as const) {
        await server.store.createAccount({
          address,
          passwordHash: await hashPassword('pw'),
          quotaBytes: 100_000,
        });
        const inbox = (await server.store.getMailbox((await usage(address)).id, 'INBOX'))!.id;
        const settings = { thresholds: THRESHOLDS, hostname: 'mail.example.test' };
        await deliverLocal({
          store: server.store,
          blobs: server.blobs,
          limits: server.config.limits,
          source: Buffer.from(message(`base${round}`, 'z'.repeat(78_000))),
          targets: [{ mailboxId: inbox }],
        });
        // Two messages at once, one per handle: together they take the account past 80%.
        await Promise.all(
          [server, second].map((s, i) =>
            deliverLocal({
              store: s.store,
              blobs: s.blobs,
              limits: server.config.limits,
              source: Buffer.from(message(`race${round}-${i}`, 'z'.repeat(1000))),
              targets: [{ mailboxId: inbox }],
              quotaWarnings: settings,
            }),
          ),
        );
        assert.ok((await usage(address)).usedBytes >= 80_000);
        assert.deepEqual(await warnings(address), [80], address);
      }
    } finally {
      await second.store.close();
    }
  });
});
