// SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4), with ESEARCH result options
// (RFC 4731; always the ESEARCH form in IMAP4rev2) and SAVE / `$` (RFC 5182 SEARCHRES).
// Invariants:
// - no EXPUNGE response is sent while SEARCH (by sequence number) runs or right after it
//   (noExpungeResponses), so the numbers returned stay valid for the client;
// - the evaluation itself is in search-eval.ts (batched, yielding, cheap keys first).

import { atom, raw, type ImapData } from '../../../wire/imap/encoder.js';
import {
  parseSearch,
  SearchError,
  type ReturnOption,
  type SearchKey,
  type SearchProgram,
} from '../../../wire/imap/search.js';
import { SequenceSet } from '../../../wire/imap/sequence-set.js';
import type { ImapCommandInput, ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import { compileSearch, runSearch } from '../search-eval.js';
import { SELECTED } from '../state.js';

/** RFC 9051 §6.4.4: SEARCH accepts US-ASCII and UTF-8 (the BADCHARSET list). */
const CHARSETS = ['UTF-8', 'US-ASCII'];
/** Numbers per piece when writing a long `* SEARCH` line. */
const NUMBERS_PER_PIECE = 10_000;

async function search(ctx: ImapSessionContext, cmd: ImapCommandInput): Promise<void> {
  if (ctx.state.kind !== 'selected') throw new ImapBad('No mailbox selected');
  const view = ctx.state.view;
  let program: SearchProgram;
  try {
    program = parseSearch(cmd.args);
  } catch (err) {
    if (err instanceof SearchError) throw new ImapBad(`Invalid search: ${err.message}`);
    throw err;
  }
  const options = program.returnOptions;
  const save = options?.includes('SAVE') === true;
  try {
    if (program.charset !== null && !CHARSETS.includes(program.charset)) {
      throw new ImapNo('Unsupported charset', { name: 'BADCHARSET', data: [CHARSETS.map(atom)] });
    }
    const sctx = { store: ctx.env.store, blobs: ctx.env.blobs, view, rev1: !ctx.rev2 };
    const compiled = compileSearch(sctx, program.criteria);
    const result = await runSearch(sctx, compiled);
    const numbers = cmd.uid ? result.uids : result.seqs;
    if (save) view.saved = SequenceSet.fromNumbers(savedUids(options!, result.uids));
    // RFC 7162 §3.1.5: SEARCH MODSEQ enables CONDSTORE, and its response ends with the highest
    // modseq of the messages found (none when nothing matched).
    let modseq: number | null = null;
    if (hasModseqKey(program.criteria)) {
      ctx.enable('CONDSTORE');
      if (result.uids.length > 0) modseq = await highestModseqOf(ctx, view.mailboxId, result.uids);
    }
    if (options === null && !ctx.rev2) {
      await searchResponse(ctx, numbers, modseq);
      return;
    }
    // RFC 9051 §6.4.4: without RETURN, IMAP4rev2 answers as RETURN (ALL).
    const opts: ReturnOption[] = options ?? ['ALL'];
    // RFC 5182 §2.4 / RFC 9051 §6.4.4.1: SAVE alone gives no ESEARCH response.
    if (opts.length === 1 && opts[0] === 'SAVE') return;
    const data = esearch(cmd, opts, numbers);
    if (modseq !== null) data.push(atom('MODSEQ'), modseq);
    ctx.untagged(...data);
  } catch (err) {
    // RFC 5182 §2.1: a failed SEARCH ... RETURN (SAVE) leaves `$` empty.
    if (save) view.saved = SequenceSet.fromNumbers([]);
    throw err;
  }
}

/**
 * RFC 5182 §2.4: with MIN and/or MAX but neither ALL nor COUNT, only those are saved. `uids` in
 * result order: ascending for SEARCH, sort order for SORT (RFC 5267 §3.2: MIN and MAX are then
 * the first and last in sort order).
 */
export function savedUids(opts: readonly ReturnOption[], uids: readonly number[]): number[] {
  if (opts.includes('ALL') || opts.includes('COUNT') || (!opts.includes('MIN') && !opts.includes('MAX'))) {
    return uids.slice();
  }
  const out: number[] = [];
  if (uids.length === 0) return out;
  if (opts.includes('MIN')) out.push(uids[0]!);
  if (opts.includes('MAX')) out.push(uids[uids.length - 1]!);
  return out;
}

/** Whether the criteria hold a MODSEQ key (RFC 7162 §3.1.5), at any depth. */
function hasModseqKey(key: SearchKey): boolean {
  switch (key.kind) {
    case 'modseq':
      return true;
    case 'not':
      return hasModseqKey(key.key);
    case 'or':
      return hasModseqKey(key.left) || hasModseqKey(key.right);
    case 'and':
      return key.keys.some(hasModseqKey);
    default:
      return false;
  }
}

/** The highest modseq among these messages (read from the flag index). */
async function highestModseqOf(
  ctx: ImapSessionContext,
  mailboxId: number,
  uids: readonly number[],
): Promise<number | null> {
  let max: number | null = null;
  for (let i = 0; i < uids.length; i += 5000) {
    for (const row of await ctx.env.store.listFlags(mailboxId, uids.slice(i, i + 5000))) {
      if (max === null || row.modseq > max) max = row.modseq;
    }
  }
  return max;
}

/**
 * `* SEARCH n n n` (RFC 3501 §7.2.5), with `(MODSEQ m)` at the end after a MODSEQ search
 * (RFC 7162 §3.1.5), written in pieces so a huge result stays cheap to build.
 */
async function searchResponse(
  ctx: ImapSessionContext,
  numbers: readonly number[],
  modseq: number | null,
): Promise<void> {
  if (numbers.length <= NUMBERS_PER_PIECE) {
    if (modseq === null) ctx.untagged(atom('SEARCH'), ...numbers);
    else ctx.untagged(atom('SEARCH'), ...numbers, [atom('MODSEQ'), modseq]);
    return;
  }
  await ctx.writeRaw('* SEARCH');
  for (let i = 0; i < numbers.length; i += NUMBERS_PER_PIECE) {
    await ctx.writeRaw(' ' + numbers.slice(i, i + NUMBERS_PER_PIECE).join(' '));
  }
  await ctx.writeRaw(modseq === null ? '\r\n' : ` (MODSEQ ${modseq})\r\n`);
}

/** `* ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set` (RFC 4731 §3.1, RFC 9051 §7.3.4). */
function esearch(
  cmd: ImapCommandInput,
  opts: readonly ReturnOption[],
  numbers: readonly number[],
): ImapData[] {
  const out: ImapData[] = [atom('ESEARCH'), [atom('TAG'), cmd.tag]];
  if (cmd.uid) out.push(atom('UID'));
  const n = numbers.length;
  if (opts.includes('MIN') && n > 0) out.push(atom('MIN'), numbers[0]!);
  if (opts.includes('MAX') && n > 0) out.push(atom('MAX'), numbers[n - 1]!);
  if (opts.includes('COUNT')) out.push(atom('COUNT'), n);
  // RFC 4731 §3.1: ALL is left out when nothing matched.
  if (opts.includes('ALL') && n > 0) out.push(raw(`ALL ${SequenceSet.fromNumbers(numbers).toString()}`));
  return out;
}

export const SEARCH_COMMANDS: ImapCommandSpec[] = [
  {
    name: 'SEARCH',
    states: SELECTED,
    uidForm: true,
    noExpungeResponses: true,
    handle: search,
  },
];
