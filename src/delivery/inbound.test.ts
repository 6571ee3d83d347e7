import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { isStoreError } from '../core/errors.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { FileBlobStore } from '../store/blob/file-blob-store.js';
import { DEFAULT_INLINE_MAX_BYTES, InlineBlobStore } from '../store/blob/inline-blob-store.js';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { OutboundEnvelope } from '../store/types.js';
import { InboundMessage } from './inbound.js';

let dir: string;
let store: SqliteStore;
let files: FileBlobStore;
/** As the server composes it: small messages inline, larger ones in files. */
let blobs: InlineBlobStore;
let inboxId: number;
let otherId: number;

const limits = { ...DEFAULT_LIMITS, messageSize: 64 * 1024 };

before(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'postern-inbound-'));
  files = new FileBlobStore(dir);
  store = await openSqliteStore({ dataDir: dir, blobs: files, gcGraceMs: 0 });
  blobs = new InlineBlobStore({ files, inline: store.inlineBlobs });
  await store.createDomain('example.test');
  const a = await store.createAccount({ address: 'a@example.test', passwordHash: 'x' });
  const b = await store.createAccount({ address: 'b@example.test', passwordHash: 'x' });
  inboxId = (await store.getMailbox(a.id, 'INBOX'))!.id;
  otherId = (await store.getMailbox(b.id, 'INBOX'))!.id;
});
after(async () => {
  await store.close();
  await fsp.rm(dir, { recursive: true, force: true });
});

function message(memoryLimit = 1024): InboundMessage {
  // A small memory limit, so that these tests' messages spill to a spool file.
  return new InboundMessage({ store, blobs, limits, dataDir: dir, memoryLimit });
}

