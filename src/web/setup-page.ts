// Client setup: the exact values for this server (from src/admin/client-settings.ts, the same
// values autoconfig answers), IMAP against POP3 in plain words, step-by-step instructions per
// client, and the Apple profile download (a POST: it may carry the password the user re-enters).

import type { ClientEndpoint, ClientSettings } from '../admin/client-settings.js';
import { html, type Html } from './html-template.js';
import { csrfField, layout, pageTitle, type LayoutUser } from './page-layout.js';

export interface SetupPageInput {
  hostname: string;
  user: LayoutUser;
  settings: ClientSettings;
  error?: string;
}

function securityText(e: ClientEndpoint): string {
  return e.security === 'tls' ? 'SSL/TLS' : 'STARTTLS';
}

function endpointValues(title: string, e: ClientEndpoint | null, address: string): Html {
  if (e === null) return html``;
  return html`<h3>${title}</h3>
    <dl class="values">
      <dt>Server</dt>
      <dd><code>${e.host}</code></dd>
      <dt>Port</dt>
      <dd><code>${e.port}</code></dd>
      <dt>Security</dt>
      <dd>${securityText(e)}</dd>
      <dt>User name</dt>
      <dd><code>${address}</code></dd>
      <dt>Authentication</dt>
      <dd>Normal password</dd>
    </dl>`;
}

function serverLine(e: ClientEndpoint | null): Html {
  return e === null
    ? html`(not offered)`
    : html`<code>${e.host}</code>, port <code>${e.port}</code>, ${securityText(e)}`;
}

export function setupPage(input: SetupPageInput): Html {
  const { settings, user } = input;
  const address = user.address;
  const incoming = settings.imap ?? settings.pop3;
  const kind = settings.imap !== null ? 'IMAP' : 'POP3';
  const body = html`<section aria-labelledby="values-heading">
      <h2 id="values-heading">Your settings</h2>
      <p>Most mail programs find these by themselves once you type your address. If one asks, use:</p>
      ${endpointValues('Incoming mail (IMAP, recommended)', settings.imap, address)}
      ${endpointValues('Incoming mail (POP3)', settings.pop3, address)}
      ${endpointValues('Outgoing mail (SMTP)', settings.smtp, address)}
      <p class="hint">
        The password is your account password, or better an app password made for that device.
      </p>
    </section>
    <section aria-labelledby="choose-heading">
      <h2 id="choose-heading">IMAP or POP3?</h2>
      <p>
        <strong>IMAP</strong> keeps your mail on the server: every phone and computer shows the same folders,
        and what you read, move or delete on one shows on the others. Choose IMAP unless you have a reason not
        to.
      </p>
      <p>
        <strong>POP3</strong> downloads mail to one device. Other devices do not see what it did, and copies
        it leaves on the server keep using your space. Choose it only for a single computer that should keep
        its own archive.
      </p>
    </section>
    <section aria-labelledby="tb-heading">
      <h2 id="tb-heading">Thunderbird (Windows, macOS, Linux)</h2>
      <ol>
        <li>
          Open the menu, then <em>Account Settings</em>, <em>Account Actions</em>, <em>Add Mail Account</em>.
        </li>
        <li>Type your name, <code>${address}</code> and your password, then <em>Continue</em>.</li>
        <li>
          Thunderbird finds the settings of this server. Keep <em>IMAP</em> selected and choose <em>Done</em>.
        </li>
        <li>If it asks, enter the values above by hand (<em>Configure manually</em>).</li>
      </ol>
    </section>
    <section aria-labelledby="outlook-heading">
      <h2 id="outlook-heading">Outlook (Windows, macOS)</h2>
      <ol>
        <li>
          Choose <em>File</em>, <em>Add Account</em> (on macOS: <em>Settings</em>, <em>Accounts</em>,
          <em>+</em>).
        </li>
        <li>
          Type <code>${address}</code>. If Outlook does not find the settings, choose
          <em>Advanced options</em>, <em>Let me set up my account manually</em>, then <em>IMAP</em>.
        </li>
        <li>Incoming: ${serverLine(settings.imap)}. Outgoing: ${serverLine(settings.smtp)}.</li>
        <li>Enter your password and choose <em>Connect</em>.</li>
      </ol>
    </section>
    <section aria-labelledby="apple-heading">
      <h2 id="apple-heading">Apple Mail (iPhone, iPad, Mac)</h2>
      <p>The quickest way is a configuration profile: download it on the device, then install it.</p>
      <ol>
        <li>Download the profile below (on iPhone or iPad, in Safari).</li>
        <li>
          On iPhone or iPad open <em>Settings</em>, <em>Profile Downloaded</em>; on a Mac open
          <em>System Settings</em>, <em>Privacy &amp; Security</em>, <em>Profiles</em>. Choose
          <em>Install</em>.
        </li>
        <li>Unless you put it in the profile, the device asks for your password once.</li>
      </ol>
      <form method="post" action="/account/mobileconfig">
        ${csrfField(user.csrf)}
        <p>
          <input type="checkbox" id="include-password" name="include_password" value="yes" />
          <label class="inline" for="include-password">Put my password in the profile</label>
        </p>
        <label for="profile-password">Password (only if you ticked the box)</label>
        <input id="profile-password" name="password" type="password" autocomplete="current-password" />
        <p><button type="submit">Download the profile</button></p>
      </form>
      <p class="hint">
        To set it up by hand: <em>Settings</em>, <em>Mail</em>, <em>Mail Accounts</em>, <em>Add Account</em>,
        <em>Other</em>, <em>Add Mail Account</em>, then ${kind} with the values above.
      </p>
    </section>
    <section aria-labelledby="gmail-heading">
      <h2 id="gmail-heading">Android: Gmail app</h2>
      <ol>
        <li>In Gmail, tap your picture, <em>Add another account</em>, <em>Other</em>.</li>
        <li>Type <code>${address}</code>, tap <em>Manual setup</em>, then <em>Personal (IMAP)</em>.</li>
        <li>Enter your password. Incoming server: ${serverLine(incoming)}.</li>
        <li>Outgoing server: ${serverLine(settings.smtp)}, with <em>Require sign-in</em> on.</li>
      </ol>
    </section>
    <section aria-labelledby="k9-heading">
      <h2 id="k9-heading">Android: Thunderbird for Android or K-9 Mail</h2>
      <ol>
        <li>Open the app and choose <em>Add account</em> (on first start it asks by itself).</li>
        <li>Type <code>${address}</code> and <em>Next</em>: the app finds the settings of this server.</li>
        <li>Enter your password and confirm. If it asks, choose IMAP and use the values above.</li>
      </ol>
    </section>`;
  return layout({
    hostname: input.hostname,
    title: pageTitle('setup'),
    body,
    user,
    error: input.error,
  });
}
