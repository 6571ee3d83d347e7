// The outbound queue's per-recipient state on a real SQLite store: claims with leases across
// two connections (as two processes), attempt outcomes, hold/release/retry, list filters, the
// message leaving the queue (and its blob released) once every recipient is final, bad input,
// and the migration that makes recipient rows from the JSON of messages queued before it.

import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import Database from 'better-sqlite3';
import { isStoreError } from '../../core/errors.js';
import type { OutboundEnvelope, QueueClaim } from '../types.js';
import { MIGRATIONS, migrate } from './schema.js';
import { openSqliteStore, SQLITE_FILE_NAME } from './sqlite-store.js';
import {
  fakeBlob,
  makeTempDir,
  openFixture,
  RecordingBlobStore,
  type StoreFixture,
} from './store-fixture.js';
import { promises as fsp } from 'node:fs';

let fx: StoreFixture;
beforeEach(async () => {
  fx = await openFixture();
});
afterEach(async () => {
  await fx.cleanup();
});

const MIN = 60_000;

function envelope(addresses: string[], over: Partial<OutboundEnvelope> = {}): OutboundEnvelope {
  return {
    mailFrom: 'sender@example.org',
    recipients: addresses.map((address, i) => ({
      address,
      notify: i === 0 ? ['SUCCESS', 'FAILURE'] : null,
      orcpt: i === 0 ? `rfc822;${address}` : null,
    })),
    envid: 'env-1',
    ret: 'HDRS',
    body: '8BITMIME',
    smtputf8: false,
    accountId: null,
    ...over,
  };
}

async function queue(
  text: string,
  addresses: string[],
  over: Partial<OutboundEnvelope> = {},
): Promise<number> {
  const blob = fx.blobs.remember(fakeBlob(text));
  await fx.store.append({ blob, targets: [], outbound: envelope(addresses, over) });
  const all = await fx.store.listOutbound();
  return all[all.length - 1]!.id;
}

const ids = (claims: QueueClaim[]): number[] =>
  claims.flatMap((c) => c.recipients.map((r) => r.id)).sort((a, b) => a - b);

void test('a queued message has one row per recipient, queued and due at once, in envelope order', async () => {
  const id = await queue('Subject: a\r\n\r\na\r\n', [
    'one@Remote.TEST',
    'two@remote.test',
    '"x@y"@other.test',
  ]);
  const d = (await fx.store.showQueued(id))!;
  assert.equal(d.id, id);
  assert.equal(d.mailFrom, 'sender@example.org');
  assert.deepEqual(
    d.recipients.map((r) => [r.address, r.domain, r.status, r.attempts, r.leaseOwner]),
    [
      ['one@Remote.TEST', 'remote.test', 'queued', 0, null],
      ['two@remote.test', 'remote.test', 'queued', 0, null],
      ['"x@y"@other.test', 'other.test', 'queued', 0, null],
    ],
  );
  assert.deepEqual(d.recipients[0]!.notify, ['SUCCESS', 'FAILURE']);
  assert.equal(d.recipients[0]!.orcpt, 'rfc822;one@Remote.TEST');
  assert.equal(d.recipients[1]!.notify, null);
  assert.ok(d.recipients[0]!.nextAttemptAt.getTime() <= Date.now());
  const [entry] = await fx.store.listQueue();
  assert.deepEqual(entry!.counts, { queued: 3, deferred: 0, delivered: 0, failed: 0, held: 0 });
  assert.equal('recipients' in entry!, false, 'a list line carries counts, not recipients');
  assert.equal(await fx.store.showQueued(id + 100), null);
});

