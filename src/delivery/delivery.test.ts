import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { isStoreError } from '../core/errors.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import type { DnsResolver } from '../dns/resolver.js';
import { FileBlobStore } from '../store/blob/file-blob-store.js';
import { InlineBlobStore } from '../store/blob/inline-blob-store.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { CommitOrder } from './commit-order.js';
import { Delivery, type DeliveryEnv, type SmtpDeliveryEnv } from './delivery.js';
import type { MessageVerifier } from './message-verifier.js';

let dir: string;
let store: SqliteStore;
let env: DeliveryEnv;
let aId: number;
let aInbox: number;
let aSent: number;
let bInbox: number;
/** An account with a quota too small for the test messages. */
let smallId: number;
let smallInbox: number;

const QUOTA = 200 * 1024;
const limits = { ...DEFAULT_LIMITS, messageSize: 1024 * 1024 };

before(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'postern-delivery-'));
  const files = new FileBlobStore(dir);
  store = await openSqliteStore({ dataDir: dir, blobs: files, gcGraceMs: 0 });
  const blobs = new InlineBlobStore({ files, inline: store.inlineBlobs });
  env = { store, blobs, limits };
  await store.createDomain('example.test');
  const a = await store.createAccount({ address: 'a@example.test', passwordHash: 'x', quotaBytes: QUOTA });
  const b = await store.createAccount({ address: 'b@example.test', passwordHash: 'x' });
  const small = await store.createAccount({
    address: 'small@example.test',
    passwordHash: 'x',
    quotaBytes: 1000,
  });
  aId = a.id;
  aInbox = (await store.getMailbox(a.id, 'INBOX'))!.id;
  aSent = (await store.createMailbox(a.id, 'Delivery test')).id;
  bInbox = (await store.getMailbox(b.id, 'INBOX'))!.id;
  smallId = small.id;
  smallInbox = (await store.getMailbox(small.id, 'INBOX'))!.id;
});
after(async () => {
  await store.close();
  await fsp.rm(dir, { recursive: true, force: true });
});

/** A message of about `size` bytes (above 32 KiB it is stored as a file, not inline). */
function message(subject: string, size: number): Buffer {
  const head = `From: a@example.test\r\nTo: b@example.test\r\nSubject: ${subject}\r\n\r\n`;
  const line = 'a line of the body of the message\r\n';
  return Buffer.from(head + line.repeat(Math.ceil((size - head.length) / line.length)));
}

