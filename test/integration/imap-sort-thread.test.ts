// SORT, UID SORT, ESORT and THREAD over real sockets (RFC 5256, RFC 5957, RFC 5267): every sort
// key with and without REVERSE on a small mailbox whose expected orders are worked out by hand
// (equal keys decided by sequence number), the UID forms (UIDs differ from sequence numbers
// here), SORT RETURN with every option and with SAVE / `$` (RFC 5182), BADCHARSET, malformed
// commands, both THREAD algorithms, and SORT/THREAD over 32,768 messages while a NOOP on another
// connection keeps answering within 100 ms.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const USER = 'alice@example.test';

function crlf(headers: string, body: string): string {
  return (headers + '\n' + body).replace(/\n/g, '\r\n');
}

const BODY = 'A line of body text.\n';
// Sequence numbers 1..5 (UIDs 2..6: UID 1 is expunged before the tests).
const MESSAGES: Array<{ bytes: string; date: string }> = [
  {
    bytes: crlf(
      'From: Carol <carol@c.test>\nTo: Xavier <b@x.test>\nCc: m@x.test\nSubject: Re: Beta\n' +
        'Date: Sat, 3 Jan 2026 10:00:00 +0000\nMessage-ID: <m1@t>\n',
      BODY.repeat(3),
    ),
    date: '2026-02-01T00:00:00Z',
  },
  {
    bytes: crlf(
      'From: alice@a.test\nTo: Yolanda <a@y.test>\nSubject: alpha\nDate: Thu, 1 Jan 2026 10:00:00 -0500\n' +
        'Message-ID: <m2@t>\n',
      BODY,
    ),
    date: '2026-02-03T00:00:00Z',
  },
  {
    // No Date: the internal date is the sent date, equal to message 4's Date.
    bytes: crlf(
      'From: =?UTF-8?Q?=C3=89mile?= <bob@b.test>\nTo: zed@z.test\nCc: a@x.test\nSubject: [list] Gamma\n' +
        'Message-ID: <m3@t>\n',
      BODY.repeat(10),
    ),
    date: '2026-01-02T00:00:00Z',
  },
  {
    bytes: crlf(
      'From: Bob <dave@d.test>\nTo: Anna <c@x.test>\nCc: z@x.test\nSubject: Fwd: alpha\n' +
        'Date: 2 Jan 2026 00:00:00 +0000\nMessage-ID: <m4@t>\nIn-Reply-To: <m2@t>\n',
      BODY.repeat(5),
    ),
    date: '2026-02-02T00:00:00Z',
  },
  {
    // No From, To or Subject; an unparsable Date: the internal date counts.
    bytes: crlf('Date: garbage\nMessage-ID: <m5@t>\nReferences: <m1@t>\n', BODY.repeat(2)),
    date: '2026-01-04T00:00:00Z',
  },
];

/** Numbers of a `* SORT` line. */
function sortNumbers(untagged: string[]): number[] {
  const line = untagged.find((l) => l.startsWith('* SORT'));
  assert.ok(line !== undefined, `no * SORT in ${JSON.stringify(untagged)}`);
  return line
    .slice('* SORT'.length)
    .split(' ')
    .filter((s) => s !== '')
    .map(Number);
}

