// Loads the SortRecords (sort-keys.ts) of the messages a SORT or THREAD matched. Invariants:
// - metadata is read from the store 256 messages at a time and the MIME record of each blob once
//   (the store caches parsed records; messages sharing a blob share it): no message bytes;
// - the loop yields to the event loop every few milliseconds (TimeSlicer), so a SORT of a
//   100,000-message mailbox does not stall other connections;
// - a message expunged by another session meanwhile is left out (it matched nothing).

import type { MimeRecord } from '../../mail/mime/types.js';
import type { Messages } from '../../store/roles.js';
import type { SortKeyName } from '../../wire/imap/sort.js';
import { sortRecord, type SortRecord } from './sort-keys.js';
import type { SelectedView } from './view.js';

const BATCH = 128;
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
  for (let start = 0; start < match.uids.length; start += BATCH) {
    // Per batch, so memory stays bounded (the store keeps its own cache of parsed records).
    const mimes = new Map<string, MimeRecord>();
    const uids = match.uids.slice(start, start + BATCH);
    const metas = await store.listMessages(view.mailboxId, { uids });
    let at = 0;
    for (const meta of metas) {
      while (at < uids.length && uids[at] !== meta.uid) at++;
      if (at === uids.length) break;
      let mime = mimes.get(meta.blobId);
      if (mime === undefined) {
        mime = await store.getMime(meta.blobId);
        mimes.set(meta.blobId, mime);
      }
      out.push(sortRecord(meta, match.seqs[start + at]!, mime, need));
    }
    await slicer.pause();
  }
  return out;
}

/** The charsets SORT and THREAD accept (RFC 5256 §3: US-ASCII required; UTF-8 as SEARCH, RFC 9051 §6.4.4). */
export const SORT_CHARSETS = ['UTF-8', 'US-ASCII'];