/** Every file under <dataDir>/<sub>, recursively. */
async function filesUnder(sub: string): Promise<string[]> {
  try {
    const entries = await fsp.readdir(path.join(dir, sub), { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

async function countIn(mailboxId: number): Promise<number> {
  return (await store.listMessages(mailboxId)).length;
}

void test('commit: one outcome per target; a target over quota fails alone, the others are stored', async () => {
  const bytes = message('per target', 40 * 1024);
  const d = Delivery.start(env, { kind: 'import' });
  d.addTarget({ mailboxId: aInbox, flags: ['\\Seen'] });
  d.addTarget({ mailboxId: smallInbox });
  d.addTarget({ mailboxId: bInbox });
  for (let i = 0; i < bytes.length; i += 7000) await d.write(bytes.subarray(i, i + 7000));
  assert.equal(d.size, bytes.length);
  const result = await d.commit();
  assert.equal(result.targets.length, 3);
  assert.deepEqual(result.remote, []);
  const [first, over, third] = result.targets;
  assert.ok(first?.ok === true && first.mailboxId === aInbox && first.uid > 0);
  assert.ok(over?.ok === false && over.mailboxId === smallInbox);
  assert.equal(over.error.code, 'OVER_QUOTA');
  assert.ok(third?.ok === true && third.mailboxId === bInbox && third.uid > 0);
  const [stored] = await store.listMessages(aInbox);
  assert.ok(stored !== undefined);
  assert.deepEqual(stored.flags, ['\\Seen']);
  assert.ok((await env.blobs.readAll(stored.blobId)).equals(bytes), 'byte-exact');
  assert.equal(await countIn(smallInbox), 0);
  assert.equal(await countIn(bInbox), 1);
  assert.deepEqual(await filesUnder('tmp'), [], 'no temp file left');
  await assert.rejects(d.commit(), (e) => isStoreError(e, 'INVALID_ARGUMENT'), 'a delivery commits once');
});

void test('abort removes the temp file at once (nothing in tmp/ or blobs/) and releases the reservation', async () => {
  const blobsBefore = await filesUnder('blobs');
  const bytes = message('aborted', 100 * 1024);
  const d = Delivery.start(env, { kind: 'append', accountId: aId });
  await d.reserve(bytes.length);
  // The reservation counts: the account has no room left for the rest of its quota.
  const used = (await store.getAccountById(aId))!.usedBytes;
  await assert.rejects(store.reserveQuota(aId, QUOTA - used - bytes.length + 1), (e) =>
    isStoreError(e, 'OVER_QUOTA'),
  );
  await d.write(bytes.subarray(0, 70 * 1024));
  assert.equal((await filesUnder('tmp')).length, 1, 'streamed past the inline size: a temp file');
  await d.abort();
  assert.deepEqual(await filesUnder('tmp'), [], 'temp file removed');
  assert.deepEqual(await filesUnder('blobs'), blobsBefore, 'nothing reached blobs/');
  (await store.reserveQuota(aId, QUOTA - used)).release(); // all the room is back
  await d.abort(); // idempotent
  await assert.rejects(d.write(bytes), (e) => isStoreError(e, 'INVALID_ARGUMENT'), 'closed after abort');
});

void test('reserve refuses a body larger than the room left, holding nothing', async () => {
  const d = Delivery.start(env, { kind: 'append', accountId: smallId });
  await assert.rejects(d.reserve(5000), (e) => isStoreError(e, 'OVER_QUOTA'));
  await d.abort();
  (await store.reserveQuota(smallId, 1000)).release();
});

void test('APPEND over quota: refused before the blob is finished, nothing in blobs/ or tmp/', async () => {
  const blobsBefore = await filesUnder('blobs');
  const d = Delivery.start(env, { kind: 'append', accountId: smallId });
  d.addTarget({ mailboxId: smallInbox });
  await d.writeAll(message('append over quota', 50 * 1024));
  const { targets } = await d.commit();
  assert.equal(targets.length, 1);
  assert.ok(targets[0]?.ok === false && targets[0].error.code === 'OVER_QUOTA');
  assert.deepEqual(await filesUnder('blobs'), blobsBefore);
  assert.deepEqual(await filesUnder('tmp'), []);
});

void test('MULTIAPPEND all-or-nothing: one failing target stores nothing anywhere', async () => {
  const before = { a: await countIn(aSent), b: await countIn(bInbox), s: await countIn(smallInbox) };
  const d = Delivery.start(env, { kind: 'import' });
  d.addTarget({ mailboxId: aSent });
  d.addTarget({ mailboxId: smallInbox }); // over quota
  d.addTarget({ mailboxId: bInbox });
  await d.writeAll(message('all or nothing', 2000));
  const { targets } = await d.commit({ allOrNothing: true });
  assert.equal(targets.length, 3);
  assert.ok(
    targets.every((o) => !o.ok),
    'every target failed',
  );
  assert.deepEqual(
    { a: await countIn(aSent), b: await countIn(bInbox), s: await countIn(smallInbox) },
    before,
  );

  // The same without the failing target: stored in both.
  const ok = Delivery.start(env, { kind: 'import' });
  ok.addTarget({ mailboxId: aSent });
  ok.addTarget({ mailboxId: bInbox });
  await ok.writeAll(message('all or nothing', 2000));
  const r = await ok.commit({ allOrNothing: true });
  assert.ok(r.targets.every((o) => o.ok));
  assert.equal(await countIn(aSent), before.a + 1);
});

void test('commit order: with tickets, UIDs follow ticket order whatever order the bodies end in', async () => {
  const order = new CommitOrder();
  const first = Delivery.start(env, { kind: 'append', accountId: aId });
  const second = Delivery.start(env, { kind: 'append', accountId: aId });
  const t1 = order.next();
  const t2 = order.next();
  first.addTarget({ mailboxId: aSent });
  second.addTarget({ mailboxId: aSent });
  await second.writeAll(message('second', 500));
  const late = second.commit({ order: t2 }); // waits for the first ticket
  await first.writeAll(message('first', 500));
  const early = first.commit({ order: t1 });
  const [a, b] = await Promise.all([early, late]);
  assert.ok(a.targets[0]?.ok === true && b.targets[0]?.ok === true);
  assert.ok(a.targets[0].uid < b.targets[0].uid, 'the first ticket got the lower UID');
});

void test('SMTP: the delivery prepends its Received header and queues the remote copy, one outcome each', async () => {
  const resolver = { verifiedReverse: () => Promise.resolve(null) } as unknown as DnsResolver;
  const smtpEnv: SmtpDeliveryEnv = {
    ...env,
    dataDir: dir,
    hostname: 'mx.example.test',
    resolver,
    verifier: {} as MessageVerifier, // an authenticated submission is not verified
    memoryLimit: 1024,
  };
  const d = Delivery.start(smtpEnv, {
    kind: 'smtp',
    envelope: {
      id: 'Q1',
      mailFrom: 'a@example.test',
      body: '8BITMIME',
      smtputf8: false,
      ret: null,
      envid: null,
      forRecipient: null,
      accountId: aId,
    },
    session: {
      clientIp: '127.0.0.1',
      helo: { verb: 'EHLO', domain: 'client.example.test' },
      tls: false,
      tlsInfo: null,
      authenticated: true,
    },
  });
  d.addTarget({ mailboxId: bInbox });
  d.addRemote({ address: 'far@remote.test', notify: null, orcpt: null });
  const bytes = message('smtp', 4000);
  await d.writeAll(bytes);
  assert.equal((await filesUnder('tmp')).length, 1, 'spooled past its memory limit');
  const trace = await d.authenticate();
  assert.equal(trace.authentication, null);
  const result = await d.commit();
  assert.equal(result.targets.length, 1);
  assert.ok(result.targets[0]?.ok === true);
  assert.deepEqual(result.remote, [{ address: 'far@remote.test', queued: true }]);
  const mine = (await store.listMessages(bInbox)).find(
    (m) => m.uid === (result.targets[0] as { uid: number }).uid,
  );
  assert.ok(mine !== undefined);
  const stored = await env.blobs.readAll(mine.blobId);
  assert.ok(stored.subarray(0, trace.prefix.length).toString() === trace.prefix);
  assert.match(trace.prefix, /^Received: from client\.example\.test \(/);
  assert.match(trace.prefix, /by mx\.example\.test \(Postern\) with ESMTPA/);
  assert.ok(stored.subarray(trace.prefix.length).equals(bytes), 'then the body as received');
  const queued = await store.listOutbound();
  assert.ok(queued.some((q) => q.blobId === mine.blobId));
  assert.deepEqual(await filesUnder('tmp'), [], 'spool removed');
});

void test('report: a DSN we generate goes to local targets and is queued for remote recipients with <>; onQueued is called', async () => {
  let woken = 0;
  const bytes = message('report', 2000);
  const queuedBefore = await store.countOutbound();
  const d = Delivery.start(
    { ...env, onQueued: () => woken++ },
    { kind: 'report', body: '7BIT', smtputf8: false },
  );
  d.addTarget({ mailboxId: bInbox });
  d.addRemote({ address: 'sender@remote.test', notify: null, orcpt: null });
  await d.writeAll(bytes);
  const result = await d.commit();
  assert.equal(result.targets.length, 1);
  assert.ok(result.targets[0]!.ok);
  assert.deepEqual(result.remote, [{ address: 'sender@remote.test', queued: true }]);
  assert.equal(result.blob?.size, bytes.length);
  assert.equal(woken, 1);
  assert.equal(await store.countOutbound(), queuedBefore + 1);
  const queued = (await store.listOutbound()).at(-1)!;
  assert.equal(queued.mailFrom, '', 'the null reverse-path (RFC 5321 §4.5.5)');
  assert.equal(queued.blobId, result.blob?.blobId);

  // Remote only: no local target is needed.
  const only = Delivery.start(env, { kind: 'report', body: '8BITMIME', smtputf8: false });
  only.addRemote({ address: 'other@remote.test', notify: null, orcpt: null });
  await only.writeAll(bytes);
  assert.deepEqual((await only.commit()).targets, []);
  assert.equal((await store.listOutbound()).at(-1)!.body, '8BITMIME');

  // An import (no remote recipients) never wakes the queue, and cannot take remote recipients.
  const imp = Delivery.start({ ...env, onQueued: () => woken++ }, { kind: 'import' });
  assert.throws(() => imp.addRemote({ address: 'x@remote.test', notify: null, orcpt: null }));
  imp.addTarget({ mailboxId: bInbox });
  await imp.writeAll(bytes);
  await imp.commit();
  assert.equal(woken, 1);
});
