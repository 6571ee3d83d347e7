// The user's page over real HTTP without a browser (the browser test is test/system/web-page):
// what needs a session and what does not, logout ending the session on the server (a replayed
// cookie is worthless), the password form's checks, methods and unknown paths, and sessions
// shared by the processes of a cluster (two workers on one port and one store: a login on one
// is honoured by the other, and a logout on one ends it for both).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { openStore } from '../../src/app/open-store.js';
import type { ReadyInfo } from '../../src/app/server.js';
import { hashPassword } from '../../src/auth/password.js';
import {
  ACCOUNT_PASSWORD,
  startAutoconfigServer,
  type AutoconfigServer,
} from '../helpers/autoconfig-server.js';
import { WebClient } from '../helpers/web-client.js';
import { LOOPBACK_0, tempDir, testConfig } from './server-fixture.js';

const USER = 'user@example.test';
const CLUSTER_MAIN = fileURLToPath(new URL('./server-cluster-main.js', import.meta.url));

void describe('one process', () => {
  let s: AutoconfigServer;
  let client: () => WebClient;
  before(async () => {
    s = await startAutoconfigServer({
      listeners: ['imaps', 'submissions', 'http'],
      domains: ['example.test'],
      accounts: [USER],
    });
    client = () => new WebClient({ port: s.port('http') });
  });
  after(async () => s.stop());

  void test('without a session: pages redirect to /login, POSTs get 403; the login page and style sheet are open', async () => {
    const c = client();
    for (const path of ['/', '/account', '/account/setup', '/account/password', '/account/app-passwords']) {
      const r = await c.request(path);
      assert.equal(r.status, 303, path);
      assert.equal(r.headers.location, '/login', path);
    }
    for (const path of ['/logout', '/account/empty', '/account/password', '/account/mobileconfig']) {
      assert.equal((await c.request(path, { form: { csrf: 'x' } })).status, 403, path);
    }
    const login = await c.request('/login');
    assert.equal(login.status, 200);
    assert.match(String(login.headers['content-type']), /^text\/html; charset=utf-8/);
    assert.match(String(login.headers['content-security-policy']), /default-src 'none'/);
    assert.equal(login.headers['cache-control'], 'no-store');
    assert.match(login.text, /<html lang="en">/);
    assert.doesNotMatch(login.text, /<script/i);
    const css = await c.request('/assets/style.css');
    assert.equal(css.status, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);
  });

  void test('a wrong password: 401 and no cookie; the right one: 303 to /account with the cookie', async () => {
    const c = client();
    const wrong = await c.login(USER, 'not the password');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['set-cookie'], undefined);
    assert.match(wrong.text, /do not match/);
    assert.match(wrong.text, /value="user@example.test"/, 'the address is kept');
    const ok = await c.login(USER, ACCOUNT_PASSWORD);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.location, '/account');
    assert.match(
      String(ok.headers['set-cookie']),
      /^postern_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    assert.equal((await c.request('/account')).status, 200);
    assert.equal((await c.request('/login')).status, 303, 'logged in: /login leads to the account');
  });

  void test('logout ends the session on the server: the old cookie replayed is refused', async () => {
    const c = client();
    await c.login(USER, ACCOUNT_PASSWORD);
    const stolen = c.cookie;
    const out = await c.post('/logout', {});
    assert.equal(out.status, 303);
    assert.equal(out.headers.location, '/login?done=out');
    assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
    const replay = client();
    replay.cookie = stolen;
    assert.equal((await replay.request('/account')).status, 303);
  });

  void test('password form: too short, mismatched and wrong current password are refused; nothing changes', async () => {
    const c = client();
    await c.login(USER, ACCOUNT_PASSWORD);
    const tooShort = await c.post('/account/password', {
      current: ACCOUNT_PASSWORD,
      new: 'short',
      repeat: 'short',
    });
    assert.equal(tooShort.status, 400);
    assert.match(tooShort.text, /at least 10 characters/);
    const differ = await c.post('/account/password', {
      current: ACCOUNT_PASSWORD,
      new: 'long enough one',
      repeat: 'long enough two',
    });
    assert.equal(differ.status, 400);
    assert.match(differ.text, /differ/);
    const wrongCurrent = await c.post('/account/password', {
      current: 'not it at all',
      new: 'long enough one',
      repeat: 'long enough one',
    });
    assert.equal(wrongCurrent.status, 403);
    const again = client();
    assert.equal((await again.login(USER, ACCOUNT_PASSWORD)).status, 303, 'the password is unchanged');
  });

  void test('methods, forms and paths: 405, 415, 400, 404', async () => {
    const c = client();
    await c.login(USER, ACCOUNT_PASSWORD);
    assert.equal((await c.request('/account', { method: 'PUT' })).status, 405);
    assert.equal((await c.request('/assets/style.css', { method: 'POST' })).status, 405);
    const json = await c.request('/account/empty', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(json.status, 415);
    assert.equal((await c.post('/account/empty', { folder: 'INBOX' })).status, 400, 'only Trash or Junk');
    assert.equal((await c.post('/account/app-passwords/revoke', { id: 'x' })).status, 400);
    assert.equal((await c.request('/account/nothing')).status, 404);
    const tooBig = await c.request('/account/empty', { form: { folder: 'trash', pad: 'x'.repeat(20_000) } });
    assert.equal(tooBig.status, 413);
  });

  void test('the Apple profile with the password needs the right password typed again', async () => {
    const c = client();
    await c.login(USER, ACCOUNT_PASSWORD);
    const missing = await c.post('/account/mobileconfig', { include_password: 'yes' }, '/account/setup');
    assert.equal(missing.status, 400);
    assert.match(missing.text, /enter your current password/);
    const wrong = await c.post(
      '/account/mobileconfig',
      { include_password: 'yes', password: 'nope' },
      '/account/setup',
    );
    assert.equal(wrong.status, 400);
    const right = await c.post(
      '/account/mobileconfig',
      { include_password: 'yes', password: ACCOUNT_PASSWORD },
      '/account/setup',
    );
    assert.equal(right.status, 200);
    assert.match(right.text, /<key>IncomingPassword<\/key>/);
  });
});

