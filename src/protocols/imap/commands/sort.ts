// SORT and UID SORT (RFC 5256 §3) with every RFC 5256 key and DISPLAYFROM/DISPLAYTO (RFC 5957),
// and SORT RETURN (...) answered with ESEARCH (RFC 5267 §3.2 ESORT; SAVE as RFC 5182 §2.4).
// Invariants:
// - the criteria are SEARCH's: parsed by parseSearch, evaluated by search-eval.ts;
// - what is compared comes from the stored MIME records (sort-keys.ts), never message bytes;
// - loading, sorting and writing yield to the event loop (sort-data.ts, sortYielding);
// - orders are kept between commands (sort-cache.ts): a SORT reads and sorts only the messages
//   the kept order of its mailbox and program lacks;
// - no EXPUNGE response is sent while SORT (by sequence number) runs or right after it.

import { atom, raw, type ImapData } from '../../../wire/imap/encoder.js';
import type { ReturnOption, SearchKey } from '../../../wire/imap/search.js';
import { SearchError } from '../../../wire/imap/search.js';
import { SequenceSet } from '../../../wire/imap/sequence-set.js';
import { parseSort, type SortProgram } from '../../../wire/imap/sort.js';
import type { ImapCommandInput, ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import { compileSearch, runSearch } from '../search-eval.js';
import { loadSortRecords, SORT_CHARSETS, TimeSlicer } from '../sort-data.js';
import { sortCacheOf } from '../sort-cache.js';
import { sortComparator } from '../sort-keys.js';
import { SELECTED } from '../state.js';
import { savedUids } from './search.js';
import type { SelectedView } from '../view.js';

/** Numbers per piece when writing a long `* SORT` line. */
const NUMBERS_PER_PIECE = 10_000;

/**
 * What SORT and THREAD share before their own work: the charset check (RFC 5256 §3: NO
 * [BADCHARSET] for one not supported) and the SEARCH criteria run over the view.
 */
export async function matchCriteria(
  ctx: ImapSessionContext,
  view: SelectedView,
  program: { charset: string; criteria: SearchKey },
): Promise<{ uids: number[]; seqs: number[] }> {
  if (!SORT_CHARSETS.includes(program.charset)) {
    throw new ImapNo('Unsupported charset', { name: 'BADCHARSET', data: [SORT_CHARSETS.map(atom)] });
  }
  const sctx = { store: ctx.env.store, blobs: ctx.env.blobs, view, rev1: !ctx.rev2 };
  return runSearch(sctx, compileSearch(sctx, program.criteria));
}

async function sort(ctx: ImapSessionContext, cmd: ImapCommandInput): Promise<void> {
  if (ctx.state.kind !== 'selected') throw new ImapBad('No mailbox selected');
  const view = ctx.state.view;
  let program: SortProgram;
  try {
    program = parseSort(cmd.args);
  } catch (err) {
    if (err instanceof SearchError) throw new ImapBad(`Invalid sort: ${err.message}`);
    throw err;
  }
  const options = program.returnOptions;
  const save = options?.includes('SAVE') === true;
  try {
    const match = await matchCriteria(ctx, view, program);
    const slicer = new TimeSlicer();
    const pause = (): Promise<void> => slicer.pause();
    const keys = program.sort.map((c) => c.key);
    const store = ctx.env.store;
    // The order is kept for the next SORT of this mailbox (sort-cache.ts): records carry the UID
    // as their sequence number, the same tie-break order in every view.
    const order = await sortCacheOf(store, ctx.env.config.limits.imapSortCache).sortOrder(
      { mailboxId: view.mailboxId, uidValidity: view.mailbox.uidValidity },
      program.sort.map((c) => (c.reverse ? `REVERSE ${c.key}` : c.key)).join(' '),
      match.uids,
      sortComparator(program.sort),
      (uids) =>
        loadSortRecords(store, view, { uids, seqs: uids }, { sortKeys: keys, subject: false }, slicer),
      pause,
    );
    const numbers = order.map((i) => (cmd.uid ? match.uids[i]! : match.seqs[i]!));
    if (save)
      view.saved = SequenceSet.fromNumbers(
        savedUids(
          options!,
          order.map((i) => match.uids[i]!),
        ),
      );
    if (options === null) {
      await sortResponse(ctx, numbers);
      return;
    }
    // RFC 5182 §2.4: SAVE alone gives no ESEARCH response.
    if (options.length === 1 && options[0] === 'SAVE') return;
    ctx.untagged(...esort(cmd, options, numbers));
  } catch (err) {
    // RFC 5182 §2.1: a failed command with SAVE leaves `$` empty.
    if (save) view.saved = SequenceSet.fromNumbers([]);
    throw err;
  }
}

/** `* SORT n n n` (RFC 5256 §4), written in pieces so a huge result stays cheap to build. */
async function sortResponse(ctx: ImapSessionContext, numbers: readonly number[]): Promise<void> {
  if (numbers.length <= NUMBERS_PER_PIECE) {
    ctx.untagged(atom('SORT'), ...numbers);
    return;
  }
  await ctx.writeRaw('* SORT');
  for (let i = 0; i < numbers.length; i += NUMBERS_PER_PIECE) {
    await ctx.writeRaw(' ' + numbers.slice(i, i + NUMBERS_PER_PIECE).join(' '));
  }
  await ctx.writeRaw('\r\n');
}

/**
 * A sequence set that keeps the order of `numbers` (RFC 5267 §3.2: ALL of an ESORT lists the
 * messages in sort order): runs of consecutive ascending numbers become `a:b`.
 */
export function orderedSet(numbers: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(j === i ? String(numbers[i]) : `${numbers[i]}:${numbers[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** `* ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set` in sort order (RFC 5267 §3.2). */
function esort(cmd: ImapCommandInput, opts: readonly ReturnOption[], numbers: readonly number[]): ImapData[] {
  const out: ImapData[] = [atom('ESEARCH'), [atom('TAG'), cmd.tag]];
  if (cmd.uid) out.push(atom('UID'));
  const n = numbers.length;
  if (opts.includes('MIN') && n > 0) out.push(atom('MIN'), numbers[0]!);
  if (opts.includes('MAX') && n > 0) out.push(atom('MAX'), numbers[n - 1]!);
  // The order of return data is free (RFC 4731 §3.1); ALL before COUNT as Dovecot sends them.
  if (opts.includes('ALL') && n > 0) out.push(raw(`ALL ${orderedSet(numbers)}`));
  if (opts.includes('COUNT')) out.push(atom('COUNT'), n);
  return out;
}

export const SORT_COMMANDS: ImapCommandSpec[] = [
  {
    name: 'SORT',
    states: SELECTED,
    uidForm: true,
    noExpungeResponses: true,
    handle: sort,
  },
];
