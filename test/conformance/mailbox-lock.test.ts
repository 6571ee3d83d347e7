// Conformance of the mailbox lock (the lease POP3 takes on a maildrop, RFC 1939 §8) for the
// selected backend (STORE, see backends.ts). Two instances opened on one data directory stand
// for two processes (cluster workers) sharing the store: each has its own database connection.

import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isStoreError } from '../../src/core/errors.js';
import { openBackend, selectedBackend, type ConformanceBackend } from './backends.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

void describe(`mailbox lock conformance (${selectedBackend()})`, () => {
  let dir: string;
  let a: ConformanceBackend;
  let b: ConformanceBackend;
  let inbox: number;
  let other: number;

  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'postern-lock-'));
    a = await openBackend(selectedBackend(), dir);
    b = await openBackend(selectedBackend(), dir);
    await a.store.createDomain('example.test');
    const account = await a.store.createAccount({ address: 'lock@example.test', passwordHash: 'x' });
    inbox = (await a.store.getMailbox(account.id, 'INBOX'))!.id;
    other = (await a.store.getMailbox(account.id, 'Trash'))!.id;
  });

  after(async () => {
    await a.store.close();
    await b.store.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  void it('one owner at a time, across instances; released locks can be taken', async () => {
    assert.equal(await a.store.acquireMailboxLock(inbox, 'owner-1', 60_000), true);
    assert.equal(await b.store.acquireMailboxLock(inbox, 'owner-2', 60_000), false, 'held by owner-1');
    assert.equal(
      await a.store.acquireMailboxLock(inbox, 'owner-2', 60_000),
      false,
      'same from either instance',
    );
    assert.equal(await b.store.acquireMailboxLock(other, 'owner-2', 60_000), true, 'locks are per mailbox');
    assert.equal(
      await b.store.acquireMailboxLock(inbox, 'owner-1', 60_000),
      true,
      'the owner may take it again',
    );
    await b.store.releaseMailboxLock(inbox, 'owner-2'); // not the owner: nothing happens
    assert.equal(await a.store.acquireMailboxLock(inbox, 'owner-2', 60_000), false);
    await b.store.releaseMailboxLock(inbox, 'owner-1');
    assert.equal(await a.store.acquireMailboxLock(inbox, 'owner-2', 60_000), true);
    await a.store.releaseMailboxLock(inbox, 'owner-2');
    await b.store.releaseMailboxLock(other, 'owner-2');
  });

  void it('a lease that is not refreshed lapses (a crashed process); refreshing keeps it', async () => {
    assert.equal(await a.store.acquireMailboxLock(inbox, 'crashed', 150), true);
    assert.equal(await b.store.acquireMailboxLock(inbox, 'next', 60_000), false);
    await sleep(200);
    assert.equal(await a.store.refreshMailboxLock(inbox, 'crashed', 60_000), false, 'lapsed: cannot refresh');
    assert.equal(await b.store.acquireMailboxLock(inbox, 'next', 300), true, 'lapsed lease taken over');
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      assert.equal(await b.store.refreshMailboxLock(inbox, 'next', 300), true, `refresh ${i}`);
    }
    assert.equal(await a.store.acquireMailboxLock(inbox, 'crashed', 60_000), false, 'kept alive by refresh');
    assert.equal(await a.store.refreshMailboxLock(inbox, 'crashed', 60_000), false, 'not the owner');
    await b.store.releaseMailboxLock(inbox, 'next');
  });

  void it('many contenders at once: exactly one wins', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).store.acquireMailboxLock(inbox, `c${i}`, 60_000),
      ),
    );
    assert.equal(results.filter((r) => r).length, 1);
    const winner = results.indexOf(true);
    await a.store.releaseMailboxLock(inbox, `c${winner}`);
  });

  void it('refuses malformed arguments', async () => {
    await assert.rejects(a.store.acquireMailboxLock(inbox, '', 1000), (e: unknown) =>
      isStoreError(e, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(a.store.acquireMailboxLock(inbox, 'x', 0), (e: unknown) =>
      isStoreError(e, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(a.store.refreshMailboxLock(inbox, 'x', 1.5), (e: unknown) =>
      isStoreError(e, 'INVALID_ARGUMENT'),
    );
  });

  void it('APOP secrets: unset by default, set, cleared', async () => {
    const account = (await a.store.getAccount('lock@example.test'))!;
    assert.equal(await a.store.getApopSecret(account.id), null);
    await a.store.setApopSecret('lock@example.test', 'tanstaaf');
    assert.equal(await b.store.getApopSecret(account.id), 'tanstaaf');
    await a.store.setApopSecret('LOCK@example.test', null);
    assert.equal(await b.store.getApopSecret(account.id), null);
    await assert.rejects(a.store.setApopSecret('nobody@example.test', 's'), (e: unknown) =>
      isStoreError(e, 'NOT_FOUND'),
    );
    await assert.rejects(a.store.setApopSecret('lock@example.test', ''), (e: unknown) =>
      isStoreError(e, 'INVALID_ARGUMENT'),
    );
  });
});
