// SORT and THREAD arguments (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO, RFC 5267 §3.2 SORT
// RETURN) into typed programs. The search criteria after the charset are the SEARCH grammar:
// they are parsed by parseSearch (search.ts), so both commands accept exactly SEARCH's keys.
// Invariants: the charset is mandatory in both commands (RFC 5256 §3); REVERSE applies to the key
// that follows it and may appear once before it; an empty sort list is an error.

import type { ImapToken } from './reader.js';
import { parseSearch, SearchError, type ReturnOption, type SearchKey, type SearchOptions } from './search.js';

export type SortKeyName =
  'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';

export interface SortCriterion {
  key: SortKeyName;
  reverse: boolean;
}

export type ThreadAlgorithm = 'ORDEREDSUBJECT' | 'REFERENCES';

export interface SortProgram {
  /** RFC 5267 §3.2 RETURN options, or null: a plain `* SORT` response. */
  returnOptions: ReturnOption[] | null;
  sort: SortCriterion[];
  /** The charset argument, upper-cased. */
  charset: string;
  criteria: SearchKey;
}

export interface ThreadProgram {
  algorithm: ThreadAlgorithm;
  charset: string;
  criteria: SearchKey;
}

const SORT_KEYS: readonly SortKeyName[] = [
  'ARRIVAL',
  'CC',
  'DATE',
  'FROM',
  'SIZE',
  'SUBJECT',
  'TO',
  'DISPLAYFROM',
  'DISPLAYTO',
];
const THREAD_ALGORITHMS: readonly ThreadAlgorithm[] = ['ORDEREDSUBJECT', 'REFERENCES'];

/** `SORT [RETURN (opts)] (sort-criteria) charset search-criteria`. Throws SearchError. */
export function parseSort(args: readonly ImapToken[], opts: SearchOptions = {}): SortProgram {
  let pos = 0;
  let returnTokens: ImapToken[] = [];
  const first = args[0];
  if (first?.kind === 'atom' && first.value.toUpperCase() === 'RETURN') {
    returnTokens = args.slice(0, 2);
    pos = 2;
  }
  const list = args[pos++];
  if (list?.kind !== 'list') throw new SearchError('SORT needs a parenthesised list of sort keys');
  const sort = parseSortCriteria(list.items);
  const { charset, criteria, returnOptions } = searchPart(args, pos, returnTokens, opts);
  return { returnOptions, sort, charset, criteria };
}

/** `THREAD algorithm charset search-criteria`. Throws SearchError. */
export function parseThread(args: readonly ImapToken[], opts: SearchOptions = {}): ThreadProgram {
  const name = args[0]?.kind === 'atom' ? args[0].value.toUpperCase() : '';
  const algorithm = THREAD_ALGORITHMS.find((a) => a === name);
  if (algorithm === undefined) throw new SearchError('unknown THREAD algorithm');
  const { charset, criteria } = searchPart(args, 1, [], opts);
  return { algorithm, charset, criteria };
}

function parseSortCriteria(items: readonly ImapToken[]): SortCriterion[] {
  const out: SortCriterion[] = [];
  let reverse = false;
  for (const t of items) {
    if (t.kind !== 'atom') throw new SearchError('sort key expected');
    const name = t.value.toUpperCase();
    if (name === 'REVERSE') {
      if (reverse) throw new SearchError('REVERSE twice');
      reverse = true;
      continue;
    }
    const key = SORT_KEYS.find((k) => k === name);
    if (key === undefined) throw new SearchError(`unknown sort key ${name.slice(0, 40)}`);
    out.push({ key, reverse });
    reverse = false;
  }
  if (reverse) throw new SearchError('REVERSE without a sort key');
  if (out.length === 0) throw new SearchError('empty sort criteria');
  return out;
}

/** The charset and criteria at args[pos...], parsed with SEARCH's grammar (RETURN prepended). */
function searchPart(
  args: readonly ImapToken[],
  pos: number,
  returnTokens: ImapToken[],
  opts: SearchOptions,
): { charset: string; criteria: SearchKey; returnOptions: ReturnOption[] | null } {
  const cs = args[pos];
  if (cs === undefined || (cs.kind !== 'atom' && cs.kind !== 'string'))
    throw new SearchError('charset expected');
  if (pos + 1 >= args.length) throw new SearchError('missing search criteria');
  const program = parseSearch(
    [...returnTokens, { kind: 'atom', value: 'CHARSET' }, ...args.slice(pos)],
    opts,
  );
  return { charset: program.charset ?? '', criteria: program.criteria, returnOptions: program.returnOptions };
}
