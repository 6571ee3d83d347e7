// Debian's IMAP clients against the real `postern serve` process (issue 4): curl's imap:// (with
// --ssl-reqd, so STARTTLS) and imaps:// (LIST, FETCH by UID byte-exact, SEARCH, APPEND by
// upload); mbsync (isync) syncing a mailbox with a local Maildir in both directions (messages
// down, a new message and flag changes up and down, deletions both ways); an IDLE session told
// of a message that another process (`postern import`) stored; mutt in batch mode under a
// pseudo-terminal (script(1)) over imaps and over STARTTLS (pipe a message to a file, flag,
// delete and expunge). The server's self-signed certificate (data/tls/cert.pem, which names
// 127.0.0.1) is given to each client as trusted, so certificate verification stays on. Server
// state is checked over IMAP with the test's own raw client connection.
// test/system/postern-process.ts is not used: it configures no IMAP listeners.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { IMAP_PASSWORDS, RawImapClient } from '../integration/imap-harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const POSTERN_CLI = path.resolve(here, '../../src/cli/main.js');
const ALICE = 'alice@example.test';
const PASSWORD = IMAP_PASSWORDS[ALICE]!;

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program without a shell; never rejects (the caller asserts on the code). */
function run(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (err = (err + s).slice(-200_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout: Buffer.alloc(0), stderr: String(e) });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.end(opts.input ?? '');
  });
}

