// FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9; RFC 3501 §6.4.5, §6.4.8; RFC 3516 BINARY;
// RFC 7162 §3.1.4 CHANGEDSINCE). Invariants:
// - messages are read in batches of BATCH UIDs (listMessages with `uids`), so memory per command
//   is bounded whatever the mailbox size; the loop flushes (backpressure) and yields to the event
//   loop every YIELD_MS of work, so other connections keep being served;
// - a message expunged elsewhere (view.isExpunged, or gone from the store) gets no FETCH response;
//   the command then ends NO [EXPUNGEISSUED] as Dovecot does (RFC 9051 §7.1);
// - a non-PEEK body item sets \Seen first (not in a read-only view); when that changed the flags,
//   FLAGS is part of that message's FETCH response (RFC 9051 §6.4.5) and the change is noted as
//   echoed, so the session's own sync does not repeat it;
// - FLAGS are shown only after the keywords in them were announced (view.announceKeywords).

import { atom, type ImapData } from '../../../wire/imap/encoder.js';
import { FetchParseError, parseFetchItems, type FetchItem } from '../../../wire/imap/fetch.js';
import { parseSequenceSet, SequenceSet, SequenceSetError } from '../../../wire/imap/sequence-set.js';
import type { ImapToken } from '../../../wire/imap/reader.js';
import type { ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import {
  buildFetchItems,
  MessageSource,
  pushMetadataItem,
  writeFetchResponse,
  type FetchSources,
} from '../fetch-response.js';
import { SELECTED } from '../state.js';
import type { SelectedView } from '../view.js';
import type { MessageFlags, MessageMeta } from '../../../store/types.js';

/** UIDs whose metadata is read at once. */
const BATCH = 1000;
/** Message responses built concurrently, divided by the number of section items asked. */
const WINDOW = 32;
/** Longest stretch of work before yielding to the event loop. */
const YIELD_MS = 5;

/** The sequence set argument (RFC 9051 §9 sequence-set), or BAD. */
export function sequenceSetArg(token: ImapToken | undefined): ReturnType<typeof parseSequenceSet> {
  if (token?.kind !== 'atom') throw new ImapBad('Sequence set expected');
  try {
    return parseSequenceSet(token.value);
  } catch (err) {
    if (err instanceof SequenceSetError) throw new ImapBad(`Invalid sequence set: ${err.message}`);
    throw err;
  }
}

export function selectedView(ctx: ImapSessionContext): SelectedView {
  const state = ctx.state;
  if (state.kind !== 'selected') throw new ImapBad('No mailbox selected');
  return state.view;
}

/** Resolves after the event loop had a turn (I/O callbacks included). */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Fixed-size items, which Dovecot sends before everything else. */
function isShort(item: FetchItem): boolean {
  switch (item.kind) {
    case 'uid':
    case 'flags':
    case 'internalDate':
    case 'rfc822Size':
    case 'modseq':
    case 'saveDate':
    case 'emailId':
    case 'threadId':
      return true;
    default:
      return false;
  }
}

/** The UIDs of uids[start, start + size) not expunged in the view (yet still in it). */
function presentBatch(view: SelectedView, uids: readonly number[], start: number, size = BATCH): number[] {
  const batch: number[] = [];
  for (let i = start; i < uids.length && i < start + size; i++)
    if (!view.isExpunged(uids[i]!)) batch.push(uids[i]!);
  return batch;
}

/** Text of a flag list, per (shared) list: `\Seen $Work` (listFlags shares arrays). */
const flagTexts = new WeakMap<readonly string[], string>();

/** UIDs read at once by a FETCH of flags only: its rows are small (about 40 bytes of text each). */
const FLAGS_BATCH = 2000;
/**
 * Bytes of a FETCH of flags left unsent while the next batch is prepared: the client reads one
 * batch while the server builds the next (waiting for each to drain made the two take turns).
 */
const FLAGS_PENDING = 512 * 1024;

/** How fetchFlagsOnly renders a row: which items, in order, and what a session adds to FLAGS. */
interface FlagRender {
  /** The item kinds in response order (uid, flags, modseq). */
  kinds: ReadonlyArray<'uid' | 'flags' | 'modseq'>;
  changedSince: bigint | null;
  /** The view's UIDs (ascending): a row's sequence number is its position + 1. */
  inView: readonly number[];
  /** Where the walk over inView stands (rows come in ascending UID order). */
  at: number;
  /** \Recent for UIDs from this one on (rev1, recent messages the newest); Infinity: none. */
  recentFrom: number;
  /** \Recent by lookup instead (rev1, recent messages scattered), or null. */
  isRecent: ((uid: number) => boolean) | null;
}

/** The text of a flag list, made once per shared list. */
function flagText(flags: readonly string[]): string {
  let text = flagTexts.get(flags);
  if (text === undefined) {
    text = flags.join(' ');
    flagTexts.set(flags, text);
  }
  return text;
}

/**
 * The FETCH responses of one batch of rows as one string. A plain synchronous function, so that
 * V8 optimises it after the first few batches whatever the session (the command's own loop is
 * an async function, entered once per command).
 */
function renderFlagRows(rows: readonly MessageFlags[], r: FlagRender): string {
  const { kinds, changedSince, inView } = r;
  let at = r.at;
  let chunk = '';
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k]!;
    if (changedSince !== null && BigInt(row.modseq) <= changedSince) continue;
    const uid = row.uid;
    while (at < inView.length && inView[at]! < uid) at++;
    if (inView[at] !== uid) continue;
    let line = `* ${at + 1} FETCH (`;
    for (let j = 0; j < kinds.length; j++) {
      if (j > 0) line += ' ';
      const kind = kinds[j];
      if (kind === 'uid') line += `UID ${uid}`;
      else if (kind === 'modseq') line += `MODSEQ (${row.modseq})`;
      else {
        let flags = flagText(row.flags);
        if (uid >= r.recentFrom || (r.isRecent !== null && r.isRecent(uid)))
          flags = flags === '' ? '\\Recent' : `${flags} \\Recent`;
        line += `FLAGS (${flags})`;
      }
    }
    chunk += `${line})\r\n`;
  }
  r.at = at;
  return chunk;
}

