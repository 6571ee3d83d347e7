// The frame of every page: language, title, the local style sheet, a skip link, the header
// with the navigation (when logged in) and the logout form, and one <main>. No script.

import { html, type Html, type HtmlValue } from './html-template.js';
import { STYLE_SHEET_PATH } from './style-sheet.js';

export type PageName = 'overview' | 'setup' | 'password' | 'app-passwords';

export const PAGE_PATHS: Readonly<Record<PageName, string>> = {
  overview: '/account',
  setup: '/account/setup',
  password: '/account/password',
  'app-passwords': '/account/app-passwords',
};

const PAGE_TITLES: Readonly<Record<PageName, string>> = {
  overview: 'Overview',
  setup: 'Client setup',
  password: 'Password',
  'app-passwords': 'App passwords',
};

/** Who is logged in, for the header; absent on the login page. */
export interface LayoutUser {
  address: string;
  csrf: string;
  current: PageName;
  /** Pages shown in the navigation (App passwords only when the store supports them). */
  pages: readonly PageName[];
}

export interface LayoutInput {
  hostname: string;
  title: string;
  body: HtmlValue;
  user?: LayoutUser;
  /** A confirmation shown above the content (role=status). */
  notice?: string;
  /** An error shown above the content (role=alert). */
  error?: string;
}

export function pageTitle(name: PageName): string {
  return PAGE_TITLES[name];
}

export function layout(input: LayoutInput): Html {
  const { user } = input;
  const nav =
    user === undefined
      ? ''
      : html`<nav aria-label="Account">
            <ul>
              ${user.pages.map(
                (p) =>
                  html`<li>
                    <a href="${PAGE_PATHS[p]}" ${p === user.current ? html`aria-current="page"` : ''}
                      >${PAGE_TITLES[p]}</a
                    >
                  </li>`,
              )}
            </ul>
          </nav>
          <form method="post" action="/logout">
            <input type="hidden" name="csrf" value="${user.csrf}" />
            <span class="who">${user.address}</span>
            <button type="submit">Log out</button>
          </form>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${input.title} · ${input.hostname}</title>
        <link rel="stylesheet" href="${STYLE_SHEET_PATH}" />
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <p class="site">Mail at ${input.hostname}</p>
          ${nav}
        </header>
        <main id="main">
          <h1>${input.title}</h1>
          ${input.notice === undefined ? '' : html`<p class="notice" role="status">${input.notice}</p>`}
          ${input.error === undefined ? '' : html`<p class="error" role="alert">${input.error}</p>`}
          ${input.body}
        </main>
      </body>
    </html> `;
}

/** The hidden field every POST form carries. */
export function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="csrf" value="${csrf}" />`;
}
