// Interop with imapflow (npm), a full IMAP client library, over real sockets (issue 4): STARTTLS
// on the imap listener and implicit TLS on imaps (self-signed certificate), LIST with
// special-use attributes and LIST-STATUS, SELECT, FETCH of ENVELOPE and BODYSTRUCTURE, partial
// downloads of a part (BODY.PEEK[1]<0.n>, a decoded attachment, BINARY), a 3 MB message, APPEND
// with flags and date, MOVE, COPY, STORE +FLAGS/-FLAGS, UID EXPUNGE, RENAME, DELETE, SEARCH in
// both revisions, UTF-8 and modified UTF-7 mailbox names, and IDLE reporting another client's
// APPEND within a second (explicit IDLE, and imapflow's auto-IDLE between commands). Results
// are checked against the store itself. On failure the client's command log is printed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow, type ImapFlowOptions, type Logger } from 'imapflow';
import { IMAP_PASSWORDS, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

/** 300 bytes covering every byte value, base64-encoded in the attachment. */
const ATTACHMENT = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));
const TEXT_PART =
  'Gr\u00fc\u00dfe, the report is attached.\r\nLine two of the text part, long enough to cut.\r\n';

function base64Lines(buf: Buffer): string {
  const b64 = buf.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join('\r\n') + '\r\n';
}

/** A multipart/mixed message: an 8bit UTF-8 text part and a base64 attachment. */
const MULTIPART = Buffer.from(
  'From: Alice Example <alice@example.test>\r\n' +
    'To: Bob Example <bob@example.test>\r\n' +
    'Cc: carol@example.test\r\n' +
    'Subject: Quarterly report\r\n' +
    'Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n' +
    'Message-ID: <report-1@example.test>\r\n' +
    'MIME-Version: 1.0\r\n' +
    'Content-Type: multipart/mixed; boundary="b1"\r\n' +
    '\r\n' +
    'Preamble.\r\n' +
    '--b1\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Content-Transfer-Encoding: 8bit\r\n' +
    '\r\n' +
    TEXT_PART +
    '\r\n--b1\r\n' +
    'Content-Type: application/octet-stream; name="data.bin"\r\n' +
    'Content-Disposition: attachment; filename="data.bin"\r\n' +
    'Content-Transfer-Encoding: base64\r\n' +
    '\r\n' +
    base64Lines(ATTACHMENT) +
    '\r\n--b1--\r\n',
  'utf8',
);

function simple(subject: string, body = 'Hello.\r\n'): Buffer {
  return Buffer.from(
    `From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: ${subject}\r\n` +
      `Date: Fri, 27 Nov 2026 09:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\r\n\r\n${body}`,
  );
}

/** Collects imapflow's log (commands sent, responses read) so that a failure can show it. */
class ExchangeLog {
  readonly lines: string[] = [];
  private add(level: string, obj: unknown): void {
    if (this.lines.length > 400) this.lines.splice(0, 100);
    const o = (typeof obj === 'object' && obj !== null ? obj : { msg: String(obj) }) as Record<
      string,
      unknown
    >;
    const msg = typeof o.msg === 'string' ? o.msg : '';
    const extra = o.err instanceof Error ? ` ${o.err.message}` : '';
    this.lines.push(`${level} ${msg.slice(0, 500)}${extra}`);
  }
  readonly logger: Logger = {
    debug: (o: unknown) => this.add('debug', o),
    info: (o: unknown) => this.add('info', o),
    warn: (o: unknown) => this.add('warn', o),
    error: (o: unknown) => this.add('error', o),
  };
  dump(): string {
    return this.lines.join('\n');
  }
}