/**
 * FETCH of UID, FLAGS and MODSEQ only (`UID FETCH 1:* (UID FLAGS)`, what a client resynchronising
 * a large mailbox sends): read with listFlags, the responses of each batch written as one string.
 */
async function fetchFlagsOnly(
  ctx: ImapSessionContext,
  view: SelectedView,
  uids: readonly number[],
  items: readonly FetchItem[],
  changedSince: bigint | null,
): Promise<boolean> {
  const hasFlags = items.some((i) => i.kind === 'flags');
  let expungeIssued = false;
  let since = Date.now();
  // \Recent (rev1 only) by comparison when the recent messages are the newest (one set lookup a
  // row otherwise). Sequence numbers by walking the view's UIDs beside the (ascending) rows; the
  // view does not change during the command (sync runs only between commands).
  const recentFrom = ctx.rev2 ? null : view.recentSuffixFrom();
  const render: FlagRender = {
    kinds: items.map((i) => i.kind as 'uid' | 'flags' | 'modseq'),
    changedSince,
    inView: view.allUids,
    at: 0,
    recentFrom: recentFrom ?? Infinity,
    isRecent: ctx.rev2 || recentFrom !== null || view.recent.size === 0 ? null : (uid) => view.isRecent(uid),
  };
  for (let i = 0; i < uids.length; i += FLAGS_BATCH) {
    const batch = presentBatch(view, uids, i, FLAGS_BATCH);
    if (batch.length < Math.min(FLAGS_BATCH, uids.length - i)) expungeIssued = true;
    if (batch.length === 0) continue;
    const rows = await ctx.env.store.listFlags(view.mailboxId, batch);
    if (rows.length < batch.length) expungeIssued = true;
    if (hasFlags) view.announceKeywords(ctx, rows);
    const chunk = renderFlagRows(rows, render);
    if (chunk !== '') await ctx.writeRaw(chunk, { allowPending: FLAGS_PENDING });
    if (Date.now() - since >= YIELD_MS) {
      await yieldToLoop();
      since = Date.now();
    }
  }
  return expungeIssued;
}

/**
 * `* VANISHED (EARLIER) uids` for the UIDs in `spec` expunged after `modseq` (RFC 7162
 * §3.2.5.1, §3.2.6; EXPUNGE or VANISHED when allowed). Nothing when there are none. Within the
 * change log's retention the set is exact; for an older modseq it is every UID of `spec` up to
 * the mailbox's highest that is not in the view, a superset the RFC allows (docs/architecture.md,
 * "Change log retention").
 */
export async function sendVanishedEarlier(
  ctx: ImapSessionContext,
  view: SelectedView,
  spec: ReturnType<typeof parseSequenceSet>,
  modseq: number,
): Promise<void> {
  if (spec.kind === 'saved') return;
  const expunged = await ctx.env.store.expungedSince(view.mailboxId, modseq);
  let gone: SequenceSet;
  if (expunged.complete) {
    // `*` is the largest UID there could be: an expunged UID may be above the view's last one.
    const wanted = SequenceSet.resolve(spec, Number.MAX_SAFE_INTEGER);
    gone = SequenceSet.fromNumbers(
      expunged.uids.filter((uid) => wanted.contains(uid) && view.seqOf(uid) === 0),
    );
  } else {
    const top = Math.max(view.mailbox.uidNext - 1, view.lastUid);
    gone = missingUids(SequenceSet.resolve(spec, top), top, view.allUids);
  }
  if (!gone.isEmpty) ctx.untagged(atom('VANISHED'), [atom('EARLIER')], atom(gone.toString()));
}

