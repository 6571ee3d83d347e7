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
import { mailboxArg, mailboxWire } from '../mailbox-name.js';
import { requireMailbox } from '../mailbox-access.js';
import { hasRight } from '../../../store/rules/acl.js';
import { AUTHENTICATED, SELECTED } from '../state.js';
import { SelectedView, SYSTEM_FLAGS } from '../view.js';
import { mailboxNameData } from './mailbox-name-data.js';
import { sendChangedFlags, sendVanishedEarlier } from './fetch.js';
import type { ImapToken } from '../../../wire/imap/reader.js';
import { parseSequenceSet, SequenceSetError, type SequenceSetSpec } from '../../../wire/imap/sequence-set.js';

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
  examine: boolean,
): Promise<CommandResult> {
  const state = ctx.state;
  if (state.kind !== 'authenticated' && state.kind !== 'selected') throw new ImapBad('Authenticate first');
  // RFC 9051 §6.3.2 select parameters: CONDSTORE and QRESYNC (RFC 7162 §3.1.8, §3.2.5).
  if (cmd.args.length < 1 || cmd.args.length > 2) throw new ImapBad(`${cmd.name} takes one mailbox name`);
  const params = selectParams(ctx, cmd.args[1]);
  const name = mailboxArg(cmd.args[0], { utf8: ctx.utf8 });
  const account = state.account;
  // RFC 9051 §6.3.2: the previous mailbox is closed (without expunging) even when this SELECT
  // fails; RFC 9051 §7.1 CLOSED tells the client where the old mailbox's responses end. IMAP4rev1
  // clients ignore a code they do not know (RFC 3501 §7.1); Dovecot sends it to both.
  if (deselect(ctx)) untaggedOk(ctx, { name: 'CLOSED' }, 'Previous mailbox closed.');
  // RFC 4314 §4: SELECT and EXAMINE need the "r" right (every right on one's own mailboxes).
  const access = await requireMailbox(ctx.env.store, account, name, 'r');
  const { mailbox, rights } = access;
  // RFC 4314 §4: without any right that changes the mailbox (s, w, t, e) it opens read-only.
  const readOnly = examine || ![...'swte'].some((r) => hasRight(rights, r));
  const rev1 = !ctx.rev2;
  const view = await SelectedView.open(ctx.env.store, mailbox, { readOnly, rev1, rights });

  const flags: ImapData[] = [...SYSTEM_FLAGS, ...view.keywords].map(atom);
  ctx.untagged(atom('FLAGS'), flags);
  // RFC 9051 §7.1 PERMANENTFLAGS: \* says new keywords may be created; none for EXAMINE.
  const permanent = readOnly ? [] : permanentFlags(rights, view.keywords);
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
  // RFC 8474 §4.1: the mailbox's object id.
  untaggedOk(ctx, { name: 'MAILBOXID', data: [[atom(mailbox.objectId)]] }, 'Mailbox id');
  // RFC 7162 §3.1.2.1: HIGHESTMODSEQ once CONDSTORE is on (enabled before, or by this
  // command's CONDSTORE or QRESYNC parameter), as Dovecot does.
  if (params.condstore) ctx.enable('CONDSTORE');
  if (ctx.enabled.has('CONDSTORE')) {
    untaggedOk(ctx, { name: 'HIGHESTMODSEQ', data: [view.highestModseq] }, 'Highest');
  }
  if (ctx.rev2) {
    // RFC 9051 §6.3.2: IMAP4rev2 requires a LIST response with the mailbox name and accurate
    // attributes (the same as LIST gives; see list.ts). No OLDNAME: names are not denormalized.
    const prefix = mailbox.name + MAILBOX_DELIMITER;
    const children = (await ctx.env.store.listMailboxes(access.owner.id)).some((b) =>
      b.name.startsWith(prefix),
    );
    const attrs: ImapData[] = [atom(children ? '\\HasChildren' : '\\HasNoChildren')];
    if (mailbox.specialUse !== null && !access.shared) attrs.push(atom(mailbox.specialUse));
    const wire = mailboxNameData(mailboxWire(access.shared ? name : mailbox.name, { utf8: ctx.utf8 }));
    ctx.untagged(atom('LIST'), attrs, MAILBOX_DELIMITER, wire);
  }
  if (params.qresync !== null && params.qresync.uidValidity === mailbox.uidValidity) {
    // RFC 7162 §3.2.5.1: what changed since the client's modseq: the expunged UIDs among those
    // it knows, then the flags of every message changed after it.
    const q = params.qresync;
    await sendVanishedEarlier(ctx, view, q.knownUids, q.modseq);
    await sendChangedFlags(ctx, view, q.modseq);
  }
  ctx.state = { kind: 'selected', account, view };
  return {
    code: { name: readOnly ? 'READ-ONLY' : 'READ-WRITE' },
    text: `${cmd.name === 'SELECT' ? 'Select' : 'Examine'} completed`,
  };
}

