// The MailboxAcls role of the MailStore conformance suite (RFC 4314 access control lists): every
// backend must pass it. Registered beside runStoreConformance by each backend's test file.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStoreError } from '../../src/core/errors.js';
import type { BackendFactory, BackendName } from './backends.js';
import { freshBackends } from './fresh-backends.js';

export function runAclConformance(backendName: BackendName, factory: BackendFactory): void {
  void describe(`MailStore conformance (${backendName}): mailbox ACLs`, () => {
    const backends = freshBackends('acl', backendName, factory);
    const fresh = backends.fresh;

    void it('sets, replaces, lists and deletes entries; another instance sees them', async () => {
      const { dataDir, b } = await fresh();
      const { store } = b;
      await store.createDomain('example.org');
      const alice = await store.createAccount({ address: 'alice@example.org', passwordHash: 'x' });
      await store.createAccount({ address: 'bob@example.org', passwordHash: 'x' });
      const box = await store.createMailbox(alice.id, 'INBOX/Projects');
      await store.setAcl(box.id, 'Bob@Example.ORG', 'rl');
      await store.setAcl(box.id, 'anyone', 'l');
      // Rights are kept in canonical order; the identifier in its normal form.
      assert.deepEqual(await store.getAcl(box.id), [
        { identifier: 'anyone', rights: 'l' },
        { identifier: 'bob@example.org', rights: 'lr' },
      ]);
      await store.setAcl(box.id, 'bob@example.org', 'lrswi');
      const other = (await backends.reopen(dataDir)).store;
      try {
        assert.deepEqual(await other.getAcl(box.id), [
          { identifier: 'anyone', rights: 'l' },
          { identifier: 'bob@example.org', rights: 'lrswi' },
        ]);
      } finally {
        await other.close();
      }
      // "" removes the entry; deleteAcl says whether there was one.
      await store.setAcl(box.id, 'anyone', '');
      assert.equal(await store.deleteAcl(box.id, 'bob@example.org'), true);
      assert.equal(await store.deleteAcl(box.id, 'bob@example.org'), false);
      assert.deepEqual(await store.getAcl(box.id), []);
      await assert.rejects(store.setAcl(987654, 'anyone', 'l'), (e) => isStoreError(e, 'NOT_FOUND'));
      await assert.rejects(store.setAcl(box.id, '-bob@example.org', 'l'), (e) =>
        isStoreError(e, 'INVALID_ARGUMENT'),
      );
    });

    void it('lists grants by user with "anyone" merged in, never the user\'s own mailboxes', async () => {
      const { b } = await fresh();
      const { store } = b;
      await store.createDomain('example.org');
      const alice = await store.createAccount({ address: 'alice@example.org', passwordHash: 'x' });
      const bob = await store.createAccount({ address: 'bob@example.org', passwordHash: 'x' });
      await store.createAccount({ address: 'carol@example.org', passwordHash: 'x' });
      const projects = await store.createMailbox(alice.id, 'INBOX/Projects');
      const news = await store.createMailbox(alice.id, 'News');
      const own = await store.getMailbox(bob.id, 'INBOX');
      await store.setAcl(projects.id, 'bob@example.org', 'lr');
      await store.setAcl(projects.id, 'anyone', 'ls');
      await store.setAcl(news.id, 'anyone', 'l');
      await store.setAcl(own!.id, 'anyone', 'lr');
      const grants = await store.listAclGrants('bob@example.org');
      assert.deepEqual(
        grants.map((g) => [g.owner, g.mailbox.name, g.rights]),
        [
          ['alice@example.org', 'INBOX/Projects', 'lrs'],
          ['alice@example.org', 'News', 'l'],
        ],
      );
      const carol = await store.listAclGrants('carol@example.org');
      assert.deepEqual(
        carol.map((g) => [g.owner, g.mailbox.name, g.rights]),
        [
          ['alice@example.org', 'INBOX/Projects', 'ls'],
          ['alice@example.org', 'News', 'l'],
          ['bob@example.org', 'INBOX', 'lr'],
        ],
      );
    });

    void it("a mailbox's entries go with it; a deleted account's grants go with the account", async () => {
      const { b } = await fresh();
      const { store } = b;
      await store.createDomain('example.org');
      const alice = await store.createAccount({ address: 'alice@example.org', passwordHash: 'x' });
      await store.createAccount({ address: 'bob@example.org', passwordHash: 'x' });
      const box = await store.createMailbox(alice.id, 'Shared');
      await store.setAcl(box.id, 'bob@example.org', 'lr');
      await store.setAcl(box.id, 'anyone', 'l');
      // RENAME keeps the entries (they follow the mailbox, not its name).
      await store.renameMailbox(alice.id, 'Shared', 'Team');
      assert.equal((await store.getAcl(box.id)).length, 2);
      await store.deleteAccount('bob@example.org');
      assert.deepEqual(await store.getAcl(box.id), [{ identifier: 'anyone', rights: 'l' }]);
      // A new account at the same address inherits nothing.
      await store.createAccount({ address: 'bob@example.org', passwordHash: 'x' });
      assert.deepEqual(
        (await store.listAclGrants('bob@example.org')).map((g) => g.rights),
        ['l'],
      );
      await store.deleteMailbox(alice.id, 'Team');
      assert.deepEqual(await store.getAcl(box.id), []);
      assert.deepEqual(await store.listAclGrants('bob@example.org'), []);
    });
  });
}
