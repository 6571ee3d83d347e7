// COMPRESS=DEFLATE (RFC 4978) over real sockets: the RFC's exchange replayed by a raw client
// (OK, then NO [COMPRESSIONACTIVE], BAD for an unknown mechanism or before login), compressed
// sessions on the plain listener, after STARTTLS and on imaps, IDLE under compression (an
// update reaches the client at once: the server flushes every burst), a streamed APPEND and a
// FETCH of a large message through the compressor, and imapflow downloading a set of messages
// with compression on and off: the bytes must equal each other and the stored messages.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow, type Logger } from 'imapflow';
import {
  IMAP_PASSWORDS,
  message,
  RawImapClient,
  startImapServer,
  type ImapTestServer,
} from './imap-harness.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

/** A message of `size` bytes of repetitive text (it compresses well). */
function bigMessage(subject: string, size: number): Buffer {
  const head = message(subject, '');
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  return Buffer.from(head + line.repeat(Math.ceil((size - head.length) / line.length)));
}

/** The literal of a `FETCH n (BODY[] ...)` response, as the raw client inlines it. */
function literalOf(response: string): Buffer {
  const m = /\{(\d+)\}\r\n/.exec(response);
  assert.ok(m !== null, response.slice(0, 200));
  const start = m.index + m[0].length;
  return Buffer.from(response.slice(start, start + Number(m[1])), 'latin1');
}

