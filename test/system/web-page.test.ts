// The user's page in a real browser: Debian's chromium driven by playwright-core (no browser is
// downloaded), against the real server on port 0 with a real data directory. Over https the
// browser checks the server's generated certificate by its public-key pin (no "ignore errors").
// Covered: login; the quota bars follow an APPEND made over IMAP (imapflow); Trash emptied from
// the page is seen by a selected IMAP session; the Apple profile downloaded and read by python3's
// plistlib, with and without the password; cookie flags (HttpOnly, SameSite=Strict, Secure over
// https only); CSRF (a POST without the token, with a wrong one, or from another origin is
// refused and changes nothing); the password change (old password refused on IMAP, the other
// browser session ended); a failed-login ban (the right password then refused, and IMAP from
// the same address too). Every page: axe-core finds no violation, weighs under 100 KB, makes
// no request to another origin, and is photographed into docs/screenshots/ (fixed viewport).

import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import {
  ACCOUNT_PASSWORD,
  startAutoconfigServer,
  type AutoconfigServer,
} from '../helpers/autoconfig-server.js';
import { runPython } from '../helpers/python.js';
import { WebClient } from '../helpers/web-client.js';

const USER = 'user@example.test';
const OTHER = 'other@example.test';
const QUOTA_BYTES = 1024 * 1024;
const QUOTA_MESSAGES = 50;
const BAN_AFTER = 6;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SCREENSHOTS = path.join(REPO, 'docs', 'screenshots');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const PAGE_LIMIT = 100 * 1024;

let s: AutoconfigServer;
let browser: Browser;
let httpsBase: string;
let httpBase: string;

before(async () => {
  s = await startAutoconfigServer({
    listeners: ['imap', 'imaps', 'pop3s', 'submissions', 'http', 'https'],
    domains: ['example.test'],
    accounts: [USER, OTHER],
    limits: { authFailuresBeforeBan: BAN_AFTER },
    setup: async (store) => {
      await store.setQuota(USER, QUOTA_BYTES);
      await store.setMessageQuota(USER, QUOTA_MESSAGES);
    },
  });
  // Pin the server's own certificate: chromium verifies https against this key, nothing else.
  const cert = new X509Certificate(await readFile(path.join(s.dataDir, 'tls', 'cert.pem')));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  const pin = createHash('sha256').update(spki).digest('base64');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      `--host-resolver-rules=MAP ${s.hostname} 127.0.0.1`,
      `--ignore-certificate-errors-spki-list=${pin}`,
    ],
  });
  httpsBase = `https://${s.hostname}:${s.port('https')}`;
  httpBase = `http://${s.hostname}:${s.port('http')}`;
});

after(async () => {
  await browser?.close();
  await s?.stop();
});

/** A fresh browser profile with a fixed viewport; CSP bypassed only so that axe can be injected. */
function newContext(): Promise<BrowserContext> {
  return browser.newContext({
    viewport: { width: 960, height: 720 },
    bypassCSP: true,
    acceptDownloads: true,
  });
}

function imapClient(password: string, user = USER): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: s.port('imap'),
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass: password },
    logger: false,
  });
}

/** Goes to a page and checks weight, origins, accessibility; saves its screenshot. */
async function visit(page: Page, url: string, screenshot: string | null): Promise<void> {
  const origin = new URL(url).origin;
  const requests: Array<{ url: string; bytes: Promise<number> }> = [];
  const onRequest = (r: import('playwright-core').Request): void => {
    requests.push({
      url: r.url(),
      bytes: r
        .response()
        .then(async (resp) =>
          resp === null ? 0 : (await r.sizes()).responseBodySize + (await r.sizes()).responseHeadersSize,
        )
        .catch(() => 0),
    });
  };
  page.on('request', onRequest);
  const response = await page.goto(url, { waitUntil: 'load' });
  page.off('request', onRequest);
  assert.equal(response?.status(), 200, `GET ${url}`);
  await checkLoadedPage(page, origin, requests, screenshot);
}