async function spoolFiles(): Promise<string[]> {
  try {
    return (await fsp.readdir(path.join(dir, 'tmp'))).filter((n) => n.endsWith('.spool'));
  } catch {
    return [];
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(parts);
}

const body = Buffer.from(
  'From: a@example.test\r\nTo: b@example.test\r\nSubject: spooled\r\n\r\n' + 'line of text\r\n'.repeat(2000),
);

const outbound: OutboundEnvelope = {
  mailFrom: 'a@example.test',
  recipients: [{ address: 'far@remote.test', notify: null, orcpt: null }],
  envid: null,
  ret: null,
  body: '8BITMIME',
  smtputf8: false,
  accountId: null,
};

void test('streams to a spool file, then stores prefix + body once for local targets and the queue', async () => {
  const m = message();
  for (let i = 0; i < body.length; i += 1000) await m.write(body.subarray(i, i + 1000));
  assert.equal(m.size, body.length);
  assert.equal((await spoolFiles()).length, 1, 'spooled on disk, not in memory');
  assert.ok((await readAll(m.bodyStream())).equals(body), 'bodyStream gives the body so far');

  const prefix = 'Received: from test\r\n\tby mail.example.test; Fri, 27 Nov 2026 09:00:00 +0000\r\n';
  const outcomes = await m.commit({
    prefix,
    local: [{ mailboxId: inboxId }, { mailboxId: otherId, flags: ['\\Seen'] }],
    outbound,
  });
  assert.equal(outcomes.length, 2);
  assert.ok(outcomes.every((o) => o.ok));
  const [meta] = await store.listMessages(inboxId);
  assert.ok(meta !== undefined);
  const stored = await blobs.readAll(meta.blobId);
  assert.ok(stored.equals(Buffer.concat([Buffer.from(prefix), body])), 'prefix then the exact body');
  const [other] = await store.listMessages(otherId);
  assert.equal(other!.blobId, meta.blobId, 'one blob for everyone');
  assert.ok(stored.length <= DEFAULT_INLINE_MAX_BYTES);
  assert.ok(store.inlineBlobs.getSync!(meta.blobId)?.equals(stored), 'stored inline, from the spool');
  assert.equal(await files.exists(meta.blobId), false, 'no file');
  assert.deepEqual(other!.flags, ['\\Seen']);
  const queued = await store.listOutbound();
  assert.equal(queued.length, 1);
  assert.equal(queued[0]!.blobId, meta.blobId);
  const mime = await store.getMime(meta.blobId);
  assert.ok(JSON.stringify(mime).includes('spooled'), 'MIME indexed (subject in the envelope)');
  assert.deepEqual(await spoolFiles(), [], 'spool removed after commit');
  await m.abort(); // harmless after commit
  await assert.rejects(m.write(Buffer.from('x')), (e) => isStoreError(e, 'INVALID_ARGUMENT'));
});

void test('a small message stays in memory: no spool file, same bytes stored', async () => {
  const small = Buffer.from('From: a@example.test\r\nSubject: small\r\n\r\n' + 'hello\r\n'.repeat(100));
  const m = message(256 * 1024);
  for (let i = 0; i < small.length; i += 7) await m.write(small.subarray(i, i + 7));
  assert.deepEqual(await spoolFiles(), [], 'nothing on disk before commit');
  assert.ok((await readAll(m.bodyStream())).equals(small));
  const prefix = 'Received: from test\r\n';
  const [outcome] = await m.commit({ prefix, local: [{ mailboxId: inboxId }], outbound: null });
  assert.ok(outcome?.ok);
  const metas = await store.listMessages(inboxId);
  const stored = await blobs.readAll(metas[metas.length - 1]!.blobId);
  assert.ok(stored.equals(Buffer.concat([Buffer.from(prefix), small])));
});

void test('the size limit is enforced while streaming; commit then fails and stores nothing', async () => {
  const before = (await store.listMessages(inboxId)).length;
  const m = message();
  const chunk = Buffer.alloc(10 * 1024, 0x61);
  let refusedAt = -1;
  for (let i = 0; i < 10; i++) {
    try {
      await m.write(chunk);
    } catch (err) {
      assert.ok(isStoreError(err, 'TOO_LARGE'));
      refusedAt = i;
      break;
    }
  }
  assert.equal(refusedAt, 6, 'the chunk crossing 64 KiB is refused');
  assert.equal(m.size, 60 * 1024);
  assert.equal(m.exceededSize, true);
  await assert.rejects(m.write(Buffer.from('more')), (e) => isStoreError(e, 'TOO_LARGE'));
  await assert.rejects(m.commit({ prefix: '', local: [{ mailboxId: inboxId }], outbound: null }), (e) =>
    isStoreError(e, 'TOO_LARGE'),
  );
  assert.equal((await store.listMessages(inboxId)).length, before);
  assert.deepEqual(await spoolFiles(), []);
});

void test('exactly messageSize bytes are accepted, and the trace prefix does not count', async () => {
  const m = message();
  const full = Buffer.alloc(limits.messageSize, 0x62);
  full.write('Subject: big\r\n\r\n', 0);
  await m.write(full);
  const [o] = await m.commit({ prefix: 'X-Trace: 1\r\n', local: [{ mailboxId: otherId }], outbound: null });
  assert.equal(o!.ok, true);
  const metas = await store.listMessages(otherId);
  const meta = metas[metas.length - 1]!;
  assert.ok(meta.size > DEFAULT_INLINE_MAX_BYTES);
  assert.equal(await files.exists(meta.blobId), true, 'a file');
  assert.ok((await blobs.readAll(meta.blobId)).equals(Buffer.concat([Buffer.from('X-Trace: 1\r\n'), full])));
});

void test('abort removes the spool; outbound-only commits queue without local copies', async () => {
  const m = message();
  await m.write(body);
  assert.equal((await spoolFiles()).length, 1);
  await m.abort();
  await m.abort();
  assert.deepEqual(await spoolFiles(), []);

  const before = await store.countOutbound();
  const r = message();
  await r.write(Buffer.from('Subject: remote only\r\n\r\nhi\r\n'));
  assert.deepEqual(await r.commit({ prefix: '', local: [], outbound }), []);
  assert.equal(await store.countOutbound(), before + 1);

  const empty = message();
  assert.equal((await readAll(empty.bodyStream())).length, 0);
  await assert.rejects(empty.commit({ prefix: '', local: [], outbound: null }), (e) =>
    isStoreError(e, 'INVALID_ARGUMENT'),
  );
  assert.deepEqual(await spoolFiles(), []);
});

void test('a failing local target (mailbox gone) is reported per target, the others are stored', async () => {
  const m = message();
  await m.write(Buffer.from('Subject: partial\r\n\r\nbody\r\n'));
  const outcomes = await m.commit({
    prefix: '',
    local: [{ mailboxId: inboxId }, { mailboxId: 987654 }],
    outbound: null,
  });
  assert.equal(outcomes[0]!.ok, true);
  assert.equal(outcomes[1]!.ok, false);
});

void test('Authentication-Results with our authserv-id are left out of bodyStream and the stored blob', async () => {
  const forged = 'Authentication-Results: mail.example.test;\r\n dmarc=pass\r\n';
  const kept = 'Authentication-Results: other.example; dmarc=fail\r\n';
  const rest = 'Subject: forged\r\n\r\n' + 'body line\r\n'.repeat(300);
  const sent = Buffer.from(`Received: x\r\n${forged}${kept}${rest}`);
  const clean = Buffer.from(`Received: x\r\n${kept}${rest}`);
  for (const memoryLimit of [1024, 256 * 1024]) {
    const m = new InboundMessage({
      store,
      blobs,
      limits,
      dataDir: dir,
      memoryLimit,
      authservId: 'MAIL.example.test',
    });
    for (let i = 0; i < sent.length; i += 13) await m.write(sent.subarray(i, i + 13));
    assert.equal(m.headerSection().received, 1);
    assert.ok(
      (await readAll(m.bodyStream())).equals(clean),
      `verification sees no forged field (${memoryLimit})`,
    );
    const [outcome] = await m.commit({
      prefix: 'X-Ours: 1\r\n',
      local: [{ mailboxId: inboxId }],
      outbound: null,
    });
    assert.ok(outcome?.ok);
    const metas = await store.listMessages(inboxId);
    const stored = await blobs.readAll(metas[metas.length - 1]!.blobId);
    assert.ok(stored.equals(Buffer.concat([Buffer.from('X-Ours: 1\r\n'), clean])), 'stored without it');
  }
});

void test('a header section over limits.messageHeaderSize is neither verified nor stored', async () => {
  const before = (await store.listMessages(inboxId)).length;
  const small = { ...limits, messageHeaderSize: 2048 };
  const m = new InboundMessage({ store, blobs, limits: small, dataDir: dir, memoryLimit: 1024 });
  await m.write(Buffer.from(`Subject: ${'x'.repeat(3000)}\r\n\r\nbody\r\n`));
  assert.equal(m.headerSection().tooLarge, true);
  assert.throws(
    () => m.bodyStream(),
    (e) => isStoreError(e, 'TOO_LARGE'),
  );
  await assert.rejects(m.commit({ prefix: '', local: [{ mailboxId: inboxId }], outbound: null }), (e) =>
    isStoreError(e, 'TOO_LARGE'),
  );
  assert.equal((await store.listMessages(inboxId)).length, before);
  assert.deepEqual(await spoolFiles(), []);
});