void test('claims lease disjoint recipients across connections, bounded; a lapsed lease is claimable again', async () => {
  await queue('Subject: b1\r\n\r\nb\r\n', ['a@one.test', 'b@one.test']);
  await queue('Subject: b2\r\n\r\nb\r\n', ['c@two.test', 'd@two.test', 'e@two.test']);
  const other = await fx.openAnother();
  const now = new Date();
  const [x, y] = await Promise.all([
    fx.store.claimOutbound({ owner: 'p1', leaseMs: 5 * MIN, maxRecipients: 3, now }),
    other.claimOutbound({ owner: 'p2', leaseMs: 5 * MIN, maxRecipients: 3, now }),
  ]);
  const xs = ids(x);
  const ys = ids(y);
  assert.equal(xs.length + ys.length, 5, 'every recipient claimed once');
  assert.ok(xs.length <= 3 && ys.length <= 3, 'maxRecipients bounds a claim');
  assert.equal(new Set([...xs, ...ys]).size, 5, 'no recipient leased twice');
  for (const c of [...x, ...y]) {
    assert.equal('recipients' in c.message, false);
    for (const r of c.recipients) assert.equal(r.messageId, c.message.id);
  }
  assert.deepEqual(await fx.store.claimOutbound({ owner: 'p3', leaseMs: MIN, maxRecipients: 10, now }), []);

  // p1 renews; p2 does not: after 6 minutes only p2's recipients are free, and p3 takes them.
  assert.deepEqual(await fx.store.renewOutboundClaim('p1', xs, 10 * MIN), xs);
  assert.deepEqual(await fx.store.renewOutboundClaim('p3', xs, 10 * MIN), [], 'not held by p3');
  const later = new Date(Date.now() + 6 * MIN);
  const z = await other.claimOutbound({ owner: 'p3', leaseMs: MIN, maxRecipients: 10, now: later });
  assert.deepEqual(ids(z), ys);

  // p2's late outcome is not recorded: p3 holds those recipients now.
  const msg = y[0]!.message.id;
  const late = await other.recordOutboundAttempt({
    owner: 'p2',
    messageId: msg,
    outcomes: y[0]!.recipients.map((r) => ({ recipientId: r.id, kind: 'delivered' as const })),
  });
  assert.deepEqual(late.recorded, []);
  assert.equal(late.finished, false);
  assert.equal(late.lost.length, y[0]!.recipients.length);

  assert.equal(await fx.store.releaseOutboundClaims('p3'), ys.length);
  assert.equal(await fx.store.releaseOutboundClaims('p3'), 0);
  assert.deepEqual(
    ids(await fx.store.claimOutbound({ owner: 'p4', leaseMs: MIN, maxRecipients: 10, now: later })),
    ys,
  );
});

void test('outcomes: delivered, failed, deferred; the message leaves the queue when all are final', async () => {
  const text = 'Subject: c\r\n\r\nc\r\n';
  const id = await queue(text, ['a@x.test', 'b@x.test', 'c@y.test']);
  const [claim] = await fx.store.claimOutbound({ owner: 'w', leaseMs: MIN, maxRecipients: 10 });
  const [a, b, c] = claim!.recipients;
  const at = new Date(Date.now() - 1000);
  const until = new Date(Date.now() + 5 * MIN);
  const r1 = await fx.store.recordOutboundAttempt({
    owner: 'w',
    messageId: id,
    at,
    outcomes: [
      {
        recipientId: a!.id,
        kind: 'delivered',
        reply: { code: 250, enhanced: '2.0.0', text: 'ok' },
        remoteMta: 'mx.x.test',
      },
      { recipientId: b!.id, kind: 'failed', reply: { code: 550, enhanced: '5.1.1', text: 'no such user' } },
      {
        recipientId: c!.id,
        kind: 'deferred',
        until,
        reply: { code: 451, enhanced: null, text: 'try later' },
        delayWarned: true,
      },
    ],
  });
  assert.deepEqual(r1, { recorded: [a!.id, b!.id, c!.id], lost: [], finished: false, owedDsn: null });
  const d = (await fx.store.showQueued(id))!;
  assert.equal(d.attempts, 1);
  assert.equal(d.nextAttemptAt.getTime(), until.getTime(), 'the message is due with its earliest recipient');
  const [ra, rb, rc] = d.recipients;
  assert.equal(ra!.status, 'delivered');
  assert.deepEqual(ra!.lastReply, { code: 250, enhanced: '2.0.0', text: 'ok' });
  assert.equal(ra!.remoteMta, 'mx.x.test');
  assert.equal(ra!.lastAttemptAt!.getTime(), at.getTime());
  assert.equal(rb!.status, 'failed');
  assert.equal(rc!.status, 'deferred');
  assert.equal(rc!.attempts, 1);
  assert.equal(rc!.nextAttemptAt.getTime(), until.getTime());
  assert.equal(rc!.delayWarnedAt!.getTime(), at.getTime());
  assert.equal(rc!.leaseOwner, null, 'recording ends the lease');

  // A final recipient is not recorded again; a deferred one is not due before its time.
  const again = await fx.store.recordOutboundAttempt({
    owner: 'w',
    messageId: id,
    outcomes: [{ recipientId: a!.id, kind: 'failed' }],
  });
  assert.deepEqual(again.lost, [a!.id]);
  assert.deepEqual(await fx.store.claimOutbound({ owner: 'w', leaseMs: MIN, maxRecipients: 10 }), []);

  // Due later: claimed and delivered; the message goes and its blob is released for GC.
  const [late] = await fx.store.claimOutbound({
    owner: 'w2',
    leaseMs: MIN,
    maxRecipients: 10,
    now: new Date(until.getTime() + 1),
  });
  assert.deepEqual(
    late!.recipients.map((r) => r.id),
    [c!.id],
  );
  const done = await fx.store.recordOutboundAttempt({
    owner: 'w2',
    messageId: id,
    outcomes: [{ recipientId: c!.id, kind: 'delivered' }],
  });
  assert.deepEqual(done, { recorded: [c!.id], lost: [], finished: true, owedDsn: null });
  assert.equal(await fx.store.showQueued(id), null);
  assert.equal(await fx.store.countOutbound(), 0);
  const gc = await fx.store.collectGarbage({ graceMs: 0 });
  assert.equal(gc.blobsRemoved, 1);
  assert.deepEqual(
    fx.blobs.removed.map((r) => r.blobId),
    [fakeBlob(text).blobId],
  );
  await assert.rejects(fx.store.recordOutboundAttempt({ owner: 'w2', messageId: id, outcomes: [] }), (e) =>
    isStoreError(e, 'NOT_FOUND'),
  );
});

