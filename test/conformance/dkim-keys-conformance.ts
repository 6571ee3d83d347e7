// The DkimKeys role of the MailStore conformance suite: every backend must pass it. Registered
// beside runStoreConformance by each backend's test file.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { isStoreError } from '../../src/core/errors.js';
import type { NewDkimKey } from '../../src/store/types.js';
import type { BackendFactory, BackendName } from './backends.js';
import { freshBackends } from './fresh-backends.js';

function ed25519Key(selector: string): NewDkimKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return {
    selector,
    algorithm: 'ed25519',
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    // RFC 8463 §4.2: the raw 32-byte key, the last bytes of the SubjectPublicKeyInfo.
    publicKey: spki.subarray(spki.length - 32).toString('base64'),
  };
}

export function runDkimKeyConformance(backendName: BackendName, factory: BackendFactory): void {
  void describe(`MailStore conformance (${backendName}): DKIM keys`, () => {
    const backends = freshBackends('dkim', backendName, factory);
    const fresh = backends.fresh;

    void it('adds, lists, rotates and deletes keys; another instance sees them', async () => {
      const { dataDir, b } = await fresh();
      const { store } = b;
      await store.createDomain('example.org');
      const first = [ed25519Key('P2026A-ed'), { ...ed25519Key('p2026a-rsa') }];
      const added = await store.addDkimKeys('Example.ORG', first);
      assert.deepEqual(
        added.map((k) => [k.domain, k.selector, k.state, k.retiredAt]),
        [
          ['example.org', 'p2026a-ed', 'active', null],
          ['example.org', 'p2026a-rsa', 'active', null],
        ],
      );
      assert.equal(added[0]!.privateKeyPem, first[0]!.privateKeyPem);
      assert.equal(added[0]!.publicKey, first[0]!.publicKey);
      assert.ok(added[0]!.createdAt instanceof Date);

      // A rotation: the new pair active, the old one retired, in one write.
      const rotated = await store.addDkimKeys(
        'example.org',
        [ed25519Key('p2026b-ed'), ed25519Key('p2026b-rsa')],
        {
          retireActive: true,
        },
      );
      assert.deepEqual(
        rotated.map((k) => k.state),
        ['active', 'active'],
      );
      const all = await store.listDkimKeys('example.org');
      assert.deepEqual(
        all.map((k) => [k.selector, k.state]),
        [
          ['p2026b-ed', 'active'],
          ['p2026b-rsa', 'active'],
          ['p2026a-ed', 'retired'],
          ['p2026a-rsa', 'retired'],
        ],
      );
      assert.ok(all[2]!.retiredAt instanceof Date);
      assert.deepEqual(
        (await store.listDkimKeys('example.org', { activeOnly: true })).map((k) => k.selector),
        ['p2026b-ed', 'p2026b-rsa'],
      );

      // Every node on the store sees the same keys.
      const other = await backends.reopen(dataDir);
      assert.deepEqual(
        (await other.store.listDkimKeys('example.org')).map((k) => [k.selector, k.state, k.privateKeyPem]),
        all.map((k) => [k.selector, k.state, k.privateKeyPem]),
      );

      await assert.rejects(store.deleteDkimKey('example.org', 'p2026b-ed'), (e) =>
        isStoreError(e, 'INVALID_ARGUMENT'),
      );
      await store.deleteDkimKey('example.org', 'P2026A-ED');
      await assert.rejects(store.deleteDkimKey('example.org', 'p2026a-ed'), (e) =>
        isStoreError(e, 'NOT_FOUND'),
      );
      assert.deepEqual(
        (await store.listDkimKeys('example.org')).map((k) => k.selector),
        ['p2026b-ed', 'p2026b-rsa', 'p2026a-rsa'],
      );
    });

    void it('refuses unknown domains, reused selectors and bad keys, changing nothing', async () => {
      const { store } = (await fresh()).b;
      await assert.rejects(store.addDkimKeys('missing.test', [ed25519Key('s1')]), (e) =>
        isStoreError(e, 'NOT_FOUND'),
      );
      assert.deepEqual(await store.listDkimKeys('missing.test'), []);
      assert.deepEqual(await store.listDkimKeys('not a domain'), []);
      await store.createDomain('example.org');
      await store.addDkimKeys('example.org', [ed25519Key('s1')]);
      await store.addDkimKeys('example.org', [ed25519Key('s2')], { retireActive: true });
      // A retired selector is never reused, and a failed rotation retires nothing.
      await assert.rejects(
        store.addDkimKeys('example.org', [ed25519Key('s3'), ed25519Key('s1')], { retireActive: true }),
        (e) => isStoreError(e, 'ALREADY_EXISTS'),
      );
      assert.deepEqual(
        (await store.listDkimKeys('example.org')).map((k) => [k.selector, k.state]),
        [
          ['s2', 'active'],
          ['s1', 'retired'],
        ],
      );
      const bad: Array<[string, NewDkimKey[]]> = [
        ['no keys', []],
        ['bad selector', [ed25519Key('_bad')]],
        ['twice', [ed25519Key('x1'), ed25519Key('x1')]],
        ['algorithm', [{ ...ed25519Key('x2'), algorithm: 'dsa' as 'rsa' }]],
        ['pem', [{ ...ed25519Key('x3'), privateKeyPem: 'not a pem' }]],
        ['base64', [{ ...ed25519Key('x4'), publicKey: 'a;b=' }]],
      ];
      for (const [what, keys] of bad) {
        await assert.rejects(
          store.addDkimKeys('example.org', keys),
          (e) => isStoreError(e, 'INVALID_ARGUMENT'),
          what,
        );
      }
      assert.equal((await store.listDkimKeys('example.org')).length, 2);
    });

    void it('a staged rotation: pending keys are listed but not active until activated', async () => {
      const { store } = (await fresh()).b;
      await store.createDomain('example.org');
      assert.deepEqual(await store.activateDkimKeys('example.org'), { activated: [], retired: [] });
      await store.addDkimKeys('example.org', [ed25519Key('a-ed'), ed25519Key('a-rsa')]);
      const staged = await store.addDkimKeys('example.org', [ed25519Key('b-ed'), ed25519Key('b-rsa')], {
        pending: true,
      });
      assert.deepEqual(
        staged.map((k) => k.state),
        ['pending', 'pending'],
      );
      assert.deepEqual(
        (await store.listDkimKeys('example.org')).map((k) => [k.selector, k.state]),
        [
          ['a-ed', 'active'],
          ['a-rsa', 'active'],
          ['b-ed', 'pending'],
          ['b-rsa', 'pending'],
        ],
      );
      assert.deepEqual(
        (await store.listDkimKeys('example.org', { activeOnly: true })).map((k) => k.selector),
        ['a-ed', 'a-rsa'],
      );
      await assert.rejects(
        store.addDkimKeys('example.org', [ed25519Key('c-ed')], { pending: true, retireActive: true }),
        (e) => isStoreError(e, 'INVALID_ARGUMENT'),
      );
      const { activated, retired } = await store.activateDkimKeys('EXAMPLE.org');
      assert.deepEqual(
        activated.map((k) => [k.selector, k.state]),
        [
          ['b-ed', 'active'],
          ['b-rsa', 'active'],
        ],
      );
      assert.deepEqual(
        retired.map((k) => [k.selector, k.state, k.retiredAt instanceof Date]),
        [
          ['a-ed', 'retired', true],
          ['a-rsa', 'retired', true],
        ],
      );
      assert.deepEqual(
        (await store.listDkimKeys('example.org')).map((k) => [k.selector, k.state]),
        [
          ['b-ed', 'active'],
          ['b-rsa', 'active'],
          ['a-ed', 'retired'],
          ['a-rsa', 'retired'],
        ],
      );
      // A staged key may be discarded before it signs.
      await store.addDkimKeys('example.org', [ed25519Key('d-ed')], { pending: true });
      await store.deleteDkimKey('example.org', 'd-ed');
      await assert.rejects(store.activateDkimKeys('missing.test'), (e) => isStoreError(e, 'NOT_FOUND'));
    });

    void it('deleting a domain deletes its keys', async () => {
      const { store } = (await fresh()).b;
      await store.createDomain('example.org');
      await store.addDkimKeys('example.org', [ed25519Key('s1')]);
      await store.deleteDomain('example.org');
      await store.createDomain('example.org');
      assert.deepEqual(await store.listDkimKeys('example.org'), []);
      await store.addDkimKeys('example.org', [ed25519Key('s1')]);
      assert.equal((await store.listDkimKeys('example.org')).length, 1);
    });
  });
}
