// THREAD and UID THREAD (RFC 5256 §3) with the ORDEREDSUBJECT and REFERENCES algorithms.
// Invariants:
// - the criteria are SEARCH's (parseSearch, search-eval.ts); the data comes from the stored MIME
//   records (sort-keys.ts); work yields to the event loop (sort-data.ts);
// - an answer is kept for the next THREAD of the very same messages (sort-cache.ts);
// - no EXPUNGE response is sent while THREAD (by sequence number) runs or right after it.

import { atom } from '../../../wire/imap/encoder.js';
import { SearchError } from '../../../wire/imap/search.js';
import { parseThread, type ThreadProgram } from '../../../wire/imap/sort.js';
import type { ImapCommandInput, ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad } from '../errors.js';
import { sortCacheOf } from '../sort-cache.js';
import { loadSortRecords, TimeSlicer } from '../sort-data.js';
import type { SortRecord } from '../sort-keys.js';
import { SELECTED } from '../state.js';
import type { SelectedView } from '../view.js';
import { matchCriteria } from './sort.js';
import { orderedSubjectThreads } from '../thread-ordered-subject.js';
import { referencesThreads } from '../thread-references.js';
import { threadPieces } from '../thread-tree.js';

/** Characters per write when sending a long `* THREAD` line. */
const PIECE_CHARS = 64 * 1024;

async function thread(ctx: ImapSessionContext, cmd: ImapCommandInput): Promise<void> {
  if (ctx.state.kind !== 'selected') throw new ImapBad('No mailbox selected');
  const view = ctx.state.view;
  let program: ThreadProgram;
  try {
    program = parseThread(cmd.args);
  } catch (err) {
    if (err instanceof SearchError) throw new ImapBad(`Invalid thread: ${err.message}`);
    throw err;
  }
  const match = await matchCriteria(ctx, view, program);
  const slicer = new TimeSlicer();
  const pause = (): Promise<void> => slicer.pause();
  const store = ctx.env.store;
  // The answer is kept for the next THREAD of the same messages (sort-cache.ts): its records
  // carry their index in the matched UIDs as their sequence number (the same order), which is
  // the index of their sequence number in any later match of the same UIDs.
  const cache = sortCacheOf(store, ctx.env.config.limits.imapSortCache);
  const box = { mailboxId: view.mailboxId, uidValidity: view.mailbox.uidValidity };
  let roots = cache.threads(box, program.algorithm, match.uids);
  if (roots === null) {
    const records = await threadRecords(ctx, view, match.uids, program.algorithm, slicer);
    roots =
      program.algorithm === 'REFERENCES'
        ? await referencesThreads(records, pause)
        : await orderedSubjectThreads(records, pause);
    cache.keepThreads(box, program.algorithm, match.uids, roots);
  }
  const number = cmd.uid ? (r: { uid: number }) => r.uid : (r: { seq: number }) => match.seqs[r.seq]!;
  if (roots.length === 0) {
    ctx.untagged(atom('THREAD'));
    return;
  }
  await ctx.writeRaw('* THREAD ');
  // Written in pieces of at most PIECE_CHARS, yielding between them.
  let piece = '';
  for (const root of roots) {
    for (const part of threadPieces(root, number)) {
      piece += part;
      if (piece.length >= PIECE_CHARS) {
        await ctx.writeRaw(piece);
        piece = '';
      }
      await pause();
    }
  }
  await ctx.writeRaw(piece);
  await ctx.writeRaw('\r\n');
}

/**
 * The records of the matched UIDs (ascending), each with its index among them as `seq`: those
 * a kept THREAD answer of this mailbox holds (new mail since it was made) are reused, only the
 * others are read from the store. UIDs whose messages are gone are left out.
 */
async function threadRecords(
  ctx: ImapSessionContext,
  view: SelectedView,
  uids: readonly number[],
  algorithm: string,
  slicer: TimeSlicer,
): Promise<SortRecord[]> {
  const store = ctx.env.store;
  const box = { mailboxId: view.mailboxId, uidValidity: view.mailbox.uidValidity };
  const pause = (): Promise<void> => slicer.pause();
  const kept = await sortCacheOf(store, ctx.env.config.limits.imapSortCache).threadRecords(
    box,
    algorithm,
    pause,
  );
  const missing: number[] = [];
  for (const uid of uids) if (!kept.has(uid)) missing.push(uid);
  const read = new Map<number, SortRecord>();
  const need = { sortKeys: [], subject: true };
  for (const r of await loadSortRecords(store, view, { uids: missing, seqs: missing }, need, slicer))
    read.set(r.uid, r);
  const out: SortRecord[] = [];
  for (let i = 0; i < uids.length; i++) {
    const uid = uids[i]!;
    const fresh = read.get(uid);
    if (fresh !== undefined) {
      fresh.seq = i;
      out.push(fresh);
      continue;
    }
    const old = kept.get(uid);
    if (old !== undefined) out.push({ ...old, seq: i });
  }
  return out;
}

export const THREAD_COMMANDS: ImapCommandSpec[] = [
  {
    name: 'THREAD',
    states: SELECTED,
    uidForm: true,
    noExpungeResponses: true,
    handle: thread,
  },
];
