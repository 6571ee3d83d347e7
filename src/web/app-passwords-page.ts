// App passwords: one per device, usable on IMAP, POP3 and SMTP (never on this page), listed with
// their last use and revocable one by one. A new secret is shown once, in the answer to the form
// that created it, and never again (only its hash is stored).

import { MAX_APP_PASSWORD_LABEL } from '../store/rules/app-password-fields.js';
import type { AppPassword } from '../store/types.js';
import { html, type Html } from './html-template.js';
import { csrfField, layout, pageTitle, type LayoutUser } from './page-layout.js';

export interface AppPasswordsPageInput {
  hostname: string;
  user: LayoutUser;
  appPasswords: readonly AppPassword[];
  /** Just created: its label and secret, shown this once. */
  created?: { label: string; secret: string };
  /** The label typed (kept after a refusal). */
  label?: string;
  notice?: string;
  error?: string;
}

/** "2026-12-07 08:15 UTC": the same for every reader, whatever their browser's zone. */
function when(date: Date): Html {
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC</time>`;
}

const PROTOCOL_NAMES: Readonly<Record<string, string>> = { imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP' };

function lastUse(p: AppPassword): Html {
  if (p.lastUsedAt === null) return html`never`;
  const protocol =
    p.lastUsedProtocol === null ? '' : (PROTOCOL_NAMES[p.lastUsedProtocol] ?? p.lastUsedProtocol);
  return html`${when(p.lastUsedAt)}${protocol === '' ? '' : html`, ${protocol}`}${
    p.lastUsedAddress === null ? '' : html` from <code>${p.lastUsedAddress}</code>`
  }`;
}

function createdBlock(created: { label: string; secret: string }): Html {
  return html`<section aria-labelledby="new-heading" class="card">
    <h2 id="new-heading">Your new app password for “${created.label}”</h2>
    <p><span class="secret" id="new-secret">${created.secret}</span></p>
    <p>
      Type it into that device now, where it asks for the password. It is shown only this once; spaces and
      hyphens do not matter.
    </p>
  </section>`;
}

export function appPasswordsPage(input: AppPasswordsPageInput): Html {
  const { user } = input;
  const list =
    input.appPasswords.length === 0
      ? html`<p>You have no app passwords yet.</p>`
      : html`<table>
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col"><span class="skip">Action</span></th>
            </tr>
          </thead>
          <tbody>
            ${input.appPasswords.map(
              (p) =>
                html`<tr>
                  <th scope="row">${p.label}</th>
                  <td>${when(p.createdAt)}</td>
                  <td>${lastUse(p)}</td>
                  <td>
                    <form method="post" action="/account/app-passwords/revoke">
                      ${csrfField(user.csrf)}
                      <input type="hidden" name="id" value="${p.id}" />
                      <button type="submit" class="danger" aria-label="Revoke ${p.label}">Revoke</button>
                    </form>
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>`;
  const body = html`${input.created === undefined ? '' : createdBlock(input.created)}
    <section aria-labelledby="about-heading">
      <h2 id="about-heading">One password per device</h2>
      <p>
        Give each phone, tablet or mail program its own password. They work for reading and sending mail
        (IMAP, POP3, SMTP) but not on this page. If a device is lost, revoke its password: the others keep
        working.
      </p>
      <form method="post" action="/account/app-passwords">
        ${csrfField(user.csrf)}
        <label for="label">Device name</label>
        <input
          id="label"
          name="label"
          type="text"
          required
          maxlength="${MAX_APP_PASSWORD_LABEL}"
          value="${input.label ?? ''}"
          aria-describedby="label-hint"
        />
        <p id="label-hint" class="hint">For example “Phone” or “Laptop Thunderbird”.</p>
        <p><button type="submit">Create an app password</button></p>
      </form>
    </section>
    <section aria-labelledby="list-heading">
      <h2 id="list-heading">Your app passwords</h2>
      ${list}
    </section>`;
  return layout({
    hostname: input.hostname,
    title: pageTitle('app-passwords'),
    body,
    user,
    notice: input.notice,
    error: input.error,
  });
}