void test(
  'cluster: a session made on one worker is honoured by the other; logout on one ends it on both',
  { timeout: 60_000 },
  async () => {
    const dir = await tempDir('web-cluster');
    const config = testConfig(dir, {
      listen: { http: LOOPBACK_0 },
      server: { workers: 2, shutdownGrace: 2 },
      level: 'warn',
    });
    const { store } = await openStore(config);
    await store.createDomain('example.test');
    await store.createAccount({
      address: USER,
      passwordHash: await hashPassword(ACCOUNT_PASSWORD, { logN: 10 }),
    });
    await store.close();
    const child = spawn(process.execPath, [CLUSTER_MAIN, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    try {
      const info = await new Promise<ReadyInfo>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`not ready; stderr: ${stderr}`)), 20_000);
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const line = out.split('\n').find((l) => l.startsWith('READY '));
          if (line !== undefined) {
            clearTimeout(timer);
            resolve(JSON.parse(line.slice('READY '.length)) as ReadyInfo);
          }
        });
      });
      const port = info.listeners.find((l) => l.name === 'http')!.port;
      const c = new WebClient({ port });
      const login = await c.login(USER, ACCOUNT_PASSWORD);
      assert.equal(login.status, 303);
      // Each request is a new connection (agent: false): the primary hands them to both workers.
      const pids = new Set<string>();
      for (let i = 0; i < 40 && pids.size < 2; i++) {
        const r = await c.request('/account');
        assert.equal(r.status, 200, `request ${i} on ${String(r.headers['x-postern-pid'])}`);
        pids.add(String(r.headers['x-postern-pid']));
      }
      assert.equal(pids.size, 2, 'both workers answered with the session');
      const stolen = c.cookie;
      const csrfPage = await c.request('/account');
      const csrf = /name="csrf" value="([^"]+)"/.exec(csrfPage.text)![1];
      const out = await c.request('/logout', { form: { csrf } });
      assert.equal(out.status, 303);
      const replay = new WebClient({ port });
      replay.cookie = stolen;
      const seen = new Set<string>();
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        const r = await replay.request('/account');
        assert.equal(r.status, 303, 'the ended session is refused by every worker');
        seen.add(String(r.headers['x-postern-pid']));
      }
      assert.equal(seen.size, 2);
    } finally {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    }
  },
);