function crlfToLf(b: Buffer): Buffer {
  return Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

/** Messages APPENDed to INBOX before the tests (the first one \Seen). */
const SEED = [
  {
    bytes: Buffer.from(
      'From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: Seed one\r\n' +
        'Date: Fri, 27 Nov 2026 09:00:00 +0000\r\nMessage-ID: <seed1@example.test>\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
        'Body one, caf\u00e9.\r\nSecond line.\r\n',
      'utf8',
    ),
  },
  {
    bytes: Buffer.from(
      'From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: Seed two\r\n' +
        'Date: Fri, 27 Nov 2026 09:01:00 +0000\r\nMessage-ID: <seed2@example.test>\r\n\r\nBody two.\r\n',
    ),
  },
];

interface ImapProcess {
  dir: string;
  certPath: string;
  imap: number;
  imaps: number;
  /** Runs `postern --config FILE ...args` as a separate process; rejects on a non-zero exit. */
  cli(args: string[], input?: string): Promise<void>;
  stderr(): string;
  stop(): Promise<void>;
}

/** `postern serve` with imap and imaps on free loopback ports and one user. */
async function startImapProcess(): Promise<ImapProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-imap-clients-'));
  let dns: DnsTestServer | null = null;
  let child: ChildProcess | null = null;
  try {
    dns = await startDnsServer({});
    const configFile = path.join(dir, 'postern.toml');
    await writeFile(
      configFile,
      [
        'hostname = "mail.example.test"',
        'data_dir = "data"',
        '[listen]',
        'smtp = ""',
        'submission = ""',
        'submissions = ""',
        'imap = "127.0.0.1:0"',
        'imaps = "127.0.0.1:0"',
        'pop3 = ""',
        'pop3s = ""',
        'http = ""',
        '[server]',
        'shutdown_grace = 2',
        'workers = 1',
        '[dns]',
        `servers = ["${dns.address}"]`,
        '[log]',
        'level = "error"',
        '',
      ].join('\n'),
    );
    const cli = async (args: string[], input = ''): Promise<void> => {
      const r = await run(process.execPath, [POSTERN_CLI, '--config', configFile, ...args], {
        input,
        timeoutMs: 60_000,
      });
      if (r.code !== 0) throw new Error(`postern ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    };
    await cli(['domain', 'add', 'example.test']);
    await cli(['user', 'add', ALICE, '--password-stdin'], `${PASSWORD}\n`);
    const started = spawn(process.execPath, [POSTERN_CLI, '--config', configFile, 'serve'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    let out = '';
    let err = '';
    started.stderr.setEncoding('utf8');
    started.stderr.on('data', (s: string) => (err = (err + s).slice(-20_000)));
    const exited = new Promise<number | string>((resolve) => {
      started.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    });
    const ports = await new Promise<{ imap: number; imaps: number }>((resolve, reject) => {
      const timer = setTimeout(() => {
        started.kill('SIGKILL');
        reject(new Error(`postern serve not ready: ${out} ${err}`));
      }, 20_000);
      started.stdout.setEncoding('utf8');
      started.stdout.on('data', (s: string) => {
        if (out.length < 10_000) out += s;
        const imap = /^ +imap +127\.0\.0\.1:(\d+)$/m.exec(out);
        const imaps = /^ +imaps +127\.0\.0\.1:(\d+)$/m.exec(out);
        if (imap !== null && imaps !== null) {
          clearTimeout(timer);
          resolve({ imap: Number(imap[1]), imaps: Number(imaps[1]) });
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`postern serve exited (${code}) before ready: ${out} ${err}`));
      });
    });
    const dnsServer = dns;
    return {
      dir,
      certPath: path.join(dir, 'data', 'tls', 'cert.pem'),
      ...ports,
      cli,
      stderr: () => err,
      async stop() {
        if (started.exitCode === null && started.signalCode === null) {
          started.kill('SIGTERM');
          const timer = setTimeout(() => started.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        await dnsServer.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (child !== null && child.exitCode === null) child.kill('SIGKILL');
    if (dns !== null) await dns.close();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

interface ServerMessage {
  uid: number;
  flags: string[];
  bytes: Buffer;
}

/**
 * Every message of a mailbox (UID, flags, BODY[]) as the server holds it, read with EXAMINE on
 * the test's own connection (one login: each costs the password hash's time).
 */
async function serverMessages(c: RawImapClient, mailbox: string): Promise<ServerMessage[]> {
  const ex = await c.command(`EXAMINE ${mailbox}`);
  assert.equal(ex.status, 'OK', ex.tagged);
  const exists = ex.untagged.find((l) => / EXISTS$/.test(l));
  if (exists === '* 0 EXISTS') return [];
  const r = await c.command('UID FETCH 1:* (UID FLAGS BODY.PEEK[])');
  assert.equal(r.status, 'OK', r.tagged);
  const out: ServerMessage[] = [];
  for (const line of r.untagged) {
    const body = /BODY\[\] \{(\d+)\}\r\n/.exec(line);
    if (body === null) continue;
    const start = body.index + body[0].length;
    // UID and FLAGS are looked for outside the literal only.
    const rest = line.slice(0, body.index) + line.slice(start + Number(body[1]));
    const uid = /\bUID (\d+)/.exec(rest);
    const flags = /\bFLAGS \(([^)]*)\)/.exec(rest);
    if (uid === null || flags === null) continue;
    out.push({
      uid: Number(uid[1]),
      flags: flags[1]!.split(' ').filter((f) => f !== ''),
      bytes: Buffer.from(line.slice(start, start + Number(body[1])), 'latin1'),
    });
  }
  return out;
}

/** Runs IMAP commands on the test's connection (changes made "by another client"). */
async function imapCommands(c: RawImapClient, commands: string[]): Promise<void> {
  for (const cmd of commands) {
    const r = await c.command(cmd);
    assert.equal(r.status, 'OK', `${cmd}: ${r.tagged}`);
  }
}

/** APPENDs a message (LITERAL+) as alice; returns its UID from APPENDUID (RFC 4315). */
async function imapAppend(c: RawImapClient, mailbox: string, flags: string, bytes: Buffer): Promise<number> {
  const tag = c.tag();
  c.write(`${tag} APPEND ${mailbox} (${flags}) {${bytes.length}+}\r\n`);
  c.write(bytes);
  c.write('\r\n');
  const r = await c.until(tag);
  assert.equal(r.status, 'OK', r.tagged);
  const uid = /\[APPENDUID \d+ (\d+)\]/.exec(r.tagged);
  assert.ok(uid !== null, r.tagged);
  return Number(uid[1]);
}

void describe('Debian IMAP clients against postern serve', () => {
  let server: ImapProcess;
  /** The test's own IMAP connection, for setup and for checking the server's state. */
  let admin: RawImapClient;
  /** UIDs of SEED[0] and SEED[1] in INBOX. */
  const seedUid: number[] = [];
  before(async () => {
    server = await startImapProcess();
    admin = await RawImapClient.login(server.imap, ALICE);
    seedUid.push(await imapAppend(admin, 'INBOX', '\\Seen', SEED[0]!.bytes));
    seedUid.push(await imapAppend(admin, 'INBOX', '', SEED[1]!.bytes));
    const inbox = await serverMessages(admin, 'INBOX');
    assert.deepEqual(
      inbox.map((m) => [m.uid, m.bytes.toString('latin1')]),
      SEED.map((m, i) => [seedUid[i], m.bytes.toString('latin1')]),
      'seeded byte-exact',
    );
  });
  after(async () => {
    admin?.destroy();
    await server?.stop();
  });

  void describe('curl', () => {
    const auth = (): string[] => ['-sS', '--cacert', server.certPath, '-u', `${ALICE}:${PASSWORD}`];
    const curl = async (args: string[]): Promise<Run> => {
      const r = await run('curl', [...auth(), ...args]);
      if (r.code !== 0) {
        // Again with -v so that the failure shows the IMAP exchange.
        const v = await run('curl', [...auth(), '-v', ...args]);
        assert.fail(`curl ${args.join(' ')}: exit ${r.code}: ${r.stderr}\n${v.stderr}`);
      }
      return r;
    };

    void it('imaps:// lists the mailboxes with their special-use attributes', async () => {
      const r = await curl([`imaps://127.0.0.1:${server.imaps}/`]);
      const lines = r.stdout.toString('utf8').trim().split(/\r?\n/);
      const names = lines.map((l) => l.slice(l.lastIndexOf(' ') + 1).replace(/"/g, ''));
      for (const n of ['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive']) {
        assert.ok(names.includes(n), `${n} in ${JSON.stringify(lines)}`);
      }
      assert.ok(
        lines.some((l) => /^\* LIST \(.*\\Sent.*\) "\/" "?Sent"?$/.test(l)),
        lines.join('\n'),
      );
    });

    void it('imap:// with --ssl-reqd (STARTTLS) fetches a message by UID byte-exact', async () => {
      const r = await curl(['--ssl-reqd', `imap://127.0.0.1:${server.imap}/INBOX/;UID=${seedUid[0]}`]);
      assert.equal(r.stdout.toString('latin1'), SEED[0]!.bytes.toString('latin1'));
      const text = await curl([
        '--ssl-reqd',
        `imap://127.0.0.1:${server.imap}/INBOX/;UID=${seedUid[1]}/;SECTION=TEXT`,
      ]);
      assert.equal(text.stdout.toString('latin1'), 'Body two.\r\n');
    });

    void it('imaps:// fetches by UID, searches, and uploads with APPEND', async () => {
      const one = await curl([`imaps://127.0.0.1:${server.imaps}/INBOX/;UID=${seedUid[1]}`]);
      assert.equal(one.stdout.toString('latin1'), SEED[1]!.bytes.toString('latin1'));
      // curl's search URL sends SEARCH (message sequence numbers): seed two is the only match.
      const search = await curl([`imaps://127.0.0.1:${server.imaps}/INBOX?SUBJECT%20%22seed%20two%22`]);
      const seqOfTwo = [...seedUid].sort((a, b) => a - b).indexOf(seedUid[1]!) + 1;
      assert.equal(search.stdout.toString('latin1').trim(), `* SEARCH ${seqOfTwo}`);
      const upload = Buffer.from(
        'From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Sent by curl\r\n' +
          'Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <curl1@example.test>\r\n\r\nUploaded.\r\n',
      );
      const file = path.join(server.dir, 'upload.eml');
      await writeFile(file, upload);
      await curl(['-T', file, `imaps://127.0.0.1:${server.imaps}/Sent`]);
      const sent = await serverMessages(admin, 'Sent');
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.bytes.toString('latin1'), upload.toString('latin1'));
      const back = await curl([`imaps://127.0.0.1:${server.imaps}/Sent/;UID=${sent[0]!.uid}`]);
      assert.equal(back.stdout.toString('latin1'), upload.toString('latin1'));
    });
  });

  void describe('mbsync (isync)', () => {
    // Its own mailbox on the server ("Sync", holding the seeded messages again, seed one
    // \Seen) so that the other suites may run in any order.
    const BOX = 'Sync';
    let work: string;
    let rc: string;
    let near: string;

    before(async () => {
      await imapCommands(admin, [`CREATE ${BOX}`]);
      await imapAppend(admin, BOX, '\\Seen', SEED[0]!.bytes);
      await imapAppend(admin, BOX, '', SEED[1]!.bytes);
      work = path.join(server.dir, 'mbsync');
      near = path.join(work, 'near');
      await mkdir(near, { recursive: true });
      rc = path.join(work, 'mbsyncrc');
      await writeFile(
        rc,
        [
          'IMAPAccount postern',
          'Host 127.0.0.1',
          `Port ${server.imap}`,
          `User ${ALICE}`,
          `Pass ${PASSWORD}`,
          'SSLType STARTTLS',
          `CertificateFile ${server.certPath}`,
          '',
          'IMAPStore far',
          'Account postern',
          '',
          'MaildirStore near',
          `Path ${near}/`,
          `Inbox ${near}/INBOX`,
          'SubFolders Verbatim',
          '',
          'Channel sync',
          'Far :far:',
          'Near :near:',
          `Patterns ${BOX}`,
          'Create Both',
          'Expunge Both',
          'SyncState *',
          'Sync All',
          '',
          // A second channel over IMAPS for the bulk test (Create Both makes the far mailbox).
          'IMAPAccount postern-tls',
          'Host 127.0.0.1',
          `Port ${server.imaps}`,
          `User ${ALICE}`,
          `Pass ${PASSWORD}`,
          'SSLType IMAPS',
          `CertificateFile ${server.certPath}`,
          '',
          'IMAPStore far-tls',
          'Account postern-tls',
          '',
          'Channel bulk',
          'Far :far-tls:',
          'Near :near:',
          'Patterns Bulk',
          'Create Both',
          'Expunge Both',
          'SyncState *',
          'Sync All',
          '',
        ].join('\n'),
      );
    });

    const mbsync = async (channel = 'sync'): Promise<void> => {
      const r = await run('mbsync', ['-c', rc, channel]);
      if (r.code !== 0) {
        const v = await run('mbsync', ['-c', rc, '-V', '-D', channel]);
        assert.fail(
          `mbsync exit ${r.code}: ${r.stderr}\n--- again with -V -D ---\n` +
            `${v.stdout.toString().slice(-20_000)}${v.stderr.slice(-20_000)}`,
        );
      }
    };

    /** mbsync writes an X-TUID header into every message it propagates (its own bookkeeping). */
    const withoutTuid = (b: Buffer): string => b.toString('latin1').replace(/^X-TUID: [^\r\n]*\r?\n/m, '');

    /** Files of the local copy of BOX: name, directory and content. */
    const local = async (): Promise<Array<{ file: string; dir: string; bytes: Buffer }>> => {
      const out: Array<{ file: string; dir: string; bytes: Buffer }> = [];
      for (const sub of ['cur', 'new']) {
        const d = path.join(near, BOX, sub);
        for (const f of (await readdir(d)).sort()) {
          out.push({ file: f, dir: d, bytes: await readFile(path.join(d, f)) });
        }
      }
      return out;
    };
    const flagsOf = (file: string): string => /:2,([A-Z]*)$/.exec(file)?.[1] ?? '';
    /** The file name with its Maildir info set to `flags` (moved to cur/). */
    const withFlags = (file: string, flags: string): string =>
      `${file.replace(/:2,[A-Z]*$/, '')}:2,${[...flags].sort().join('')}`;

    void it('syncs down, then a new message, a flag change and deletions both ways', async () => {
      // 1. Down: the server's messages appear in the Maildir (mbsync stores LF line ends).
      await mbsync();
      let files = await local();
      assert.equal(files.length, 2, files.map((f) => f.file).join(', '));
      const one = files.find((f) => withoutTuid(f.bytes) === crlfToLf(SEED[0]!.bytes).toString('latin1'));
      const two = files.find((f) => withoutTuid(f.bytes) === crlfToLf(SEED[1]!.bytes).toString('latin1'));
      assert.ok(
        one !== undefined && two !== undefined,
        `seeded messages byte-exact in:\n${files.map((f) => f.bytes.toString('latin1')).join('\n---\n')}`,
      );
      assert.equal(flagsOf(one.file), 'S', `\\Seen became S: ${one.file}`);
      assert.equal(flagsOf(two.file), '', `no flags: ${two.file}`);

      // 2. Up: a new local message, and \Flagged set locally on seed two.
      const fresh = Buffer.from(
        'From: Alice <alice@example.test>\nTo: Bob <bob@example.test>\nSubject: Written offline\n' +
          'Date: Fri, 27 Nov 2026 11:00:00 +0000\nMessage-ID: <offline1@example.test>\n\nOffline body.\n',
      );
      await writeFile(path.join(near, BOX, 'new', '1800000000.offline1.near'), fresh);
      await rename(path.join(two.dir, two.file), path.join(near, BOX, 'cur', withFlags(two.file, 'F')));
      await mbsync();
      let onServer = await serverMessages(admin, BOX);
      assert.equal(onServer.length, 3, JSON.stringify(onServer.map((m) => [m.uid, m.flags])));
      const uploaded = onServer.find((m) => m.bytes.toString('latin1').includes('Subject: Written offline'));
      assert.ok(uploaded !== undefined, 'the new message reached the server');
      // Uploaded with CRLF line ends.
      assert.equal(withoutTuid(uploaded.bytes), fresh.toString('latin1').replace(/\n/g, '\r\n'));
      const seedTwo = onServer.find((m) => m.bytes.equals(SEED[1]!.bytes));
      assert.ok(seedTwo !== undefined, 'seed two unchanged on the server');
      assert.ok(seedTwo.flags.includes('\\Flagged'), `flag synced up: ${seedTwo.flags.join(' ')}`);

      // 3. Deletions: seed one expunged on the server by another client, the offline message
      // trashed locally (T); Expunge Both removes each on the other side.
      const seedOne = onServer.find((m) => m.bytes.equals(SEED[0]!.bytes));
      assert.ok(seedOne !== undefined);
      await imapCommands(admin, [`SELECT ${BOX}`, `UID STORE ${seedOne.uid} +FLAGS (\\Deleted)`, 'EXPUNGE']);
      files = await local();
      const offline = files.find((f) => f.bytes.toString('latin1').includes('Subject: Written offline'));
      assert.ok(offline !== undefined, 'the offline message is still local');
      await rename(
        path.join(offline.dir, offline.file),
        path.join(near, BOX, 'cur', withFlags(offline.file, flagsOf(offline.file) + 'T')),
      );
      await mbsync();
      files = await local();
      assert.equal(files.length, 1, files.map((f) => f.file).join(', '));
      assert.equal(withoutTuid(files[0]!.bytes), crlfToLf(SEED[1]!.bytes).toString('latin1'));
      assert.equal(flagsOf(files[0]!.file), 'F');
      onServer = await serverMessages(admin, BOX);
      assert.deepEqual(
        onServer.map((m) => m.bytes.toString('latin1')),
        [SEED[1]!.bytes.toString('latin1')],
        'only seed two is left on the server',
      );

      // 4. A flag changed on the server comes down; a further sync is then a no-op.
      await imapCommands(admin, [
        `SELECT ${BOX}`,
        `UID STORE ${onServer[0]!.uid} +FLAGS (\\Seen \\Answered)`,
      ]);
      await mbsync();
      files = await local();
      assert.equal(files.length, 1);
      assert.equal(flagsOf(files[0]!.file), 'FRS');
      await mbsync();
      assert.equal((await local()).length, 1);
      assert.equal((await serverMessages(admin, BOX)).length, 1);
    });

    void it('over IMAPS, 60 messages each way (mbsync pipelines its APPENDs and FETCHes)', async () => {
      const bulk = path.join(near, 'Bulk');
      for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(bulk, sub), { recursive: true });
      const mk = (who: string, i: number): string =>
        `From: ${who} <${who}@example.test>\nTo: Alice <alice@example.test>\nSubject: ${who} ${i}\n` +
        `Message-ID: <${who}-${i}@example.test>\n\n${'Line of text.\n'.repeat(i + 1)}`;
      for (let i = 0; i < 60; i++) {
        await writeFile(path.join(bulk, 'new', `1800000000.near${i}.host`), mk('near', i));
      }
      await mbsync('bulk');
      const up = await serverMessages(admin, 'Bulk');
      assert.equal(up.length, 60);
      const upTexts = new Set(
        up.map((m) => m.bytes.toString('latin1').replace(/^X-TUID: [^\r\n]*\r\n/m, '')),
      );
      for (let i = 0; i < 60; i++) {
        assert.ok(upTexts.has(mk('near', i).replace(/\n/g, '\r\n')), `near ${i} uploaded byte-exact`);
      }
      // 60 APPENDs pipelined on the test's connection (LITERAL+), answered in order.
      const tags: string[] = [];
      for (let i = 0; i < 60; i++) {
        const bytes = Buffer.from(mk('far', i).replace(/\n/g, '\r\n'));
        const tag = admin.tag();
        tags.push(tag);
        admin.write(`${tag} APPEND Bulk (${i % 2 === 0 ? '\\Seen' : ''}) {${bytes.length}+}\r\n`);
        admin.write(bytes);
        admin.write('\r\n');
      }
      for (const tag of tags) assert.equal((await admin.until(tag)).status, 'OK');
      await mbsync('bulk');
      const texts = new Map<string, string>();
      for (const sub of ['cur', 'new']) {
        for (const f of await readdir(path.join(bulk, sub))) {
          const text = await readFile(path.join(bulk, sub, f), 'latin1');
          texts.set(text.replace(/^X-TUID: [^\n]*\n/m, ''), f);
        }
      }
      assert.equal(texts.size, 120);
      for (let i = 0; i < 60; i++) {
        const file = texts.get(mk('far', i));
        assert.ok(file !== undefined, `far ${i} downloaded byte-exact`);
        assert.equal(flagsOf(file), i % 2 === 0 ? 'S' : '', `far ${i}: ${file}`);
      }
    });
  });

  void describe('IDLE across processes', () => {
    void it('a message imported by another process (postern import) reaches an IDLE session within a second', async () => {
      const box = 'Watched';
      await imapCommands(admin, [`CREATE ${box}`]);
      const watcher = await RawImapClient.login(server.imap, ALICE);
      try {
        const sel = await watcher.command(`SELECT ${box}`);
        assert.ok(sel.untagged.includes('* 0 EXISTS'), sel.untagged.join('\n'));
        watcher.write('i1 IDLE\r\n');
        assert.match(await watcher.response(), /^\+ /);
        const mbox = path.join(server.dir, 'incoming.mbox');
        await writeFile(
          mbox,
          'From bob@example.test Fri Nov 27 12:00:00 2026\n' +
            'From: Bob <bob@example.test>\nTo: Alice <alice@example.test>\nSubject: Imported\n' +
            'Date: Fri, 27 Nov 2026 12:00:00 +0000\nMessage-ID: <import1@example.test>\n\nImported body.\n',
        );
        await server.cli(['import', ALICE, mbox, '--mailbox', box]);
        const importedAt = Date.now();
        const untagged = await watcher.response(1000);
        assert.equal(untagged, '* 1 EXISTS', 'EXISTS within a second of the import');
        assert.ok(Date.now() - importedAt <= 1000);
        watcher.write('DONE\r\n');
        const done = await watcher.until('i1');
        assert.equal(done.status, 'OK', done.tagged);
      } finally {
        watcher.destroy();
      }
    });
  });

  void describe('mutt', () => {
    /**
     * Runs mutt on `url` (a mailbox), in batch: `keys` are pushed, then it quits. mutt needs a
     * terminal: script(1) gives it a pseudo-terminal. Returns the run and the screen text.
     */
    const mutt = async (
      name: string,
      url: string,
      settings: string[],
      keys: string,
    ): Promise<{ run: Run; screen: string }> => {
      const work = path.join(server.dir, `mutt-${name}`);
      await mkdir(work, { recursive: true });
      const muttrc = path.join(work, 'muttrc');
      await writeFile(
        muttrc,
        [
          `set imap_user="${ALICE}"`,
          `set imap_pass="${PASSWORD}"`,
          `set certificate_file="${server.certPath}"`,
          'set ssl_force_tls=yes',
          // The server is the folder root: otherwise mutt asks whether to create ~/Mail.
          `set folder="${url.slice(0, url.lastIndexOf('/') + 1)}"`,
          'set header_cache=""',
          'set message_cachedir=""',
          'set wait_key=no',
          'set quit=yes',
          'set move=no',
          'set mark_old=no',
          'set timeout=5',
          'set sleep_time=0',
          ...settings,
          '',
        ].join('\n'),
      );
      const script = path.join(work, 'run.sh');
      await writeFile(script, `exec mutt -n -F '${muttrc}' -f '${url}' -e 'push "${keys}<quit>"'\n`);
      const r = await run('script', ['-qec', `sh '${script}'`, '/dev/null'], {
        env: { ...process.env, TERM: 'vt100', HOME: work, COLUMNS: '100', LINES: '30' },
        timeoutMs: 20_000,
      });
      const screen = r.stdout
        .toString('latin1')
        .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ' ')
        .slice(-1500);
      return { run: r, screen };
    };

    const muttMessage = (subject: string): Buffer =>
      Buffer.from(
        `From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: ${subject}\r\n` +
          `Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\r\n\r\n` +
          `Read by mutt: caf\u00e9.\r\nLine two.\r\n`,
        'utf8',
      );

    void it('imaps: pipes a message to a file byte for byte (LF line ends), flags it', async () => {
      // A mailbox of its own, so that the other suites do not matter.
      const msg = muttMessage('For mutt over imaps');
      await imapCommands(admin, ['CREATE MuttBox']);
      await imapAppend(admin, 'MuttBox', '', msg);
      const out = path.join(server.dir, 'mutt-piped.eml');
      const { run: r, screen } = await mutt(
        'imaps',
        `imaps://127.0.0.1:${server.imaps}/MuttBox`,
        [],
        `<pipe-message>cat > ${out}<enter><flag-message>`,
      );
      const piped = await readFile(out).catch(() => null);
      assert.ok(piped !== null, `mutt wrote no file (exit ${r.code}); screen: ${screen}`);
      assert.equal(piped.toString('latin1'), crlfToLf(msg).toString('latin1'));
      assert.equal(r.code, 0, `mutt exit ${r.code}; screen: ${screen}`);
      // The flag set in mutt was stored on the server when mutt closed the mailbox.
      const [m] = await serverMessages(admin, 'MuttBox');
      assert.ok(m !== undefined);
      assert.ok(m.flags.includes('\\Flagged'), m.flags.join(' '));
    });

    void it('imap with STARTTLS: reads the first message, deletes it, expunges on quit', async () => {
      const keep = muttMessage('Kept by mutt');
      const gone = muttMessage('Deleted by mutt');
      await imapCommands(admin, ['CREATE MuttStarttls']);
      await imapAppend(admin, 'MuttStarttls', '', gone);
      await imapAppend(admin, 'MuttStarttls', '', keep);
      const out = path.join(server.dir, 'mutt-starttls.eml');
      const { run: r, screen } = await mutt(
        'starttls',
        `imap://127.0.0.1:${server.imap}/MuttStarttls`,
        ['set ssl_starttls=yes', 'set delete=yes', 'set sort=mailbox-order'],
        `<pipe-message>cat > ${out}<enter><delete-message>`,
      );
      const piped = await readFile(out).catch(() => null);
      assert.ok(piped !== null, `mutt wrote no file (exit ${r.code}); screen: ${screen}`);
      assert.equal(piped.toString('latin1'), crlfToLf(gone).toString('latin1'));
      assert.equal(r.code, 0, `mutt exit ${r.code}; screen: ${screen}`);
      const left = await serverMessages(admin, 'MuttStarttls');
      assert.deepEqual(
        left.map((m) => m.bytes.toString('latin1')),
        [keep.toString('latin1')],
        'the deleted message was expunged',
      );
    });
  });
});
