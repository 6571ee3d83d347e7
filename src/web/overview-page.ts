// The overview: quota usage as bars (bytes, and messages when a message quota is set), the
// largest folders with their size and message count, and one-click emptying of Trash and Junk.

import type { Account, Mailbox } from '../store/types.js';
import { formatBytes, percent } from './byte-size.js';
import { html, type Html } from './html-template.js';
import { csrfField, layout, pageTitle, type LayoutUser } from './page-layout.js';

/** How many folders the "largest folders" table lists. */
export const LARGEST_FOLDERS = 10;

/** A folder the page offers to empty: Trash or Junk. */
export interface EmptiableFolder {
  kind: 'trash' | 'junk';
  mailbox: Mailbox;
}

export interface OverviewPageInput {
  hostname: string;
  user: LayoutUser;
  account: Account;
  mailboxes: readonly Mailbox[];
  emptiable: readonly EmptiableFolder[];
  notice?: string;
  error?: string;
}

function quotaBlock(account: Account): Html {
  const bytes =
    account.quotaBytes > 0
      ? html`<label for="quota-bytes"
            >Storage: ${formatBytes(account.usedBytes)} of ${formatBytes(account.quotaBytes)} used
            (${percent(account.usedBytes, account.quotaBytes)}%)</label
          >
          <meter
            id="quota-bytes"
            min="0"
            max="${account.quotaBytes}"
            low="${Math.floor(account.quotaBytes * 0.8)}"
            high="${Math.floor(account.quotaBytes * 0.9)}"
            optimum="0"
            value="${Math.min(account.usedBytes, account.quotaBytes)}"
            data-used="${account.usedBytes}"
          >
            ${percent(account.usedBytes, account.quotaBytes)}%
          </meter>`
      : html`<p>Storage: ${formatBytes(account.usedBytes)} used; your account has no storage limit.</p>`;
  const messages =
    account.quotaMessages > 0
      ? html`<label for="quota-messages"
            >Messages: ${account.usedMessages} of ${account.quotaMessages}
            (${percent(account.usedMessages, account.quotaMessages)}%)</label
          >
          <meter
            id="quota-messages"
            min="0"
            max="${account.quotaMessages}"
            low="${Math.floor(account.quotaMessages * 0.8)}"
            high="${Math.floor(account.quotaMessages * 0.9)}"
            optimum="0"
            value="${Math.min(account.usedMessages, account.quotaMessages)}"
            data-used="${account.usedMessages}"
          >
            ${percent(account.usedMessages, account.quotaMessages)}%
          </meter>`
      : html`<p>Messages: ${account.usedMessages}.</p>`;
  return html`<section aria-labelledby="quota-heading">
    <h2 id="quota-heading">Space used</h2>
    ${bytes} ${messages}
  </section>`;
}

function foldersBlock(mailboxes: readonly Mailbox[]): Html {
  const largest = [...mailboxes]
    .sort((a, b) => b.size - a.size || b.messages - a.messages || a.name.localeCompare(b.name))
    .slice(0, LARGEST_FOLDERS);
  return html`<section aria-labelledby="folders-heading">
    <h2 id="folders-heading">Largest folders</h2>
    <table>
      <caption class="hint">
        The ${largest.length} largest of your ${mailboxes.length} folders
      </caption>
      <thead>
        <tr>
          <th scope="col">Folder</th>
          <th scope="col" class="num">Messages</th>
          <th scope="col" class="num">Size</th>
        </tr>
      </thead>
      <tbody>
        ${largest.map(
          (m) =>
            html`<tr>
              <th scope="row">${m.name}</th>
              <td class="num">${m.messages}</td>
              <td class="num">${formatBytes(m.size)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function emptyBlock(folders: readonly EmptiableFolder[], csrf: string): Html {
  if (folders.length === 0) return html``;
  return html`<section aria-labelledby="empty-heading">
    <h2 id="empty-heading">Free space</h2>
    <p>Deleted and junk messages still count towards your space until these folders are emptied.</p>
    <div class="actions">
      ${folders.map(
        (f) =>
          html`<form method="post" action="/account/empty">
            ${csrfField(csrf)}
            <input type="hidden" name="folder" value="${f.kind}" />
            <button type="submit" class="danger" ${f.mailbox.messages === 0 ? html`disabled` : ''}>
              Empty ${f.kind === 'trash' ? 'Trash' : 'Junk'} (${f.mailbox.messages}
              ${f.mailbox.messages === 1 ? 'message' : 'messages'}, ${formatBytes(f.mailbox.size)})
            </button>
          </form>`,
      )}
    </div>
  </section>`;
}

export function overviewPage(input: OverviewPageInput): Html {
  const body = html`${quotaBlock(input.account)} ${foldersBlock(input.mailboxes)}
  ${emptyBlock(input.emptiable, input.user.csrf)}`;
  return layout({
    hostname: input.hostname,
    title: pageTitle('overview'),
    body,
    user: input.user,
    notice: input.notice,
    error: input.error,
  });
}