/**
 * RFC 4314 §4: PERMANENTFLAGS lists only the flags the user may change: \Seen with "s",
 * \Deleted with "t", the others and new keywords (\*) with "w".
 */
function permanentFlags(rights: string, keywords: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of SYSTEM_FLAGS) {
    const right = f === '\\Seen' ? 's' : f === '\\Deleted' ? 't' : 'w';
    if (hasRight(rights, right)) out.push(f);
  }
  if (hasRight(rights, 'w')) out.push(...keywords, '\\*');
  return out;
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

interface SelectParams {
  condstore: boolean;
  qresync: { uidValidity: number; modseq: number; knownUids: SequenceSetSpec } | null;
}

/**
 * The select parameters (RFC 9051 §9 select-param): `(CONDSTORE)`, `(QRESYNC (uidvalidity
 * modseq [known-uids [(seq-match-data)]]))` (RFC 7162 §3.2.5). QRESYNC needs ENABLE QRESYNC
 * first (BAD otherwise); the sequence match data is checked and not used (it only narrows what
 * the server must send, and the server sends the exact set anyway).
 */
function selectParams(ctx: ImapSessionContext, arg: ImapToken | undefined): SelectParams {
  const out: SelectParams = { condstore: false, qresync: null };
  if (arg === undefined) return out;
  if (arg.kind !== 'list' || arg.items.length === 0) throw new ImapBad('Select parameters must be a list');
  const items = arg.items;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const name = item.kind === 'atom' ? item.value.toUpperCase() : '';
    if (name === 'CONDSTORE') out.condstore = true;
    else if (name === 'QRESYNC') {
      if (!ctx.enabled.has('QRESYNC')) throw new ImapBad('QRESYNC needs ENABLE QRESYNC first');
      const q = items[++i];
      if (q?.kind !== 'list' || q.items.length < 2 || q.items.length > 4) {
        throw new ImapBad('QRESYNC takes (uidvalidity modseq [known-uids [seq-match-data]])');
      }
      const [validity, modseq, known, match] = q.items;
      const uidValidity = positiveNumber(validity, 'QRESYNC uidvalidity', 0xffffffff);
      const m = positiveNumber(modseq, 'QRESYNC modseq', Number.MAX_SAFE_INTEGER);
      let knownUids: SequenceSetSpec = { kind: 'ranges', ranges: [{ from: 1, to: '*' }] };
      if (known !== undefined) knownUids = setArg(known, 'QRESYNC known-uids');
      if (match !== undefined) {
        if (match.kind !== 'list' || match.items.length !== 2)
          throw new ImapBad('Invalid QRESYNC seq-match-data');
        setArg(match.items[0], 'QRESYNC seq-match-data');
        setArg(match.items[1], 'QRESYNC seq-match-data');
      }
      out.qresync = { uidValidity, modseq: m, knownUids };
    } else throw new ImapBad('Unknown select parameter');
  }
  // RFC 7162 §3.2.5: QRESYNC implies CONDSTORE.
  if (out.qresync !== null) out.condstore = true;
  return out;
}

function positiveNumber(token: ImapToken | undefined, what: string, max: number): number {
  if (token?.kind !== 'atom' || !/^[1-9][0-9]{0,18}$/.test(token.value))
    throw new ImapBad(`${what}: a number`);
  const n = Number(token.value);
  if (n > max) throw new ImapBad(`${what}: out of range`);
  return n;
}

function setArg(token: ImapToken | undefined, what: string): SequenceSetSpec {
  if (token?.kind !== 'atom') throw new ImapBad(`${what}: a sequence set`);
  try {
    const spec = parseSequenceSet(token.value);
    if (spec.kind !== 'ranges') throw new ImapBad(`${what}: no $ here`);
    return spec;
  } catch (err) {
    if (err instanceof SequenceSetError) throw new ImapBad(`${what}: ${err.message}`);
    throw err;
  }
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
      // RFC 9051 §6.4.1: \Deleted messages are removed silently, only when opened read-write
      // (RFC 4314 §4: and only with the "e" right).
      if (!view.readOnly && hasRight(view.rights, 'e')) {
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