/** The numbers of `wanted` from 1 to `top` that are not in `present` (ascending), as ranges. */
export function missingUids(wanted: SequenceSet, top: number, present: readonly number[]): SequenceSet {
  const out: (readonly [number, number])[] = [];
  let p = 0;
  for (const [lo, hiRaw] of wanted.ranges) {
    const hi = Math.min(hiRaw, top);
    let next = lo;
    while (p < present.length && present[p]! < lo) p++;
    while (next <= hi) {
      const uid = p < present.length ? present[p]! : Infinity;
      if (uid > hi) {
        out.push([next, hi]);
        break;
      }
      if (uid > next) out.push([next, uid - 1]);
      next = uid + 1;
      p++;
    }
  }
  return SequenceSet.fromRanges(out);
}

/**
 * `* n FETCH (UID u FLAGS (...) MODSEQ (m))` for every message of the view changed after
 * `modseq` (RFC 7162 §3.2.5.1, SELECT ... QRESYNC), read from the flag index.
 */
export async function sendChangedFlags(
  ctx: ImapSessionContext,
  view: SelectedView,
  modseq: number,
): Promise<void> {
  const items: FetchItem[] = [
    { kind: 'uid', name: 'UID' },
    { kind: 'flags', name: 'FLAGS' },
    { kind: 'modseq', name: 'MODSEQ' },
  ];
  await fetchFlagsOnly(ctx, view, view.allUids, items, BigInt(modseq));
}

/** The FETCH data of the metadata-only items, in order. */
function metadataItems(items: readonly FetchItem[], meta: MessageMeta, flags: ImapData[]): ImapData[] {
  const out: ImapData[] = [];
  for (const item of items) {
    if (!pushMetadataItem(out, item, meta, flags)) throw new Error(`not a metadata item: ${item.kind}`);
  }
  return out;
}

