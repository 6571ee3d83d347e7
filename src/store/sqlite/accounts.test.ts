import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isStoreError } from '../../core/errors.js';
import { DEFAULT_MAILBOXES } from '../types.js';
import { ensurePublicOwner } from '../public-folders.js';
import { publicOwnerAddress } from '../rules/public-owner.js';
import { openFixture, type StoreFixture } from './store-fixture.js';

let fx: StoreFixture;
before(async () => {
  fx = await openFixture();
});
after(async () => {
  await fx.cleanup();
});

void test('domains: lower-cased, unique, deletable only without accounts', async () => {
  const { store } = fx;
  const d = await store.createDomain('Example.COM');
  assert.equal(d.name, 'example.com');
  await assert.rejects(store.createDomain('example.com'), (e) => isStoreError(e, 'ALREADY_EXISTS'));
  await assert.rejects(store.createDomain('bad_domain!'), (e) => isStoreError(e, 'INVALID_ARGUMENT'));
  assert.equal((await store.getDomain('EXAMPLE.com'))?.id, d.id);
  await store.createAccount({ address: 'x@example.com', passwordHash: 'h' });
  await assert.rejects(store.deleteDomain('example.com'), (e) => isStoreError(e, 'HAS_CHILDREN'));
  await store.deleteAccount('x@example.com');
  await store.addAlias({ source: 'a@example.com', destination: 'b@elsewhere.net' });
  await store.deleteDomain('example.com');
  assert.equal(await store.getDomain('example.com'), null);
  assert.deepEqual(await store.listAliases('example.com'), []);
  await assert.rejects(store.deleteDomain('example.com'), (e) => isStoreError(e, 'NOT_FOUND'));
});

void test('createAccount: default mailboxes with special-use, subscribed; address lower-cased', async () => {
  const { store } = fx;
  await store.createDomain('one.test');
  await assert.rejects(store.createAccount({ address: 'a@missing.test', passwordHash: 'h' }), (e) =>
    isStoreError(e, 'NOT_FOUND'),
  );
  const a = await store.createAccount({ address: 'Carol@ONE.test', passwordHash: 'h1', quotaBytes: 1000 });
  assert.equal(a.address, 'carol@one.test');
  assert.equal(a.quotaBytes, 1000);
  assert.equal(a.usedBytes, 0);
  assert.equal(a.state, 'active');
  await assert.rejects(store.createAccount({ address: 'carol@one.test', passwordHash: 'h' }), (e) =>
    isStoreError(e, 'ALREADY_EXISTS'),
  );
  const boxes = await store.listMailboxes(a.id);
  assert.deepEqual(
    boxes.map((b) => [b.name, b.specialUse]).sort(),
    DEFAULT_MAILBOXES.map((b) => [b.name, b.specialUse]).sort(),
  );
  for (const b of boxes) {
    assert.equal(b.uidNext, 1);
    assert.equal(b.messages, 0);
    assert.ok(b.uidValidity > 0);
  }
  assert.equal(
    new Set(boxes.map((b) => b.uidValidity)).size,
    boxes.length,
    'UIDVALIDITY differs per mailbox',
  );
  assert.deepEqual(await store.listSubscriptions(a.id), DEFAULT_MAILBOXES.map((b) => b.name).sort());

  await store.setPasswordHash('CAROL@one.test', 'h2');
  await store.setQuota('carol@one.test', 5);
  const again = await store.getAccountById(a.id);
  assert.equal(again?.passwordHash, 'h2');
  assert.equal(again?.quotaBytes, 5);
  await assert.rejects(store.setQuota('nobody@one.test', 1), (e) => isStoreError(e, 'NOT_FOUND'));
  await assert.rejects(store.setQuota('carol@one.test', -1), (e) => isStoreError(e, 'INVALID_ARGUMENT'));
  assert.deepEqual(
    (await store.listAccounts('one.test')).map((x) => x.address),
    ['carol@one.test'],
  );
  await store.deleteAccount('carol@one.test');
  assert.equal(await store.getAccount('carol@one.test'), null);
  assert.deepEqual(await store.listMailboxes(a.id), []);
  assert.deepEqual(await store.listSubscriptions(a.id), []);
});

