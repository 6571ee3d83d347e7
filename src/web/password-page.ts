// The password change form: the current password, the new one twice.

import { html, type Html } from './html-template.js';
import { csrfField, layout, pageTitle, type LayoutUser } from './page-layout.js';

export interface PasswordPageInput {
  hostname: string;
  user: LayoutUser;
  minLength: number;
  notice?: string;
  error?: string;
}

export function passwordPage(input: PasswordPageInput): Html {
  const body = html`<section aria-labelledby="change-heading">
    <h2 id="change-heading">Change your password</h2>
    <p>
      After the change, your mail programs ask for the new password, and you are logged out of this page
      everywhere else. App passwords keep working.
    </p>
    <form method="post" action="/account/password">
      ${csrfField(input.user.csrf)}
      <input type="hidden" name="username" value="${input.user.address}" autocomplete="username" />
      <label for="current">Current password</label>
      <input id="current" name="current" type="password" autocomplete="current-password" required />
      <label for="new">New password</label>
      <input
        id="new"
        name="new"
        type="password"
        autocomplete="new-password"
        required
        minlength="${input.minLength}"
        aria-describedby="new-hint"
      />
      <p id="new-hint" class="hint">At least ${input.minLength} characters.</p>
      <label for="repeat">New password again</label>
      <input id="repeat" name="repeat" type="password" autocomplete="new-password" required />
      <p><button type="submit">Change password</button></p>
    </form>
  </section>`;
  return layout({
    hostname: input.hostname,
    title: pageTitle('password'),
    body,
    user: input.user,
    notice: input.notice,
    error: input.error,
  });
}
