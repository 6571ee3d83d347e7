import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { buildConfig, NO_LISTENERS } from '../config/load.js';
import { DEFAULT_AUTH } from '../config/schema.js';
import type { AuthSettings } from '../config/types.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { openStore } from '../app/open-store.js';
import { SQLITE_FILE_NAME } from '../store/sqlite/sqlite-store.js';
import type { MailStore } from '../store/types.js';
import { ensurePublicOwner } from '../store/public-folders.js';
import { issueAppPassword } from './app-passwords.js';
import { Authenticator, type AuthProtocol } from './authenticator.js';
import { AuthFailureTracker } from './failure-tracker.js';
import { hashPassword, scryptRuns } from './password.js';

let dir: string;
let store: MailStore;
/** A second connection to the same database, as the CLI or another worker would have. */
let other: MailStore;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'postern-auth-'));
  const config = buildConfig({
    hostname: 'mail.example.test',
    dataDir: dir,
    listen: NO_LISTENERS,
    log: { level: 'fatal' },
  });
  store = (await openStore(config)).store;
  other = (await openStore(config)).store;
  await store.createDomain('example.test');
  await store.createAccount({ address: 'alice@example.test', passwordHash: await hashPassword('alice-pw') });
});

after(async () => {
  await other.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function make(
  delay: number,
  banAfter = 10,
  opts: { auth?: Partial<AuthSettings>; now?: () => number; appPasswordUseInterval?: number } = {},
): Authenticator {
  const limits = { ...DEFAULT_LIMITS, authFailureDelay: delay, authFailuresBeforeBan: banAfter };
  return new Authenticator({
    store,
    limits,
    tracker: new AuthFailureTracker({ limits }),
    auth: { ...DEFAULT_AUTH, ...opts.auth },
    now: opts.now,
    appPasswordUseInterval: opts.appPasswordUseInterval,
  });
}

/** Logs in and returns the result with the number of scrypt runs it cost. */
async function login(
  auth: Authenticator,
  username: string,
  password: string,
  remoteAddress = '127.0.0.9',
): Promise<{ result: string; scrypt: number }> {
  const before = scryptRuns();
  const r = await auth.authenticate({ username, password, remoteAddress, protocol: 'imap' });
  return { result: r.ok ? 'ok' : r.reason, scrypt: scryptRuns() - before };
}

async function addUser(address: string, password: string): Promise<void> {
  await store.createAccount({ address, passwordHash: await hashPassword(password) });
}

void test('right password: ok with the account (user name case-insensitive)', async () => {
  const auth = make(0);
  const r = await auth.authenticate({
    username: 'Alice@Example.TEST',
    password: 'alice-pw',
    remoteAddress: '127.0.0.1',
    protocol: 'imap',
  });
  assert.equal(r.ok, true);
  assert.equal(r.ok && r.account.address, 'alice@example.test');
});

void test('wrong password and unknown user both answer invalid, after the delay, and count', async () => {
  const auth = make(150);
  let t = Date.now();
  const wrong = await auth.authenticate({
    username: 'alice@example.test',
    password: 'nope',
    remoteAddress: '127.0.0.2',
    protocol: 'smtp',
  });
  assert.deepEqual(wrong, { ok: false, reason: 'invalid' });
  assert.ok(Date.now() - t >= 145, 'failure delayed');
  t = Date.now();
  const unknown = await auth.authenticate({
    username: 'bob@example.test',
    password: 'x',
    remoteAddress: '127.0.0.2',
    protocol: 'pop3',
  });
  assert.deepEqual(unknown, { ok: false, reason: 'invalid' });
  assert.ok(Date.now() - t >= 145);
  assert.equal(auth.tracker.failureCount('127.0.0.2'), 2);
});

void test('after the ban threshold the address is banned even with the right password', async () => {
  const auth = make(0, 3);
  for (let i = 0; i < 3; i++) {
    const r = await auth.authenticate({
      username: 'alice@example.test',
      password: `bad${i}`,
      remoteAddress: '127.0.0.3',
      protocol: 'imap',
    });
    assert.deepEqual(r, { ok: false, reason: 'invalid' });
  }
  const r = await auth.authenticate({
    username: 'alice@example.test',
    password: 'alice-pw',
    remoteAddress: '127.0.0.3',
    protocol: 'smtp',
  });
  assert.deepEqual(r, { ok: false, reason: 'banned' });
  const other = await auth.authenticate({
    username: 'alice@example.test',
    password: 'alice-pw',
    remoteAddress: '127.0.0.4',
    protocol: 'smtp',
  });
  assert.equal(other.ok, true, 'another address is not affected');
});

void test('oversized user names are not looked up', async () => {
  const auth = make(0);
  const r = await auth.authenticate({
    username: 'a'.repeat(10_000),
    password: 'x',
    remoteAddress: '127.0.0.5',
    protocol: 'imap',
  });
  assert.deepEqual(r, { ok: false, reason: 'invalid' });
});

void test('cache: a repeated login costs no scrypt run; the first one and a wrong password do', async () => {
  await addUser('cache1@example.test', 'pw-1');
  const auth = make(0);
  assert.deepEqual(await login(auth, 'cache1@example.test', 'pw-1'), { result: 'ok', scrypt: 1 });
  assert.deepEqual(await login(auth, 'CACHE1@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
  assert.deepEqual(await login(auth, 'cache1@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
  // A wrong password with a warm cache: refused, verified for real, counted for the ban.
  assert.deepEqual(await login(auth, 'cache1@example.test', 'pw-2', '127.0.0.10'), {
    result: 'invalid',
    scrypt: 1,
  });
  assert.equal(auth.tracker.failureCount('127.0.0.10'), 1);
  // ... and it evicted nothing: the right password still hits.
  assert.deepEqual(await login(auth, 'cache1@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
});

void test('cache: failures are never cached, and a warm cache does not stop the ban', async () => {
  await addUser('cache2@example.test', 'pw-1');
  const auth = make(0, 3);
  assert.equal((await login(auth, 'cache2@example.test', 'pw-1', '127.0.0.11')).result, 'ok');
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await login(auth, 'cache2@example.test', 'wrong', '127.0.0.11'), {
      result: 'invalid',
      scrypt: 1,
    });
  }
  assert.deepEqual(await login(auth, 'cache2@example.test', 'pw-1', '127.0.0.11'), {
    result: 'banned',
    scrypt: 0,
  });
  assert.deepEqual(await login(auth, 'cache2@example.test', 'pw-1', '127.0.0.12'), {
    result: 'ok',
    scrypt: 0,
  });
});

void test('cache: an entry expires after auth.cache_ttl', async () => {
  await addUser('cache3@example.test', 'pw-1');
  let now = Date.now();
  const auth = make(0, 10, { auth: { cacheTtl: 60 }, now: () => now });
  assert.deepEqual(await login(auth, 'cache3@example.test', 'pw-1'), { result: 'ok', scrypt: 1 });
  now += 59_000;
  assert.deepEqual(await login(auth, 'cache3@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
  now += 1_000;
  assert.deepEqual(await login(auth, 'cache3@example.test', 'pw-1'), { result: 'ok', scrypt: 1 });
  assert.deepEqual(await login(auth, 'cache3@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
});

void test('cache: a password changed through another connection takes effect at the next login', async () => {
  await addUser('cache4@example.test', 'old-pw');
  const auth = make(0);
  assert.equal((await login(auth, 'cache4@example.test', 'old-pw')).result, 'ok');
  assert.deepEqual(await login(auth, 'cache4@example.test', 'old-pw'), { result: 'ok', scrypt: 0 });
  await other.setPasswordHash('cache4@example.test', await hashPassword('new-pw'));
  assert.deepEqual(await login(auth, 'cache4@example.test', 'old-pw'), { result: 'invalid', scrypt: 1 });
  assert.deepEqual(await login(auth, 'cache4@example.test', 'new-pw'), { result: 'ok', scrypt: 1 });
  assert.deepEqual(await login(auth, 'cache4@example.test', 'new-pw'), { result: 'ok', scrypt: 0 });
  // Setting the same password again stores a new salt: the entry misses once, then hits.
  await other.setPasswordHash('cache4@example.test', await hashPassword('new-pw'));
  assert.deepEqual(await login(auth, 'cache4@example.test', 'new-pw'), { result: 'ok', scrypt: 1 });
});

void test('cache: a deleted account is refused with a warm cache, and so is one made again', async () => {
  await addUser('cache5@example.test', 'pw-1');
  const auth = make(0);
  assert.equal((await login(auth, 'cache5@example.test', 'pw-1')).result, 'ok');
  assert.deepEqual(await login(auth, 'cache5@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
  await other.deleteAccount('cache5@example.test');
  // Unknown user: a dummy verification, as for any unknown user.
  assert.deepEqual(await login(auth, 'cache5@example.test', 'pw-1'), { result: 'invalid', scrypt: 1 });
  await other.createAccount({ address: 'cache5@example.test', passwordHash: await hashPassword('pw-2') });
  assert.deepEqual(await login(auth, 'cache5@example.test', 'pw-1'), { result: 'invalid', scrypt: 1 });
  assert.deepEqual(await login(auth, 'cache5@example.test', 'pw-2'), { result: 'ok', scrypt: 1 });
});

void test('cache: a disabled account is refused with a warm cache, and served again once enabled', async () => {
  await addUser('cache6@example.test', 'pw-1');
  const auth = make(0);
  assert.equal((await login(auth, 'cache6@example.test', 'pw-1')).result, 'ok');
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path.join(dir, SQLITE_FILE_NAME));
  try {
    db.prepare("UPDATE accounts SET state = 'disabled' WHERE address = ?").run('cache6@example.test');
    assert.deepEqual(await login(auth, 'cache6@example.test', 'pw-1'), { result: 'disabled', scrypt: 0 });
    assert.deepEqual(await login(auth, 'cache6@example.test', 'pw-2'), { result: 'invalid', scrypt: 1 });
    db.prepare("UPDATE accounts SET state = 'active' WHERE address = ?").run('cache6@example.test');
    assert.deepEqual(await login(auth, 'cache6@example.test', 'pw-1'), { result: 'ok', scrypt: 0 });
  } finally {
    db.close();
  }
});

void test('cache off (auth.cache_ttl = 0): every login runs scrypt', async () => {
  await addUser('cache7@example.test', 'pw-1');
  const auth = make(0, 10, { auth: { cacheTtl: 0 } });
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await login(auth, 'cache7@example.test', 'pw-1'), { result: 'ok', scrypt: 1 });
  }
});

void test('unknown users cost one dummy scrypt run at auth.scrypt_log_n, cache or not', async () => {
  const auth = make(0, 10, { auth: { scryptLogN: 11 } });
  for (let i = 0; i < 2; i++) {
    // The first call also makes the dummy hash of that cost (one more run).
    const r = await login(auth, 'nobody@example.test', 'pw-1', '127.0.0.13');
    assert.equal(r.result, 'invalid');
    assert.equal(r.scrypt, i === 0 ? 2 : 1);
  }
});

/** Logs in with a protocol and returns the outcome, the app password id if one, and scrypt runs. */
async function loginAs(
  auth: Authenticator,
  username: string,
  password: string,
  protocol: AuthProtocol,
  remoteAddress = '127.0.0.20',
): Promise<{ result: string; app: number | null; scrypt: number }> {
  const before = scryptRuns();
  const r = await auth.authenticate({ username, password, remoteAddress, protocol });
  return {
    result: r.ok ? 'ok' : r.reason,
    app: r.ok ? (r.appPassword?.id ?? null) : null,
    scrypt: scryptRuns() - before,
  };
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

void test('app passwords: each logs in on every mail protocol without scrypt; the password still works', async () => {
  await addUser('app1@example.test', 'main-pw');
  const account = (await store.getAccount('app1@example.test'))!;
  const phone = await issueAppPassword(store, account.id, 'Phone');
  const laptop = await issueAppPassword(store, account.id, 'Laptop');
  const auth = make(0);
  for (const protocol of ['imap', 'pop3', 'smtp'] as const) {
    assert.deepEqual(await loginAs(auth, 'app1@example.test', phone.secret, protocol), {
      result: 'ok',
      app: phone.appPassword.id,
      scrypt: 0,
    });
  }
  const typed = laptop.secret.replace(/-/g, ' ').toUpperCase();
  assert.deepEqual(await loginAs(auth, 'APP1@example.test', typed, 'imap'), {
    result: 'ok',
    app: laptop.appPassword.id,
    scrypt: 0,
  });
  // The account's own password: as before (scrypt once, then the cache), no app password.
  assert.deepEqual(await loginAs(auth, 'app1@example.test', 'main-pw', 'imap'), {
    result: 'ok',
    app: null,
    scrypt: 1,
  });
  assert.deepEqual(await loginAs(auth, 'app1@example.test', 'main-pw', 'imap'), {
    result: 'ok',
    app: null,
    scrypt: 0,
  });
  // Another account's app password opens nothing here.
  await addUser('app1b@example.test', 'other-pw');
  assert.deepEqual(await loginAs(auth, 'app1b@example.test', phone.secret, 'imap', '127.0.0.21'), {
    result: 'invalid',
    app: null,
    scrypt: 1,
  });
});

void test('app passwords: revoked through another connection, refused at the next login, warm or not', async () => {
  await addUser('app2@example.test', 'main-pw');
  const account = (await store.getAccount('app2@example.test'))!;
  const { appPassword, secret } = await issueAppPassword(store, account.id, 'Phone');
  const auth = make(0);
  for (let i = 0; i < 3; i++) {
    assert.equal((await loginAs(auth, 'app2@example.test', secret, 'pop3')).result, 'ok');
  }
  assert.equal(await other.revokeAppPassword(account.id, appPassword.id), true);
  for (const protocol of ['imap', 'pop3', 'smtp'] as const) {
    // A miss goes on to the account's password: a scrypt run, and a count towards the ban.
    assert.deepEqual(await loginAs(auth, 'app2@example.test', secret, protocol, '127.0.0.22'), {
      result: 'invalid',
      app: null,
      scrypt: 1,
    });
  }
  assert.equal(auth.tracker.failureCount('127.0.0.22'), 3);
});

void test('app passwords: wrong ones cost what a wrong password costs; unknown users as before', async () => {
  await addUser('app3@example.test', 'main-pw');
  const account = (await store.getAccount('app3@example.test'))!;
  await issueAppPassword(store, account.id, 'Phone');
  const auth = make(120);
  const guess = (await issueAppPassword(other, (await other.getAccount('alice@example.test'))!.id, 'x'))
    .secret;
  let t = Date.now();
  assert.deepEqual(await loginAs(auth, 'app3@example.test', guess, 'smtp', '127.0.0.23'), {
    result: 'invalid',
    app: null,
    scrypt: 1,
  });
  assert.ok(Date.now() - t >= 115, 'failure delayed');
  t = Date.now();
  const unknown = await loginAs(auth, 'nobody3@example.test', guess, 'smtp', '127.0.0.23');
  assert.equal(unknown.result, 'invalid');
  assert.ok(unknown.scrypt >= 1, 'an unknown user still costs a scrypt run');
  assert.ok(Date.now() - t >= 115, 'failure delayed');
  assert.equal(auth.tracker.failureCount('127.0.0.23'), 2);
});

void test('app passwords: never for the web page (protocol http), where the password works', async () => {
  await addUser('app4@example.test', 'main-pw');
  const account = (await store.getAccount('app4@example.test'))!;
  const { secret } = await issueAppPassword(store, account.id, 'Phone');
  const auth = make(0);
  assert.deepEqual(await loginAs(auth, 'app4@example.test', secret, 'http', '127.0.0.24'), {
    result: 'invalid',
    app: null,
    scrypt: 1,
  });
  assert.equal((await loginAs(auth, 'app4@example.test', 'main-pw', 'http')).result, 'ok');
});

void test('app passwords: a disabled account is refused with one, and says so only to its holder', async () => {
  await addUser('app5@example.test', 'main-pw');
  const account = (await store.getAccount('app5@example.test'))!;
  const { secret } = await issueAppPassword(store, account.id, 'Phone');
  const auth = make(0);
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path.join(dir, SQLITE_FILE_NAME));
  try {
    db.prepare("UPDATE accounts SET state = 'disabled' WHERE address = ?").run('app5@example.test');
    assert.equal((await loginAs(auth, 'app5@example.test', secret, 'imap')).result, 'disabled');
  } finally {
    db.close();
  }
});

void test('app passwords: the last use is recorded at most once per interval, with protocol and address', async () => {
  await addUser('app6@example.test', 'main-pw');
  const account = (await store.getAccount('app6@example.test'))!;
  const { appPassword, secret } = await issueAppPassword(store, account.id, 'Phone');
  let now = Date.parse('2026-12-07T08:00:00Z');
  const auth = make(0, 10, { now: () => now, appPasswordUseInterval: 60_000 });
  const last = async (): Promise<[string | undefined, string | null, string | null]> => {
    const p = (await other.listAppPasswords(account.id)).find((x) => x.id === appPassword.id)!;
    return [p.lastUsedAt?.toISOString(), p.lastUsedProtocol, p.lastUsedAddress];
  };
  assert.deepEqual(await last(), [undefined, null, null]);
  // Three logins at once: the use is recorded (the in-flight guard keeps it to one write).
  const results = await Promise.all(
    [1, 2, 3].map(() =>
      auth.authenticate({
        username: 'app6@example.test',
        password: secret,
        remoteAddress: '::ffff:192.0.2.5',
        protocol: 'pop3',
      }),
    ),
  );
  assert.ok(results.every((r) => r.ok));
  await waitFor('the first use', async () => (await last())[0] !== undefined);
  assert.deepEqual(await last(), ['2026-12-07T08:00:00.000Z', 'pop3', '192.0.2.5']);
  now += 59_000;
  assert.equal((await loginAs(auth, 'app6@example.test', secret, 'smtp', '192.0.2.6')).result, 'ok');
  await sleep(100);
  assert.deepEqual(await last(), ['2026-12-07T08:00:00.000Z', 'pop3', '192.0.2.5'], 'within the interval');
  now += 1_000;
  assert.equal((await loginAs(auth, 'app6@example.test', secret, 'imap', '192.0.2.7')).result, 'ok');
  await waitFor('the second use', async () => (await last())[1] === 'imap');
  assert.deepEqual(await last(), ['2026-12-07T08:01:00.000Z', 'imap', '192.0.2.7']);
});

void test("a domain's public-folder owner never logs in, even with a password set behind its back", async () => {
  const owner = await ensurePublicOwner(store, 'example.test');
  await store.setPasswordHash(owner.address, await hashPassword('owner-pw'));
  const auth = make(0);
  for (const protocol of ['imap', 'pop3', 'smtp', 'http'] as const) {
    for (const username of [owner.address, owner.address.toUpperCase()]) {
      const r = await auth.authenticate({
        username,
        password: 'owner-pw',
        remoteAddress: '192.0.2.77',
        protocol,
      });
      assert.deepEqual(r, { ok: false, reason: 'invalid' }, `${protocol} ${username}`);
    }
  }
});
