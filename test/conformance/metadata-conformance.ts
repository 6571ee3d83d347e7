// The Metadata role (IMAP METADATA, RFC 5464) of the MailStore conformance suite: every backend
// must pass it. Registered beside runStoreConformance by each backend's test file.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStoreError } from '../../src/core/errors.js';
import type { MetadataEntry } from '../../src/store/metadata-types.js';
import type { MailStore } from '../../src/store/types.js';
import type { BackendFactory, BackendName } from './backends.js';
import { freshBackends } from './fresh-backends.js';

function asText(entries: MetadataEntry[]): [string, string][] {
  return entries.map((e) => [e.name, Buffer.from(e.value).toString('latin1')]);
}

const v = (s: string): Buffer => Buffer.from(s, 'latin1');

export function runMetadataConformance(backendName: BackendName, factory: BackendFactory): void {
  void describe(`MailStore conformance (${backendName}): METADATA`, () => {
    const backends = freshBackends('metadata', backendName, factory);
    async function fresh(): Promise<{ dataDir: string; store: MailStore }> {
      const { dataDir, b } = await backends.fresh();
      return { dataDir, store: b.store };
    }
    async function account(store: MailStore, address: string): Promise<number> {
      const domain = address.slice(address.indexOf('@') + 1);
      if ((await store.getDomain(domain)) === null) await store.createDomain(domain);
      return (await store.createAccount({ address, passwordHash: 'x' })).id;
    }
    const big = { maxEntries: 100 };

    void it('sets, replaces and removes entries of a mailbox and of the server level apart, binary values intact', async () => {
      const { dataDir, store } = await fresh();
      const a = await account(store, 'a@example.org');
      const inbox = (await store.getMailbox(a, 'INBOX'))!;
      const server = { accountId: a, mailboxId: null };
      const box = { accountId: a, mailboxId: inbox.id };
      const binary = Buffer.from([0, 1, 2, 0xff, 13, 10, 0]);
      assert.deepEqual(await store.getMetadata(box), []);
      assert.deepEqual(
        await store.setMetadata(
          box,
          [
            { name: '/private/comment', value: v('mine') },
            { name: '/shared/comment', value: v('ours') },
            { name: '/shared/vendor/x/blob', value: binary },
          ],
          big,
        ),
        { ok: true },
      );
      await store.setMetadata(server, [{ name: '/shared/comment', value: v('server') }], big);
      assert.deepEqual(asText(await store.getMetadata(box)), [
        ['/private/comment', 'mine'],
        ['/shared/comment', 'ours'],
        ['/shared/vendor/x/blob', binary.toString('latin1')],
      ]);
      assert.deepEqual(asText(await store.getMetadata(server)), [['/shared/comment', 'server']]);
      // Replace one, remove one, remove one that does not exist: one transaction.
      await store.setMetadata(
        box,
        [
          { name: '/private/comment', value: v('changed') },
          { name: '/shared/comment', value: null },
          { name: '/private/none', value: null },
        ],
        big,
      );
      assert.deepEqual(asText(await store.getMetadata(box)), [
        ['/private/comment', 'changed'],
        ['/shared/vendor/x/blob', binary.toString('latin1')],
      ]);
      // Another instance on the same store sees the same.
      const other = await backends.reopen(dataDir);
      assert.deepEqual(asText(await other.store.getMetadata(server)), [['/shared/comment', 'server']]);
      const blob = (await other.store.getMetadata(box)).find((e) => e.name === '/shared/vendor/x/blob');
      assert.ok(blob !== undefined && Buffer.from(blob.value).equals(binary));
    });

    void it('refuses, changing nothing, a set that takes the account over maxEntries', async () => {
      const { store } = await fresh();
      const a = await account(store, 'a@example.org');
      const inbox = (await store.getMailbox(a, 'INBOX'))!;
      const sent = (await store.getMailbox(a, 'Sent'))!;
      const limit = { maxEntries: 3 };
      await store.setMetadata(
        { accountId: a, mailboxId: inbox.id },
        [{ name: '/private/a', value: v('1') }],
        limit,
      );
      await store.setMetadata(
        { accountId: a, mailboxId: null },
        [{ name: '/private/b', value: v('2') }],
        limit,
      );
      // The count is the account's: a third entry on another mailbox fits, a fourth does not.
      const refused = await store.setMetadata(
        { accountId: a, mailboxId: sent.id },
        [
          { name: '/private/c', value: v('3') },
          { name: '/private/d', value: v('4') },
        ],
        limit,
      );
      assert.deepEqual(refused, { ok: false, reason: 'too-many' });
      assert.deepEqual(await store.getMetadata({ accountId: a, mailboxId: sent.id }), [], 'nothing applied');
      // Replacing and removing never counts as growth; a set that removes as much as it adds fits.
      assert.deepEqual(
        await store.setMetadata(
          { accountId: a, mailboxId: inbox.id },
          [
            { name: '/private/a', value: null },
            { name: '/private/c', value: v('3') },
            { name: '/private/d', value: v('4') },
          ],
          limit,
        ),
        { ok: true },
      );
      assert.deepEqual(asText(await store.getMetadata({ accountId: a, mailboxId: inbox.id })), [
        ['/private/c', '3'],
        ['/private/d', '4'],
      ]);
      // Another account has its own count.
      const b = await account(store, 'b@example.org');
      assert.deepEqual(
        await store.setMetadata(
          { accountId: b, mailboxId: null },
          [{ name: '/private/x', value: v('x') }],
          limit,
        ),
        { ok: true },
      );
    });

    void it("entries follow RENAME, go with DELETE and with the account; another account's mailbox is NOT_FOUND", async () => {
      const { store } = await fresh();
      const a = await account(store, 'a@example.org');
      const b = await account(store, 'b@example.org');
      const work = await store.createMailbox(a, 'Work');
      await store.createMailbox(a, 'Work/Sub');
      const sub = (await store.getMailbox(a, 'Work/Sub'))!;
      await store.setMetadata(
        { accountId: a, mailboxId: work.id },
        [{ name: '/private/comment', value: v('w') }],
        big,
      );
      await store.setMetadata(
        { accountId: a, mailboxId: sub.id },
        [{ name: '/private/comment', value: v('s') }],
        big,
      );
      await store.renameMailbox(a, 'Work', 'Jobs');
      const jobs = (await store.getMailbox(a, 'Jobs'))!;
      const jobsSub = (await store.getMailbox(a, 'Jobs/Sub'))!;
      assert.deepEqual(asText(await store.getMetadata({ accountId: a, mailboxId: jobs.id })), [
        ['/private/comment', 'w'],
      ]);
      assert.deepEqual(asText(await store.getMetadata({ accountId: a, mailboxId: jobsSub.id })), [
        ['/private/comment', 's'],
      ]);
      // A new mailbox under the old name starts empty.
      const again = await store.createMailbox(a, 'Work');
      assert.deepEqual(await store.getMetadata({ accountId: a, mailboxId: again.id }), []);

      await store.deleteMailbox(a, 'Jobs/Sub');
      await assert.rejects(store.getMetadata({ accountId: a, mailboxId: jobsSub.id }), (e) =>
        isStoreError(e, 'NOT_FOUND'),
      );
      await assert.rejects(
        store.setMetadata({ accountId: b, mailboxId: jobs.id }, [{ name: '/private/x', value: v('x') }], big),
        (e) => isStoreError(e, 'NOT_FOUND'),
      );
      await assert.rejects(store.getMetadata({ accountId: b, mailboxId: jobs.id }), (e) =>
        isStoreError(e, 'NOT_FOUND'),
      );

      // A deleted mailbox's entries no longer count; nor do a deleted account's.
      await store.setMetadata(
        { accountId: a, mailboxId: null },
        [{ name: '/private/s', value: v('1') }],
        big,
      );
      await store.deleteMailbox(a, 'Jobs');
      const one = { maxEntries: 1 };
      assert.deepEqual(
        await store.setMetadata(
          { accountId: a, mailboxId: null },
          [{ name: '/private/t', value: v('2') }],
          one,
        ),
        { ok: false, reason: 'too-many' },
        'the server-level entry is still counted',
      );
      await store.setMetadata({ accountId: a, mailboxId: null }, [{ name: '/private/s', value: null }], one);
      assert.deepEqual(
        await store.setMetadata(
          { accountId: a, mailboxId: null },
          [{ name: '/private/t', value: v('2') }],
          one,
        ),
        { ok: true },
        'Jobs and Jobs/Sub entries went with them',
      );
      await store.deleteAccount('a@example.org');
      const a2 = await account(store, 'a@example.org');
      assert.deepEqual(await store.getMetadata({ accountId: a2, mailboxId: null }), []);
    });
  });
}
