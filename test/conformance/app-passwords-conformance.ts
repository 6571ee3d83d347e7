// The app-password part of the Directory role in the MailStore conformance suite: every backend
// must pass it. Registered beside runStoreConformance by each backend's test file.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStoreError } from '../../src/core/errors.js';
import { MAX_APP_PASSWORDS } from '../../src/store/rules/app-password-fields.js';
import type { BackendFactory, BackendName, ConformanceBackend } from './backends.js';
import { freshBackends } from './fresh-backends.js';

/** A stand-in for a real hash: the store treats it as opaque printable text. */
function hashFor(n: number): string {
  return `sha256:${String(n).padStart(43, 'x')}`;
}

export function runAppPasswordConformance(backendName: BackendName, factory: BackendFactory): void {
  void describe(`MailStore conformance (${backendName}): app passwords`, () => {
    const backends = freshBackends('apppw', backendName, factory);
    const fresh = backends.fresh;
    async function twoAccounts(b: ConformanceBackend): Promise<{ alice: number; bob: number }> {
      await b.store.createDomain('example.org');
      const alice = await b.store.createAccount({ address: 'alice@example.org', passwordHash: 'x' });
      const bob = await b.store.createAccount({ address: 'bob@example.org', passwordHash: 'x' });
      return { alice: alice.id, bob: bob.id };
    }

    void it("creates, lists newest first, and revokes only the owner's, by id", async () => {
      const { b } = await fresh();
      const { store } = b;
      const { alice, bob } = await twoAccounts(b);
      const phone = await store.createAppPassword(alice, { label: 'Phone', secretHash: hashFor(1) });
      const laptop = await store.createAppPassword(alice, { label: 'Laptop ☕', secretHash: hashFor(2) });
      const bobs = await store.createAppPassword(bob, { label: 'Phone', secretHash: hashFor(3) });
      assert.equal(phone.accountId, alice);
      assert.equal(phone.label, 'Phone');
      assert.ok(phone.createdAt instanceof Date && Math.abs(phone.createdAt.getTime() - Date.now()) < 60_000);
      assert.deepEqual([phone.lastUsedAt, phone.lastUsedProtocol, phone.lastUsedAddress], [null, null, null]);
      assert.deepEqual(
        (await store.listAppPasswords(alice)).map((p) => [p.id, p.label]),
        [
          [laptop.id, 'Laptop ☕'],
          [phone.id, 'Phone'],
        ],
      );
      // The list never carries the hash.
      assert.ok(!('secretHash' in (await store.listAppPasswords(alice))[0]!));
      assert.deepEqual(
        (await store.appPasswordCredentials(alice)).map((c) => [c.id, c.secretHash]),
        [
          [laptop.id, hashFor(2)],
          [phone.id, hashFor(1)],
        ],
      );
      // Another account's id is not revocable through this one.
      assert.equal(await store.revokeAppPassword(alice, bobs.id), false);
      assert.equal(await store.revokeAppPassword(alice, 999_999), false);
      assert.equal(await store.revokeAppPassword(alice, -1), false);
      assert.equal((await store.listAppPasswords(bob)).length, 1);
      assert.equal(await store.revokeAppPassword(alice, phone.id), true);
      assert.equal(await store.revokeAppPassword(alice, phone.id), false);
      assert.deepEqual(
        (await store.listAppPasswords(alice)).map((p) => p.id),
        [laptop.id],
      );
      assert.deepEqual(
        (await store.appPasswordCredentials(alice)).map((c) => c.id),
        [laptop.id],
      );
      // A revoked id is never given again.
      const next = await store.createAppPassword(alice, { label: 'Tablet', secretHash: hashFor(4) });
      assert.ok(next.id > bobs.id, `id ${next.id} reused`);
      assert.deepEqual(await store.listAppPasswords(12345), []);
    });

    void it('records uses, visible to another instance; a revoked one records nothing', async () => {
      const { dataDir, b } = await fresh();
      const { store } = b;
      const { alice } = await twoAccounts(b);
      const p = await store.createAppPassword(alice, { label: 'Phone', secretHash: hashFor(1) });
      const at = new Date('2026-12-07T08:00:00.000Z');
      await store.recordAppPasswordUse(p.id, { at, protocol: 'pop3', address: '192.0.2.7' });
      const second = await backends.reopen(dataDir);
      const [seen] = await second.store.listAppPasswords(alice);
      assert.deepEqual(
        [seen!.lastUsedAt?.toISOString(), seen!.lastUsedProtocol, seen!.lastUsedAddress],
        [at.toISOString(), 'pop3', '192.0.2.7'],
      );
      // Revoked through the other instance (as the CLI would): gone for the first at once.
      assert.equal(await second.store.revokeAppPassword(alice, p.id), true);
      assert.deepEqual(await store.appPasswordCredentials(alice), []);
      await store.recordAppPasswordUse(p.id, { at, protocol: 'imap', address: '192.0.2.8' });
      assert.deepEqual(await store.listAppPasswords(alice), []);
    });

    void it('refuses bad labels and hashes, unknown accounts, and more than the most allowed', async () => {
      const { b } = await fresh();
      const { store } = b;
      const { alice } = await twoAccounts(b);
      const refused = async (label: string, secretHash = hashFor(1), accountId = alice): Promise<string> => {
        try {
          await store.createAppPassword(accountId, { label, secretHash });
        } catch (err) {
          assert.ok(isStoreError(err), String(err));
          return err.code;
        }
        return 'accepted';
      };
      assert.equal(await refused(''), 'INVALID_ARGUMENT');
      assert.equal(await refused(' Phone'), 'INVALID_ARGUMENT');
      assert.equal(await refused('Pho\nne'), 'INVALID_ARGUMENT');
      assert.equal(await refused('Phone\u202e'), 'INVALID_ARGUMENT');
      assert.equal(await refused('x'.repeat(65)), 'INVALID_ARGUMENT');
      assert.equal(await refused('Phone', ''), 'INVALID_ARGUMENT');
      assert.equal(await refused('Phone', 'has space'), 'INVALID_ARGUMENT');
      assert.equal(await refused('Phone', hashFor(1), 424242), 'NOT_FOUND');
      assert.equal(await refused('é'.repeat(64)), 'accepted');
      for (let i = 1; i < MAX_APP_PASSWORDS; i++) {
        await store.createAppPassword(alice, { label: `Device ${i}`, secretHash: hashFor(i) });
      }
      assert.equal((await store.listAppPasswords(alice)).length, MAX_APP_PASSWORDS);
      assert.equal(await refused('One too many'), 'INVALID_ARGUMENT');
    });

    void it('deleting an account deletes its app passwords; a new account of that address has none', async () => {
      const { b } = await fresh();
      const { store } = b;
      const { alice, bob } = await twoAccounts(b);
      await store.createAppPassword(alice, { label: 'Phone', secretHash: hashFor(1) });
      await store.createAppPassword(bob, { label: 'Phone', secretHash: hashFor(2) });
      await store.deleteAccount('alice@example.org');
      assert.deepEqual(await store.appPasswordCredentials(alice), []);
      const again = await store.createAccount({ address: 'alice@example.org', passwordHash: 'x' });
      assert.deepEqual(await store.listAppPasswords(again.id), []);
      assert.equal((await store.listAppPasswords(bob)).length, 1);
    });
  });
}
