// Interop with Python's imaplib (standard library, python3 is on every machine) over real
// sockets (issue 4). A Python script drives one session (STARTTLS, LOGIN, LIST, SELECT, SEARCH,
// FETCH RFC822, STORE, COPY, EXPUNGE, APPEND, STATUS, CREATE with a modified UTF-7 name, CLOSE,
// LOGOUT) and a second over implicit TLS (IMAP4_SSL: EXAMINE, FETCH, NAMESPACE, SUBSCRIBE,
// LSUB, UID MOVE, UNSELECT, ENABLE UTF8=ACCEPT), and prints every response as JSON; the test
// checks them, and the store, here once the script has run to its end.
// Bytes travel as latin1 strings (one char per byte) so that comparisons are byte-exact.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IMAP_PASSWORDS, message, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';

/**
 * Reads {"host", "port", "tls_port", "user", "password", "append"} from stdin; prints
 * {"steps": [[name, typ, data], ...]} or {"error": ..., "steps": ...} on stdout.
 */
const SCRIPT = String.raw`
import imaplib, json, ssl, sys, time

cfg = json.loads(sys.stdin.read())
steps = []

def plain(v):
    if isinstance(v, bytes):
        return v.decode('latin1')
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if v is None:
        return None
    return str(v)

def step(name, result):
    typ, data = result
    steps.append([name, typ, plain(data)])
    return typ, data

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

try:
    m = imaplib.IMAP4(cfg['host'], cfg['port'], timeout=10)
    steps.append(['capabilities-before-tls', 'OK', list(m.capabilities)])
    step('starttls', m.starttls(ssl_context=ctx))
    step('login', m.login(cfg['user'], cfg['password']))
    steps.append(['capabilities', 'OK', list(m.capabilities)])
    step('list', m.list())
    step('list-pattern', m.list('""', 'Ar*'))
    step('select', m.select('INBOX'))
    steps.append(['select-untagged', 'OK', {k: plain(v) for k, v in m.untagged_responses.items()}])
    step('search-all', m.search(None, 'ALL'))
    step('search-subject', m.search(None, '(SUBJECT "second")'))
    step('search-or', m.search(None, 'OR', 'FLAGGED', 'SUBJECT', 'first'))
    step('uid-search-unseen', m.uid('SEARCH', 'UNSEEN'))
    step('fetch-rfc822', m.fetch('1', '(RFC822)'))
    step('fetch-flags-after', m.fetch('1', '(FLAGS)'))
    step('uid-fetch-partial', m.uid('FETCH', cfg['uid3'], '(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.5>)'))
    step('store', m.store('2', '+FLAGS', '(\\Deleted \\Flagged)'))
    step('store-silent', m.store('3', '+FLAGS.SILENT', '($Python)'))
    step('copy', m.copy('1:2', 'Archive'))
    step('expunge', m.expunge())
    step('search-after-expunge', m.search(None, 'ALL'))
    step('append', m.append('INBOX', '(\\Seen $Imported)',
                           imaplib.Time2Internaldate(time.mktime((2026, 11, 1, 12, 0, 0, 0, 0, -1))),
                           cfg['append'].encode('latin1')))
    step('noop', m.noop())
    step('fetch-appended', m.fetch('3', '(FLAGS BODY.PEEK[])'))
    step('status', m.status('Archive', '(MESSAGES UIDNEXT UNSEEN)'))
    step('create-mutf7', m.create('"&AMk-t&AOk-/Caf&AOk-"'))
    step('list-mutf7', m.list('""', '"&AMk-t&AOk-/*"'))
    step('close', m.close())
    step('select-archive', m.select('Archive', readonly=True))
    step('fetch-archive', m.fetch('1:*', '(FLAGS RFC822.SIZE)'))
    step('logout', m.logout())

    s = imaplib.IMAP4_SSL(cfg['host'], cfg['tls_port'], ssl_context=ctx, timeout=10)
    step('ssl-login', s.login(cfg['user'], cfg['password']))
    step('ssl-examine', s.select('INBOX', readonly=True))
    step('ssl-fetch', s.fetch('1', '(BODY.PEEK[])'))
    step('namespace', s.namespace())
    step('subscribe', s.subscribe('Archive'))
    step('lsub', s.lsub('""', '*'))
    step('select-rw', s.select('INBOX'))
    s.untagged_responses.clear()
    step('uid-move', s.uid('MOVE', cfg['uid3'], 'Trash'))
    steps.append(['uid-move-untagged', 'OK', {k: plain(v) for k, v in s.untagged_responses.items()}])
    step('unselect', s.unselect())
    step('enable-utf8', s.enable('UTF8=ACCEPT'))
    step('create-utf8', s.create('"R\u00e9sum\u00e9s"'))
    step('list-utf8', s.list('""', '"R*"'))
    step('ssl-logout', s.logout())
    print(json.dumps({'steps': steps}))
except Exception as e:
    print(json.dumps({'error': repr(e), 'steps': steps}))
`;