void describe('IMAP SORT and THREAD', () => {
  let server: ImapTestServer;
  let c: RawImapClient;

  before(async () => {
    server = await startImapServer();
    await server.deliver(USER, 'INBOX', crlf('Subject: expunged\n', 'x\n'));
    for (const m of MESSAGES) await server.deliver(USER, 'INBOX', m.bytes, { date: new Date(m.date) });
    c = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await c.command('SELECT INBOX')).status, 'OK');
    assert.equal((await c.command('UID STORE 1 +FLAGS (\\Deleted)')).status, 'OK');
    assert.equal((await c.command('EXPUNGE')).status, 'OK');
  });
  after(async () => {
    c.destroy();
    await server.close();
  });

  void it('announces SORT, SORT=DISPLAY, ESORT and both THREAD algorithms', async () => {
    const r = await c.command('CAPABILITY');
    const caps = r.untagged.find((l) => l.startsWith('* CAPABILITY'))!.split(' ');
    for (const cap of ['SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES']) {
      assert.ok(caps.includes(cap), `${cap} missing from ${caps.join(' ')}`);
    }
  });

  const sizeOrder = MESSAGES.map((m, i) => ({ size: Buffer.byteLength(m.bytes), seq: i + 1 }))
    .sort((a, b) => a.size - b.size || a.seq - b.seq)
    .map((x) => x.seq);
  const orders: Array<[string, number[], number[]]> = [
    // key, order, REVERSE order (equal keys: ascending sequence numbers both ways)
    ['ARRIVAL', [3, 5, 1, 4, 2], [2, 4, 1, 5, 3]],
    // 3 and 4 were sent at the same instant (3 by its internal date): 3 first both ways.
    ['DATE', [2, 3, 4, 1, 5], [5, 1, 3, 4, 2]],
    ['SIZE', sizeOrder, sizeOrder.slice().reverse()],
    // Mailboxes (local parts): carol, alice, bob, dave, "" (no From).
    ['FROM', [5, 2, 3, 1, 4], [4, 1, 3, 2, 5]],
    // Display names, else addr-specs: Carol, alice@a.test, Émile (E + U+0301 after titlecase and
    // decomposition: after "Carol"), Bob, "".
    ['DISPLAYFROM', [5, 2, 4, 1, 3], [3, 1, 4, 2, 5]],
    ['TO', [5, 2, 1, 4, 3], [3, 4, 1, 2, 5]],
    ['DISPLAYTO', [5, 4, 1, 2, 3], [3, 2, 1, 4, 5]],
    // m, "", a, z, "": the two empty ones by sequence number.
    ['CC', [2, 5, 3, 1, 4], [4, 1, 3, 2, 5]],
    // Base subjects: Beta, alpha, Gamma, alpha, "" (case-insensitive, leaders and blobs removed).
    ['SUBJECT', [5, 2, 4, 1, 3], [3, 1, 2, 4, 5]],
  ];
  for (const [key, order, reversed] of orders) {
    void it(`SORT (${key}) and (REVERSE ${key}), and their UID forms`, async () => {
      assert.deepEqual(sortNumbers((await c.command(`SORT (${key}) UTF-8 ALL`)).untagged), order);
      assert.deepEqual(
        sortNumbers((await c.command(`SORT (REVERSE ${key}) US-ASCII ALL`)).untagged),
        reversed,
      );
      const uids = sortNumbers((await c.command(`UID SORT (${key}) UTF-8 ALL`)).untagged);
      assert.deepEqual(
        uids,
        order.map((s) => s + 1),
      );
    });
  }

  void it('uses later keys for ties, and the search criteria', async () => {
    // alpha (2, 4) by REVERSE DATE: 4 was sent after 2.
    assert.deepEqual(
      sortNumbers((await c.command('SORT (SUBJECT REVERSE DATE) UTF-8 ALL')).untagged),
      [5, 4, 2, 1, 3],
    );
    assert.deepEqual(
      sortNumbers((await c.command('SORT (REVERSE ARRIVAL) UTF-8 OR FROM carol FROM alice')).untagged),
      [2, 1],
    );
    assert.deepEqual(sortNumbers((await c.command('UID SORT (DATE) UTF-8 UID 3:5')).untagged), [3, 4, 5]);
    const none = await c.command('SORT (DATE) UTF-8 SUBJECT no-such-thing');
    assert.deepEqual(none.untagged, ['* SORT']);
    assert.equal(none.status, 'OK');
  });

  void it('SORT RETURN answers ESEARCH in sort order (ESORT)', async () => {
    let t = c.tag();
    c.write(`${t} SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL\r\n`);
    let r = await c.until(t);
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${t}") MIN 2 MAX 5 ALL 2:4,1,5 COUNT 5`]);
    t = c.tag();
    c.write(`${t} UID SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL\r\n`);
    r = await c.until(t);
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${t}") UID ALL 4,6,2,5,3`]);
    t = c.tag();
    c.write(`${t} SORT RETURN () (REVERSE SIZE) UTF-8 ALL\r\n`);
    r = await c.until(t);
    // Runs of consecutive ascending numbers are written a:b; the order is kept.
    const all = sizeOrder
      .slice()
      .reverse()
      .reduce<number[][]>((runs, n) => {
        const last = runs[runs.length - 1];
        if (last !== undefined && last[last.length - 1]! + 1 === n) last.push(n);
        else runs.push([n]);
        return runs;
      }, [])
      .map((run) => (run.length === 1 ? String(run[0]) : `${run[0]}:${run[run.length - 1]}`))
      .join(',');
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${t}") ALL ${all}`]);
    t = c.tag();
    c.write(`${t} SORT RETURN (COUNT MIN) (DATE) UTF-8 SUBJECT nothing-matches\r\n`);
    r = await c.until(t);
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${t}") COUNT 0`]);
  });

  void it('SORT RETURN (SAVE) fills $ (RFC 5182), MIN alone saves the first in sort order', async () => {
    let r = await c.command('SORT RETURN (SAVE) (DATE) UTF-8 SUBJECT alpha');
    assert.deepEqual(r.untagged, []);
    assert.equal(r.status, 'OK');
    assert.deepEqual((await c.command('SEARCH $')).untagged, ['* SEARCH 2 4']);
    r = await c.command('SORT RETURN (SAVE MIN) (REVERSE ARRIVAL) UTF-8 ALL');
    assert.equal(r.untagged.length, 1);
    assert.ok(r.untagged[0]!.endsWith('MIN 2'), r.untagged[0]);
    assert.deepEqual((await c.command('UID SEARCH $')).untagged, ['* SEARCH 3']);
    // $ in SORT's own criteria.
    assert.deepEqual(sortNumbers((await c.command('SORT (DATE) UTF-8 $')).untagged), [2]);
  });

  void it('refuses other charsets with BADCHARSET, and malformed commands with BAD', async () => {
    for (const cmd of ['SORT (DATE) ISO-8859-1 ALL', 'THREAD REFERENCES KOI8-R ALL']) {
      const r = await c.command(cmd);
      assert.equal(r.status, 'NO', cmd);
      assert.match(r.tagged, /\[BADCHARSET \(UTF-8 US-ASCII\)\]/);
    }
    for (const cmd of [
      'SORT () UTF-8 ALL',
      'SORT (REVERSE) UTF-8 ALL',
      'SORT (REVERSE REVERSE DATE) UTF-8 ALL',
      'SORT (DATE NOSUCHKEY) UTF-8 ALL',
      'SORT DATE UTF-8 ALL',
      'SORT (DATE) UTF-8',
      'SORT (DATE)',
      'SORT RETURN (BOGUS) (DATE) UTF-8 ALL',
      'THREAD NOSUCHALGORITHM UTF-8 ALL',
      'THREAD REFERENCES UTF-8',
      'UID THREAD',
    ]) {
      const r = await c.command(cmd);
      assert.equal(r.status, 'BAD', cmd);
    }
    assert.equal((await c.command('NOOP')).status, 'OK');
  });

  void it('THREAD ORDEREDSUBJECT and REFERENCES, and their UID forms', async () => {
    // Subjects alpha {2, 4}, Gamma {3}, Beta {1}, "" {5}, each thread ordered by its first date.
    assert.deepEqual((await c.command('THREAD ORDEREDSUBJECT UTF-8 ALL')).untagged, [
      '* THREAD (2 4)(3)(1)(5)',
    ]);
    // 4 answers 2 (In-Reply-To), 5 refers to 1 (References).
    assert.deepEqual((await c.command('THREAD REFERENCES UTF-8 ALL')).untagged, ['* THREAD (2 4)(3)(1 5)']);
    assert.deepEqual((await c.command('UID THREAD REFERENCES UTF-8 ALL')).untagged, [
      '* THREAD (3 5)(4)(2 6)',
    ]);
    assert.deepEqual((await c.command('UID THREAD ORDEREDSUBJECT UTF-8 NOT SUBJECT alpha')).untagged, [
      '* THREAD (4)(2)(6)',
    ]);
    // Without message 1, 5's parent is a dummy with one child: 5 becomes a root.
    assert.deepEqual((await c.command('THREAD REFERENCES UTF-8 NOT FROM carol')).untagged, [
      '* THREAD (2 4)(3)(5)',
    ]);
    assert.deepEqual((await c.command('THREAD REFERENCES UTF-8 SUBJECT nothing-matches')).untagged, [
      '* THREAD',
    ]);
  });
});