void test('hold, release, retry and delete', async () => {
  const id = await queue('Subject: d\r\n\r\nd\r\n', ['a@x.test', 'b@x.test']);
  const other = await queue('Subject: d2\r\n\r\nd\r\n', ['c@x.test']);
  assert.equal(await fx.store.holdOutbound(id), 2);
  assert.equal(await fx.store.holdOutbound(id), 0, 'already held');
  const claimed = await fx.store.claimOutbound({ owner: 'w', leaseMs: MIN, maxRecipients: 10 });
  assert.deepEqual(
    claimed.map((c) => c.message.id),
    [other],
    'held recipients are not claimed',
  );
  assert.deepEqual(
    (await fx.store.listQueue({ status: 'held' })).map((e) => e.id),
    [id],
  );

  assert.equal(await fx.store.releaseOutbound(id), 2);
  assert.equal(await fx.store.releaseOutbound(id), 0);
  const [c] = await fx.store.claimOutbound({ owner: 'w', leaseMs: MIN, maxRecipients: 10 });
  assert.equal(c!.message.id, id);
  const far = new Date(Date.now() + 3600_000);
  await fx.store.recordOutboundAttempt({
    owner: 'w',
    messageId: id,
    outcomes: c!.recipients.map((r) => ({ recipientId: r.id, kind: 'deferred' as const, until: far })),
  });
  assert.deepEqual(await fx.store.claimOutbound({ owner: 'w', leaseMs: MIN, maxRecipients: 10 }), []);

  // Held after an attempt, then released: deferred (it was tried), due now.
  assert.equal(await fx.store.holdOutbound(id), 2);
  assert.equal(await fx.store.releaseOutbound(id), 2);
  let d = (await fx.store.showQueued(id))!;
  assert.deepEqual(
    d.recipients.map((r) => r.status),
    ['deferred', 'deferred'],
  );
  assert.ok(d.nextAttemptAt.getTime() <= Date.now());

  // retry makes deferred recipients due at once.
  const [c2] = await fx.store.claimOutbound({ owner: 'w', leaseMs: MIN, maxRecipients: 10 });
  await fx.store.recordOutboundAttempt({
    owner: 'w',
    messageId: id,
    outcomes: c2!.recipients.map((r) => ({ recipientId: r.id, kind: 'deferred' as const, until: far })),
  });
  assert.equal(await fx.store.retryOutbound(id), 2);
  d = (await fx.store.showQueued(id))!;
  assert.ok(d.recipients.every((r) => r.nextAttemptAt.getTime() <= Date.now()));
  assert.equal(d.attempts, 2);

  // A hold while a send is under way: the sender's deferral keeps it held; delivery still counts.
  const [c3] = await fx.store.claimOutbound({ owner: 'w', leaseMs: MIN, maxRecipients: 10 });
  assert.equal(await fx.store.holdOutbound(id), 2);
  const [r1, r2] = c3!.recipients;
  await fx.store.recordOutboundAttempt({
    owner: 'w',
    messageId: id,
    outcomes: [
      { recipientId: r1!.id, kind: 'delivered' },
      { recipientId: r2!.id, kind: 'deferred', until: far },
    ],
  });
  d = (await fx.store.showQueued(id))!;
  assert.deepEqual(
    d.recipients.map((r) => r.status),
    ['delivered', 'held'],
  );

  await fx.store.deleteOutbound(id);
  assert.equal(await fx.store.showQueued(id), null);
  for (const op of [
    () => fx.store.holdOutbound(id),
    () => fx.store.releaseOutbound(id),
    () => fx.store.retryOutbound(id),
    () => fx.store.deleteOutbound(id),
  ]) {
    await assert.rejects(op(), (e) => isStoreError(e, 'NOT_FOUND'));
  }
  assert.equal(
    (await fx.store.collectGarbage({ graceMs: 0 })).blobsRemoved,
    1,
    'the deleted message released its blob',
  );
});