type Step = [name: string, typ: string, data: unknown];

async function runPython(dir: string, input: object): Promise<Map<string, Step>> {
  const file = path.join(dir, 'imaplib-session.py');
  await writeFile(file, SCRIPT);
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('python3', [file], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s: string) => (stdout += s));
    child.stderr.on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`python3 exited ${code}: ${stderr}`));
    });
    child.stdin.end(JSON.stringify(input));
  });
  const parsed = JSON.parse(out) as { steps: Step[]; error?: string };
  const steps = new Map<string, Step>(parsed.steps.map((s) => [s[0], s]));
  if (parsed.error !== undefined) {
    const last = parsed.steps.slice(-3).map((s) => JSON.stringify(s));
    throw new Error(`imaplib failed after ${parsed.steps.length} steps: ${parsed.error}\n${last.join('\n')}`);
  }
  return steps;
}

void describe("Python's imaplib", () => {
  let server: ImapTestServer;
  let steps: Map<string, Step>;
  const first = Buffer.from(message('First message', 'First body, caf\u00e9.\r\n'), 'utf8');
  const second = message('Second message', 'Second body.\r\n');
  const third = message('Third message', 'Third body text.\r\n');
  const appended = message('Appended by imaplib', 'Appended body.\r\n');
  let uids: number[] = [];

  function get(name: string): Step {
    const s = steps.get(name);
    assert.ok(s !== undefined, `step ${name} ran`);
    return s;
  }
  function ok(name: string): unknown {
    const s = get(name);
    assert.equal(s[1], 'OK', `${name}: ${JSON.stringify(s)}`);
    return s[2];
  }

  before(async () => {
    server = await startImapServer();
    uids = [
      await server.deliver(ALICE, 'INBOX', first),
      await server.deliver(ALICE, 'INBOX', second),
      await server.deliver(ALICE, 'INBOX', third, { flags: ['\\Seen'] }),
    ];
    steps = await runPython(server.dir, {
      host: '127.0.0.1',
      port: server.ports.imap,
      tls_port: server.ports.imaps,
      user: ALICE,
      password: IMAP_PASSWORDS[ALICE],
      uid3: String(uids[2]),
      append: appended,
    });
  });
  after(async () => {
    await server.close();
  });

  void it('STARTTLS, LOGIN, capabilities', () => {
    const before = get('capabilities-before-tls')[2] as string[];
    assert.ok(before.includes('STARTTLS'));
    ok('starttls');
    ok('login');
    const caps = get('capabilities')[2] as string[];
    assert.ok(caps.includes('IMAP4REV1'), caps.join(' '));
    assert.ok(!caps.includes('STARTTLS'));
  });

  void it('LIST and LIST with a pattern', () => {
    const lines = ok('list') as string[];
    const names = lines.map((l) => /"([^"]*)"$|(\S+)$/.exec(l)).map((m) => m?.[1] ?? m?.[2]);
    for (const n of ['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive']) {
      assert.ok(names.includes(n), `${n} in ${JSON.stringify(lines)}`);
    }
    assert.ok(
      lines.some((l) => /^\(.*\\Sent.*\) "\/" "?Sent"?$/.test(l)),
      JSON.stringify(lines),
    );
    const some = ok('list-pattern') as string[];
    assert.equal(some.length, 1, JSON.stringify(some));
    assert.match(some[0]!, /\\Archive.*"?Archive"?$/);
  });

  void it('SELECT and SEARCH', () => {
    assert.deepEqual(ok('select'), ['3']);
    const untagged = get('select-untagged')[2] as Record<string, string[]>;
    assert.ok(untagged.FLAGS !== undefined, JSON.stringify(untagged));
    assert.ok(untagged.UIDVALIDITY !== undefined, JSON.stringify(untagged));
    assert.deepEqual(ok('search-all'), ['1 2 3']);
    assert.deepEqual(ok('search-subject'), ['2']);
    assert.deepEqual(ok('search-or'), ['1']);
    assert.deepEqual(ok('uid-search-unseen'), [`${uids[0]} ${uids[1]}`]);
  });

  void it('FETCH RFC822 is byte-exact and sets \\Seen; partial UID FETCH', () => {
    const data = ok('fetch-rfc822') as unknown[];
    const [head, body] = data[0] as [string, string];
    // RFC 3501 §6.4.5: the implicit \Seen may come back as FLAGS in the same FETCH response.
    assert.match(head, /^1 \((FLAGS \([^)]*\) )?RFC822 \{\d+\}$/);
    assert.equal(body, first.toString('latin1'));
    const flags = ok('fetch-flags-after') as string[];
    assert.match(flags[0]!, /\\Seen/);
    const partial = ok('uid-fetch-partial') as unknown[];
    const flat = JSON.stringify(partial);
    assert.ok(flat.includes(`RFC822.SIZE ${Buffer.byteLength(third)}`), flat);
    assert.ok(flat.includes('Subject: Third message\\r\\n\\r\\n'), flat);
    assert.ok(
      partial.some((p) => Array.isArray(p) && p[1] === 'Third'),
      flat,
    );
  });

  void it('STORE, COPY, EXPUNGE', async () => {
    const stored = ok('store') as string[];
    assert.match(stored[0]!, /^2 \(FLAGS \(.*\\Deleted.*\)/);
    assert.match(stored[0]!, /\\Flagged/);
    ok('store-silent');
    ok('copy');
    assert.deepEqual(ok('expunge'), ['2']);
    assert.deepEqual(ok('search-after-expunge'), ['1 2']);
    // The script has run to its end: the second message is gone from INBOX, the third was
    // moved to Trash later (see the UID MOVE test).
    const inbox = await server.store.listMessages(await server.mailboxId(ALICE, 'INBOX'));
    assert.equal(inbox[0]!.uid, uids[0]);
    assert.ok(!inbox.some((m) => m.uid === uids[1]), 'expunged');
    const archive = await server.store.listMessages(await server.mailboxId(ALICE, 'Archive'));
    assert.equal(archive.length, 2);
    assert.deepEqual(await server.blobs.readAll(archive[0]!.blobId), first);
    assert.ok(archive[1]!.flags.includes('\\Deleted'), 'COPY keeps flags');
  });

  void it('APPEND with flags and date, seen from the selected session', async () => {
    const appendResult = get('append');
    assert.equal(appendResult[1], 'OK', JSON.stringify(appendResult));
    assert.match(JSON.stringify(appendResult[2]), /APPENDUID \d+ \d+/);
    const fetched = ok('fetch-appended') as unknown[];
    const [head, body] = fetched[0] as [string, string];
    assert.match(head, /^3 \(FLAGS \(.*\$Imported.*\) BODY\[\] \{\d+\}$|^3 \(BODY\[\] \{\d+\}$/);
    assert.equal(body, appended);
    const inbox = await server.mailboxId(ALICE, 'INBOX');
    const metas = await server.store.listMessages(inbox);
    const last = metas[metas.length - 1]!;
    assert.deepEqual([...last.flags].sort(), ['$Imported', '\\Seen']);
    assert.equal((await server.blobs.readAll(last.blobId)).toString('latin1'), appended);
  });

  void it('CREATE and LIST with a modified UTF-7 name', async () => {
    ok('create-mutf7');
    const lines = ok('list-mutf7') as string[];
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.match(lines[0]!, /"\/" "?&AMk-t&AOk-\/Caf&AOk-"?$/);
    const account = await server.store.getAccount(ALICE);
    const box = await server.store.getMailbox(account!.id, '\u00c9t\u00e9/Caf\u00e9');
    assert.ok(box !== null, 'stored under its Unicode name');
  });

  void it('STATUS, CLOSE, EXAMINE, LOGOUT', () => {
    const status = ok('status') as string[];
    assert.match(status[0]!, /^"?Archive"? \(MESSAGES 2 UIDNEXT \d+ UNSEEN 1\)$/);
    ok('close');
    assert.deepEqual(ok('select-archive'), ['2']);
    const archive = ok('fetch-archive') as string[];
    assert.equal(archive.length, 2);
    assert.equal(get('logout')[1], 'BYE');
  });

  void it('NAMESPACE, SUBSCRIBE and LSUB, UID MOVE, UNSELECT', async () => {
    assert.deepEqual(ok('namespace'), ['(("" "/")) (("user/" "/")) (("shared/" "/"))']);
    ok('subscribe');
    const lsub = ok('lsub') as string[];
    assert.ok(
      lsub.some((l) => /"\/" "?Archive"?$/.test(l)),
      JSON.stringify(lsub),
    );
    ok('select-rw');
    const moved = get('uid-move');
    assert.equal(moved[1], 'OK', JSON.stringify(moved));
    // RFC 6851 §4.3: COPYUID in an untagged OK (or the tagged one), then EXPUNGE.
    const untagged = get('uid-move-untagged')[2] as Record<string, string[]>;
    const copyuid = JSON.stringify(moved[2]) + JSON.stringify(untagged.COPYUID ?? []);
    assert.match(copyuid, new RegExp(`\\d+ ${uids[2]} \\d+`), JSON.stringify(untagged));
    assert.deepEqual(untagged.EXPUNGE, ['2'], JSON.stringify(untagged));
    ok('unselect');
    const trash = await server.store.listMessages(await server.mailboxId(ALICE, 'Trash'));
    assert.equal(trash.length, 1);
    assert.equal((await server.blobs.readAll(trash[0]!.blobId)).toString('latin1'), third);
    assert.ok(
      trash[0]!.flags.includes('$Python'),
      `STORE +FLAGS.SILENT kept by MOVE: ${trash[0]!.flags.join(' ')}`,
    );
  });

  void it('ENABLE UTF8=ACCEPT: a UTF-8 mailbox name', async () => {
    ok('enable-utf8');
    ok('create-utf8');
    const name = 'R\u00e9sum\u00e9s';
    const lines = ok('list-utf8') as string[];
    // The script's strings are latin1 views of the bytes: the name comes back as UTF-8.
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.match(lines[0]!.replace(/"/g, ''), new RegExp(` ${Buffer.from(name).toString('latin1')}$`));
    const account = await server.store.getAccount(ALICE);
    assert.ok((await server.store.getMailbox(account!.id, name)) !== null);
  });

  void it('IMAP4_SSL on the imaps port', () => {
    ok('ssl-login');
    assert.deepEqual(ok('ssl-examine'), ['3']);
    const data = ok('ssl-fetch') as unknown[];
    assert.equal((data[0] as string[])[1], first.toString('latin1'));
    assert.equal(get('ssl-logout')[1], 'BYE');
  });
});
