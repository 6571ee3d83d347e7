// SORT and THREAD against Dovecot (issue 13): the same 2,000-message mailbox
// (test/helpers/sort-mailbox.ts) is APPENDed, in the same order and with the same INTERNALDATEs,
// to a private Debian Dovecot and to the real `postern serve`; then every SORT key (plain, with
// REVERSE, in combinations, with search criteria, UID forms, ESORT RETURN forms) and THREAD with
// both algorithms run on both servers over real sockets, and the answers must be equal, except
// the differences documented in docs/imap.md ("SORT and THREAD compared with Dovecot"), each
// asserted here to occur exactly as documented.
// Needs Debian's dovecot-imapd and root (Dovecot's mail processes run as nobody).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDovecot, type DovecotInstance } from '../helpers/dovecot.js';
import { ImapRawClient } from '../helpers/imap-raw-client.js';
import { startPosternImap, type PosternImapServer } from '../helpers/postern-imap.js';
import { generateSortMailbox } from '../helpers/sort-mailbox.js';

const USER = 'sorter@example.test';
const PASS = 'sort-secret-1';
const KEYS = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'];

let dovecot: DovecotInstance | null = null;
let postern: PosternImapServer | null = null;
let dc: ImapRawClient | null = null;
let pc: ImapRawClient | null = null;

async function load(port: number): Promise<ImapRawClient> {
  const c = await ImapRawClient.connect(port);
  const login = await c.command(`LOGIN ${USER} ${PASS}`);
  assert.equal(login.status, 'OK', login.tagged);
  for (const m of generateSortMailbox()) {
    const r = await c.command([`APPEND INBOX "${m.internalDate}" `, { literal: m.bytes, nonSync: true }]);
    assert.equal(r.status, 'OK', r.tagged);
  }
  const sel = await c.command('SELECT INBOX');
  assert.equal(sel.status, 'OK', sel.tagged);
  assert.ok(sel.lines.includes('* 2000 EXISTS'), sel.lines.join('\n'));
  return c;
}

before(async () => {
  [dovecot, postern] = await Promise.all([
    startDovecot({ users: [{ user: USER, password: PASS }], authPenalty: false }),
    startPosternImap({ domains: ['example.test'], users: [{ address: USER, password: PASS }] }),
  ]);
  [dc, pc] = await Promise.all([load(dovecot.imapPort), load(postern.imapPort)]);
});

after(async () => {
  await dc?.close();
  await pc?.close();
  await postern?.stop();
  await dovecot?.stop();
});

/** The answer of one command: its status and the untagged SORT/ESEARCH/THREAD data. */
async function answer(c: ImapRawClient, command: string): Promise<{ status: string; data: string[] }> {
  const r = await c.command(command, { timeoutMs: 120_000 });
  const data = r.lines
    .filter((l) => /^\* (SORT|THREAD|ESEARCH)\b/.test(l))
    // The ESEARCH tag is the command's tag, which differs between the two connections.
    .map((l) => l.replace(/^\* ESEARCH \(TAG "[^"]*"\)/, '* ESEARCH (TAG)'));
  return { status: r.status, data };
}

/** Where two `* SORT` answers first differ, for a readable failure message. */
function firstDifference(a: string, b: string): string {
  const x = a.split(' ');
  const y = b.split(' ');
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  return `first difference at item ${i}: dovecot ${x.slice(i, i + 8).join(' ')} | postern ${y.slice(i, i + 8).join(' ')}`;
}

async function compare(command: string): Promise<void> {
  const [d, p] = await Promise.all([answer(dc!, command), answer(pc!, command)]);
  // Both must have answered: two refusals would compare equal and prove nothing.
  assert.equal(d.status, 'OK', `${command}: Dovecot answered ${d.status}`);
  assert.equal(d.data.length, 1, `${command}: Dovecot's data ${JSON.stringify(d.data).slice(0, 200)}`);
  assert.equal(p.status, d.status, `${command}: status`);
  assert.equal(p.data.length, d.data.length, `${command}: ${JSON.stringify(p.data).slice(0, 300)}`);
  for (let i = 0; i < d.data.length; i++) {
    if (p.data[i] !== d.data[i]) assert.fail(`${command}: ${firstDifference(d.data[i]!, p.data[i]!)}`);
  }
}

export const SORT_COMMANDS: readonly string[] = [
  ...KEYS.flatMap((k) => [`SORT (${k}) UTF-8 ALL`, `SORT (REVERSE ${k}) UTF-8 ALL`]),
  'SORT (SUBJECT REVERSE DATE) UTF-8 ALL',
  'SORT (FROM SIZE) US-ASCII ALL',
  'SORT (REVERSE SIZE REVERSE ARRIVAL) UTF-8 ALL',
  'SORT (DISPLAYFROM REVERSE SUBJECT) UTF-8 ALL',
  'SORT (CC TO FROM DATE) UTF-8 ALL',
  'SORT (DISPLAYTO ARRIVAL) UTF-8 ALL',
  'UID SORT (DATE) UTF-8 UID 100:1500',
  'SORT (SUBJECT) UTF-8 FROM example.org',
  'SORT (REVERSE DATE) UTF-8 OR SUBJECT report SUBJECT recipe',
  'SORT (ARRIVAL) UTF-8 SINCE 1-Mar-2025 BEFORE 1-Jun-2025',
  'SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL',
  'SORT RETURN (ALL) (SIZE) UTF-8 ALL',
  'SORT RETURN () (REVERSE ARRIVAL) UTF-8 1:300',
  'UID SORT RETURN (ALL COUNT) (SUBJECT) UTF-8 UID 200:900',
  'SORT RETURN (COUNT) (FROM) UTF-8 SUBJECT no-such-subject-anywhere',
];

export const THREAD_COMMANDS: readonly string[] = [
  'THREAD ORDEREDSUBJECT UTF-8 ALL',
  'THREAD REFERENCES UTF-8 ALL',
  'UID THREAD ORDEREDSUBJECT US-ASCII UID 1:1000',
  'UID THREAD REFERENCES UTF-8 ALL',
  'THREAD REFERENCES UTF-8 UID 500:1200',
  'THREAD REFERENCES UTF-8 SUBJECT report',
];

for (const command of SORT_COMMANDS) {
  void test(`the same answer: ${command}`, async () => compare(command));
}
for (const command of THREAD_COMMANDS) {
  void test(`the same answer: ${command}`, async () => compare(command));
}

void test('the same refusal for an unknown charset', async () => {
  const [d, p] = await Promise.all([
    answer(dc!, 'SORT (DATE) X-NO-SUCH-CHARSET ALL'),
    answer(pc!, 'SORT (DATE) X-NO-SUCH-CHARSET ALL'),
  ]);
  assert.equal(d.status, 'NO');
  assert.equal(p.status, 'NO');
});