void describe('imapflow interop', () => {
  let server: ImapTestServer;
  let reportUid = 0;

  /** An imapflow client (STARTTLS on the imap port unless `opts` say otherwise) and its log. */
  function client({ user = ALICE, ...opts }: Partial<ImapFlowOptions> & { user?: string } = {}): {
    c: ImapFlow;
    log: ExchangeLog;
  } {
    const log = new ExchangeLog();
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: server.ports.imap,
      secure: false,
      doSTARTTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user, pass: IMAP_PASSWORDS[user]! },
      logger: log.logger,
      disableAutoIdle: true,
      connectionTimeout: 5000,
      greetingTimeout: 5000,
      socketTimeout: 20_000,
      ...opts,
    });
    return { c, log };
  }

  /** Runs a test body with a fresh connected client, printing its exchange if the body throws. */
  async function withClient<T>(
    opts: Partial<ImapFlowOptions> & { user?: string },
    body: (c: ImapFlow, log: ExchangeLog) => Promise<T>,
  ): Promise<T> {
    const { c, log } = client(opts);
    try {
      await c.connect();
      const result = await body(c, log);
      await c.logout();
      return result;
    } catch (e) {
      c.close();
      const err = e instanceof Error ? e : new Error(String(e));
      err.message += `\n--- imapflow exchange ---\n${log.dump()}`;
      throw err;
    }
  }

  async function storedBytes(address: string, mailbox: string, uid: number): Promise<Buffer> {
    const id = await server.mailboxId(address, mailbox);
    const [meta] = await server.store.listMessages(id, { uids: [uid] });
    assert.ok(meta !== undefined, `uid ${uid} in ${mailbox}`);
    return server.blobs.readAll(meta.blobId);
  }

  before(async () => {
    server = await startImapServer();
    reportUid = await server.deliver(ALICE, 'INBOX', MULTIPART, { date: new Date('2026-11-26T10:00:05Z') });
    await server.deliver(ALICE, 'INBOX', simple('Second message'));
    await server.deliver(ALICE, 'INBOX', simple('Third message'), { flags: ['\\Seen'] });
  });
  after(async () => {
    await server.close();
  });

  void it('STARTTLS on the imap port, then LIST with special-use attributes', async () => {
    await withClient({}, async (c) => {
      assert.equal(c.secureConnection, true, 'upgraded with STARTTLS');
      const list = await c.list();
      const byPath = new Map(list.map((e) => [e.path, e]));
      for (const name of ['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive']) {
        assert.ok(byPath.has(name), `${name} listed: ${[...byPath.keys()].join(', ')}`);
      }
      assert.equal(byPath.get('INBOX')!.specialUse, '\\Inbox');
      for (const [name, use] of [
        ['Sent', '\\Sent'],
        ['Drafts', '\\Drafts'],
        ['Trash', '\\Trash'],
        ['Junk', '\\Junk'],
        ['Archive', '\\Archive'],
      ] as const) {
        assert.equal(byPath.get(name)!.specialUse, use, `${name} special use`);
        assert.equal(byPath.get(name)!.specialUseSource, 'extension', `${name}: from the server's attribute`);
      }
      assert.equal(byPath.get('Sent')!.delimiter, '/');
      // A child mailbox shows up with its parent path.
      await c.mailboxCreate('Projects/2026');
      const again = await c.list();
      const child = again.find((e) => e.path === 'Projects/2026');
      assert.ok(child !== undefined, 'created mailbox listed');
      assert.deepEqual(child.parent, ['Projects']);
      const status = await c.status('INBOX', { messages: true, unseen: true, uidNext: true });
      assert.ok(status !== false, 'STATUS answered');
      assert.equal(status.messages, 3);
      assert.equal(status.unseen, 2);
      assert.ok(status.uidNext !== undefined && status.uidNext > reportUid);
    });
  });

  void it('imaps: SELECT, FETCH envelope and bodystructure', async () => {
    await withClient({ port: server.ports.imaps, secure: true, doSTARTTLS: undefined }, async (c) => {
      assert.equal(c.secureConnection, true);
      const box = await c.mailboxOpen('INBOX');
      assert.equal(box.exists, 3);
      assert.equal(box.path, 'INBOX');
      assert.ok(box.uidValidity > 0n);
      assert.ok(box.flags.has('\\Seen'));
      const msgs = [];
      for await (const m of c.fetch('1:*', {
        uid: true,
        flags: true,
        envelope: true,
        bodyStructure: true,
        size: true,
        internalDate: true,
      })) {
        msgs.push(m);
      }
      assert.equal(msgs.length, 3);
      const report = msgs[0]!;
      assert.equal(report.uid, reportUid);
      assert.equal(report.size, MULTIPART.length);
      assert.equal(new Date(report.internalDate!).toISOString(), '2026-11-26T10:00:05.000Z');
      const env = report.envelope!;
      assert.equal(env.subject, 'Quarterly report');
      assert.equal(env.messageId, '<report-1@example.test>');
      assert.deepEqual(env.from, [{ name: 'Alice Example', address: 'alice@example.test' }]);
      assert.deepEqual(env.to, [{ name: 'Bob Example', address: 'bob@example.test' }]);
      // A NIL display name comes out of imapflow as ''.
      assert.deepEqual(
        env.cc?.map((a) => [a.name ?? '', a.address]),
        [['', 'carol@example.test']],
      );
      assert.equal(new Date(env.date!).toISOString(), '2026-11-26T10:00:00.000Z');
      const bs = report.bodyStructure!;
      assert.equal(bs.type, 'multipart/mixed');
      assert.equal(bs.parameters?.boundary, 'b1');
      assert.equal(bs.childNodes?.length, 2);
      const [text, attachment] = bs.childNodes!;
      assert.equal(text!.part, '1');
      assert.equal(text!.type, 'text/plain');
      assert.equal(text!.parameters?.charset, 'utf-8');
      assert.equal(text!.encoding, '8bit');
      assert.equal(text!.size, Buffer.byteLength(TEXT_PART));
      assert.equal(attachment!.part, '2');
      assert.equal(attachment!.type, 'application/octet-stream');
      assert.equal(attachment!.encoding, 'base64');
      assert.equal(attachment!.disposition, 'attachment');
      assert.equal(attachment!.dispositionParameters?.filename, 'data.bin');
      assert.deepEqual([...msgs[2]!.flags!], ['\\Seen']);
      assert.equal(msgs[1]!.envelope!.subject, 'Second message');
    });
  });

  void it('partial download: BODY.PEEK[1]<0.20>, a whole part, a decoded attachment', async () => {
    await withClient({}, async (c, log) => {
      await c.mailboxOpen('INBOX');
      const textBytes = Buffer.from(TEXT_PART);
      // BODY.PEEK[1]<0.20>
      const partial = await c.fetchOne(
        String(reportUid),
        { bodyParts: [{ key: '1', start: 0, maxLength: 20 }] },
        { uid: true },
      );
      assert.ok(partial !== false);
      const parts = partial.bodyParts!;
      const got = [...parts.values()];
      assert.equal(got.length, 1, `one part returned: ${[...parts.keys()].join(',')}`);
      assert.deepEqual(got[0], textBytes.subarray(0, 20));
      assert.ok(
        log.lines.some((l) => l.includes('BODY.PEEK[1]<0.20>')),
        'the partial was asked for with BODY.PEEK[1]<0.20>',
      );
      // A range from the middle: BODY.PEEK[1]<10.15>
      const middle = await c.fetchOne(
        String(reportUid),
        { bodyParts: [{ key: '1', start: 10, maxLength: 15 }] },
        { uid: true },
      );
      assert.ok(middle !== false);
      assert.deepEqual([...middle.bodyParts!.values()][0], textBytes.subarray(10, 25));
      // The whole part, and the header of the message.
      const whole = await c.fetchOne(String(reportUid), { bodyParts: ['1'], headers: true }, { uid: true });
      assert.ok(whole !== false);
      assert.deepEqual(whole.bodyParts!.get('1'), textBytes);
      const headerEnd = MULTIPART.indexOf('\r\n\r\n') + 4;
      assert.deepEqual(whole.headers, MULTIPART.subarray(0, headerEnd));
      // download(): transfer encoding removed, in chunks of 64 bytes.
      const dl = await c.download(String(reportUid), '2', { uid: true, chunkSize: 64 });
      assert.ok(dl.content !== undefined, 'part 2 found');
      assert.equal(dl.meta.contentType, 'application/octet-stream');
      assert.equal(dl.meta.filename, 'data.bin');
      const chunks: Buffer[] = [];
      for await (const chunk of dl.content) chunks.push(chunk as Buffer);
      assert.deepEqual(Buffer.concat(chunks), ATTACHMENT);
      const text = await c.download(String(reportUid), '1', { uid: true });
      assert.ok(text.content !== undefined);
      const textChunks: Buffer[] = [];
      for await (const chunk of text.content) textChunks.push(chunk as Buffer);
      assert.equal(Buffer.concat(textChunks).toString('utf8'), TEXT_PART);
      // The whole message, byte-exact.
      const full = await c.fetchOne(String(reportUid), { source: true }, { uid: true });
      assert.ok(full !== false);
      assert.deepEqual(full.source, MULTIPART);
      // Every fetch above was a PEEK: still unseen.
      const flags = await c.fetchOne(String(reportUid), { flags: true }, { uid: true });
      assert.ok(flags !== false);
      assert.equal(flags.flags!.has('\\Seen'), false, 'PEEK does not set \\Seen');
    });
  });

  void it('APPEND with flags and internal date, then MOVE and STORE +FLAGS', async () => {
    await withClient({}, async (c) => {
      const draft = simple('Draft to move', 'Draft body.\r\n');
      const appended = await c.append(
        'Drafts',
        draft,
        ['\\Draft', '\\Seen'],
        new Date('2026-11-20T08:30:00Z'),
      );
      assert.ok(appended !== false);
      assert.equal(appended.destination, 'Drafts');
      assert.ok(typeof appended.uid === 'number' && appended.uid > 0, 'APPENDUID gives the uid');
      assert.deepEqual(await storedBytes(ALICE, 'Drafts', appended.uid), draft);
      const draftsId = await server.mailboxId(ALICE, 'Drafts');
      const [meta] = await server.store.listMessages(draftsId, { uids: [appended.uid] });
      assert.deepEqual([...meta!.flags].sort(), ['\\Draft', '\\Seen']);
      assert.equal(meta!.internalDate.toISOString(), '2026-11-20T08:30:00.000Z');

      // MOVE it to Archive (UIDPLUS COPYUID gives the new uid).
      await c.mailboxOpen('Drafts');
      const moved = await c.messageMove(String(appended.uid), 'Archive', { uid: true });
      assert.ok(moved !== false);
      assert.equal(moved.destination, 'Archive');
      const newUid = moved.uidMap?.get(appended.uid);
      assert.ok(
        typeof newUid === 'number',
        `uid map: ${JSON.stringify([...(moved.uidMap ?? new Map<number, number>())])}`,
      );
      assert.equal(c.mailbox === false ? -1 : c.mailbox.exists, 0, 'the EXPUNGE reached the client');
      assert.deepEqual(await server.store.listMessages(draftsId), []);
      assert.deepEqual(await storedBytes(ALICE, 'Archive', newUid), draft);

      // STORE +FLAGS on the moved message, a keyword included.
      await c.mailboxOpen('Archive');
      assert.equal(await c.messageFlagsAdd(String(newUid), ['\\Flagged', '$Label1'], { uid: true }), true);
      const archiveId = await server.mailboxId(ALICE, 'Archive');
      const [after] = await server.store.listMessages(archiveId, { uids: [newUid] });
      assert.deepEqual([...after!.flags].sort(), ['$Label1', '\\Draft', '\\Flagged', '\\Seen']);
      const fetched = await c.fetchOne(String(newUid), { flags: true }, { uid: true });
      assert.ok(fetched !== false);
      assert.deepEqual([...fetched.flags!].sort(), ['$Label1', '\\Draft', '\\Flagged', '\\Seen']);
      assert.equal(await c.messageFlagsRemove(String(newUid), ['\\Seen'], { uid: true }), true);
      const [removed] = await server.store.listMessages(archiveId, { uids: [newUid] });
      assert.deepEqual([...removed!.flags].sort(), ['$Label1', '\\Draft', '\\Flagged']);
    });
  });

  void it('IDLE: another client appends, the idling client gets EXISTS within a second', async () => {
    const { c: watcher, log: watcherLog } = client({ user: BOB });
    try {
      await watcher.connect();
      const box = await watcher.mailboxOpen('INBOX');
      const before = box.exists;
      const existsEvents: Array<{ count: number; at: number }> = [];
      watcher.on('exists', (e: { count: number }) => existsEvents.push({ count: e.count, at: Date.now() }));
      const idling = watcher.idle();
      // Wait until the server has accepted IDLE: imapflow logs this when the "+" arrives.
      const start = Date.now();
      while (!watcherLog.lines.some((l) => l.includes('Initiated IDLE')) && Date.now() - start < 3000) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(
        watcherLog.lines.some((l) => l.includes('Initiated IDLE')),
        'IDLE accepted (continuation seen)',
      );

      await withClient({ user: BOB }, async (other) => {
        const appendedAt = Date.now();
        const r = await other.append('INBOX', simple('For Bob from another session'), ['\\Flagged']);
        assert.ok(r !== false);
        const deadline = appendedAt + 1000;
        while (existsEvents.length === 0 && Date.now() < deadline) {
          await new Promise((res) => setTimeout(res, 5));
        }
        assert.equal(existsEvents.length, 1, 'EXISTS arrived within a second of the APPEND');
        assert.equal(existsEvents[0]!.count, before + 1);
        assert.ok(existsEvents[0]!.at - appendedAt < 1000);
      });
      // A delivery through the store (as SMTP would) is announced too.
      const deliveredAt = Date.now();
      await server.deliver(BOB, 'INBOX', simple('Delivered while idling'));
      while (existsEvents.length < 2 && Date.now() - deliveredAt < 1000) {
        await new Promise((res) => setTimeout(res, 5));
      }
      assert.equal(existsEvents.length, 2, 'delivery announced within a second');
      assert.equal(existsEvents[1]!.count, before + 2);
      // Breaking IDLE (DONE) with a command: the client is usable again.
      const status = await watcher.status('INBOX', { messages: true });
      assert.ok(status !== false, 'STATUS answered');
      assert.equal(status.messages, before + 2);
      await idling;
      await watcher.logout();
    } catch (e) {
      watcher.close();
      const err = e instanceof Error ? e : new Error(String(e));
      err.message += `\n--- imapflow exchange (idle client) ---\n${watcherLog.dump()}`;
      throw err;
    }
  });

  void it('LIST-STATUS, COPY, delete (UID EXPUNGE), rename, BINARY download, rev2 SEARCH', async () => {
    await withClient({}, async (c, log) => {
      const sent = (re: RegExp): boolean => log.lines.some((l) => re.test(l));
      // LIST ... RETURN (STATUS (...)) (RFC 5819) since LIST-STATUS is advertised.
      const listed = await c.list({ statusQuery: { messages: true, unseen: true } });
      const inbox = listed.find((e) => e.path === 'INBOX');
      assert.ok(inbox?.status !== undefined, 'STATUS returned with LIST');
      assert.equal(inbox.status.messages, 3);
      assert.ok(sent(/LIST .*RETURN \(.*STATUS \(/), 'LIST RETURN (STATUS) was used');

      await c.mailboxCreate('Work');
      await c.mailboxOpen('INBOX');
      const copied = await c.messageCopy(String(reportUid), 'Work', { uid: true });
      assert.ok(copied !== false);
      const workUid = copied.uidMap?.get(reportUid);
      assert.ok(typeof workUid === 'number', 'COPYUID');
      assert.deepEqual(await storedBytes(ALICE, 'Work', workUid), MULTIPART);

      // BINARY[2] (RFC 3516): the server removes the base64 itself.
      await c.mailboxOpen('Work');
      const bin = await c.download(String(workUid), '2', { uid: true, binary: true });
      assert.ok(bin.content !== undefined, 'binary part found');
      const chunks: Buffer[] = [];
      for await (const chunk of bin.content) chunks.push(chunk as Buffer);
      assert.deepEqual(Buffer.concat(chunks), ATTACHMENT);
      assert.ok(sent(/BINARY\.PEEK\[2\]/), 'FETCH BINARY.PEEK[2] was used');

      // rev2 SEARCH (ESEARCH answer) by header and by body text.
      assert.deepEqual(await c.search({ from: 'alice@example.test' }, { uid: true }), [workUid]);
      assert.deepEqual(await c.search({ body: 'report is attached' }, { uid: true }), [workUid]);
      assert.deepEqual(await c.search({ subject: 'no such subject' }, { uid: true }), []);

      // \Deleted plus UID EXPUNGE (UIDPLUS), then rename and delete the emptied mailbox.
      assert.equal(await c.messageDelete(String(workUid), { uid: true }), true);
      assert.deepEqual(await server.store.listMessages(await server.mailboxId(ALICE, 'Work')), []);
      assert.ok(sent(/UID EXPUNGE /), 'UID EXPUNGE was used');
      await c.mailboxClose();
      const renamed = await c.mailboxRename('Work', 'Work-2026');
      assert.equal(renamed.newPath, 'Work-2026');
      const deleted = await c.mailboxDelete('Work-2026');
      assert.equal(deleted.path, 'Work-2026');
      const after = await c.list();
      assert.ok(!after.some((e) => e.path.startsWith('Work')), after.map((e) => e.path).join(', '));
    });
  });

  void it('non-ASCII mailbox names: UTF8=ACCEPT and modified UTF-7 clients see the same mailbox', async () => {
    const name = '\u00c9t\u00e9/Rapports \u2713';
    await withClient({}, async (c, log) => {
      // imapflow enables UTF8=ACCEPT: the name travels as UTF-8.
      await c.mailboxCreate(name);
      assert.ok(
        log.lines.some((l) => l.includes('CREATE') && l.includes('\u00c9t\u00e9')),
        'CREATE sent in UTF-8',
      );
      const listed = await c.list();
      assert.ok(
        listed.some((e) => e.path === name),
        listed.map((e) => e.path).join(', '),
      );
      const r = await c.append(name, simple('In a UTF-8 mailbox'), []);
      assert.ok(r !== false);
    });
    const account = await server.store.getAccount(ALICE);
    assert.ok((await server.store.getMailbox(account!.id, name)) !== null, 'stored under its Unicode name');
    await withClient({ disableAutoEnable: true, disableIMAP4rev2: true }, async (c, log) => {
      // No ENABLE: names are modified UTF-7 (RFC 3501 §5.1.3) on the wire.
      const listed = await c.list();
      assert.ok(
        listed.some((e) => e.path === name),
        listed.map((e) => e.path).join(', '),
      );
      assert.ok(
        log.lines.some((l) => l.includes('&AMk-t&AOk-/Rapports &JxM-')),
        'LIST answered in modified UTF-7',
      );
      const box = await c.mailboxOpen(name);
      assert.equal(box.exists, 1);
    });
  });

  void it('a 3 MB message: streamed source and chunked partial download byte-exact', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
    const body = base64Lines(big);
    const raw = Buffer.from(
      'From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: Big one\r\n' +
        'Date: Fri, 27 Nov 2026 09:00:00 +0000\r\nMessage-ID: <big@example.test>\r\nMIME-Version: 1.0\r\n' +
        'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n' +
        '--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
        body +
        '--x--\r\n',
    );
    const uid = await server.deliver(BOB, 'Archive', raw);
    await withClient({ user: BOB }, async (c) => {
      await c.mailboxOpen('Archive');
      const full = await c.fetchOne(String(uid), { source: true, size: true }, { uid: true });
      assert.ok(full !== false);
      assert.equal(full.size, raw.length);
      assert.ok(full.source!.equals(raw), 'BODY[] byte-exact');
      // download() asks for the part in BODY.PEEK[2]<offset.65536> pieces.
      const dl = await c.download(String(uid), '2', { uid: true });
      assert.ok(dl.content !== undefined);
      const chunks: Buffer[] = [];
      for await (const chunk of dl.content) chunks.push(chunk as Buffer);
      assert.ok(Buffer.concat(chunks).equals(big), 'decoded attachment byte-exact');
    });
  });

  void it('auto-IDLE between commands: each command ends IDLE with DONE and is answered', async () => {
    await withClient({ disableAutoIdle: false, autoIdleDelay: 20 }, async (c, log) => {
      await c.mailboxOpen('INBOX');
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 60));
        const m = await c.fetchOne('1', { uid: true, flags: true });
        assert.ok(m !== false, `fetch ${i} after IDLE`);
        assert.equal(m.uid, reportUid);
      }
      assert.ok(
        log.lines.filter((l) => /^debug \S+ IDLE$/.test(l)).length >= 3,
        'IDLE was started between the commands',
      );
    });
  });

  void it('an IMAP4rev1-only client (no ENABLE IMAP4rev2) reads and searches', async () => {
    await withClient({ disableIMAP4rev2: true }, async (c) => {
      const box = await c.mailboxOpen('INBOX', { readOnly: true });
      assert.equal(box.readOnly, true);
      const unseen = await c.search({ seen: false }, { uid: true });
      assert.ok(Array.isArray(unseen));
      assert.ok(unseen.includes(reportUid), `unseen uids ${JSON.stringify(unseen)}`);
      const bySubject = await c.search({ subject: 'quarterly' }, { uid: true });
      assert.deepEqual(bySubject, [reportUid]);
      const head = await c.fetchOne('1', { headers: ['subject', 'message-id'] });
      assert.ok(head !== false);
      assert.equal(
        head.headers!.toString('latin1'),
        'Subject: Quarterly report\r\nMessage-ID: <report-1@example.test>\r\n\r\n',
      );
    });
  });
});
