// CONDSTORE and QRESYNC (RFC 7162) over real sockets: the enabling commands, HIGHESTMODSEQ in
// SELECT and in EXPUNGE's OK, SEARCH MODSEQ, FETCH CHANGEDSINCE, STORE UNCHANGEDSINCE with
// MODIFIED, and a QRESYNC resynchronisation after another session's flag changes and expunges:
// the exact VANISHED (EARLIER) set and the exact changed messages, with VANISHED instead of
// EXPUNGE once QRESYNC is on.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { message, RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';

/** The number in `* OK [NAME n]` among untagged lines, or in a tagged line. */
function codeNumber(lines: readonly string[], name: string): number {
  for (const l of lines) {
    const m = new RegExp(`\\[${name} (\\d+)\\]`).exec(l);
    if (m !== null) return Number(m[1]);
  }
  throw new Error(`no [${name}] in ${lines.join(' | ')}`);
}

/** The lines without IMAP4rev1's \\Recent (the sessions here hold every message's). */
function nr(lines: readonly string[]): string[] {
  return lines.map((l) => l.replace(/ \\Recent\)/, ')').replace(/\(\\Recent\)/, '()'));
}

void describe('IMAP CONDSTORE and QRESYNC (RFC 7162)', () => {
  let server: ImapTestServer;
  let boxes = 0;

  async function mailbox(n: number): Promise<string> {
    const name = `Q${++boxes}`;
    const account = (await server.store.getAccount(ALICE))!;
    await server.store.createMailbox(account.id, name);
    for (let i = 1; i <= n; i++) await server.deliver(ALICE, name, message(`m${i}`));
    return name;
  }

  before(async () => {
    server = await startImapServer();
  });
  after(async () => {
    await server.close();
  });

  void it('advertises both; SELECT tells HIGHESTMODSEQ; STATUS, FETCH MODSEQ, SEARCH MODSEQ and UNCHANGEDSINCE enable CONDSTORE', async () => {
    const box = await mailbox(3);
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    const caps = await c.command('CAPABILITY');
    assert.match(caps.untagged[0]!, / CONDSTORE /);
    assert.match(caps.untagged[0]!, / QRESYNC/);
    // No HIGHESTMODSEQ before CONDSTORE is on (as Dovecot); STATUS asks for it (and enables it).
    const sel = await c.command(`SELECT ${box}`);
    assert.ok(!sel.untagged.some((l) => l.includes('HIGHESTMODSEQ')));
    const status = await c.command(`STATUS ${box} (HIGHESTMODSEQ)`);
    const highest = Number(/HIGHESTMODSEQ (\d+)/.exec(status.untagged[0]!)![1]);
    assert.ok(highest >= 1);
    // STATUS enabled CONDSTORE for the session: the next SELECT tells HIGHESTMODSEQ.
    assert.equal(codeNumber((await c.command(`SELECT ${box}`)).untagged, 'HIGHESTMODSEQ'), highest);
    let r = await c.command('STORE 1 +FLAGS (\\Seen)');
    assert.match(nr(r.untagged)[0]!, /^\* 1 FETCH \(FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/);
    // SEARCH MODSEQ ends with the highest modseq of what it found.
    r = await c.command(`SEARCH MODSEQ ${highest + 1}`);
    const m1 = /^\* SEARCH 1 \(MODSEQ (\d+)\)$/.exec(r.untagged[0]!);
    assert.ok(m1 !== null, r.untagged[0]);
    assert.ok(Number(m1[1]) > highest);
    r = await c.command('STORE 2 +FLAGS (\\Flagged)');
    assert.match(nr(r.untagged)[0]!, /^\* 2 FETCH \(FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/);
    // UNCHANGEDSINCE older than message 2's modseq: not changed, MODIFIED names it.
    r = await c.command(`UID STORE 2,3 (UNCHANGEDSINCE ${highest}) +FLAGS (\\Answered)`);
    assert.match(r.tagged, /OK \[MODIFIED 2\]/);
    assert.match(nr(r.untagged).join('|'), /^\* 3 FETCH \(UID 3 FLAGS \(\\Answered\) MODSEQ \(\d+\)\)$/);
    // FETCH CHANGEDSINCE: only what changed after the given modseq, with MODSEQ.
    r = await c.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest})`);
    assert.equal(r.untagged.length, 3);
    r = await c.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${Number(m1[1])})`);
    assert.deepEqual(
      nr(r.untagged).map((l) => l.replace(/MODSEQ \(\d+\)/, 'MODSEQ (n)')),
      ['* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (n))', '* 3 FETCH (UID 3 FLAGS (\\Answered) MODSEQ (n))'],
    );
    // VANISHED is a QRESYNC modifier.
    r = await c.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)`);
    assert.equal(r.status, 'BAD');
    // EXPUNGE's OK carries the new HIGHESTMODSEQ once CONDSTORE is on.
    await c.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    r = await c.command('EXPUNGE');
    assert.deepEqual(r.untagged, ['* 1 EXPUNGE']);
    assert.match(r.tagged, /OK \[HIGHESTMODSEQ \d+\]/);
    c.destroy();

    // Each CONDSTORE enabling command (RFC 7162 §3.1), in a new session: MODSEQ from then on.
    const enablers = [`SEARCH MODSEQ 1`, `FETCH 1 (MODSEQ)`, `SELECT ${box} (CONDSTORE)`];
    for (const [i, enabling] of enablers.entries()) {
      const d = await RawImapClient.login(server.ports.imap, ALICE);
      if (!enabling.startsWith('SELECT')) {
        await d.command(`SELECT ${box}`);
        const before = await d.command(`STORE 1 +FLAGS ($before${i})`);
        assert.doesNotMatch(before.untagged.join('|'), /MODSEQ/, enabling);
      }
      await d.command(enabling);
      r = await d.command(`STORE 1 +FLAGS ($k${i})`);
      assert.match(r.untagged.join('|'), /MODSEQ \(\d+\)/, enabling);
      d.destroy();
    }
  });

  void it('QRESYNC: a reconnecting client learns exactly what another session expunged and changed', async () => {
    const box = await mailbox(8);
    const a = await RawImapClient.login(server.ports.imap, ALICE);
    assert.deepEqual((await a.command('ENABLE QRESYNC')).untagged, ['* ENABLED QRESYNC']);
    const sel = await a.command(`SELECT ${box}`);
    const validity = codeNumber(sel.untagged, 'UIDVALIDITY');
    const modseq = codeNumber(sel.untagged, 'HIGHESTMODSEQ');
    await a.command('UNSELECT');

    // Meanwhile another session: flags on 2 and 5, expunges 3, 6 and 7, and a new message 9.
    const b = await RawImapClient.login(server.ports.imap, ALICE);
    await b.command(`SELECT ${box}`);
    await b.command('STORE 2 +FLAGS ($Work)');
    await b.command('STORE 5 +FLAGS (\\Seen)');
    await b.command('STORE 3,6,7 +FLAGS.SILENT (\\Deleted)');
    await b.command('EXPUNGE');
    await server.deliver(ALICE, box, message('m9'));

    // Resync with the known UIDs 1:8 (and sequence match data, which is only checked).
    const r = await a.command(`SELECT ${box} (QRESYNC (${validity} ${modseq} 1:8 (1:8 1:8)))`);
    assert.equal(r.status, 'OK', r.tagged);
    const vanished = r.untagged.filter((l) => l.startsWith('* VANISHED'));
    assert.deepEqual(vanished, ['* VANISHED (EARLIER) 3,6:7']);
    const fetches = r.untagged
      .filter((l) => / FETCH /.test(l))
      .map((l) => l.replace(/MODSEQ \(\d+\)/, 'MODSEQ (n)').replace(/ ?\\Recent/, ''));
    assert.deepEqual(fetches, [
      '* 2 FETCH (UID 2 FLAGS ($Work) MODSEQ (n))',
      '* 4 FETCH (UID 5 FLAGS (\\Seen) MODSEQ (n))',
      '* 6 FETCH (UID 9 FLAGS () MODSEQ (n))',
    ]);
    assert.ok(
      r.untagged.indexOf(vanished[0]!) < r.untagged.findIndex((l) => / FETCH /.test(l)),
      'VANISHED before FETCH',
    );
    assert.ok(r.untagged.includes('* 6 EXISTS'));
    const newHighest = codeNumber(r.untagged, 'HIGHESTMODSEQ');
    assert.ok(newHighest > modseq);

    // A wrong UIDVALIDITY: a plain SELECT, nothing resynchronised.
    const wrong = await a.command(`SELECT ${box} (QRESYNC (${validity + 1} ${modseq}))`);
    assert.ok(wrong.untagged.some((l) => l.startsWith('* OK [CLOSED]')));
    assert.ok(!wrong.untagged.some((l) => l.startsWith('* VANISHED') || / FETCH /.test(l)));

    // Now selected with QRESYNC on: another session's expunge arrives as VANISHED, not EXPUNGE.
    await b.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.command('EXPUNGE');
    const noop = await a.command('NOOP');
    assert.deepEqual(noop.untagged, ['* VANISHED 1']);
    // UID FETCH ... (CHANGEDSINCE m VANISHED): the expunged UIDs since m first, then the changes.
    const f = await a.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
    assert.equal(f.untagged[0], '* VANISHED (EARLIER) 1,3,6:7');
    assert.equal(f.untagged.length, 4);
    // Its own EXPUNGE too, with HIGHESTMODSEQ in the OK.
    await a.command('UID STORE 9 +FLAGS.SILENT (\\Deleted)');
    const e = await a.command('EXPUNGE');
    assert.deepEqual(e.untagged, ['* VANISHED 9']);
    assert.match(e.tagged, /OK \[HIGHESTMODSEQ \d+\]/);
    a.destroy();
    b.destroy();
  });

  void it('after the change log is pruned, a resync from an older modseq gets a superset of what vanished; a newer one stays exact', async () => {
    const box = await mailbox(10);
    const b = await RawImapClient.login(server.ports.imap, ALICE);
    await b.command('ENABLE CONDSTORE');
    await b.command(`SELECT ${box}`);
    // UID 2 goes before the client's snapshot: an exact answer would not name it.
    await b.command('UID STORE 2 +FLAGS.SILENT (\\Deleted)');
    await b.command('EXPUNGE');
    const a = await RawImapClient.login(server.ports.imap, ALICE);
    await a.command('ENABLE QRESYNC');
    const sel = await a.command(`SELECT ${box}`);
    const validity = codeNumber(sel.untagged, 'UIDVALIDITY');
    const old = codeNumber(sel.untagged, 'HIGHESTMODSEQ');
    await a.command('UNSELECT');
    await b.command('UID STORE 3:4 +FLAGS.SILENT (\\Deleted)');
    const e = await b.command('EXPUNGE');
    const floor = codeNumber([e.tagged], 'HIGHESTMODSEQ');
    // Retention 0: every expunge logged so far is pruned, and the floor rises to `floor`.
    const gc = await server.store.collectGarbage({ changeLogRetentionMs: 0 });
    assert.ok(gc.changeRowsPruned >= 3, `pruned ${gc.changeRowsPruned}`);
    await b.command('UID STORE 8 +FLAGS.SILENT (\\Deleted)');
    await b.command('EXPUNGE');

    // From before the floor: every UID up to the highest that is gone, 2 included (RFC 7162 §3.2.5.1).
    let r = await a.command(`SELECT ${box} (QRESYNC (${validity} ${old}))`);
    assert.deepEqual(
      r.untagged.filter((l) => l.startsWith('* VANISHED')),
      ['* VANISHED (EARLIER) 2:4,8'],
    );
    // With known UIDs, only those.
    await a.command('UNSELECT');
    r = await a.command(`SELECT ${box} (QRESYNC (${validity} ${old} 3,5:10))`);
    assert.deepEqual(
      r.untagged.filter((l) => l.startsWith('* VANISHED')),
      ['* VANISHED (EARLIER) 3,8'],
    );
    const f = await a.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${old} VANISHED)`);
    assert.equal(f.untagged[0], '* VANISHED (EARLIER) 2:4,8');
    // From the floor on the log is whole: exact.
    const g = await a.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${floor} VANISHED)`);
    assert.equal(g.untagged[0], '* VANISHED (EARLIER) 8');
    const status = await a.command(`STATUS ${box} (MESSAGES)`);
    assert.match(status.untagged[0]!, /\(MESSAGES 6\)$/);
    a.destroy();
    b.destroy();
  });

  void it('refuses malformed parameters and QRESYNC before ENABLE QRESYNC', async () => {
    const box = await mailbox(1);
    const c = await RawImapClient.login(server.ports.imap, ALICE);
    for (const bad of [
      `SELECT ${box} (QRESYNC (1 1))`,
      `SELECT ${box} (FOO)`,
      `SELECT ${box} ()`,
      `SELECT ${box} CONDSTORE`,
    ]) {
      assert.equal((await c.command(bad)).status, 'BAD', bad);
    }
    await c.command('ENABLE QRESYNC');
    for (const bad of [
      `SELECT ${box} (QRESYNC (0 1))`,
      `SELECT ${box} (QRESYNC (1))`,
      `SELECT ${box} (QRESYNC (1 1 x))`,
      `SELECT ${box} (QRESYNC (1 1 1:2 (1)))`,
      `SELECT ${box} (QRESYNC (1 1 1:2 (1 2 3)))`,
    ]) {
      assert.equal((await c.command(bad)).status, 'BAD', bad);
    }
    assert.equal((await c.command(`SELECT ${box} (QRESYNC (1 1 1:*))`)).status, 'OK');
    assert.equal((await c.command('FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)')).status, 'BAD');
    c.destroy();
  });
});