void describe('IMAP COMPRESS=DEFLATE', () => {
  let server: ImapTestServer;
  const big = bigMessage('big', 300_000);

  before(async () => {
    server = await startImapServer();
    await server.deliver(ALICE, 'INBOX', message('first'));
    await server.deliver(ALICE, 'INBOX', big);
  });
  after(async () => {
    await server.close();
  });

  void it('replays RFC 4978 §3: OK, then NO [COMPRESSIONACTIVE]; BAD for other mechanisms and before login', async () => {
    const c = await RawImapClient.connect(server.ports.imap);
    assert.doesNotMatch(c.greeting, /COMPRESS=DEFLATE/);
    assert.match((await c.command('COMPRESS DEFLATE')).tagged, /^A1 BAD /);
    const login = await c.command(`LOGIN ${ALICE} ${IMAP_PASSWORDS[ALICE]}`);
    assert.match(login.tagged, /COMPRESS=DEFLATE/);
    assert.match((await c.command('COMPRESS LZW')).tagged, /^A3 BAD /);
    assert.match((await c.command('COMPRESS')).tagged, /^A4 BAD /);
    const r = await c.compress();
    assert.equal(r.status, 'OK', r.tagged);
    // Everything from here on is compressed both ways.
    const again = await c.command('COMPRESS DEFLATE');
    assert.match(again.tagged, /^A6 NO \[COMPRESSIONACTIVE\]/);
    const caps = await c.command('CAPABILITY');
    assert.equal(caps.status, 'OK');
    assert.match(caps.untagged[0]!, /^\* CAPABILITY .*COMPRESS=DEFLATE/);
    const sel = await c.command('SELECT INBOX');
    assert.equal(sel.status, 'OK', sel.tagged);
    assert.ok(sel.untagged.includes('* 2 EXISTS'), sel.untagged.join('\n'));
    const out = await c.command('LOGOUT');
    assert.equal(out.status, 'OK');
    assert.match(out.untagged[0]!, /^\* BYE/);
    await c.closed();
  });

  void it('a FETCH of a 300 KB message comes compressed and byte-exact; an uploaded 1 MB literal is stored exactly', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    assert.equal((await c.compress()).status, 'OK');
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    const before = c.wireBytesIn;
    const r = await c.command('UID FETCH 2 (BODY.PEEK[])', 10_000);
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(literalOf(r.untagged[0]!), big);
    const onWire = c.wireBytesIn - before;
    assert.ok(onWire < big.length / 10, `${onWire} bytes on the wire for a ${big.length} byte message`);

    // A streamed APPEND literal (above 64 KiB) through the client's compressor, LITERAL+ form.
    const upload = bigMessage('upload', 1_000_000);
    c.write(`u1 APPEND INBOX (\\Seen) {${upload.length}+}\r\n`);
    c.write(upload);
    c.write('\r\n');
    const appended = await c.until('u1', 10_000);
    assert.match(appended.tagged, /^u1 OK \[APPENDUID \d+ 3\]/);
    const id = await server.mailboxId(ALICE, 'INBOX');
    const [meta] = await server.store.listMessages(id, { uids: [3] });
    assert.deepEqual(await server.blobs.readAll(meta!.blobId), upload);
    c.destroy();
  });

  void it('works inside TLS: after STARTTLS and on the imaps listener', async () => {
    const plain = await RawImapClient.connect(server.ports.imap);
    assert.equal((await plain.command('STARTTLS')).status, 'OK');
    await plain.upgrade();
    assert.equal((await plain.command(`LOGIN ${ALICE} ${IMAP_PASSWORDS[ALICE]}`)).status, 'OK');
    const implicit = await RawImapClient.login(server.ports.imaps, ALICE, { tls: true });
    for (const c of [plain, implicit]) {
      assert.equal((await c.compress()).status, 'OK');
      assert.equal((await c.command('EXAMINE INBOX')).status, 'OK');
      const r = await c.command('UID FETCH 2 (BODY.PEEK[])', 10_000);
      assert.equal(r.status, 'OK', r.tagged);
      assert.deepEqual(literalOf(r.untagged[0]!), big);
      c.destroy();
    }
  });

  void it('IDLE under compression: another session’s APPEND is told within a second', async () => {
    const c = await RawImapClient.login(server.ports.imap, BOB);
    assert.equal((await c.compress()).status, 'OK');
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    c.write('i1 IDLE\r\n');
    assert.match(await c.response(), /^\+ /);
    const t0 = Date.now();
    await server.deliver(BOB, 'INBOX', message('while idle'));
    assert.equal(await c.response(2000), '* 1 EXISTS');
    assert.ok(Date.now() - t0 < 1000, `EXISTS after ${Date.now() - t0} ms`);
    c.write('DONE\r\n');
    assert.match((await c.until('i1')).tagged, /^i1 OK/);
    c.destroy();
  });

  void it('input sent after COMPRESS before its answer is refused with BAD, compression stays off', async () => {
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    c.write('c1 COMPRESS DEFLATE\r\nc2 NOOP\r\n');
    assert.match((await c.until('c1')).tagged, /^c1 BAD /);
    assert.match((await c.until('c2')).tagged, /^c2 OK /);
    c.destroy();
  });

  void it('imapflow downloads the same bytes with compression on and off', async () => {
    const box = 'Downloads';
    const account = (await server.store.getAccount(ALICE))!;
    await server.store.createMailbox(account.id, box);
    const sent: Buffer[] = [];
    for (let i = 0; i < 12; i++) {
      const bytes =
        i % 4 === 0
          ? bigMessage(`dl${i}`, 50_000 * (i + 1))
          : Buffer.from(message(`dl${i}`, `Body ${i}.\r\n`));
      sent.push(bytes);
      await server.deliver(ALICE, box, bytes);
    }
    async function download(disableCompression: boolean): Promise<{ sources: Buffer[]; commands: string[] }> {
      const commands: string[] = [];
      const note = (o: unknown): void => {
        const msg = (o as { msg?: unknown }).msg;
        if (typeof msg === 'string') commands.push(msg);
      };
      const logger: Logger = { debug: note, info: note, warn: note, error: note };
      const c = new ImapFlow({
        host: '127.0.0.1',
        port: server.ports.imap,
        secure: false,
        doSTARTTLS: true,
        tls: { rejectUnauthorized: false },
        auth: { user: ALICE, pass: IMAP_PASSWORDS[ALICE]! },
        disableAutoIdle: true,
        disableCompression,
        logger,
      });
      await c.connect();
      const lock = await c.getMailboxLock(box);
      const sources: Buffer[] = [];
      try {
        for await (const m of c.fetch('1:*', { uid: true, source: true })) sources.push(m.source!);
      } finally {
        lock.release();
      }
      await c.logout();
      return { sources, commands };
    }
    const compressed = await download(false);
    const plain = await download(true);
    assert.ok(
      compressed.commands.some((l) => /COMPRESS DEFLATE/.test(l)),
      'imapflow sent COMPRESS DEFLATE',
    );
    assert.ok(!plain.commands.some((l) => /COMPRESS DEFLATE/.test(l)), 'no COMPRESS when disabled');
    assert.equal(compressed.sources.length, sent.length);
    assert.deepEqual(compressed.sources, plain.sources);
    assert.deepEqual(compressed.sources, sent);
  });
});