async function checkLoadedPage(
  page: Page,
  origin: string,
  requests: Array<{ url: string; bytes: Promise<number> }>,
  screenshot: string | null,
): Promise<void> {
  assert.ok(requests.length >= 2, 'the page and its style sheet');
  for (const r of requests) assert.equal(new URL(r.url).origin, origin, `no third-party request: ${r.url}`);
  const total = (await Promise.all(requests.map((r) => r.bytes))).reduce((a, b) => a + b, 0);
  assert.ok(total > 0 && total < PAGE_LIMIT, `${page.url()} weighs ${total} bytes`);
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run: () => Promise<{ violations: Array<{ id: string; nodes: unknown[] }> }> };
      }
    ).axe;
    const result = await axe.run();
    return result.violations.map((v) => `${v.id} (${v.nodes.length})`);
  });
  assert.deepEqual(violations, [], `axe on ${page.url()}`);
  if (screenshot !== null) await page.screenshot({ path: path.join(SCREENSHOTS, `${screenshot}.png`) });
}

async function logIn(page: Page, base: string, address = USER, password = ACCOUNT_PASSWORD): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel('Mail address', { exact: true }).fill(address);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await Promise.all([
    page.waitForURL(`${base}/account`),
    page.getByRole('button', { name: 'Log in' }).click(),
  ]);
}

async function meter(page: Page, id: string): Promise<{ value: number; used: number; max: number }> {
  const m = page.locator(`meter#${id}`);
  return {
    value: Number(await m.getAttribute('value')),
    used: Number(await m.getAttribute('data-used')),
    max: Number(await m.getAttribute('max')),
  };
}

async function count(imap: ImapFlow, mailbox: string): Promise<number> {
  const st = await imap.status(mailbox, { messages: true });
  return st === false ? -1 : (st.messages ?? -1);
}

function message(subject: string, size: number): Buffer {
  const head = `From: a@example.test\r\nTo: ${USER}\r\nSubject: ${subject}\r\n\r\n`;
  return Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length - 2)) + '\r\n');
}

