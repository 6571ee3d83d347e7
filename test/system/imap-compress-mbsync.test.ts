// mbsync (isync, built with zlib) over COMPRESS=DEFLATE (RFC 4978) inside TLS: it pulls a
// mailbox of 40 messages (small ones, 8bit text, a few of several hundred KB) into a Maildir,
// then uploads messages written locally. Its network debug output (-Dn) must show COMPRESS
// DEFLATE answered OK; every Maildir file must equal the server's message (mbsync stores LF line
// ends and adds its X-TUID header, as without compression), and every upload must be stored
// byte-exact with CRLF. The server is the in-process IMAP harness (real listeners, real store).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IMAP_PASSWORDS, startImapServer, type ImapTestServer } from '../integration/imap-harness.js';

const ALICE = 'alice@example.test';

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (b: Buffer): void => {
      out = (out + b.toString('latin1')).slice(-4_000_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, out: String(e) });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const toLf = (b: Buffer): string => b.toString('latin1').replace(/\r\n/g, '\n');
const withoutTuid = (text: string): string => text.replace(/^X-TUID: [^\n]*\n/m, '');

function serverMessage(i: number): Buffer {
  const head =
    `From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: Compressed ${i}\r\n` +
    `Date: Fri, 27 Nov 2026 09:00:00 +0000\r\nMessage-ID: <z${i}@example.test>\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n';
  const line = `Line ${i}: caf\u00e9, na\u00efve, \u00fcber; the same words again and again.\r\n`;
  const lines = i % 10 === 0 ? 6000 + i * 100 : 1 + i;
  return Buffer.from(head + line.repeat(lines), 'utf8');
}

void describe('mbsync over COMPRESS=DEFLATE', () => {
  let server: ImapTestServer;
  let work: string;
  let rc: string;
  const sent: Buffer[] = [];

  before(async () => {
    server = await startImapServer();
    const account = (await server.store.getAccount(ALICE))!;
    await server.store.createMailbox(account.id, 'Zipped');
    for (let i = 0; i < 40; i++) {
      const bytes = serverMessage(i);
      sent.push(bytes);
      await server.deliver(ALICE, 'Zipped', bytes);
    }
    work = path.join(server.dir, 'mbsync');
    await mkdir(path.join(work, 'near'), { recursive: true });
    rc = path.join(work, 'mbsyncrc');
    await writeFile(
      rc,
      [
        'IMAPAccount postern',
        'Host 127.0.0.1',
        `Port ${server.ports.imaps}`,
        `User ${ALICE}`,
        `Pass ${IMAP_PASSWORDS[ALICE]}`,
        'SSLType IMAPS',
        `CertificateFile ${path.join(server.config.dataDir, 'tls', 'cert.pem')}`,
        '',
        'IMAPStore far',
        'Account postern',
        '',
        'MaildirStore near',
        `Path ${path.join(work, 'near')}/`,
        `Inbox ${path.join(work, 'near', 'INBOX')}`,
        'SubFolders Verbatim',
        '',
        'Channel zipped',
        'Far :far:',
        'Near :near:',
        'Patterns Zipped',
        'Create Both',
        'Expunge Both',
        'SyncState *',
        'Sync All',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await server.close();
  });

  async function mbsync(): Promise<string> {
    const r = await run('mbsync', ['-c', rc, '-Dn', 'zipped']);
    assert.equal(r.code, 0, `mbsync failed:\n${r.out.slice(-20_000)}`);
    return r.out;
  }

  async function localTexts(): Promise<string[]> {
    const texts: string[] = [];
    for (const sub of ['cur', 'new']) {
      const dir = path.join(work, 'near', 'Zipped', sub);
      for (const f of await readdir(dir)) texts.push(await readFile(path.join(dir, f), 'latin1'));
    }
    return texts;
  }

  void it('pulls 40 messages byte-exact and pushes new ones, with COMPRESS DEFLATE in force', async () => {
    const log = await mbsync();
    assert.match(log, /COMPRESS DEFLATE/, 'mbsync sent COMPRESS DEFLATE');
    assert.match(log, /\S+ OK DEFLATE active/, 'the server answered OK');

    const local = (await localTexts()).map(withoutTuid).sort();
    const expected = sent.map(toLf).sort();
    assert.equal(local.length, expected.length);
    for (let i = 0; i < expected.length; i++) assert.ok(local[i] === expected[i], `message ${i} differs`);

    // Up: five messages written locally reach the server with CRLF line ends, byte-exact.
    const up: string[] = [];
    for (let i = 0; i < 5; i++) {
      const text =
        `From: Alice <alice@example.test>\nTo: Bob <bob@example.test>\nSubject: Up ${i}\n` +
        `Message-ID: <up${i}@example.test>\n\n${'Uploaded through the compressor.\n'.repeat(200 * (i + 1))}`;
      up.push(text);
      await writeFile(path.join(work, 'near', 'Zipped', 'new', `1800000000.up${i}.near`), text);
    }
    const again = await mbsync();
    assert.match(again, /COMPRESS DEFLATE/);
    const id = await server.mailboxId(ALICE, 'Zipped');
    const metas = await server.store.listMessages(id);
    assert.equal(metas.length, 45);
    const stored = new Set<string>();
    for (const m of metas) {
      const text = (await server.blobs.readAll(m.blobId)).toString('latin1');
      stored.add(text.replace(/^X-TUID: [^\r\n]*\r\n/m, ''));
    }
    for (const text of up) assert.ok(stored.has(text.replace(/\n/g, '\r\n')), `${text.slice(0, 60)} stored`);
  });
});
