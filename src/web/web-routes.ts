// The user's page (issue 14, "self-service") on the http and https listeners:
//   GET  /                         -> /account
//   GET  /login, POST /login       address + password (Authenticator, protocol 'http')
//   POST /logout
//   GET  /account                  quota bars, largest folders, empty Trash/Junk
//   POST /account/empty            folder=trash|junk
//   GET  /account/setup            client setup; POST /account/mobileconfig: the Apple profile
//   GET  /account/password, POST   password change
//   GET  /account/app-passwords    list; POST creates (the secret shown once); POST .../revoke
//   GET  /assets/style.css
// Invariants: every page needs a live session (web-session-manager.ts) except /login and the
// style sheet; every POST but /login needs the session's CSRF token (csrf-token.ts), else 403,
// and a POST whose Origin is another site is refused before anything else; login failures go
// through the Authenticator, so they count towards the same per-address bans as IMAP, POP3 and
// SMTP; every response carries a Content-Security-Policy that allows only this origin's style
// sheet and forms (no script at all), and is never cached except the style sheet.

import type http from 'node:http';
import { MOBILECONFIG_CONTENT_TYPE, mobileconfig } from '../admin/apple-mobileconfig.js';
import { clientSettings, openListenerPorts, type ClientSettings } from '../admin/client-settings.js';
import { hashPassword, passwordBytes } from '../auth/password.js';
import type { HttpExchange, HttpRoutes } from '../server/http-routes.js';
import type { ServerDeps } from '../server/types.js';
import type { Account, Mailbox } from '../store/types.js';
import { issueAppPassword, listAppPasswords, revokeAppPassword } from '../auth/app-passwords.js';
import { isStoreError } from '../core/errors.js';
import { appPasswordsPage } from './app-passwords-page.js';
import { checkCsrfToken, csrfToken } from './csrf-token.js';
import { readForm } from './form-body.js';
import type { Html } from './html-template.js';
import { loginPage } from './login-page.js';
import { overviewPage, type EmptiableFolder } from './overview-page.js';
import { PAGE_PATHS, type LayoutUser, type PageName } from './page-layout.js';
import { passwordPage } from './password-page.js';
import { clearedSessionCookie, sessionCookie, sessionIdOf } from './session-cookie.js';
import { setupPage } from './setup-page.js';
import { STYLE_SHEET, STYLE_SHEET_PATH } from './style-sheet.js';
import { WebSessionManager, type ActiveSession } from './web-session-manager.js';

export type WebDeps = Pick<ServerDeps, 'config' | 'store' | 'log' | 'authenticator' | 'listening'>;

/** UIDs expunged per store call when a folder is emptied (bounded transactions). */
const EXPUNGE_BATCH = 500;

// No script, no frame, nothing from another origin: the pages are HTML and one style sheet.
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on our own POSTs.
  'Referrer-Policy': 'same-origin',
};

const NOTICES: Readonly<Record<string, string>> = {
  trash: 'Trash is empty now.',
  junk: 'Junk is empty now.',
  password: 'Your password is changed. Your other sessions of this page have ended.',
  out: 'You are logged out.',
  revoked: 'The app password is revoked: the device that used it can no longer log in.',
};

