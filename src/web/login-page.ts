// The login page: address and password, posted to /login. The form needs no CSRF token (there
// is no session yet); SameSite=Strict and the login's own password are what protect it.

import { html, type Html } from './html-template.js';
import { layout } from './page-layout.js';

export interface LoginPageInput {
  hostname: string;
  /** The address typed before (kept after a failure). */
  address?: string;
  error?: string;
  notice?: string;
}

export function loginPage(input: LoginPageInput): Html {
  const body = html`<section aria-labelledby="login-heading">
    <h2 id="login-heading">Log in with your mail address</h2>
    <form method="post" action="/login">
      <label for="address">Mail address</label>
      <input
        id="address"
        name="address"
        type="email"
        autocomplete="username"
        required
        value="${input.address ?? ''}"
      />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <p><button type="submit">Log in</button></p>
    </form>
    <p class="hint">The same address and password as in your mail program.</p>
  </section>`;
  return layout({
    hostname: input.hostname,
    title: 'Your mail account',
    body,
    error: input.error,
    notice: input.notice,
  });
}
