// SEARCH and UID SEARCH over real sockets: every key, nesting, CHARSET, the IMAP4rev1 `* SEARCH`
// and IMAP4rev2 / RETURN `* ESEARCH` forms, SAVE and `$`, and a SEARCH BODY over 100,000
// messages during which another connection's NOOP still answers within 100 ms.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const USER = 'alice@example.test';

function msg(headers: string, body: string): string {
  return headers.replace(/\n/g, '\r\n') + '\r\n' + body.replace(/\n/g, '\r\n');
}

/** Numbers of a `* SEARCH` line. */
function searchNumbers(untagged: string[]): number[] {
  const line = untagged.find((l) => l.startsWith('* SEARCH'));
  assert.ok(line !== undefined, `no * SEARCH in ${JSON.stringify(untagged)}`);
  return line
    .slice('* SEARCH'.length)
    .trim()
    .split(' ')
    .filter((s) => s !== '')
    .map(Number);
}

void describe('IMAP SEARCH', () => {
  let server: ImapTestServer;
  let c: RawImapClient;
  const D = (s: string): Date => new Date(s);

  before(async () => {
    server = await startImapServer();
    // 1: plain, seen, old internal date.
    await server.deliver(
      USER,
      'INBOX',
      msg(
        'From: Alice Example <alice@example.test>\nTo: Bob <bob@example.test>\nCc: Carol <carol@example.test>\n' +
          'Subject: Quarterly report\nDate: Mon, 2 Feb 2026 23:30:00 -0500\nX-Priority: 1\n',
        'The numbers are in.\n',
      ),
      { flags: ['\\Seen', '\\Answered'], date: D('2026-02-03T10:00:00Z') },
    );
    // 2: encoded-word subject, quoted-printable latin-1 body, flagged, keyword.
    await server.deliver(
      USER,
      'INBOX',
      msg(
        'From: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.org>\nTo: alice@example.test\nBcc: secret@example.net\n' +
          'Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=\nDate: Tue, 10 Mar 2026 08:00:00 +0000\n' +
          'Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n',
        'Le caf=E9 est pr=EAt, na=EFve Zo=EB.\n',
      ),
      { flags: ['\\Flagged', '$Important'], date: D('2026-03-10T12:00:00Z') },
    );
    // 3: multipart with a base64 UTF-8 text part and an attachment, deleted + draft.
    const b64 = Buffer.from('Grüße aus München, the secret word is zephyrine.\n').toString('base64');
    await server.deliver(
      USER,
      'INBOX',
      msg(
        'From: Hiro <hiro@example.com>\nTo: Bob <bob@example.test>\nSubject: Travel plans\n' +
          'Date: Wed, 15 Apr 2026 09:00:00 +0000\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"\n',
        `--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n${b64}\n` +
          '--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nbm90aGluZyB0byBzZWUgaGVyZQ==\n--b1--\n',
      ),
      { flags: ['\\Deleted', '\\Draft'], date: D('2026-04-15T12:00:00Z') },
    );
    // 4: large, no flags.
    await server.deliver(
      USER,
      'INBOX',
      msg(
        'From: bob@example.test\nTo: Team Leads: alice@example.test;, Nobody: ;\nSubject: Big one\n' +
          'Date: Thu, 16 Apr 2026 09:00:00 +0000\n',
        'x'.repeat(5000) + '\n',
      ),
      { date: D('2026-04-16T12:00:00Z') },
    );
    c = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
  });
  after(async () => {
    c.destroy();
    await server.close();
  });

  const cases: Array<[string, number[]]> = [
    ['ALL', [1, 2, 3, 4]],
    ['ANSWERED', [1]],
    ['UNANSWERED', [2, 3, 4]],
    ['SEEN', [1]],
    ['UNSEEN', [2, 3, 4]],
    ['FLAGGED', [2]],
    ['UNFLAGGED', [1, 3, 4]],
    ['DELETED', [3]],
    ['UNDELETED', [1, 2, 4]],
    ['DRAFT', [3]],
    ['UNDRAFT', [1, 2, 4]],
    ['KEYWORD $Important', [2]],
    ['KEYWORD $important', [2]],
    ['UNKEYWORD $Important', [1, 3, 4]],
    ['FROM alice', [1]],
    ['FROM "renée"', [2]],
    ['FROM EXAMPLE.COM', [3]],
    ['TO bob', [1, 3]],
    // A group's display name matches (RFC 5322 §3.4 groups; Dovecot matches them too).
    ['TO "team leads"', [4]],
    ['TO nobody', [4]],
    ['TO alice', [2, 4]],
    ['CC carol', [1]],
    ['BCC secret', [2]],
    ['SUBJECT quarterly', [1]],
    ['SUBJECT "café crème"', [2]],
    ['SUBJECT "CAFÉ"', [2]],
    ['HEADER X-Priority 1', [1]],
    ['HEADER x-priority ""', [1]],
    ['HEADER Content-Transfer-Encoding quoted', [2]],
    ['BODY numbers', [1]],
    ['BODY "prêt"', [2]],
    ['BODY "GRÜSSE"', []],
    ['BODY "grüße aus"', [3]],
    ['BODY zephyrine', [3]],
    ['BODY "nothing to see"', []],
    ['BODY quarterly', []],
    ['TEXT quarterly', [1]],
    ['TEXT zephyrine', [3]],
    ['TEXT "hiro@"', [3]],
    ['LARGER 4000', [4]],
    ['SMALLER 1000', [1, 2, 3]],
    ['BEFORE 10-Mar-2026', [1]],
    ['ON 10-Mar-2026', [2]],
    ['SINCE 10-Mar-2026', [2, 3, 4]],
    ['SENTON 2-Feb-2026', [1]],
    ['SENTBEFORE 10-Mar-2026', [1]],
    ['SENTSINCE 15-Apr-2026', [3, 4]],
    ['UID 2:3', [2, 3]],
    ['UID 3:*', [3, 4]],
    ['2,4', [2, 4]],
    ['3:*', [3, 4]],
    ['*', [4]],
    ['NOT SEEN', [2, 3, 4]],
    ['OR SEEN FLAGGED', [1, 2]],
    ['OR (SEEN ANSWERED) (DELETED BODY zephyrine)', [1, 3]],
    ['NOT (OR SEEN (FLAGGED SUBJECT "café"))', [3, 4]],
    ['(UNSEEN (NOT DELETED)) SMALLER 1000', [2]],
    ['OR BODY numbers SUBJECT travel', [1, 3]],
    ['NOT BODY numbers UNSEEN', [2, 3, 4]],
    ['CHARSET UTF-8 SUBJECT "crème"', [2]],
    ['CHARSET US-ASCII FROM hiro', [3]],
    ['RECENT', [1, 2, 3, 4]],
    ['NEW', [2, 3, 4]],
    ['OLD', []],
  ];

  void it('evaluates every key (rev1 * SEARCH form)', async () => {
    const wrong: string[] = [];
    for (const [criteria, expected] of cases) {
      const r = await c.command(`SEARCH ${criteria}`);
      const got = r.status === 'OK' ? searchNumbers(r.untagged).join(',') : r.tagged;
      if (got !== expected.join(',')) wrong.push(`${criteria}: got ${got}, expected ${expected.join(',')}`);
    }
    assert.deepEqual(wrong, []);
  });

  void it('UID SEARCH returns UIDs; empty result is a bare * SEARCH', async () => {
    const r = await c.command('UID SEARCH 2:3');
    assert.deepEqual(searchNumbers(r.untagged), [2, 3]);
    const none = await c.command('SEARCH SUBJECT nosuchthing');
    assert.ok(none.untagged.includes('* SEARCH'), JSON.stringify(none.untagged));
  });

  void it('CHARSET other than UTF-8 and US-ASCII is NO [BADCHARSET]; bad syntax is BAD', async () => {
    const r = await c.command('SEARCH CHARSET ISO-8859-1 SUBJECT x');
    assert.match(r.tagged, /NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
    assert.equal((await c.command('SEARCH FROB')).status, 'BAD');
    assert.equal((await c.command('SEARCH BEFORE 32-Jan-2026')).status, 'BAD');
    assert.equal(
      (await c.command('SEARCH ((((((((((((((((((((((((((((((((((ALL))))))))))))))))))))))))))))))))))'))
        .status,
      'BAD',
    );
    assert.equal((await c.command('NOOP')).status, 'OK');
  });

  void it('RETURN options give * ESEARCH with TAG, MIN, MAX, COUNT, ALL', async () => {
    const t = c.tag();
    c.write(`${t} SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN\r\n`);
    let r = await c.until(t);
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${t}") MIN 2 MAX 4 COUNT 3 ALL 2:4`]);
    const u = c.tag();
    c.write(`${u} UID SEARCH RETURN (COUNT) SUBJECT nosuch\r\n`);
    r = await c.until(u);
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${u}") UID COUNT 0`]);
    const v = c.tag();
    c.write(`${v} SEARCH RETURN () OR SEEN FLAGGED\r\n`);
    r = await c.until(v);
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${v}") ALL 1:2`]);
  });

  void it('SAVE and $ (SEARCHRES), also after a failed SAVE', async () => {
    let r = await c.command('SEARCH RETURN (SAVE) FLAGGED');
    assert.deepEqual(r.untagged, [], 'SAVE alone sends no ESEARCH');
    r = await c.command('UID SEARCH UID $');
    assert.deepEqual(searchNumbers(r.untagged), [2]);
    r = await c.command('SEARCH OR $ SEEN');
    assert.deepEqual(searchNumbers(r.untagged), [1, 2]);
    r = await c.command('SEARCH RETURN (SAVE MIN) UNSEEN');
    assert.match(r.untagged[0]!, /MIN 2$/);
    assert.deepEqual(searchNumbers((await c.command('SEARCH $')).untagged), [2]);
    r = await c.command('SEARCH RETURN (SAVE) CHARSET KOI8-R SUBJECT x');
    assert.equal(r.status, 'NO');
    assert.deepEqual(searchNumbers((await c.command('SEARCH $')).untagged), []);
  });

  void it('IMAP4rev2: ESEARCH form without RETURN, no \\Recent', async () => {
    const d = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await d.command('ENABLE IMAP4rev2')).status, 'OK');
    assert.equal((await d.command('EXAMINE INBOX')).status, 'OK');
    const t = d.tag();
    d.write(`${t} UID SEARCH UNDELETED\r\n`);
    const r = await d.until(t);
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${t}") UID ALL 1:2,4`]);
    const e = d.tag();
    d.write(`${e} SEARCH SUBJECT nosuch\r\n`);
    assert.deepEqual((await d.until(e)).untagged, [`* ESEARCH (TAG "${e}")`]);
    d.destroy();
  });

  void it('no EXPUNGE while SEARCH runs; they arrive with the next allowed command', async () => {
    const other = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await other.command('SELECT INBOX')).status, 'OK');
    const uid = await server.deliver(USER, 'INBOX', msg('Subject: temp\n', 'temp\n'), {
      flags: ['\\Deleted'],
    });
    await c.command('NOOP');
    // No Date: header: sent on 1-Jan-1970, as Dovecot counts it.
    assert.deepEqual(searchNumbers((await c.command('SEARCH SENTBEFORE 1-Jan-2000')).untagged), [5]);
    assert.deepEqual(
      searchNumbers((await c.command('SEARCH SENTSINCE 1-Jan-2000 SUBJECT temp')).untagged),
      [],
    );
    await other.command('NOOP');
    assert.equal((await other.command(`UID EXPUNGE ${uid}`)).status, 'OK');
    const r = await c.command('SEARCH ALL');
    assert.ok(!r.untagged.some((l) => l.endsWith('EXPUNGE')), JSON.stringify(r.untagged));
    assert.deepEqual(searchNumbers(r.untagged), [1, 2, 3, 4], 'the expunged message matches nothing');
    const n = await c.command('NOOP');
    assert.ok(n.untagged.includes('* 5 EXPUNGE'), JSON.stringify(n.untagged));
    other.destroy();
  });
});