async function fetch(
  ctx: ImapSessionContext,
  uidForm: boolean,
  args: readonly ImapToken[],
): Promise<boolean> {
  const view = selectedView(ctx);
  const spec = sequenceSetArg(args[0]);
  let request;
  try {
    request = parseFetchItems(args.slice(1), { rev2: ctx.rev2 });
  } catch (err) {
    if (err instanceof FetchParseError) throw new ImapBad(`Invalid FETCH arguments: ${err.message}`);
    throw err;
  }
  // RFC 7162 §3.2.6: the VANISHED modifier needs QRESYNC enabled, and a UID FETCH.
  if (request.vanished && !ctx.enabled.has('QRESYNC')) throw new ImapBad('VANISHED needs QRESYNC enabled');
  if (request.vanished && !uidForm) throw new ImapBad('VANISHED is a UID FETCH modifier');
  // RFC 7162 §3.1: FETCH MODSEQ and CHANGEDSINCE are CONDSTORE enabling commands.
  if (request.changedSince !== null || request.items.some((i) => i.kind === 'modseq'))
    ctx.enable('CONDSTORE');
  if (request.vanished && request.changedSince !== null) {
    await sendVanishedEarlier(ctx, view, spec, Number(request.changedSince));
  }
  const asked: FetchItem[] = [...request.items];
  // RFC 9051 §6.4.9: UID FETCH responses always carry UID.
  if (uidForm && !asked.some((i) => i.kind === 'uid')) asked.unshift({ kind: 'uid', name: 'UID' });
  // Fixed-size items first, then ENVELOPE, BODYSTRUCTURE and contents, each group in the order
  // asked, as Dovecot does (RFC 9051 §7.5.2 lets the server choose the order).
  const short = asked.filter(isShort);
  const items = [...short, ...asked.filter((i) => !isShort(i))];
  const hasFlags = items.some((i) => i.kind === 'flags');
  // RFC 4314 §4: FETCH sets \Seen only for a user with the "s" right.
  const setsSeen = request.setsSeen && !view.readOnly && view.rights.includes('s');
  const changedSince = request.changedSince;

  const uids = view.resolve(spec, { uid: uidForm });
  // Messages built at once: 1 when BINARY decodes whole parts in memory; else WINDOW shared by
  // the section items (each holds up to STREAM_ABOVE bytes in memory, larger ones stream).
  const sections = items.filter((i) => !isShort(i)).length;
  const window = items.some((i) => i.kind === 'binary' || i.kind === 'binarySize')
    ? 1
    : Math.max(1, Math.floor(WINDOW / Math.max(1, sections)));
  const src: FetchSources = { store: ctx.env.store, blobs: ctx.env.blobs, utf8: ctx.utf8, rev2: ctx.rev2 };
  const rev1 = !ctx.rev2;
  let expungeIssued = false;
  let since = Date.now();

  if (sections === 0 && items.every((i) => i.kind === 'uid' || i.kind === 'flags' || i.kind === 'modseq')) {
    return fetchFlagsOnly(ctx, view, uids, items, changedSince);
  }

  for (let i = 0; i < uids.length; i += BATCH) {
    const batch = presentBatch(view, uids, i);
    if (batch.length < Math.min(BATCH, uids.length - i)) expungeIssued = true;
    if (batch.length === 0) continue;
    const metas = await ctx.env.store.listMessages(view.mailboxId, { uids: batch });
    if (metas.length < batch.length) expungeIssued = true;

    // Set \Seen first, so each message's response shows the flags it now has.
    const seenChanged = new Set<number>();
    if (setsSeen) {
      const unseen = metas.filter((m) => !m.flags.includes('\\Seen')).map((m) => m.uid);
      if (unseen.length > 0) {
        const result = await ctx.env.store.updateFlags(view.mailboxId, unseen, {
          mode: 'add',
          flags: ['\\Seen'],
        });
        const byUid = new Map(result.changed.map((c) => [c.uid, c]));
        for (const m of metas) {
          const c = byUid.get(m.uid);
          if (c === undefined) continue;
          m.flags = c.flags;
          m.modseq = c.modseq;
          view.noteEchoed(c.uid, c.modseq);
          seenChanged.add(c.uid);
        }
      }
    }

    const todo = metas.filter((m) => changedSince === null || BigInt(m.modseq) > changedSince);
    if (hasFlags || seenChanged.size > 0) view.announceKeywords(ctx, todo);
    if (sections === 0) {
      // Only metadata items (UID, FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ): the responses are
      // built synchronously, one short line each (the common `UID FETCH 1:* (UID FLAGS)` of a
      // client resynchronising a large mailbox).
      for (const meta of todo) {
        const seq = view.seqOf(meta.uid);
        if (seq === 0) continue;
        ctx.untagged(
          seq,
          atom('FETCH'),
          metadataItems(items, meta, view.flagAtoms(meta.uid, meta.flags, rev1)),
        );
      }
      if (Date.now() - since >= YIELD_MS) {
        await ctx.flush();
        await yieldToLoop();
        since = Date.now();
      }
      continue;
    }
    for (let j = 0; j < todo.length; j += window) {
      const group = todo.slice(j, j + window);
      // Built concurrently (blob reads overlap on the thread pool), written in order.
      const built = await Promise.allSettled(
        group.map(async (meta) => {
          const seq = view.seqOf(meta.uid);
          if (seq === 0) return null;
          const flags = view.flagAtoms(meta.uid, meta.flags, rev1);
          const pieces = await buildFetchItems(new MessageSource(meta, src), items, src, { seq, flags });
          // The new FLAGS after the short items (two pieces each: name and value), as Dovecot does.
          if (seenChanged.has(meta.uid) && !hasFlags)
            pieces.splice(2 * short.length, 0, atom('FLAGS'), flags);
          return { seq, pieces };
        }),
      );
      for (const b of built) {
        if (b.status === 'rejected') throw b.reason;
        if (b.value !== null) await writeFetchResponse(ctx, b.value.seq, b.value.pieces);
      }
      if (Date.now() - since >= YIELD_MS) {
        await ctx.flush();
        await yieldToLoop();
        since = Date.now();
      }
    }
  }
  return expungeIssued;
}

/**
 * RFC 5465 §5.1: the FETCH responses NOTIFY sends for new messages of the selected mailbox,
 * with the attributes given to MessageNew (checked by NOTIFY), as a UID FETCH of them would.
 */
export async function fetchNewMessages(
  ctx: ImapSessionContext,
  uids: readonly number[],
  items: ImapToken,
): Promise<void> {
  if (uids.length === 0) return;
  const set: ImapToken = { kind: 'atom', value: SequenceSet.fromNumbers(uids).toString() };
  await fetch(ctx, true, [set, items]);
}

const FETCH: ImapCommandSpec = {
  name: 'FETCH',
  states: SELECTED,
  uidForm: true,
  noExpungeResponses: true,
  async handle(ctx, cmd) {
    const expungeIssued = await fetch(ctx, cmd.uid, cmd.args);
    // A UID FETCH simply gets no data for them: EXPUNGE responses follow it.
    if (expungeIssued && !cmd.uid) {
      // RFC 9051 §7.1 EXPUNGEISSUED; Dovecot answers NO here too.
      throw new ImapNo('Some of the requested messages no longer exist', { name: 'EXPUNGEISSUED' });
    }
  },
};

export const FETCH_COMMANDS: ImapCommandSpec[] = [FETCH];
