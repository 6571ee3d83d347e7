// Messages stored inline in the database (up to DEFAULT_INLINE_MAX_BYTES) and as files (larger),
// through the real server (runServer: IMAP and POP3 listeners) and real clients (Python's
// imaplib and poplib): APPEND at the threshold's edges, then FETCH whole, by section and
// partially, SEARCH BODY, POP3 RETR and TOP, all byte-exact; the same bytes appended twice are
// stored once. Bytes travel as base64 between the script and the test.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { hashPassword } from '../../src/auth/password.js';
import { runServer, type ReadyInfo } from '../../src/app/server.js';
import { DEFAULT_INLINE_MAX_BYTES } from '../../src/store/blob/inline-blob-store.js';
import { openStore } from '../../src/app/open-store.js';
import { diskUsage } from '../helpers/disk-usage.js';
import { LOOPBACK_0, tempDir, testConfig } from './server-fixture.js';

const USER = 'inline@example.test';
const PASSWORD = 'inline-secret-1';

/**
 * Reads {"imap", "pop3", "user", "password", "messages": [base64]} from stdin: APPENDs every
 * message, FETCHes each back (BODY[], BODY[TEXT], BODY[]<7.300>), SEARCHes BODY for two words,
 * then RETRs and TOPs each over POP3; prints JSON with every result (bytes in base64).
 */
const SCRIPT = String.raw`
import base64, imaplib, json, poplib, re, sys

cfg = json.loads(sys.stdin.read())
msgs = [base64.b64decode(m) for m in cfg['messages']]
out = {'appends': [], 'fetch': [], 'search': {}, 'retr': [], 'top': []}
b64 = lambda b: base64.b64encode(b).decode('ascii')

m = imaplib.IMAP4('127.0.0.1', cfg['imap'], timeout=20)
m.login(cfg['user'], cfg['password'])
for body in msgs:
    typ, data = m.append('INBOX', None, None, body)
    out['appends'].append([typ, data[0].decode('latin1')])
m.select('INBOX', readonly=True)
for i in range(1, len(msgs) + 1):
    item = {}
    for name, spec in [('whole', 'BODY.PEEK[]'), ('text', 'BODY.PEEK[TEXT]'), ('partial', 'BODY.PEEK[]<7.300>')]:
        typ, data = m.fetch(str(i), '(' + spec + ')')
        assert typ == 'OK', (typ, data)
        item[name] = b64(data[0][1])
    out['fetch'].append(item)
for word in ['needlebee', 'needlesmall']:
    typ, data = m.search(None, 'BODY', word)
    out['search'][word] = [int(x) for x in data[0].split()]
m.logout()

p = poplib.POP3('127.0.0.1', cfg['pop3'], timeout=20)
p.user(cfg['user'])
p.pass_(cfg['password'])
for i in range(1, len(msgs) + 1):
    resp, lines, octets = p.retr(i)
    out['retr'].append(b64(b''.join(l + b'\r\n' for l in lines)))
    resp, lines, octets = p.top(i, 2)
    out['top'].append(b64(b''.join(l + b'\r\n' for l in lines)))
p.quit()
print(json.dumps(out))
`;

function runScript(input: object): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`python3 exited ${code}: ${err}`));
    });
    child.stdin.end(JSON.stringify(input));
  });
}

/**
 * A message of exactly `size` bytes: 8-bit text, a line that starts with a dot (POP3 stuffing),
 * and `word` on its last line.
 */
function message(size: number, subject: string, word: string): Buffer {
  const head = Buffer.from(
    `From: <a@example.test>\r\nSubject: ${subject}\r\nContent-Type: text/plain; charset=iso-8859-1\r\n` +
      'Content-Transfer-Encoding: 8bit\r\n\r\n.a dot first\r\n',
  );
  const tail = Buffer.from(`${word}\r\n`);
  const line = Buffer.from('caf\xe9 cr\xe8me br\xfbl\xe9e, encore une fois.\r\n', 'latin1');
  const parts = [head];
  let n = head.length + tail.length;
  while (n + line.length <= size) {
    parts.push(line);
    n += line.length;
  }
  parts.push(Buffer.alloc(size - n, 0x78), tail);
  const bytes = Buffer.concat(parts);
  assert.equal(bytes.length, size);
  return bytes;
}

void test(
  'inline and file messages read back byte-exact over IMAP and POP3',
  { timeout: 120_000 },
  async () => {
    const dir = await tempDir('inline');
    try {
      const config = testConfig(dir, { listen: { imap: LOOPBACK_0, pop3: LOOPBACK_0 } });
      const opened = await openStore(config);
      await opened.store.createDomain('example.test');
      await opened.store.createAccount({ address: USER, passwordHash: await hashPassword(PASSWORD) });
      await opened.store.close();

      const T = DEFAULT_INLINE_MAX_BYTES;
      const small = message(300, 'small', 'needlesmall');
      const messages = [
        small,
        message(T, 'at the threshold', 'needlebee'),
        message(T + 1, 'one byte over', 'needlebee'),
        small, // the same bytes again: stored once
      ];
      const controller = new AbortController();
      let ready!: (info: ReadyInfo) => void;
      const readyP = new Promise<ReadyInfo>((r) => (ready = r));
      const running = runServer(config, { onReady: ready, signal: controller.signal, handleSignals: false });
      let result: {
        appends: Array<[string, string]>;
        fetch: Array<{ whole: string; text: string; partial: string }>;
        search: Record<string, number[]>;
        retr: string[];
        top: string[];
      };
      try {
        const info = await readyP;
        const port = (name: string): number => info.listeners.find((l) => l.name === name)!.port;
        result = JSON.parse(
          await runScript({
            imap: port('imap'),
            pop3: port('pop3'),
            user: USER,
            password: PASSWORD,
            messages: messages.map((m) => m.toString('base64')),
          }),
        ) as typeof result;
      } finally {
        controller.abort();
        await running;
      }

      for (const [typ, text] of result.appends) {
        assert.equal(typ, 'OK');
        assert.match(text, /APPENDUID/);
      }
      const b = (s: string): Buffer => Buffer.from(s, 'base64');
      messages.forEach((bytes, i) => {
        const what = `message ${i + 1} (${bytes.length} bytes)`;
        const f = result.fetch[i]!;
        assert.ok(b(f.whole).equals(bytes), `FETCH BODY[] of ${what}`);
        assert.ok(b(f.text).equals(bytes.subarray(bytes.indexOf('\r\n\r\n') + 4)), `BODY[TEXT] of ${what}`);
        assert.ok(b(f.partial).equals(bytes.subarray(7, 307)), `BODY[]<7.300> of ${what}`);
        assert.ok(b(result.retr[i]!).equals(bytes), `RETR of ${what}`);
        const top = bytes.subarray(0, bytes.indexOf('\r\n\r\n') + 4);
        const twoLines = bytes.subarray(top.length).toString('latin1').split('\r\n').slice(0, 2).join('\r\n');
        assert.equal(
          b(result.top[i]!).toString('latin1'),
          `${top.toString('latin1')}${twoLines}\r\n`,
          `TOP of ${what}`,
        );
      });
      assert.deepEqual(result.search, { needlebee: [2, 3], needlesmall: [1, 4] });

      // Where the bytes are: two inline (the small one once, the one at the threshold), one file.
      const usage = await diskUsage(dir);
      assert.equal(usage.inlineRows, 2);
      assert.equal(usage.inlineBytes, small.length + T);
      assert.equal(usage.blobFiles, 1);
      assert.equal(usage.blobBytes, T + 1);
      assert.equal(usage.blobRows, 3);
      assert.equal(usage.tmpFiles, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
