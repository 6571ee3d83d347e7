// The store's side of quota warnings and of POP3 retention's IMAP rule (issue 14): the warned
// level is claimed once across two store handles (two processes), lowered with hysteresis when
// usage falls, an ignoreQuota append lands past the quota, POP3 retention keeps a message whose
// flags changed after its download unless told otherwise, and the pre-login CAPA's "any POP3
// retention override?" is an index lookup (migration 17's partial indexes).

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { POP3_EXPIRE_OVERRIDES_SQL } from './directory.js';
import { SQLITE_FILE_NAME } from './sqlite-store.js';
import { fakeBlob, openFixture, seedAccount, type StoreFixture } from './store-fixture.js';

const THRESHOLDS = [80, 90, 100];
let fx: StoreFixture;

before(async () => {
  fx = await openFixture();
});
after(async () => {
  await fx.cleanup();
});

/** A blob of exactly `size` bytes (distinct content per `tag`). */
function sized(tag: string, size: number) {
  return fakeBlob(tag.padEnd(size, '.'));
}

void test('a threshold is claimed once, even by two store handles racing; the highest reached wins', async () => {
  const { store } = fx;
  const other = await fx.openAnother();
  const { accountId, inbox } = await seedAccount(store, 'race@example.org', 1000);
  assert.equal(await store.claimQuotaWarning(accountId, THRESHOLDS), null, 'empty: nothing reached');
  await store.append({ blob: sized('a', 790), targets: [{ mailboxId: inbox }] });
  assert.equal(await store.claimQuotaWarning(accountId, THRESHOLDS), null, '79%');
  await store.append({ blob: sized('b', 10), targets: [{ mailboxId: inbox }] });
  // 80%: many claims from both handles at once, exactly one wins.
  const claims = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? store : other).claimQuotaWarning(accountId, THRESHOLDS),
    ),
  );
  const won = claims.filter((c) => c !== null);
  assert.equal(won.length, 1);
  assert.equal(won[0]!.threshold, 80);
  assert.equal(won[0]!.address, 'race@example.org');
  assert.deepEqual(won[0]!.usage, { quotaBytes: 1000, usedBytes: 800, quotaMessages: 0, usedMessages: 2 });
  // 95%: straight past 90 to the highest reached.
  await other.append({ blob: sized('c', 150), targets: [{ mailboxId: inbox }] });
  const [x, y] = await Promise.all([
    store.claimQuotaWarning(accountId, THRESHOLDS),
    other.claimQuotaWarning(accountId, THRESHOLDS),
  ]);
  assert.deepEqual([x?.threshold ?? null, y?.threshold ?? null].sort(), [90, null].sort());
  assert.equal(await store.claimQuotaWarning(accountId, THRESHOLDS), null, 'already warned');
  assert.equal(await store.claimQuotaWarning(accountId, []), null, 'no thresholds: never');
});

void test('usage falling lowers the level with 5 points of hysteresis; a quota raised too', async () => {
  const { store } = fx;
  const { accountId, inbox } = await seedAccount(store, 'hyst@example.org', 1000);
  await store.append({ blob: sized('h1', 500), targets: [{ mailboxId: inbox }] });
  await store.append({ blob: sized('h2', 360), targets: [{ mailboxId: inbox }] });
  await store.append({ blob: sized('h3', 50), targets: [{ mailboxId: inbox }] });
  assert.equal((await store.claimQuotaWarning(accountId, THRESHOLDS))?.threshold, 90, '91%');
  // Down to 86%: within 5 points of 90, which stays warned.
  await store.expunge(inbox, { uids: [3] });
  await store.append({ blob: sized('h4', 40), targets: [{ mailboxId: inbox }] });
  assert.equal(await store.claimQuotaWarning(accountId, THRESHOLDS), null, '90% again: no second warning');
  // Down to 50%: 80 and 90 are dropped; crossing 80 warns again.
  await store.expunge(inbox, { uids: [2, 4] });
  assert.equal(await store.claimQuotaWarning(accountId, THRESHOLDS), null);
  await store.append({ blob: sized('h5', 320), targets: [{ mailboxId: inbox }] });
  assert.equal((await store.claimQuotaWarning(accountId, THRESHOLDS))?.threshold, 80, '82%');
  // A larger quota is usage falling too: 82% of 1000 is 41% of 2000.
  await store.setQuota('hyst@example.org', 2000);
  await store.setQuota('hyst@example.org', 1000);
  assert.equal((await store.claimQuotaWarning(accountId, THRESHOLDS))?.threshold, 80, 'warned again');
  // The message-count quota counts the same way.
  await store.setQuota('hyst@example.org', 0);
  await store.setMessageQuota('hyst@example.org', 2);
  assert.equal((await store.claimQuotaWarning(accountId, THRESHOLDS))?.threshold, 100, '2 of 2 messages');
});