void test('resolveRecipient: accounts, aliases, chains, sub-addressing, catch-all, remote', async () => {
  const { store } = fx;
  await store.createDomain('corp.test');
  await store.createDomain('other.test');
  const alice = await store.createAccount({ address: 'alice@corp.test', passwordHash: 'h' });
  const bob = await store.createAccount({ address: 'bob@corp.test', passwordHash: 'h' });
  const zed = await store.createAccount({ address: 'zed@other.test', passwordHash: 'h' });
  const local = (id: number, address: string) => ({
    kind: 'local',
    accountId: id,
    address,
    mailbox: 'INBOX',
  });

  assert.deepEqual(await store.resolveRecipient('ALICE@Corp.Test'), [local(alice.id, 'alice@corp.test')]);
  assert.deepEqual(await store.resolveRecipient('someone@gmail.example'), [
    { kind: 'remote', address: 'someone@gmail.example' },
  ]);
  assert.deepEqual(await store.resolveRecipient('nobody@corp.test'), []);
  assert.deepEqual(await store.resolveRecipient('not an address'), []);

  // Exact alias with a fan-out to a local account, a remote address and a chain.
  await store.addAlias({ source: 'team@corp.test', destination: 'alice@corp.test' });
  await store.addAlias({ source: 'team@corp.test', destination: 'friend@remote.example' });
  await store.addAlias({ source: 'team@corp.test', destination: 'sales@corp.test' });
  await store.addAlias({ source: 'sales@corp.test', destination: 'bob@corp.test' });
  await store.addAlias({ source: 'sales@corp.test', destination: 'alice@corp.test' });
  await assert.rejects(store.addAlias({ source: 'team@corp.test', destination: 'alice@corp.test' }), (e) =>
    isStoreError(e, 'ALREADY_EXISTS'),
  );
  await assert.rejects(store.addAlias({ source: 'x@nolocal.test', destination: 'alice@corp.test' }), (e) =>
    isStoreError(e, 'NOT_FOUND'),
  );
  const team = await store.resolveRecipient('Team@corp.test');
  assert.deepEqual(
    team.map((r) => (r.kind === 'local' ? `L:${r.accountId}` : `R:${r.address}`)).sort(),
    [`L:${alice.id}`, `L:${bob.id}`, 'R:friend@remote.example'].sort(),
    'deduplicated',
  );

  // Loops end; chains deeper than 8 stop.
  await store.addAlias({ source: 'loop1@corp.test', destination: 'loop2@corp.test' });
  await store.addAlias({ source: 'loop2@corp.test', destination: 'loop1@corp.test' });
  assert.deepEqual(await store.resolveRecipient('loop1@corp.test'), []);
  for (let i = 0; i < 10; i++) {
    await store.addAlias({ source: `c${i}@corp.test`, destination: `c${i + 1}@corp.test` });
  }
  await store.addAlias({ source: 'c10@corp.test', destination: 'alice@corp.test' });
  assert.deepEqual(
    await store.resolveRecipient('c3@corp.test'),
    [local(alice.id, 'alice@corp.test')],
    '8 hops',
  );
  assert.deepEqual(await store.resolveRecipient('c2@corp.test'), [], '9 hops is too deep');

  // Sub-addressing, to an account and through an alias.
  assert.deepEqual(await store.resolveRecipient('bob+lists@corp.test'), [local(bob.id, 'bob@corp.test')]);
  assert.equal((await store.resolveRecipient('sales+x@corp.test')).length, 2);
  assert.deepEqual(await store.resolveRecipient('nobody+x@corp.test'), []);

  // Catch-all, after everything else; to another local domain.
  await store.addAlias({ source: '@corp.test', destination: 'zed@other.test' });
  assert.deepEqual(await store.resolveRecipient('nobody@corp.test'), [local(zed.id, 'zed@other.test')]);
  assert.deepEqual(await store.resolveRecipient('alice@corp.test'), [local(alice.id, 'alice@corp.test')]);
  assert.deepEqual(await store.resolveRecipient('nobody+x@corp.test'), [local(zed.id, 'zed@other.test')]);

  assert.ok((await store.listAliases('corp.test')).some((a) => a.source === '@corp.test'));
  await store.deleteAlias('@CORP.test');
  assert.deepEqual(await store.resolveRecipient('nobody@corp.test'), []);
  await assert.rejects(store.deleteAlias('@corp.test'), (e) => isStoreError(e, 'NOT_FOUND'));
});

void test('a public-folder owner: made only on purpose, with INBOX only; no alias, no mail', async () => {
  const { store } = fx;
  await store.createDomain('public.test');
  const address = publicOwnerAddress('Public.TEST');
  assert.equal(address, '.shared@public.test');
  await assert.rejects(store.createAccount({ address, passwordHash: 'h' }), (e) =>
    isStoreError(e, 'INVALID_ARGUMENT'),
  );
  await assert.rejects(
    store.createAccount({ address: 'someone@public.test', passwordHash: 'h', publicOwner: true }),
    (e) => isStoreError(e, 'INVALID_ARGUMENT'),
  );
  const owner = await ensurePublicOwner(store, 'public.test');
  assert.equal(owner.address, address);
  assert.equal((await ensurePublicOwner(store, 'public.test')).id, owner.id);
  assert.deepEqual(
    (await store.listMailboxes(owner.id)).map((m) => m.name),
    ['INBOX'],
  );
  await assert.rejects(ensurePublicOwner(store, 'nowhere.test'), (e) => isStoreError(e, 'NOT_FOUND'));
  await assert.rejects(store.addAlias({ source: 'x@public.test', destination: address }), (e) =>
    isStoreError(e, 'INVALID_ARGUMENT'),
  );
  await assert.rejects(store.addAlias({ source: address, destination: 'x@elsewhere.net' }), (e) =>
    isStoreError(e, 'INVALID_ARGUMENT'),
  );
  // Neither directly nor through the catch-all: the address is nobody's mailbox.
  await store.addAlias({ source: '@public.test', destination: 'catch@elsewhere.net' });
  assert.deepEqual(await store.resolveRecipient(address), []);
  assert.deepEqual(await store.resolveRecipient('.SHARED@public.test'), []);
});