function sendHtml(
  res: http.ServerResponse,
  status: number,
  page: Html,
  headers: Record<string, string> = {},
): void {
  const body = page.text;
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(body);
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

/** 303 See Other: after a POST, the browser GETs the page (RFC 9110 §15.4.4). */
function redirect(res: http.ServerResponse, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, {
    ...SECURITY_HEADERS,
    Location: location,
    'Content-Length': 0,
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end();
}

/**
 * Whether a POST comes from one of this server's own pages. Browsers send Origin with every
 * POST (RFC 6454 §7.3); when present it must name the host the request was sent to.
 */
function sameOrigin(ex: HttpExchange): boolean {
  const origin = ex.req.headers.origin;
  if (origin === undefined) return true;
  const host = ex.req.headers.host;
  if (host === undefined) return false;
  return origin === `${ex.secure ? 'https' : 'http'}://${host}`;
}

/** Which Trash or Junk folder a button empties: the special-use one, else the one so named. */
function findFolder(mailboxes: readonly Mailbox[], kind: 'trash' | 'junk'): Mailbox | undefined {
  const use = kind === 'trash' ? '\\Trash' : '\\Junk';
  const name = kind === 'trash' ? 'Trash' : 'Junk';
  return mailboxes.find((m) => m.specialUse === use) ?? mailboxes.find((m) => m.name === name);
}

export function webRoutes(deps: WebDeps): HttpRoutes {
  const web = deps.config.web;
  const sessions = new WebSessionManager({
    store: deps.store,
    limits: {
      idleMs: web.sessionIdle * 1000,
      lifetimeMs: web.sessionLifetime * 1000,
      maxPerAccount: web.sessionsPerAccount,
    },
  });
  const minPasswordLength = web.minPasswordLength;
  const hostname = deps.config.hostname;
  const pages: PageName[] = ['overview', 'setup', 'password', 'app-passwords'];

  const settings = (): ClientSettings =>
    clientSettings(deps.config.hostname, openListenerPorts(deps.config, deps.listening?.()));

  const cookieOptions = (ex: HttpExchange): { secure: boolean } => ({ secure: ex.secure });

  /** The session and its (active) account, or null: the caller then goes to /login. */
  const current = async (ex: HttpExchange): Promise<{ session: ActiveSession; account: Account } | null> => {
    const session = await sessions.resume(sessionIdOf(ex.req.headers.cookie));
    if (session === null) return null;
    const account = await deps.store.getAccountById(session.accountId);
    if (account === null || account.state !== 'active') {
      await sessions.end(session);
      return null;
    }
    return { session, account };
  };

  const layoutUser = (session: ActiveSession, account: Account, page: PageName): LayoutUser => ({
    address: account.address,
    csrf: csrfToken(session.id),
    current: page,
    pages,
  });

  const authenticate = (ex: HttpExchange, address: string, password: string) =>
    deps.authenticator.authenticate({
      username: address,
      password,
      remoteAddress: ex.peer ?? '',
      protocol: 'http',
    });

  // ---------------------------------------------------------------- pages

  const showOverview = async (
    ex: HttpExchange,
    session: ActiveSession,
    account: Account,
    status = 200,
    error?: string,
  ): Promise<void> => {
    const mailboxes = await deps.store.listMailboxes(account.id);
    const emptiable: EmptiableFolder[] = [];
    for (const kind of ['trash', 'junk'] as const) {
      const mailbox = findFolder(mailboxes, kind);
      if (mailbox !== undefined) emptiable.push({ kind, mailbox });
    }
    const notice = NOTICES[ex.query.get('done') ?? ''];
    sendHtml(
      ex.res,
      status,
      overviewPage({
        hostname,
        user: layoutUser(session, account, 'overview'),
        account,
        mailboxes,
        emptiable,
        notice: notice === NOTICES.out ? undefined : notice,
        error,
      }),
    );
  };

  const login = async (ex: HttpExchange): Promise<void> => {
    const outcome = await readForm(ex.req);
    if ('refused' in outcome) {
      sendText(ex.res, outcome.refused, 'bad form');
      return;
    }
    const address = (outcome.form.get('address') ?? '').trim();
    const password = outcome.form.get('password') ?? '';
    const result = await authenticate(ex, address, password);
    if (!result.ok) {
      const error =
        result.reason === 'banned'
          ? 'Too many failed logins from your network. Try again later.'
          : 'That address and password do not match.';
      sendHtml(ex.res, result.reason === 'banned' ? 429 : 401, loginPage({ hostname, address, error }));
      return;
    }
    const session = await sessions.start(result.account.id);
    redirect(ex.res, PAGE_PATHS.overview, { 'Set-Cookie': sessionCookie(session.id, cookieOptions(ex)) });
  };

  const emptyFolder = async (ex: HttpExchange, account: Account, form: URLSearchParams): Promise<void> => {
    const kind = form.get('folder');
    if (kind !== 'trash' && kind !== 'junk') {
      sendText(ex.res, 400, 'unknown folder');
      return;
    }
    const mailbox = findFolder(await deps.store.listMailboxes(account.id), kind);
    if (mailbox !== undefined) {
      // Through the store's expunge: the change log tells every IMAP session (any process).
      const { uids } = await deps.store.mailboxSummary(mailbox.id);
      for (let i = 0; i < uids.length; i += EXPUNGE_BATCH) {
        await deps.store.expunge(mailbox.id, { uids: uids.slice(i, i + EXPUNGE_BATCH) });
      }
      deps.log.info(
        { user: account.address, mailbox: mailbox.name, messages: uids.length },
        'web: folder emptied',
      );
    }
    redirect(ex.res, `${PAGE_PATHS.overview}?done=${kind}`);
  };

  const downloadProfile = async (
    ex: HttpExchange,
    session: ActiveSession,
    account: Account,
    form: URLSearchParams,
  ): Promise<void> => {
    const user = layoutUser(session, account, 'setup');
    let password: string | undefined;
    if (form.get('include_password') === 'yes') {
      // The password goes into the file only once the user proved it again (it counts towards bans).
      const given = form.get('password') ?? '';
      const result = given.length === 0 ? null : await authenticate(ex, account.address, given);
      if (result === null || !result.ok || result.account.id !== account.id) {
        sendHtml(
          ex.res,
          400,
          setupPage({
            hostname,
            user,
            settings: settings(),
            error: 'To put it in the profile, enter your current password.',
          }),
        );
        return;
      }
      password = given;
    }
    const profile = mobileconfig({ settings: settings(), address: account.address, password });
    if (profile === null) {
      sendHtml(
        ex.res,
        409,
        setupPage({
          hostname,
          user,
          settings: settings(),
          error: 'This server offers no mail service to set up.',
        }),
      );
      return;
    }
    const domain = account.address.slice(account.address.lastIndexOf('@') + 1);
    ex.res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': MOBILECONFIG_CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(profile),
      'Cache-Control': 'no-store',
      // The domain is an LDH name: safe inside the quoted filename.
      'Content-Disposition': `attachment; filename="${domain}.mobileconfig"`,
    });
    ex.res.end(profile);
  };

  const changePassword = async (
    ex: HttpExchange,
    session: ActiveSession,
    account: Account,
    form: URLSearchParams,
  ): Promise<void> => {
    const current = form.get('current') ?? '';
    const next = form.get('new') ?? '';
    const repeat = form.get('repeat') ?? '';
    const fail = (status: number, error: string): void =>
      sendHtml(
        ex.res,
        status,
        passwordPage({
          hostname,
          user: layoutUser(session, account, 'password'),
          minLength: minPasswordLength,
          error,
        }),
      );
    if ([...next].length < minPasswordLength)
      return fail(400, `The new password needs at least ${minPasswordLength} characters.`);
    if (passwordBytes(next) === null) return fail(400, 'The new password is too long.');
    if (next !== repeat) return fail(400, 'The two new passwords differ.');
    const result = await authenticate(ex, account.address, current);
    if (!result.ok || result.account.id !== account.id) return fail(403, 'The current password is wrong.');
    // The same hashing as `postern user passwd`. Every process's credential cache is bound to
    // the stored hash, so the old password stops working everywhere with this write.
    const hash = await hashPassword(next, { logN: deps.config.auth.scryptLogN });
    await deps.store.setPasswordHash(account.address, hash);
    const ended = await sessions.endOthers(session);
    deps.log.info({ user: account.address, endedSessions: ended }, 'web: password changed');
    redirect(ex.res, `${PAGE_PATHS.password}?done=password`);
  };

  const showAppPasswords = async (
    ex: HttpExchange,
    session: ActiveSession,
    account: Account,
    more: {
      status?: number;
      created?: { label: string; secret: string };
      label?: string;
      error?: string;
    } = {},
  ): Promise<void> => {
    sendHtml(
      ex.res,
      more.status ?? 200,
      appPasswordsPage({
        hostname,
        user: layoutUser(session, account, 'app-passwords'),
        appPasswords: await listAppPasswords(deps.store, account.id),
        created: more.created,
        label: more.label,
        error: more.error,
        notice: ex.query.get('done') === 'revoked' ? NOTICES.revoked : undefined,
      }),
    );
  };

  const createAppPassword = async (
    ex: HttpExchange,
    session: ActiveSession,
    account: Account,
    form: URLSearchParams,
  ): Promise<void> => {
    const label = form.get('label') ?? '';
    let issued;
    try {
      issued = await issueAppPassword(deps.store, account.id, label);
    } catch (err) {
      if (!isStoreError(err, 'INVALID_ARGUMENT')) throw err;
      await showAppPasswords(ex, session, account, {
        status: 400,
        label,
        error: `Not created: ${err.message}.`,
      });
      return;
    }
    deps.log.info({ user: account.address, appPassword: issued.appPassword.id }, 'web: app password created');
    // Shown in this answer only (no redirect: the secret must not travel in a URL or be stored).
    await showAppPasswords(ex, session, account, {
      created: { label: issued.appPassword.label, secret: issued.secret },
    });
  };

  const revoke = async (ex: HttpExchange, account: Account, form: URLSearchParams): Promise<void> => {
    const id = Number(form.get('id'));
    if (!Number.isSafeInteger(id) || id <= 0) {
      sendText(ex.res, 400, 'bad app password id');
      return;
    }
    // Scoped to the account: an id of someone else's app password revokes nothing.
    const revoked = await revokeAppPassword(deps.store, account.id, id);
    if (revoked) deps.log.info({ user: account.address, appPassword: id }, 'web: app password revoked');
    redirect(ex.res, `${PAGE_PATHS['app-passwords']}?done=revoked`);
  };

  // ---------------------------------------------------------------- dispatch

  return async (ex: HttpExchange): Promise<boolean> => {
    const { req, res, path } = ex;
    const read = req.method === 'GET' || req.method === 'HEAD';
    const post = req.method === 'POST';
    const isOurs =
      path === '/' ||
      path === '/login' ||
      path === '/logout' ||
      path === STYLE_SHEET_PATH ||
      path === '/account' ||
      path.startsWith('/account/');
    if (!isOurs) return false;
    if (!read && !post) {
      req.resume();
      res.setHeader('Allow', 'GET, HEAD, POST');
      sendText(res, 405, 'method not allowed');
      return true;
    }

    if (path === STYLE_SHEET_PATH) {
      if (!read) return notAllowed(ex, 'GET, HEAD');
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'Content-Type': 'text/css; charset=utf-8',
        'Content-Length': Buffer.byteLength(STYLE_SHEET),
        'Cache-Control': 'public, max-age=3600',
      });
      res.end(STYLE_SHEET);
      return true;
    }
    if (post && !sameOrigin(ex)) {
      req.resume();
      sendText(res, 403, 'cross-site request refused');
      return true;
    }
    if (path === '/login') {
      if (post) {
        await login(ex);
        return true;
      }
      if ((await current(ex)) !== null) {
        redirect(res, PAGE_PATHS.overview);
        return true;
      }
      const notice = ex.query.get('done') === 'out' ? NOTICES.out : undefined;
      sendHtml(res, 200, loginPage({ hostname, notice }));
      return true;
    }

    const who = await current(ex);
    if (who === null) {
      if (post) {
        // Without a session there is no token to check: refused like a wrong token.
        req.resume();
        sendText(res, 403, 'your session has ended: log in again');
      } else {
        redirect(res, '/login');
      }
      return true;
    }
    const { session, account } = who;

    if (post) {
      const outcome = await readForm(req);
      if ('refused' in outcome) {
        sendText(res, outcome.refused, 'bad form');
        return true;
      }
      const form = outcome.form;
      if (!checkCsrfToken(session.id, form.get('csrf') ?? undefined)) {
        sendText(res, 403, 'the form is stale or did not come from this site: reload the page');
        return true;
      }
      switch (path) {
        case '/logout':
          await sessions.end(session);
          redirect(res, '/login?done=out', { 'Set-Cookie': clearedSessionCookie(cookieOptions(ex)) });
          return true;
        case '/account/empty':
          await emptyFolder(ex, account, form);
          return true;
        case '/account/mobileconfig':
          await downloadProfile(ex, session, account, form);
          return true;
        case PAGE_PATHS.password:
          await changePassword(ex, session, account, form);
          return true;
        case PAGE_PATHS['app-passwords']:
          await createAppPassword(ex, session, account, form);
          return true;
        case `${PAGE_PATHS['app-passwords']}/revoke`:
          await revoke(ex, account, form);
          return true;
        default:
          sendText(res, 404, 'not found');
          return true;
      }
    }

    switch (path) {
      case '/':
        redirect(res, PAGE_PATHS.overview);
        return true;
      case PAGE_PATHS.overview:
        await showOverview(ex, session, account);
        return true;
      case PAGE_PATHS.setup:
        sendHtml(
          res,
          200,
          setupPage({ hostname, user: layoutUser(session, account, 'setup'), settings: settings() }),
        );
        return true;
      case PAGE_PATHS.password:
        sendHtml(
          res,
          200,
          passwordPage({
            hostname,
            user: layoutUser(session, account, 'password'),
            minLength: minPasswordLength,
            notice: ex.query.get('done') === 'password' ? NOTICES.password : undefined,
          }),
        );
        return true;
      case PAGE_PATHS['app-passwords']:
        await showAppPasswords(ex, session, account);
        return true;
      default:
        sendText(res, 404, 'not found');
        return true;
    }
  };
}

function notAllowed(ex: HttpExchange, allow: string): true {
  ex.req.resume();
  ex.res.setHeader('Allow', allow);
  sendText(ex.res, 405, 'method not allowed');
  return true;
}
