// SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3; RFC 3501 §6.3.1, §6.3.2), CLOSE (RFC 9051 §6.4.1),
// UNSELECT (RFC 3691, RFC 9051 §6.4.2) and CHECK (RFC 3501 §6.4.1; gone from RFC 9051, kept as a
// NOOP for both revisions, as Dovecot does). Invariants:
// - SELECT/EXAMINE first leave the selected state, so a failed SELECT leaves the session
//   authenticated (RFC 9051 §6.3.2); a new view starts with no SEARCHRES result (RFC 5182 §2.1);
// - a mailbox deleted under the session (another session's DELETE) ends it with `* BYE` after
//   the current command's tagged response: session.ts syncView.

import { isStoreError } from '../../../core/errors.js';
import { MAILBOX_DELIMITER } from '../../../store/types.js';
import { Atom, atom, codes, raw, type ImapData, type ResponseCode } from '../../../wire/imap/encoder.js';
import type { CommandResult, ImapCommandInput, ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad } from '../errors.js';
import { mailboxArg, mailboxWire, noSuchMailbox } from '../mailbox-name.js';
import { AUTHENTICATED, SELECTED } from '../state.js';
import { SelectedView, SYSTEM_FLAGS } from '../view.js';
import { mailboxNameData } from './mailbox-name-data.js';

/** Leaves the selected state (if selected); returns whether a mailbox was selected. */
export function deselect(ctx: ImapSessionContext): boolean {
  const state = ctx.state;
  if (state.kind !== 'selected') return false;
  ctx.state = { kind: 'authenticated', account: state.account };
  return true;
}

async function openMailbox(
  ctx: ImapSessionContext,
  cmd: ImapCommandInput,
  readOnly: boolean,
): Promise<CommandResult> {
  const state = ctx.state;
  if (state.kind !== 'authenticated' && state.kind !== 'selected') throw new ImapBad('Authenticate first');
  // RFC 9051 §6.3.2: optional select parameters (CONDSTORE, QRESYNC) are not offered.
  if (cmd.args.length !== 1) throw new ImapBad(`${cmd.name} takes one mailbox name`);
  const name = mailboxArg(cmd.args[0], { utf8: ctx.utf8 });
  const account = state.account;
  // RFC 9051 §6.3.2: the previous mailbox is closed (without expunging) even when this SELECT
  // fails; RFC 9051 §7.1 CLOSED tells the client where the old mailbox's responses end. IMAP4rev1
  // clients ignore a code they do not know (RFC 3501 §7.1); Dovecot sends it to both.
  if (deselect(ctx)) untaggedOk(ctx, { name: 'CLOSED' }, 'Previous mailbox closed.');
  const mailbox = await ctx.env.store.getMailbox(account.id, name);
  if (mailbox === null) throw noSuchMailbox(name);
  const rev1 = !ctx.rev2;
  const view = await SelectedView.open(ctx.env.store, mailbox, { readOnly, rev1 });

  const flags: ImapData[] = [...SYSTEM_FLAGS, ...view.keywords].map(atom);
  ctx.untagged(atom('FLAGS'), flags);
  // RFC 9051 §7.1 PERMANENTFLAGS: \* says new keywords may be created; none for EXAMINE.
  const permanent = readOnly ? [] : [...SYSTEM_FLAGS, ...view.keywords, '\\*'];
  untaggedOk(ctx, codes.permanentFlags(permanent), readOnly ? 'Read-only mailbox.' : 'Flags permitted.');
  ctx.untagged(view.exists, atom('EXISTS'));
  if (rev1) {
    // RFC 3501 §7.3.2 RECENT and §7.1 [UNSEEN n]: IMAP4rev1 only (RFC 9051 Appendix E).
    ctx.untagged(view.recent.size, atom('RECENT'));
    if (view.firstUnseenAtOpen > 0) {
      untaggedOk(ctx, { name: 'UNSEEN', data: [view.firstUnseenAtOpen] }, `First unseen.`);
    }
  }
  untaggedOk(ctx, codes.uidValidity(mailbox.uidValidity), 'UIDs valid');
  // A message appended between the mailbox read and the message list is already in EXISTS.
  untaggedOk(ctx, codes.uidNext(Math.max(mailbox.uidNext, view.lastUid + 1)), 'Predicted next UID');
  if (ctx.rev2) {
    // RFC 9051 §6.3.2: IMAP4rev2 requires a LIST response with the mailbox name and accurate
    // attributes (the same as LIST gives; see list.ts). No OLDNAME: names are not denormalized.
    const prefix = mailbox.name + MAILBOX_DELIMITER;
    const children = (await ctx.env.store.listMailboxes(account.id)).some((b) => b.name.startsWith(prefix));
    const attrs: ImapData[] = [atom(children ? '\\HasChildren' : '\\HasNoChildren')];
    if (mailbox.specialUse !== null) attrs.push(atom(mailbox.specialUse));
    const wire = mailboxNameData(mailboxWire(mailbox.name, { utf8: ctx.utf8 }));
    ctx.untagged(atom('LIST'), attrs, MAILBOX_DELIMITER, wire);
  }
  ctx.state = { kind: 'selected', account, view };
  return {
    code: { name: readOnly ? 'READ-ONLY' : 'READ-WRITE' },
    text: `${cmd.name === 'SELECT' ? 'Select' : 'Examine'} completed`,
  };
}