void test('ignoreQuota stores past the quota; without it the same append is refused', async () => {
  const { store } = fx;
  const { accountId, inbox } = await seedAccount(store, 'full@example.org', 100);
  await store.append({ blob: sized('f1', 100), targets: [{ mailboxId: inbox }] });
  const refused = await store.append({ blob: sized('f2', 50), targets: [{ mailboxId: inbox }] });
  assert.equal(refused[0]!.ok, false);
  const stored = await store.append({
    blob: sized('f2', 50),
    targets: [{ mailboxId: inbox }],
    ignoreQuota: true,
  });
  assert.equal(stored[0]!.ok, true);
  assert.equal((await store.getAccountById(accountId))!.usedBytes, 150);
});

void test('POP3 retention keeps a message IMAP changed after its download, unless includeImapTouched', async () => {
  const { store } = fx;
  const { inbox } = await seedAccount(store, 'pop@example.org');
  for (let i = 1; i <= 4; i++)
    await store.append({ blob: sized(`p${i}`, 20), targets: [{ mailboxId: inbox }] });
  const t0 = Date.now();
  await store.markPop3Retrieved(inbox, [1, 2, 3], t0);
  // After the download, an IMAP user flags message 2 (and 4 was never downloaded).
  await store.updateFlags(inbox, [2], { mode: 'add', flags: ['\\Flagged'] });
  // A second POP3 retrieval changes nothing (\Seen is set): message 1 stays untouched.
  await store.markPop3Retrieved(inbox, [1], t0 + 1000);
  assert.deepEqual(await store.expungePop3Retrieved(inbox, t0 + 5000), [1, 3]);
  assert.deepEqual(await store.expungePop3Retrieved(inbox, t0 + 5000), [], 'message 2 stays');
  assert.deepEqual(await store.expungePop3Retrieved(inbox, t0 + 5000, { includeImapTouched: true }), [2]);
  assert.deepEqual(
    (await store.listMessages(inbox)).map((m) => m.uid),
    [4],
  );
});

void test('the POP3 retention override check (pre-login CAPA) is an index lookup, not a table scan', async () => {
  const db = new Database(path.join(fx.dir, SQLITE_FILE_NAME), { readonly: true });
  try {
    const plan = (
      db.prepare(`EXPLAIN QUERY PLAN ${POP3_EXPIRE_OVERRIDES_SQL}`).all() as Array<{ detail: string }>
    ).map((r) => r.detail);
    const accounts = plan.filter((d) => / accounts\b/.test(d));
    const domains = plan.filter((d) => / domains\b/.test(d));
    assert.ok(accounts.length > 0 && domains.length > 0, plan.join('\n'));
    for (const d of [...accounts, ...domains]) {
      assert.match(d, /USING (COVERING )?INDEX (accounts|domains)_pop3_expire/, plan.join('\n'));
      assert.doesNotMatch(d, /^SCAN (accounts|domains)$/);
    }
  } finally {
    db.close();
  }
  await fx.store.setPop3Expire({ address: 'pop@example.org' }, 3);
  assert.equal(await fx.store.hasPop3ExpireOverrides(), true);
  await fx.store.setPop3Expire({ address: 'pop@example.org' }, null);
  assert.equal(await fx.store.hasPop3ExpireOverrides(), false);
});
