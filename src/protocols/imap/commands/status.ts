// STATUS (RFC 9051 §6.3.11, RFC 3501 §6.3.10) with SIZE and DELETED (RFC 8438, RFC 9051 base),
// APPENDLIMIT (RFC 7889 §3.2), HIGHESTMODSEQ (RFC 7162 §3.1.6; cheap: the store keeps it) and
// DELETED-STORAGE (RFC 9208 §4.2, in KiB like the STORAGE resource).
// RECENT is IMAP4rev1 only (RFC 9051 Appendix E). Values come from the mailbox row the store
// keeps current, so STATUS costs one read whatever the mailbox size (RECENT and DELETED-STORAGE
// excepted: counted when asked, over the recent UIDs or the \Deleted index); STATUS of the selected
// mailbox is allowed (RFC 9051 §6.3.11 only discourages it).

import type { Mailbox } from '../../../store/types.js';
import { atom, type ImapData } from '../../../wire/imap/encoder.js';
import type { ImapToken } from '../../../wire/imap/reader.js';
import type { ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad } from '../errors.js';
import { mailboxArg, mailboxWire } from '../mailbox-name.js';
import { requireMailbox } from '../mailbox-access.js';
import { AUTHENTICATED } from '../state.js';
import { mailboxNameData } from './mailbox-name-data.js';
import { storageKib } from './quota.js';

export type StatusItem =
  | 'MESSAGES'
  | 'UIDNEXT'
  | 'UIDVALIDITY'
  | 'UNSEEN'
  | 'DELETED'
  | 'SIZE'
  | 'RECENT'
  | 'APPENDLIMIT'
  | 'HIGHESTMODSEQ'
  | 'DELETED-STORAGE'
  | 'MAILBOXID';

const ITEMS: ReadonlySet<string> = new Set<StatusItem>([
  'MESSAGES',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'RECENT',
  'APPENDLIMIT',
  'HIGHESTMODSEQ',
  'DELETED-STORAGE',
  'MAILBOXID',
]);

/** The parenthesised STATUS item list; unknown items (and RECENT in IMAP4rev2) are a BAD. */
export function parseStatusItems(token: ImapToken | undefined, opts: { rev2: boolean }): StatusItem[] {
  if (token?.kind !== 'list' || token.items.length === 0)
    throw new ImapBad('STATUS items must be a non-empty list');
  const out: StatusItem[] = [];
  for (const item of token.items) {
    if (item.kind !== 'atom') throw new ImapBad('STATUS item expected');
    const upper = item.value.toUpperCase();
    if (!ITEMS.has(upper) || (upper === 'RECENT' && opts.rev2)) {
      throw new ImapBad(`Unknown STATUS item ${item.value.slice(0, 40)}`);
    }
    if (!out.includes(upper as StatusItem)) out.push(upper as StatusItem);
  }
  return out;
}

/** What STATUS shows beyond the mailbox row: each counted only when asked for. */
interface Counted {
  recent: number;
  deletedSize: number;
}

/** The `(ITEM value ...)` list of a STATUS response, in the order the client asked. */
async function statusValues(
  ctx: ImapSessionContext,
  mailbox: Mailbox,
  items: readonly StatusItem[],
): Promise<ImapData[]> {
  const store = ctx.env.store;
  const counted: Counted = {
    recent: items.includes('RECENT') && !ownRecent(ctx, mailbox) ? await store.countRecent(mailbox.id) : 0,
    deletedSize: items.includes('DELETED-STORAGE') ? await store.deletedSize(mailbox.id) : 0,
  };
  const out: ImapData[] = [];
  for (const item of items) {
    out.push(atom(item), statusValue(ctx, mailbox, counted, item));
  }
  return out;
}

/**
 * \Recent (RFC 3501 §6.3.10) is this session's own when it has the mailbox selected read-write
 * (it claimed them), else the messages no session has claimed yet.
 */
function ownRecent(ctx: ImapSessionContext, mailbox: Mailbox): boolean {
  const state = ctx.state;
  return state.kind === 'selected' && state.view.mailboxId === mailbox.id && !state.view.readOnly;
}

function statusValue(
  ctx: ImapSessionContext,
  mailbox: Mailbox,
  counted: Counted,
  item: StatusItem,
): ImapData {
  switch (item) {
    case 'MAILBOXID':
      // RFC 8474 §4.2: MAILBOXID (objectid).
      return [atom(mailbox.objectId)];
    case 'MESSAGES':
      return mailbox.messages;
    case 'UIDNEXT':
      return mailbox.uidNext;
    case 'UIDVALIDITY':
      return mailbox.uidValidity;
    case 'UNSEEN':
      return mailbox.unseen;
    case 'DELETED':
      return mailbox.deleted;
    case 'SIZE':
      return mailbox.size;
    case 'DELETED-STORAGE':
      return storageKib(counted.deletedSize);
    case 'APPENDLIMIT':
      return ctx.env.config.limits.messageSize;
    case 'HIGHESTMODSEQ':
      // RFC 7162 §3.1: STATUS HIGHESTMODSEQ is a CONDSTORE enabling command.
      ctx.enable('CONDSTORE');
      return mailbox.highestModseq;
    case 'RECENT': {
      const state = ctx.state;
      return state.kind === 'selected' && ownRecent(ctx, mailbox) ? state.view.recent.size : counted.recent;
    }
  }
}

/** Writes `* STATUS name (...)` for a mailbox; `as` is the client's name when not the owner's. */
export async function writeStatus(
  ctx: ImapSessionContext,
  mailbox: Mailbox,
  items: readonly StatusItem[],
  opts: { as?: string } = {},
): Promise<void> {
  const name = mailboxNameData(mailboxWire(opts.as ?? mailbox.name, { utf8: ctx.utf8 }));
  ctx.untagged(atom('STATUS'), name, await statusValues(ctx, mailbox, items));
}

export const STATUS_COMMANDS: ImapCommandSpec[] = [
  {
    name: 'STATUS',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 2) throw new ImapBad('STATUS takes a mailbox name and a list of items');
      const name = mailboxArg(cmd.args[0], { utf8: ctx.utf8 });
      const items = parseStatusItems(cmd.args[1], { rev2: ctx.rev2 });
      const state = ctx.state;
      if (state.kind !== 'authenticated' && state.kind !== 'selected') return;
      // RFC 4314 §4: STATUS needs the "r" right.
      const access = await requireMailbox(ctx.env.store, state.account, name, 'r');
      // Under the name asked: another user's mailbox, or Apple Mail's alias of a special-use one.
      await writeStatus(ctx, access.mailbox, items, access.mailbox.name !== name ? { as: name } : {});
    },
  },
];
