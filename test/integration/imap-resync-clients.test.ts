// QRESYNC with real clients (issue 13): imapflow (`qresync: true`, then mailboxOpen with the
// cached UIDVALIDITY and HIGHESTMODSEQ) and Python's imaplib (ENABLE QRESYNC, SELECT with the
// QRESYNC parameter, read back the untagged VANISHED and FETCH responses) each reconnect after
// another session changed flags and expunged messages, and must learn exactly that change set:
// every expunged UID, every changed message with its new flags, nothing else.

import assert from 'node:assert/strict';
import { runPython } from '../helpers/python.js';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import {
  IMAP_PASSWORDS,
  message,
  RawImapClient,
  startImapServer,
  type ImapTestServer,
} from './imap-harness.js';

const ALICE = 'alice@example.test';

/** imaplib: ENABLE QRESYNC, SELECT box (QRESYNC (v m)), the VANISHED and FETCH data as JSON. */
const PYTHON = String.raw`
import imaplib, json, sys
cfg = json.loads(sys.stdin.read())
m = imaplib.IMAP4(cfg['host'], cfg['port'], timeout=10)
m.login(cfg['user'], cfg['password'])
typ, data = m.enable('QRESYNC')
assert typ == 'OK', (typ, data)
typ, data = m._simple_command('SELECT', cfg['box'], '(QRESYNC (%d %d))' % (cfg['validity'], cfg['modseq']))
assert typ == 'OK', (typ, data)
out = {}
for key in ('VANISHED', 'FETCH', 'HIGHESTMODSEQ'):
    typ, data = m._untagged_response('OK', [None], key)
    out[key] = [d.decode() if isinstance(d, bytes) else d for d in data if d is not None]
m.logout()
print(json.dumps(out))
`;

async function imaplibResync(input: object): Promise<Record<string, string[]>> {
  return JSON.parse(await runPython(PYTHON, JSON.stringify(input))) as Record<string, string[]>;
}

void describe('QRESYNC with imapflow and imaplib', () => {
  let server: ImapTestServer;
  let boxes = 0;

  before(async () => {
    server = await startImapServer();
  });
  after(async () => {
    await server.close();
  });

  /**
   * A mailbox of 10 messages; its UIDVALIDITY and HIGHESTMODSEQ as a client caches them; then
   * another session sets $Work on 2, \Seen on 4 and 9, and expunges 3, 5 and 6.
   */
  async function changedMailbox(): Promise<{ box: string; validity: number; modseq: number }> {
    const box = `R${++boxes}`;
    const account = (await server.store.getAccount(ALICE))!;
    await server.store.createMailbox(account.id, box);
    for (let i = 1; i <= 10; i++) await server.deliver(ALICE, box, message(`m${i}`));
    const mb = (await server.store.getMailbox(account.id, box))!;
    const other = await RawImapClient.login(server.ports.imap, ALICE);
    await other.command(`SELECT ${box}`);
    await other.command('UID STORE 2 +FLAGS ($Work)');
    await other.command('UID STORE 4,9 +FLAGS (\\Seen)');
    await other.command('UID STORE 3,5:6 +FLAGS.SILENT (\\Deleted)');
    await other.command('EXPUNGE');
    other.destroy();
    return { box, validity: mb.uidValidity, modseq: mb.highestModseq };
  }

  void it('imapflow: mailboxOpen with the cached modseq reports exactly the expunges and flag changes', async () => {
    const { box, validity, modseq } = await changedMailbox();
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: server.ports.imap,
      secure: false,
      tls: { rejectUnauthorized: false },
      auth: { user: ALICE, pass: IMAP_PASSWORDS[ALICE]! },
      logger: false,
      qresync: true,
      disableAutoIdle: true,
    });
    const expunged: number[] = [];
    const flags = new Map<number, string[]>();
    c.on('expunge', (e: { uid?: number; vanished: boolean; earlier?: boolean }) => {
      assert.equal(e.vanished, true);
      assert.equal(e.earlier, true);
      expunged.push(e.uid!);
    });
    c.on('flags', (e: { uid?: number; flags: Set<string> }) => flags.set(e.uid!, [...e.flags].sort()));
    await c.connect();
    try {
      assert.ok(c.enabled.has('QRESYNC'), 'imapflow enabled QRESYNC');
      const mb = await c.mailboxOpen(box, { uidValidity: BigInt(validity), changedSince: BigInt(modseq) });
      assert.equal(mb.exists, 7);
      assert.ok(BigInt(mb.highestModseq ?? 0) > BigInt(modseq));
      assert.deepEqual(expunged, [3, 5, 6]);
      assert.deepEqual(
        [...flags.entries()].sort((a, b) => a[0] - b[0]),
        [
          [2, ['$Work']],
          [4, ['\\Seen']],
          [9, ['\\Seen']],
        ],
      );
    } finally {
      await c.logout();
    }
  });

  void it('imaplib: SELECT (QRESYNC ...) returns exactly the expunged UIDs and changed messages', async () => {
    const { box, validity, modseq } = await changedMailbox();
    const out = await imaplibResync({
      host: '127.0.0.1',
      port: server.ports.imap,
      user: ALICE,
      password: IMAP_PASSWORDS[ALICE],
      box,
      validity,
      modseq,
    });
    assert.deepEqual(out.VANISHED, ['(EARLIER) 3,5:6']);
    assert.deepEqual(
      out.FETCH!.map((f) => f.replace(/MODSEQ \(\d+\)/, 'MODSEQ (n)').replace(/ ?\\Recent/, '')),
      [
        '2 (UID 2 FLAGS ($Work) MODSEQ (n))',
        '3 (UID 4 FLAGS (\\Seen) MODSEQ (n))',
        '6 (UID 9 FLAGS (\\Seen) MODSEQ (n))',
      ],
    );
    assert.equal(out.HIGHESTMODSEQ!.length, 1);
    assert.ok(Number(out.HIGHESTMODSEQ![0]) > modseq);
  });
});