void test('list filters: status, domain, sender, paging', async () => {
  const a = await queue('Subject: e1\r\n\r\ne\r\n', ['x@one.test'], { mailFrom: 'Alice@example.org' });
  const b = await queue('Subject: e2\r\n\r\ne\r\n', ['y@two.test', 'z@one.test'], { mailFrom: '' });
  const c = await queue('Subject: e3\r\n\r\ne\r\n', ['w@three.test'], { mailFrom: 'bob@example.org' });
  await fx.store.holdOutbound(c);
  const list = async (f: Parameters<typeof fx.store.listQueue>[0]): Promise<number[]> =>
    (await fx.store.listQueue(f)).map((e) => e.id);
  assert.deepEqual(await list({}), [a, b, c]);
  assert.deepEqual(await list({ domain: 'ONE.test' }), [a, b]);
  assert.deepEqual(await list({ sender: 'alice@EXAMPLE.org' }), [a]);
  assert.deepEqual(await list({ sender: '' }), [b]);
  assert.deepEqual(await list({ status: 'queued' }), [a, b]);
  assert.deepEqual(await list({ status: 'held' }), [c]);
  assert.deepEqual(await list({ limit: 2 }), [a, b]);
  assert.deepEqual(await list({ afterId: b }), [c]);
  assert.deepEqual((await fx.store.listQueue({ domain: 'two.test' }))[0]!.counts.queued, 2);
  for (const bad of [{ status: 'lost' }, { limit: 0 }, { limit: 1e9 }, { domain: '' }, { afterId: -1 }]) {
    await assert.rejects(
      fx.store.listQueue(bad as never),
      (e) => isStoreError(e, 'INVALID_ARGUMENT'),
      JSON.stringify(bad),
    );
  }
});

void test('bad claims and outcomes are refused with INVALID_ARGUMENT naming the field', async () => {
  const id = await queue('Subject: f\r\n\r\nf\r\n', ['a@x.test']);
  const claim = (over: object) =>
    fx.store.claimOutbound({ owner: 'w', leaseMs: MIN, maxRecipients: 1, ...over } as never);
  const invalid = (re: RegExp) => (e: unknown) =>
    isStoreError(e, 'INVALID_ARGUMENT') && re.test((e as Error).message);
  await assert.rejects(claim({ owner: '' }), invalid(/owner/));
  await assert.rejects(claim({ leaseMs: 0 }), invalid(/leaseMs/));
  await assert.rejects(claim({ maxRecipients: 0 }), invalid(/maxRecipients/));
  await assert.rejects(claim({ maxRecipients: 1e6 }), invalid(/maxRecipients/));
  await assert.rejects(claim({ now: new Date(NaN) }), invalid(/now/));
  const [c] = await claim({});
  const rid = c!.recipients[0]!.id;
  const record = (outcomes: unknown[]) =>
    fx.store.recordOutboundAttempt({ owner: 'w', messageId: id, outcomes: outcomes as never });
  await assert.rejects(record([{ recipientId: rid, kind: 'bounced' }]), invalid(/kind/));
  await assert.rejects(record([{ recipientId: rid, kind: 'deferred' }]), invalid(/until/));
  await assert.rejects(
    record([{ recipientId: rid, kind: 'failed', reply: { code: 99, enhanced: null, text: '' } }]),
    invalid(/code/),
  );
  await assert.rejects(
    record([{ recipientId: rid, kind: 'failed', reply: { code: 550, enhanced: '9.9', text: '' } }]),
    invalid(/enhanced/),
  );
  await assert.rejects(
    record([
      { recipientId: rid, kind: 'delivered' },
      { recipientId: rid, kind: 'failed' },
    ]),
    invalid(/two outcomes/),
  );
  await assert.rejects(fx.store.renewOutboundClaim('w', [-1], MIN), invalid(/recipient ids/));
  // Nothing was recorded by the refusals: the recipient is still leased to w and open.
  const d = (await fx.store.showQueued(id))!;
  assert.equal(d.recipients[0]!.status, 'queued');
  assert.equal(d.recipients[0]!.leaseOwner, 'w');
});