/**
 * `* OK [CODE data] text`. ctx.untagged() writes data items separated by spaces, so the code is
 * written as one raw item; its data here is only numbers and flag atoms (never client text).
 */
function untaggedOk(ctx: ImapSessionContext, code: ResponseCode, text: string): void {
  let s = `[${code.name}`;
  for (const d of code.data ?? []) s += ` ${codeItem(d)}`;
  ctx.untagged(atom('OK'), raw(`${s}]`), atom(text));
}

function codeItem(d: ImapData): string {
  if (typeof d === 'number') return String(d);
  if (d instanceof Atom) return d.value;
  if (Array.isArray(d)) return `(${(d as readonly ImapData[]).map(codeItem).join(' ')})`;
  throw new TypeError('unexpected response code data');
}

function noArgs(cmd: ImapCommandInput): void {
  if (cmd.args.length > 0) throw new ImapBad(`${cmd.name} takes no arguments`);
}

export const SELECT_COMMANDS: ImapCommandSpec[] = [
  { name: 'SELECT', states: AUTHENTICATED, handle: (ctx, cmd) => openMailbox(ctx, cmd, false) },
  { name: 'EXAMINE', states: AUTHENTICATED, handle: (ctx, cmd) => openMailbox(ctx, cmd, true) },
  {
    name: 'CLOSE',
    states: SELECTED,
    async handle(ctx, cmd) {
      noArgs(cmd);
      const state = ctx.state;
      if (state.kind !== 'selected') return;
      const view = state.view;
      deselect(ctx);
      // RFC 9051 §6.4.1: \Deleted messages are removed silently, only when opened read-write.
      if (!view.readOnly) {
        try {
          await ctx.env.store.expunge(view.mailboxId, { onlyDeleted: true });
        } catch (err) {
          // The mailbox was deleted meanwhile: there is nothing left to expunge.
          if (!isStoreError(err) || err.code !== 'NOT_FOUND') throw err;
        }
      }
    },
  },
  {
    name: 'UNSELECT',
    states: SELECTED,
    async handle(ctx, cmd) {
      // RFC 3691 §2: like CLOSE without the expunge.
      noArgs(cmd);
      deselect(ctx);
    },
  },
  {
    name: 'CHECK',
    states: SELECTED,
    async handle(_ctx, cmd) {
      // RFC 3501 §6.4.1: every change is already durable; the session reports updates after it.
      noArgs(cmd);
    },
  },
];
