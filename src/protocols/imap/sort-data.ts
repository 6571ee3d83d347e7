// Loads the SortRecords (sort-keys.ts) of the messages a SORT or THREAD matched. Invariants:
// - the store's sort fields (Messages.listSortFields: a few columns kept per blob since
//   migration 21, no MIME record parsed, no message bytes) are read BATCH messages at a time;
// - the loop yields to the event loop every few milliseconds (TimeSlicer), so a SORT of a
//   100,000-message mailbox does not stall other connections;
// - a message expunged by another session meanwhile is left out (it matched nothing).

import type { Messages } from '../../store/roles.js';
import type { SortKeyName } from '../../wire/imap/sort.js';
import { neededFields, sortRecordMaker, type SortRecord } from './sort-keys.js';
import type { SelectedView } from './view.js';

/** Messages per store read: one short range scan each (listSortFields). */
const BATCH = 256;
/** Longest stretch of synchronous work before yielding to the event loop. */
const SLICE_MS = 5;

/** Yields to the event loop once SLICE_MS of work has run since the last yield. */
export class TimeSlicer {
  private start = Date.now();

  /** Resolves at once when the slice is not over, else after a turn of the event loop. */
  async pause(): Promise<void> {
    if (Date.now() - this.start < SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.start = Date.now();
  }
}

/** The records of these messages (`uids` ascending, `seqs` their sequence numbers), in UID order. */
export async function loadSortRecords(
  store: Messages,
  view: SelectedView,
  match: { uids: readonly number[]; seqs: readonly number[] },
  need: { sortKeys: readonly SortKeyName[]; subject: boolean },
  slicer: TimeSlicer,
): Promise<SortRecord[]> {
  const out: SortRecord[] = [];
  const wanted = neededFields(need);
  const record = sortRecordMaker(need);
  for (let start = 0; start < match.uids.length; start += BATCH) {
    const uids = match.uids.slice(start, start + BATCH);
    const rows = await store.listSortFields(view.mailboxId, uids, wanted);
    let at = 0;
    for (const row of rows) {
      while (at < uids.length && uids[at] !== row.uid) at++;
      if (at === uids.length) break;
      out.push(record(row, match.seqs[start + at]!));
    }
    await slicer.pause();
  }
  return out;
}

/** The charsets SORT and THREAD accept (RFC 5256 §3: US-ASCII required; UTF-8 as SEARCH, RFC 9051 §6.4.4). */
export const SORT_CHARSETS = ['UTF-8', 'US-ASCII'];