void describe('SORT and THREAD over 32,768 messages', () => {
  let server: ImapTestServer;
  before(async () => {
    server = await startImapServer();
    await server.deliver(
      USER,
      'Archive',
      crlf('Subject: bulk\nFrom: b@x.test\nMessage-ID: <a@x>\n', 'words\n'),
    );
    await server.deliver(
      USER,
      'Archive',
      crlf('Subject: Re: bulk\nFrom: a@x.test\nMessage-ID: <b@x>\nReferences: <a@x>\n', 'more words\n'),
    );
    const box = await server.mailboxId(USER, 'Archive');
    let uids = [1, 2];
    // Doubling copies sharing two blobs: 2 * 2^14 = 32,768 messages.
    for (let i = 0; i < 14; i++) {
      const res = await server.store.copy(box, uids, box);
      uids = uids.concat(res.mapping.map(([, to]) => to));
    }
  });
  after(async () => {
    await server.close();
  });

  void it('answers correctly while a NOOP on another connection answers within 100 ms', async () => {
    const a = await RawImapClient.login(server.ports.imap, USER);
    const b = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await a.command('EXAMINE Archive', 30_000)).status, 'OK');
    for (const command of [
      'SORT (FROM REVERSE ARRIVAL) UTF-8 ALL',
      'SORT RETURN (MIN MAX COUNT) (SUBJECT SIZE) UTF-8 ALL',
      'THREAD REFERENCES UTF-8 ALL',
      'THREAD ORDEREDSUBJECT UTF-8 ALL',
    ]) {
      const t = a.tag();
      a.write(`${t} ${command}\r\n`);
      const done = a.until(t, 120_000);
      let finished = false;
      void done.then(() => (finished = true));
      const noopTimes: number[] = [];
      do {
        const s = Date.now();
        assert.equal((await b.command('NOOP')).status, 'OK');
        noopTimes.push(Date.now() - s);
      } while (!finished);
      const r = await done;
      assert.equal(r.status, 'OK', command);
      const line = r.untagged.find((l) => /^\* (SORT|THREAD|ESEARCH)/.test(l))!;
      if (command.startsWith('SORT (FROM')) {
        // "a" (the even messages) first; copies share their internal date, so within each group
        // the sequence number decides, ascending whatever REVERSE says.
        const n = sortNumbers(r.untagged);
        assert.equal(n.length, 32768);
        assert.deepEqual(n.slice(0, 3), [2, 4, 6]);
        assert.deepEqual(n.slice(-2), [32765, 32767]);
      } else if (command.startsWith('SORT RETURN')) {
        // One base subject, two sizes: the smaller (odd messages) first.
        assert.match(line, /MIN 1 MAX 32768 COUNT 32768$/);
      } else if (command.includes('REFERENCES')) {
        // Copies share their Message-ID: message 1 keeps <a@x>; every copy of message 2 (a
        // duplicate <b@x>, so an id of its own, RFC 5256 step 1) still refers to <a@x> and so is
        // a child of 1; the copies of 1 stand alone, and with the base subject "bulk" all merge
        // under a dummy root (step 5).
        assert.ok(line.startsWith('* THREAD ((1 (2)(4)(6)'), line.slice(0, 80));
      } else {
        // One base subject, one thread, by sent date: the copies of 1 (delivered first, and
        // copies keep the internal date) before those of 2.
        assert.ok(line.startsWith('* THREAD (1 (3)(5)(7)'), line.slice(0, 80));
        assert.ok(line.endsWith('(32766)(32768))'), line.slice(-80));
      }
      const worst = Math.max(...noopTimes);
      // Every NOOP within 100 ms: loading, sorting, threading and writing yield every few ms.
      assert.ok(worst < 100, `NOOPs took up to ${worst} ms during ${command} (${noopTimes.length} probes)`);
    }
    a.destroy();
    b.destroy();
  });
});

