// STORE and UID STORE (RFC 9051 §6.4.6, §6.4.9; RFC 3501 §6.4.6; RFC 7162 §3.1.3 UNCHANGEDSINCE).
// Invariants:
// - each message is updated atomically by the store (a read-modify-write inside one
//   transaction), so two sessions adding different flags to one message both stick;
// - work goes in batches of BATCH UIDs, one store transaction each, yielding to the event loop
//   between batches;
// - every change this session made is reported by this command (untagged FETCH, unless .SILENT)
//   and noted with view.noteEchoed, so the sync after the command does not repeat it;
// - a read-only (EXAMINE) view refuses STORE with NO before touching anything, and so does a
//   flag the user has no right to change (RFC 4314 §4: NO [NOPERM]).

import { atom, type ImapData } from '../../../wire/imap/encoder.js';
import { parseStoreArgs, StoreArgsError, type StoreArgs } from '../../../wire/imap/store-args.js';
import { SequenceSet } from '../../../wire/imap/sequence-set.js';
import type { ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import { flagRight, noPermission } from '../mailbox-access.js';
import { hasRight } from '../../../store/rules/acl.js';
import { SELECTED } from '../state.js';
import { selectedView, sequenceSetArg, yieldToLoop } from './fetch.js';
import type { CommandResult } from '../context.js';
import type { ImapToken } from '../../../wire/imap/reader.js';

const BATCH = 1000;

async function store(
  ctx: ImapSessionContext,
  uidForm: boolean,
  args: readonly ImapToken[],
): Promise<CommandResult | void> {
  const view = selectedView(ctx);
  const spec = sequenceSetArg(args[0]);
  let parsed: StoreArgs;
  try {
    parsed = parseStoreArgs(args.slice(1));
  } catch (err) {
    if (err instanceof StoreArgsError) throw new ImapBad(`Invalid STORE arguments: ${err.message}`);
    throw err;
  }
  const uids = view.resolve(spec, { uid: uidForm });
  // RFC 9051 §6.3.3: EXAMINE opens the mailbox read-only; no flag may change. (Dovecot answers
  // OK and ignores the STORE; a NO tells the client nothing was stored.)
  if (view.readOnly) throw new ImapNo('Mailbox is read-only');
  // RFC 4314 §4: \Seen needs "s", \Deleted "t", every other flag "w" (the owner has them all).
  for (const flag of parsed.flags) {
    const right = flagRight(flag);
    if (!hasRight(view.rights, right)) throw noPermission(right);
  }
  let unchangedSince: number | undefined;
  if (parsed.unchangedSince !== undefined) {
    unchangedSince =
      parsed.unchangedSince > BigInt(Number.MAX_SAFE_INTEGER)
        ? Number.MAX_SAFE_INTEGER
        : Number(parsed.unchangedSince);
  }
  const rev1 = !ctx.rev2;
  // RFC 7162 §3.1: STORE UNCHANGEDSINCE is a CONDSTORE enabling command.
  if (unchangedSince !== undefined) ctx.enable('CONDSTORE');
  const condstore = ctx.enabled.has('CONDSTORE');
  const modified: number[] = [];
  /** The modseq up to which this session has seen every change (-1: not any more). */
  let known = view.highestModseq;

  for (let i = 0; i < uids.length; i += BATCH) {
    const batch = uids.slice(i, i + BATCH).filter((uid) => !view.isExpunged(uid));
    if (batch.length === 0) continue;
    const update = {
      mode: parsed.mode,
      flags: parsed.flags,
      ...(unchangedSince === undefined ? {} : { unchangedSince }),
    };
    const result = await ctx.env.store.updateFlags(view.mailboxId, batch, update);
    // One update takes one modseq M. When M - 1 is the last modseq this session knows of, no
    // other change came in between, so the new flags are all the client needs. Otherwise
    // another session may have changed these messages unseen by this one (the change log keeps
    // only the latest flags row of a message): under .SILENT nothing is echoed then, so the
    // sync after the command sends the full flags (RFC 9051 §6.4.6: changes from an external
    // source are reported even with .SILENT).
    // Keywords the client has not been told of (new ones, or another session's) first.
    if (!parsed.silent) view.announceKeywords(ctx, result.changed);
    const first = result.changed[0];
    const clean = first !== undefined && first.modseq - 1 === known;
    if (first !== undefined) known = clean ? first.modseq : -1;
    for (const c of result.changed) {
      if (parsed.silent) {
        if (clean) view.noteEchoed(c.uid, c.modseq);
        continue;
      }
      view.noteEchoed(c.uid, c.modseq);
      const seq = view.seqOf(c.uid);
      if (seq === 0) continue;
      const items: ImapData[] = [];
      if (uidForm) items.push(atom('UID'), c.uid);
      items.push(atom('FLAGS'), view.flagAtoms(c.uid, c.flags, rev1));
      if (condstore) items.push(atom('MODSEQ'), [c.modseq]);
      ctx.untagged(seq, atom('FETCH'), items);
    }
    for (const uid of result.modified) modified.push(uidForm ? uid : view.seqOf(uid));
    await ctx.flush();
    if (i + BATCH < uids.length) await yieldToLoop();
  }
  // A keyword new to the mailbox is announced even under .SILENT (Dovecot does too): the
  // client's FLAGS must name every keyword its messages hold.
  if (parsed.mode !== 'remove') view.announceKeywords(ctx, [parsed]);
  if (modified.length > 0) {
    // RFC 7162 §3.1.3: the messages not changed because of UNCHANGEDSINCE.
    const set = SequenceSet.fromRanges(modified.map((n) => [n, n] as const));
    return { code: { name: 'MODIFIED', data: [set] }, text: 'Conditional STORE failed' };
  }
}

const STORE: ImapCommandSpec = {
  name: 'STORE',
  states: SELECTED,
  uidForm: true,
  noExpungeResponses: true,
  async handle(ctx, cmd) {
    return store(ctx, cmd.uid, cmd.args);
  },
};

export const STORE_COMMANDS: ImapCommandSpec[] = [STORE];
