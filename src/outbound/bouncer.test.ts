// Bouncer: a report about a REQUIRETLS message to a remote sender is queued with REQUIRETLS
// itself (RFC 8689 §5), so the original's content it may carry is never sent in clear; the
// owed-DSN record written with an attempt keeps that through a crash.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { openStore } from '../app/open-store.js';
import type { QueuedMessageHead } from '../store/types.js';
import { createLogger } from '../core/log.js';
import { tempDir, testConfig } from '../../test/integration/server-fixture.js';
import { BounceLimiter } from './bounce-limiter.js';
import { Bouncer } from './bouncer.js';
import { owedDsnParts, readOwedDsn } from './owed-dsn.js';

void test('a report about a REQUIRETLS message is queued with REQUIRETLS; others without', async () => {
  const dir = await tempDir('bouncer');
  const config = testConfig(dir, {});
  const { store, blobs } = await openStore(config);
  try {
    const bouncer = new Bouncer({
      store,
      blobs,
      limits: config.limits,
      hostname: 'mx.local.test',
      limiter: new BounceLimiter({ perHour: 100 }),
      log: createLogger({ level: 'fatal' }),
    });
    const original = Buffer.from('Subject: secret\r\n\r\nthe content\r\n');
    for (const requireTls of [true, false]) {
      const result = await bouncer.send({
        envelopeSender: `sender-${requireTls}@remote.test`,
        envid: null,
        ret: 'FULL',
        arrivalDate: new Date(),
        recipients: [{ finalRecipient: 'rcpt@far.test', action: 'failed', status: '5.7.30' }],
        original,
        originalSize: original.length,
        requireTls,
      });
      assert.equal(result, 'sent');
    }
    const queued = await store.listQueue();
    assert.equal(queued.length, 2);
    const details = await Promise.all(queued.map((q) => store.showQueued(q.id)));
    const tls = details.find((d) => d!.recipients.some((r) => r.address === 'sender-true@remote.test'))!;
    const clear = details.find((d) => d!.recipients.some((r) => r.address === 'sender-false@remote.test'))!;
    assert.equal(tls.requireTls, true);
    assert.equal(clear.requireTls, false);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

void test('the owed-DSN record keeps REQUIRETLS; rows written before it read as false', () => {
  const message: QueuedMessageHead = {
    id: 1,
    blobId: 'b'.repeat(64),
    size: 10,
    mailFrom: 'a@local.test',
    envid: null,
    ret: null,
    body: '7BIT' as const,
    smtputf8: false,
    requireTls: true,
    accountId: 1,
    queuedAt: new Date('2026-12-07T00:00:00Z'),
    nextAttemptAt: new Date('2026-12-07T00:00:00Z'),
    attempts: 0,
  };
  const parts = owedDsnParts(message, new Map(), 1000);
  const owed = {
    id: 1,
    blobId: message.blobId,
    size: 10,
    head: parts.head,
    blocks: [],
    createdAt: new Date(),
    attempts: 0,
  };
  assert.equal(readOwedDsn(owed).head.requireTls, true);
  const old = JSON.stringify({
    envelopeSender: 'a@local.test',
    envid: null,
    ret: null,
    arrivalDate: '2026-12-07T00:00:00.000Z',
  });
  assert.equal(readOwedDsn({ ...owed, head: old }).head.requireTls, false);
});