void describe('kept SORT orders and THREAD answers (sort-cache.ts) follow the mailbox', () => {
  let server: ImapTestServer;
  before(async () => {
    server = await startImapServer();
    const c = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await c.command('CREATE Kept')).status, 'OK');
    c.destroy();
  });
  after(async () => {
    await server.close();
  });

  /** Delivers a message with this subject (and a reply's References), in arrival order. */
  const deliver = (subject: string, id: string, refs?: string): Promise<unknown> =>
    server.deliver(
      USER,
      'Kept',
      crlf(`Subject: ${subject}\nMessage-ID: <${id}@k>\n${refs ? `References: <${refs}@k>\n` : ''}`, 'x\n'),
    );

  void it('new mail, expunges and another session: each SORT equals the model, each THREAD the new set', async () => {
    // Subjects and their arrival order; the model is the subjects sorted, ties by arrival.
    const model: Array<{ uid: number; subject: string }> = [];
    let uid = 0;
    const add = async (subject: string): Promise<void> => {
      await deliver(subject, `m${++uid}`, uid > 1 && subject.startsWith('Re:') ? 'm1' : undefined);
      model.push({ uid, subject });
    };
    for (const s of ['delta', 'alpha', 'Re: delta', 'charlie', 'bravo', 'alpha']) await add(s);
    const base = (s: string): string => s.replace(/^Re: /, '').toUpperCase();
    const expected = (): number[] =>
      model
        .slice()
        .sort((a, b) =>
          base(a.subject) < base(b.subject) ? -1 : base(a.subject) > base(b.subject) ? 1 : a.uid - b.uid,
        )
        .map((m) => m.uid);
    const a = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await a.command('SELECT Kept')).status, 'OK');
    assert.deepEqual(sortNumbers((await a.command('UID SORT (SUBJECT) UTF-8 ALL')).untagged), expected());
    const threadOf = async (c: RawImapClient): Promise<string> =>
      (await c.command('UID THREAD REFERENCES UTF-8 ALL')).untagged.find((l) => l.startsWith('* THREAD'))!;
    assert.equal(await threadOf(a), '* THREAD (1 3)((2)(6))(4)(5)');
    // New mail between two SORTs: merged into the kept order.
    for (const s of ['Re: delta', 'echo', 'aardvark', 'charlie']) await add(s);
    assert.equal((await a.command('NOOP')).status, 'OK');
    assert.deepEqual(sortNumbers((await a.command('UID SORT (SUBJECT) UTF-8 ALL')).untagged), expected());
    // 7 replies to 1 beside 3; 10 shares 4's subject (neither a reply: a dummy holds both).
    assert.equal(await threadOf(a), '* THREAD (1 (3)(7))((2)(6))((4)(10))(5)(8)(9)');
    // Another session expunges two; this session's next SORT leaves them out.
    const b = await RawImapClient.login(server.ports.imap, USER);
    assert.equal((await b.command('SELECT Kept')).status, 'OK');
    assert.equal((await b.command('UID STORE 2,7 +FLAGS.SILENT (\\Deleted)')).status, 'OK');
    assert.equal((await b.command('EXPUNGE')).status, 'OK');
    model.splice(
      model.findIndex((m) => m.uid === 2),
      1,
    );
    model.splice(
      model.findIndex((m) => m.uid === 7),
      1,
    );
    assert.deepEqual(sortNumbers((await b.command('UID SORT (SUBJECT) UTF-8 ALL')).untagged), expected());
    assert.equal(await threadOf(b), '* THREAD (1 3)((4)(10))(5)(6)(8)(9)');
    // Session a has not been told of the expunges yet (no NOOP): its view still has them and
    // SORT by sequence number counts them (RFC 9051 §7.5.1); after NOOP it agrees with b.
    assert.equal((await a.command('NOOP')).status, 'OK');
    assert.deepEqual(sortNumbers((await a.command('UID SORT (SUBJECT) UTF-8 ALL')).untagged), expected());
    // Sequence numbers come from the session's view, not from the kept order.
    const seqs = sortNumbers((await a.command('SORT (SUBJECT) UTF-8 ALL')).untagged);
    const uids = model.map((m) => m.uid).sort((x, y) => x - y);
    assert.deepEqual(
      seqs,
      expected().map((u) => uids.indexOf(u) + 1),
    );
    a.destroy();
    b.destroy();
  });
});