void test('the migration makes recipient rows from the JSON of messages queued before it', async () => {
  const dir = await makeTempDir();
  try {
    const file = path.join(dir, SQLITE_FILE_NAME);
    const db = new Database(file);
    try {
      migrate(
        db,
        MIGRATIONS.filter((m) => m.version < 8),
      );
      const blobId = 'ab'.repeat(32);
      db.prepare(`INSERT INTO blobs (id, size, mime, refcount) VALUES (?, 10, '{}', 2)`).run(blobId);
      const rcpts = (list: unknown[]) => JSON.stringify(list);
      const insert = db.prepare(
        `INSERT INTO outbound_queue (blob_id, size, mail_from, recipients, body, queued_at, next_attempt_at, attempts)
         VALUES (?, 10, 's@example.org', ?, '7BIT', 1000, ?, ?)`,
      );
      insert.run(
        blobId,
        rcpts([
          { address: 'a@One.Test', notify: ['DELAY'], orcpt: 'rfc822;a@one.test' },
          { address: '"q@r"@two.test', notify: null, orcpt: null },
        ]),
        5000,
        0,
      );
      insert.run(blobId, rcpts([{ address: 'c@three.test', notify: null, orcpt: null }]), 9000, 3);
    } finally {
      db.close();
    }
    const store = await openSqliteStore({ dataDir: dir, blobs: new RecordingBlobStore() });
    try {
      const [m1, m2] = await store.listQueue();
      const d1 = (await store.showQueued(m1!.id))!;
      assert.deepEqual(
        d1.recipients.map((r) => [
          r.address,
          r.domain,
          r.notify,
          r.orcpt,
          r.status,
          r.attempts,
          r.nextAttemptAt.getTime(),
        ]),
        [
          ['a@One.Test', 'one.test', ['DELAY'], 'rfc822;a@one.test', 'queued', 0, 5000],
          ['"q@r"@two.test', 'two.test', null, null, 'queued', 0, 5000],
        ],
      );
      const d2 = (await store.showQueued(m2!.id))!;
      assert.deepEqual(
        d2.recipients.map((r) => [r.address, r.status, r.attempts, r.nextAttemptAt.getTime()]),
        [['c@three.test', 'deferred', 3, 9000]],
      );
    } finally {
      await store.close();
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

void test('nextOutboundDue: the earliest due recipient, a lease counting until it lapses; null when none waits', async () => {
  assert.equal(await fx.store.nextOutboundDue(), null);
  await queue('Subject: n\r\n\r\nn\r\n', ['a@n.test']);
  const first = (await fx.store.nextOutboundDue())!;
  assert.ok(first.getTime() <= Date.now());
  const now = new Date();
  const [claim] = await fx.store.claimOutbound({ owner: 'w', leaseMs: 5 * MIN, maxRecipients: 10, now });
  assert.equal(
    (await fx.store.nextOutboundDue())!.getTime(),
    now.getTime() + 5 * MIN,
    'leased: due at lapse',
  );
  const until = new Date(now.getTime() + 30 * MIN);
  await fx.store.recordOutboundAttempt({
    owner: 'w',
    messageId: claim!.message.id,
    outcomes: [{ recipientId: claim!.recipients[0]!.id, kind: 'deferred', until }],
  });
  assert.equal((await fx.store.nextOutboundDue())!.getTime(), until.getTime());
  await fx.store.recordOutboundAttempt({
    owner: 'w',
    messageId: claim!.message.id,
    outcomes: [],
  });
  await fx.store.holdOutbound(claim!.message.id);
  assert.equal(await fx.store.nextOutboundDue(), null, 'held recipients wait for nobody');
});

void test('REQUIRETLS is kept with the queued message (migration 13)', async () => {
  const plain = await queue('Subject: p\r\n\r\np\r\n', ['a@one.test']);
  const strict = await queue('Subject: s\r\n\r\ns\r\n', ['b@one.test'], { requireTls: true });
  assert.equal((await fx.store.showQueued(plain))!.requireTls, false);
  assert.equal((await fx.store.showQueued(strict))!.requireTls, true);
  const claims = await fx.store.claimOutbound({ owner: 'p1', leaseMs: MIN, maxRecipients: 10 });
  assert.deepEqual(
    claims.map((c) => [c.message.id, c.message.requireTls]),
    [
      [plain, false],
      [strict, true],
    ],
  );
});

void test('an owed DSN is stored with the outcomes it reports (recorded ones only), leased, deferred and finished', async () => {
  const id = await queue('Subject: o\r\n\r\no\r\n', ['a@one.test', 'b@one.test']);
  const [claim] = await fx.store.claimOutbound({ owner: 'p1', leaseMs: MIN, maxRecipients: 10 });
  const [a, b] = claim!.recipients;
  // b was taken by another owner after a lapse: its outcome (and its block) is not recorded.
  await fx.store.releaseOutboundClaims('p1');
  await fx.store.claimOutbound({ owner: 'p1', leaseMs: MIN, maxRecipients: 1 });
  await fx.store.claimOutbound({ owner: 'p2', leaseMs: MIN, maxRecipients: 1 });
  const reply = { code: 550, enhanced: '5.1.1', text: 'no' };
  const r = await fx.store.recordOutboundAttempt({
    owner: 'p1',
    messageId: id,
    outcomes: [
      { recipientId: a!.id, kind: 'failed', reply },
      { recipientId: b!.id, kind: 'failed', reply },
    ],
    dsn: {
      head: '{"h":1}',
      blocks: new Map([
        [a!.id, '"A"'],
        [b!.id, '"B"'],
      ]),
      leaseMs: MIN,
    },
  });
  assert.deepEqual(r.recorded, [a!.id]);
  assert.deepEqual(r.lost, [b!.id]);
  assert.deepEqual(r.owedDsn?.blocks, ['"A"']);
  assert.equal(r.owedDsn?.head, '{"h":1}');
  // Leased to its recorder for leaseMs: nobody else takes it meanwhile.
  assert.deepEqual(await fx.store.claimOwedDsns({ owner: 'p2', leaseMs: MIN, max: 10 }), []);
  const later = new Date(Date.now() + 2 * MIN);
  const [taken] = await fx.store.claimOwedDsns({ owner: 'p2', leaseMs: MIN, max: 10, now: later });
  assert.equal(taken?.id, r.owedDsn!.id);
  assert.equal(taken?.size, r.owedDsn!.size);
  await fx.store.deferOwedDsn(taken!.id, new Date(Date.now() + 10 * MIN));
  assert.deepEqual(await fx.store.claimOwedDsns({ owner: 'p3', leaseMs: MIN, max: 10, now: later }), []);
  const [again] = await fx.store.claimOwedDsns({
    owner: 'p3',
    leaseMs: MIN,
    max: 10,
    now: new Date(Date.now() + 11 * MIN),
  });
  assert.equal(again?.attempts, 1);
  await fx.store.finishOwedDsn(again!.id);
  assert.deepEqual(
    await fx.store.claimOwedDsns({
      owner: 'p3',
      leaseMs: MIN,
      max: 10,
      now: new Date(Date.now() + 60 * MIN),
    }),
    [],
  );
  // No report asked: nothing owed.
  const none = await fx.store.recordOutboundAttempt({
    owner: 'p2',
    messageId: id,
    outcomes: [{ recipientId: b!.id, kind: 'delivered' }],
  });
  assert.equal(none.owedDsn, null);
  assert.equal(none.finished, true);
});

void test('a TLS-RPT day is claimed by one owner of many; a lapsed claim passes on; a finished one stays done', async () => {
  const other = await fx.openAnother();
  const [x, y] = await Promise.all([
    fx.store.claimTlsReportRun('2026-12-06', 'p1', MIN),
    other.claimTlsReportRun('2026-12-06', 'p2', MIN),
  ]);
  assert.deepEqual([x, y].sort(), ['busy', 'claimed']);
  const winner = x === 'claimed' ? 'p1' : 'p2';
  await fx.store.finishTlsReportRun('2026-12-06', winner);
  assert.equal(await other.claimTlsReportRun('2026-12-06', 'p3', MIN), 'done');
  assert.equal(await fx.store.claimTlsReportRun('2026-12-07', 'p1', 1), 'claimed');
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(
    await other.claimTlsReportRun('2026-12-07', 'p2', MIN),
    'claimed',
    'the lapsed claim is taken',
  );
});