void describe('IMAP SEARCH over 100,000 messages', () => {
  let server: ImapTestServer;
  before(async () => {
    server = await startImapServer();
    await server.deliver(USER, 'Archive', msg('Subject: bulk\n', 'plain words only\n'));
    await server.deliver(USER, 'Archive', msg('Subject: other\n', 'the needle zephyrine\n'));
    const box = await server.mailboxId(USER, 'Archive');
    let uids = [1, 2];
    // Doubling copies sharing two blobs: 2 * 2^16 = 131,072 messages.
    for (let i = 0; i < 16; i++) {
      const res = await server.store.copy(box, uids, box);
      uids = uids.concat(res.mapping.map(([, to]) => to));
    }
  });
  after(async () => {
    await server.close();
  });

  void it('SEARCH BODY and SUBJECT answer correctly while a NOOP elsewhere answers within 100 ms', async () => {
    const a = await RawImapClient.login(server.ports.imap, USER);
    const b = await RawImapClient.login(server.ports.imap, USER);
    const sel = await a.command('EXAMINE Archive', 30_000);
    assert.equal(sel.status, 'OK');
    for (const criteria of ['BODY zephyrine', 'NOT SUBJECT bulk', 'OR SEEN TEXT ZEPHYRINE']) {
      const t = a.tag();
      const started = Date.now();
      const delay = monitorEventLoopDelay({ resolution: 5 });
      delay.enable();
      a.write(`${t} SEARCH RETURN (COUNT MIN MAX) ${criteria}\r\n`);
      const done = a.until(t, 60_000);
      let finished = false;
      void done.then(() => (finished = true));
      const noopTimes: number[] = [];
      // Keep pinging until the search finishes (at least once).
      do {
        const s = Date.now();
        assert.equal((await b.command('NOOP')).status, 'OK');
        noopTimes.push(Date.now() - s);
      } while (!finished);
      const r = await done;
      delay.disable();
      assert.equal(r.status, 'OK');
      assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${t}") MIN 2 MAX 131072 COUNT 65536`], criteria);
      const worst = Math.max(...noopTimes);
      const sorted = noopTimes.slice().sort((x, y) => x - y);
      const p90 = sorted[Math.floor(sorted.length * 0.9)]!;
      console.log(
        `${criteria}: ${Date.now() - started} ms, ${noopTimes.length} NOOPs, p90 ${p90} ms, worst ${worst} ms, ` +
          `event loop delay max ${Math.round(delay.max / 1e6)} ms p99 ${Math.round(delay.percentile(99) / 1e6)} ms`,
      );
      // Every NOOP answers within 100 ms (issue 4): the search yields to the event loop every
      // few milliseconds (search-eval.ts SLICE_MS), so a NOOP waits at most one slice.
      assert.ok(worst < 100, `NOOPs took ${sorted.join(',')} ms during SEARCH ${criteria}`);
    }
    // The rev1 form of a huge result: one `* SEARCH` line with every number, in order.
    const all = await a.command('UID SEARCH UNDELETED', 60_000);
    const numbers = searchNumbers(all.untagged);
    assert.equal(numbers.length, 131072);
    assert.ok(numbers.every((n, i) => n === i + 1));
    a.destroy();
    b.destroy();
  });
});