void test('login page: accessible, light, first-party only; a page behind login redirects to it', async () => {
  const context = await newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${httpsBase}/account`);
    assert.equal(new URL(page.url()).pathname, '/login');
    await visit(page, `${httpsBase}/login`, 'login');
  } finally {
    await context.close();
  }
});

void test('log in; cookie flags over https and http; the quota bars follow an IMAP APPEND', async () => {
  const context = await newContext();
  const plain = await newContext();
  const imap = imapClient(ACCOUNT_PASSWORD);
  try {
    const page = await context.newPage();
    await logIn(page, httpsBase);
    const [cookie] = await context.cookies();
    assert.equal(cookie.name, 'postern_session');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.secure, true, 'Secure over https');
    assert.equal(cookie.path, '/');
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie),
      '',
      'scripts cannot read it',
    );

    const plainPage = await plain.newPage();
    await logIn(plainPage, httpBase);
    const [plainCookie] = await plain.cookies();
    assert.equal(plainCookie.secure, false, 'no Secure over plain http (the browser would drop it)');
    assert.equal(plainCookie.httpOnly, true);
    assert.equal(plainCookie.sameSite, 'Strict');

    await visit(page, `${httpsBase}/account`, null);
    const before = await meter(page, 'quota-bytes');
    const beforeMessages = await meter(page, 'quota-messages');
    assert.equal(before.max, QUOTA_BYTES);
    assert.equal(beforeMessages.max, QUOTA_MESSAGES);

    await imap.connect();
    const body = message('big one', 300 * 1024);
    await imap.append('INBOX', body);
    await page.reload();
    const afterAppend = await meter(page, 'quota-bytes');
    assert.equal(afterAppend.used, before.used + body.length, 'the bar counts the appended bytes');
    assert.equal((await meter(page, 'quota-messages')).used, beforeMessages.used + 1);
    const label = await page.locator('label[for=quota-bytes]').innerText();
    assert.match(label, new RegExp(`\\(${Math.floor((afterAppend.used * 100) / QUOTA_BYTES)}%\\)`));
    assert.match(await page.locator('table').innerText(), /INBOX\s+1\s+300 KiB/);
    await visit(page, `${httpsBase}/account`, 'overview');
  } finally {
    await imap.logout().catch(() => undefined);
    await context.close();
    await plain.close();
  }
});

void test('Empty Trash from the page: an IMAP session with Trash selected sees the messages go', async () => {
  const context = await newContext();
  const imap = imapClient(ACCOUNT_PASSWORD);
  try {
    await imap.connect();
    await imap.append('Trash', message('old 1', 2000));
    await imap.append('Trash', message('old 2', 3000));
    const lock = await imap.getMailboxLock('Trash');
    try {
      assert.equal(imap.mailbox === false ? -1 : imap.mailbox.exists, 2);
      const page = await context.newPage();
      await logIn(page, httpsBase);
      const button = page.getByRole('button', { name: /Empty Trash \(2 messages/ });
      await Promise.all([page.waitForURL(`${httpsBase}/account?done=trash`), button.click()]);
      assert.match(await page.getByRole('status').innerText(), /Trash is empty/);
      assert.ok(await page.getByRole('button', { name: /Empty Trash \(0 messages/ }).isDisabled());
      await imap.noop();
      assert.equal(imap.mailbox === false ? -1 : imap.mailbox.exists, 0, 'EXPUNGE reached the IMAP session');
    } finally {
      lock.release();
    }
  } finally {
    await imap.logout().catch(() => undefined);
    await context.close();
  }
});

void test('CSRF: a POST without the token, with a wrong one, or from another origin is refused and changes nothing', async () => {
  const context = await newContext();
  const imap = imapClient(ACCOUNT_PASSWORD);
  try {
    await imap.connect();
    await imap.append('Junk', message('spam', 1000));
    const page = await context.newPage();
    await logIn(page, httpsBase);
    const token = await page.locator('input[name=csrf]').first().inputValue();
    // Forged requests carrying the browser's session cookie, as another site's form would.
    const [cookie] = await context.cookies();
    const forger = new WebClient({
      port: s.port('https'),
      tls: true,
      host: `${s.hostname}:${s.port('https')}`,
    });
    forger.cookie = `${cookie.name}=${cookie.value}`;
    const form = { folder: 'junk' };
    assert.equal((await forger.request('/account/empty', { form })).status, 403, 'no token');
    const wrong = await forger.request('/account/empty', { form: { ...form, csrf: token.slice(1) + 'A' } });
    assert.equal(wrong.status, 403, 'a wrong token');
    const crossSite = await forger.request('/account/empty', {
      form: { ...form, csrf: token },
      headers: { Origin: 'https://attacker.example' },
    });
    assert.equal(crossSite.status, 403, 'another origin, even with the token');
    assert.equal(await count(imap, 'Junk'), 1, 'Junk untouched');
    // The page's own button (the same form with its token) goes through.
    await Promise.all([
      page.waitForURL(`${httpsBase}/account?done=junk`),
      page.getByRole('button', { name: /Empty Junk \(1 message,/ }).click(),
    ]);
    assert.equal(await count(imap, 'Junk'), 0);
    assert.match(String(crossSite.headers['content-security-policy']), /default-src 'none'/);
  } finally {
    await imap.logout().catch(() => undefined);
    await context.close();
  }
});

const PLIST_SUMMARY = `
import sys, json, plistlib
p = plistlib.loads(sys.stdin.buffer.read())
m = p['PayloadContent'][0]
print(json.dumps({'type': p['PayloadType'], 'mail': m['PayloadType'], 'account': m['EmailAccountType'],
  'address': m['EmailAddress'], 'host': m['IncomingMailServerHostName'], 'port': m['IncomingMailServerPortNumber'],
  'smtp': m['OutgoingMailServerPortNumber'], 'password': m.get('IncomingPassword'), 'out': m.get('OutgoingPassword')}))
`;

void test('client setup: exact values; the Apple profile downloads (plistlib), with the password only when asked', async () => {
  const context = await newContext();
  try {
    const page = await context.newPage();
    await logIn(page, httpsBase);
    await visit(page, `${httpsBase}/account/setup`, 'setup');
    const values = await page.locator('#values-heading + p + h3 + dl').innerText();
    assert.match(values, new RegExp(`${s.hostname}\\s+Port\\s+${s.port('imaps')}\\s+Security\\s+SSL/TLS`));
    for (const client of [/^Thunderbird \(/, /^Outlook/, /^Apple Mail/, /Gmail app/, /K-9 Mail/]) {
      assert.equal(await page.getByRole('heading', { name: client }).count(), 1, String(client));
    }

    const download = async (): Promise<Record<string, unknown>> => {
      const [file] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download the profile' }).click(),
      ]);
      assert.equal(file.suggestedFilename(), 'example.test.mobileconfig');
      const bytes = await readFile(await file.path());
      return JSON.parse(await runPython(PLIST_SUMMARY, bytes)) as Record<string, unknown>;
    };
    const plain = await download();
    assert.deepEqual(plain, {
      type: 'Configuration',
      mail: 'com.apple.mail.managed',
      account: 'EmailTypeIMAP',
      address: USER,
      host: s.hostname,
      port: s.port('imaps'),
      smtp: s.port('submissions'),
      password: null,
      out: null,
    });
    await page.getByLabel('Put my password in the profile').check();
    await page.getByLabel(/^Password/).fill(ACCOUNT_PASSWORD);
    const withPassword = await download();
    assert.equal(withPassword.password, ACCOUNT_PASSWORD);
    assert.equal(withPassword.out, ACCOUNT_PASSWORD);
  } finally {
    await context.close();
  }
});

void test('app passwords: create one (shown once), log in to IMAP with it, see its last use, revoke it, IMAP refuses it', async () => {
  const context = await newContext();
  try {
    const page = await context.newPage();
    await logIn(page, httpsBase);
    await visit(page, `${httpsBase}/account/app-passwords`, null);
    assert.match(await page.locator('main').innerText(), /no app passwords yet/);
    await page.getByLabel('Device name').fill('Phone <b>&');
    const requests: Array<{ url: string; bytes: Promise<number> }> = [];
    page.on('request', (r) =>
      requests.push({
        url: r.url(),
        bytes: r.sizes().then((z) => z.responseBodySize + z.responseHeadersSize),
      }),
    );
    await Promise.all([
      page.waitForResponse(`${httpsBase}/account/app-passwords`),
      page.getByRole('button', { name: 'Create an app password' }).click(),
    ]);
    await page.waitForLoadState('load');
    page.removeAllListeners('request');
    const secret = await page.locator('#new-secret').innerText();
    assert.match(secret, /^[a-z]{5}(-[a-z]{5}){5}$/);
    assert.match(
      await page.locator('#new-heading').innerText(),
      /“Phone <b>&”/,
      'the label is text, not markup',
    );
    await checkLoadedPage(page, httpsBase, requests, 'app-passwords');

    const withApp = imapClient(secret);
    await withApp.connect();
    await withApp.logout();
    // While valid, it still does not open the web page: app passwords are for mail clients only.
    const web = new WebClient({ port: s.port('https'), tls: true, host: `${s.hostname}:${s.port('https')}` });
    assert.equal((await web.login(USER, secret)).status, 401);

    await page.goto(`${httpsBase}/account/app-passwords`);
    assert.equal(await page.locator('#new-secret').count(), 0, 'the secret is shown only once');
    const row = page.getByRole('row', { name: /Phone/ });
    // The use is recorded just after the login: reload until it shows.
    for (let i = 0; i < 20 && !/IMAP/.test(await row.innerText()); i++) {
      await page.waitForTimeout(250);
      await page.reload();
    }
    assert.match(await row.innerText(), /UTC, IMAP from 127\.0\.0\.1/);

    await Promise.all([
      page.waitForURL(`${httpsBase}/account/app-passwords?done=revoked`),
      page.getByRole('button', { name: 'Revoke Phone <b>&' }).click(),
    ]);
    assert.match(await page.getByRole('status').innerText(), /revoked/);
    assert.equal(await page.getByRole('row', { name: /Phone/ }).count(), 0);
    const revoked = imapClient(secret);
    await assert.rejects(revoked.connect(), 'the revoked app password no longer logs in');
  } finally {
    await context.close();
  }
});

void test('password change: the old password stops working on IMAP, the other browser session ends', async () => {
  const NEW = 'a much newer passphrase';
  const mine = await newContext();
  const elsewhere = await newContext();
  try {
    const other = await elsewhere.newPage();
    await logIn(other, httpsBase, OTHER);
    const page = await mine.newPage();
    await logIn(page, httpsBase, OTHER);
    await visit(page, `${httpsBase}/account/password`, 'password');
    await page.getByLabel('Current password').fill(ACCOUNT_PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill(NEW);
    await page.getByLabel('New password again').fill(NEW);
    await Promise.all([
      page.waitForURL(`${httpsBase}/account/password?done=password`),
      page.getByRole('button', { name: 'Change password' }).click(),
    ]);
    assert.match(await page.getByRole('status').innerText(), /password is changed/);
    await other.goto(`${httpsBase}/account`);
    assert.equal(new URL(other.url()).pathname, '/login', 'the other session ended');
    await page.goto(`${httpsBase}/account`);
    assert.equal(new URL(page.url()).pathname, '/account', 'this session goes on');

    const oldLogin = imapClient(ACCOUNT_PASSWORD, OTHER);
    await assert.rejects(oldLogin.connect(), 'the old password is refused');
    const newLogin = imapClient(NEW, OTHER);
    await newLogin.connect();
    await newLogin.logout();
  } finally {
    await mine.close();
    await elsewhere.close();
  }
});

/** Submits the login form; "status N", or how the request failed (a banned address's connection is refused). */
async function attemptLogin(page: Page, password: string): Promise<string> {
  try {
    await page.goto(`${httpBase}/login`, { timeout: 10_000 });
  } catch (err) {
    return `navigation failed: ${String(err)}`;
  }
  await page.getByLabel('Mail address', { exact: true }).fill(USER);
  await page.getByLabel('Password', { exact: true }).fill(password);
  const done = Promise.race([
    page.waitForResponse(`${httpBase}/login`).then((r) => `status ${r.status()}`),
    page.waitForEvent('requestfailed').then((r) => `request failed: ${r.failure()?.errorText}`),
  ]);
  await page.getByRole('button', { name: 'Log in' }).click();
  return done;
}

// Last: it bans 127.0.0.1 for the rest of this server's life.
void test('failed-login ban: wrong passwords from the browser, then the right one is refused, and IMAP too', async () => {
  const context = await newContext();
  try {
    const page = await context.newPage();
    // Earlier tests made a few IMAP failures from this address: the ban comes within BAN_AFTER tries.
    let wrong = 0;
    for (; wrong < BAN_AFTER; wrong++) {
      const outcome = await attemptLogin(page, `wrong ${wrong}`);
      if (outcome !== 'status 401') break;
      assert.match(await page.getByRole('alert').innerText(), /do not match/);
    }
    assert.ok(wrong >= 2, `the browser's own failures counted (${wrong} before the ban)`);
    // Banned now: the listener refuses new connections from the address, and a kept-alive
    // connection gets the authenticator's "banned". Either way the right password does not log in.
    const outcome = await attemptLogin(page, ACCOUNT_PASSWORD);
    assert.match(outcome, /^(status 429|request failed|navigation failed)/);
    if (outcome === 'status 429')
      assert.match(await page.getByRole('alert').innerText(), /Too many failed logins/);
    assert.equal((await context.cookies()).length, 0, 'no session cookie');
    const imap = imapClient(ACCOUNT_PASSWORD);
    await assert.rejects(imap.connect(), 'IMAP from the same address is refused');
  } finally {
    await context.close();
  }
});
