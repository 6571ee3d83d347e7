// Evaluates a SEARCH program (src/wire/imap/search.ts) over the messages of a selected view
// (RFC 9051 §6.4.4, RFC 3501 §6.4.4). Invariants:
// - the criteria are compiled once: sequence sets resolved, strings decoded and case-folded;
// - cheap keys (flags, keywords, \Recent, UID, sequence numbers, sizes, internal dates) are
//   evaluated first in three-valued logic for every message; only messages whose result still
//   depends on a content key (headers, body, text, sent date) have their content loaded, and an
//   AND tries its keys cheapest first and stops at the first false;
// - a content key's result depends only on the message bytes, so it is remembered per blob for
//   the rest of the command (messages copied within or between mailboxes share their blob);
// - messages are read from the store 1,000 at a time and the loop yields to the event loop every
//   few milliseconds, so a SEARCH over 100,000 messages does not stall other connections;
// - a message expunged by another session (still in the view) matches nothing.

import type { MessageMeta } from '../../store/types.js';
import type { Messages, Search } from '../../store/roles.js';
import type { BlobStore } from '../../store/blob/types.js';
import type { SearchDate, SearchKey } from '../../wire/imap/search.js';
import { SequenceSet, type SequenceSetSpec } from '../../wire/imap/sequence-set.js';
import type { TextPartRange } from '../../mail/mime/search-fields.js';
import { foldCase, MessageText } from './search-text.js';
import type { SelectedView } from './view.js';

const BATCH = 256;
/** Messages matched per store query for SUBJECT/FROM/TO/CC/BCC. */
const INDEXED_SLICE = 8192;
/** Longest stretch of synchronous work before yielding to the event loop. */
const SLICE_MS = 5;
/** Messages whose content is loaded at the same time (file reads overlap on the thread pool). */
const PARALLEL = 8;
/** Blobs whose content results are remembered per command (cleared past this)... */
const MEMO_BLOBS = 200_000;
/** ...and at most this many bytes of results (one byte per blob and content key). */
const MEMO_BYTES = 16 * 1024 * 1024;
const DAY_MS = 86_400_000;

/** Relative cost of a key: 0 metadata only, 1 the MIME record, 2 the header bytes, 3 the bodies. */
type Cost = 0 | 1 | 2 | 3;

type Compiled =
  | { kind: 'const'; value: boolean }
  | { kind: 'flag'; flag: string; set: boolean }
  | { kind: 'recent' }
  | { kind: 'uid'; set: SequenceSet }
  | { kind: 'seq'; set: SequenceSet }
  | { kind: 'size'; op: 'larger' | 'smaller'; size: number }
  | { kind: 'internalDate'; op: 'before' | 'on' | 'since'; day: number }
  /** Internal date at or after `since` (ms) matches, or before it with `older`. */
  | { kind: 'age'; older: boolean; since: number }
  | { kind: 'saveDate'; op: 'before' | 'on' | 'since'; day: number }
  /** RFC 8474 EMAILID: the blob id prefix the id stands for. */
  | { kind: 'emailId'; blobPrefix: string }
  | { kind: 'modseq'; modseq: number }
  | { kind: 'content'; id: number; cost: Cost; test: ContentTest }
  | { kind: 'not'; key: Compiled; cost: Cost }
  | { kind: 'or'; left: Compiled; right: Compiled; cost: Cost }
  | { kind: 'and'; keys: Compiled[]; cost: Cost };

type ContentTest =
  | { kind: 'indexed'; field: 'subject' | 'from' | 'to' | 'cc' | 'bcc'; needle: string }
  | { kind: 'header'; key: string; needle: string }
  | { kind: 'body'; needle: string }
  | { kind: 'text'; needle: string }
  | { kind: 'sentDate'; op: 'before' | 'on' | 'since'; day: number };

const INDEXED = new Map<string, 'subject' | 'from' | 'to' | 'cc' | 'bcc'>([
  ['subject', 'subject'],
  ['from', 'from'],
  ['to', 'to'],
  ['cc', 'cc'],
  ['bcc', 'bcc'],
]);

export interface SearchContext {
  store: Messages & Search;
  blobs: BlobStore;
  view: SelectedView;
  /** IMAP4rev1 session: RECENT matches this session's \Recent messages. */
  rev1: boolean;
}

/** The day number (days since 1970-01-01) of a calendar date. */
function dayOf(d: SearchDate): number {
  return Date.UTC(d.year, d.month - 1, d.day) / DAY_MS;
}

function costOf(k: Compiled): Cost {
  switch (k.kind) {
    case 'content':
    case 'not':
    case 'or':
    case 'and':
      return k.cost;
    default:
      return 0;
  }
}

class Compiler {
  private nextId = 0;
  private readonly now = Date.now();
  constructor(private readonly ctx: SearchContext) {}

  get contentKeys(): number {
    return this.nextId;
  }

  compile(key: SearchKey): Compiled {
    switch (key.kind) {
      case 'all':
        return { kind: 'const', value: true };
      case 'flag':
        return { kind: 'flag', flag: key.flag, set: key.set };
      case 'keyword':
        // Keywords are case-insensitive atoms (RFC 9051 §2.3.2); the store keeps them as given.
        return { kind: 'flag', flag: key.keyword, set: key.set };
      case 'recent':
        // RFC 9051 has no \Recent: in IMAP4rev2 nothing is recent.
        return this.ctx.rev1 ? { kind: 'recent' } : { kind: 'const', value: false };
      case 'uid':
        return { kind: 'uid', set: this.resolveSet(key.set, true) };
      case 'seq':
        return { kind: 'seq', set: this.resolveSet(key.set, false) };
      case 'size':
        return { kind: 'size', op: key.op, size: key.size };
      case 'modseq':
        return { kind: 'modseq', modseq: Number(key.modseq) };
      case 'age':
        // RFC 5032 §3: measured from the time of the command (one `now` for every message).
        return { kind: 'age', older: key.op === 'older', since: this.now - key.seconds * 1000 };
      case 'objectId': {
        // THREADID is NIL for every message (threads are not computed): nothing matches.
        const email = key.field === 'email' ? /^M([0-9a-f]{32})$/.exec(key.id) : null;
        return email === null ? { kind: 'const', value: false } : { kind: 'emailId', blobPrefix: email[1]! };
      }
      case 'date':
        if (key.field === 'internal') return { kind: 'internalDate', op: key.op, day: dayOf(key.date) };
        if (key.field === 'saved') return { kind: 'saveDate', op: key.op, day: dayOf(key.date) };
        return this.content(1, { kind: 'sentDate', op: key.op, day: dayOf(key.date) });
      case 'header': {
        const name = key.field.toLowerCase();
        const needle = foldCase(key.value.toString('utf8'));
        const indexed = INDEXED.get(name);
        if (indexed !== undefined) return this.content(1, { kind: 'indexed', field: indexed, needle });
        return this.content(2, { kind: 'header', key: name, needle });
      }
      case 'body':
        return this.content(3, { kind: 'body', needle: foldCase(key.value.toString('utf8')) });
      case 'text':
        return this.content(3, { kind: 'text', needle: foldCase(key.value.toString('utf8')) });
      case 'not': {
        const inner = this.compile(key.key);
        return { kind: 'not', key: inner, cost: costOf(inner) };
      }
      case 'or': {
        const left = this.compile(key.left);
        const right = this.compile(key.right);
        // Try the cheaper side first: OR stops at the first true.
        const [a, b] = costOf(left) <= costOf(right) ? [left, right] : [right, left];
        return { kind: 'or', left: a, right: b, cost: Math.max(costOf(a), costOf(b)) as Cost };
      }
      case 'and': {
        const keys = key.keys.map((k) => this.compile(k));
        keys.sort((a, b) => costOf(a) - costOf(b));
        let cost: Cost = 0;
        for (const k of keys) if (costOf(k) > cost) cost = costOf(k);
        return { kind: 'and', keys, cost };
      }
    }
  }

  private content(cost: Cost, test: ContentTest): Compiled {
    return { kind: 'content', id: this.nextId++, cost, test };
  }

  /** A sequence set as UIDs (uid) or message numbers; `$` is the saved result (RFC 5182 §2.1). */
  private resolveSet(spec: SequenceSetSpec, uid: boolean): SequenceSet {
    const view = this.ctx.view;
    if (spec.kind === 'saved') {
      const saved = view.saved ?? SequenceSet.fromNumbers([]);
      if (uid) return saved;
      const seqs: number[] = [];
      for (const u of view.uidsIn(saved)) seqs.push(view.seqOf(u));
      return SequenceSet.fromNumbers(seqs);
    }
    // `*` is the highest UID or message number in use; numbers beyond it match nothing.
    return SequenceSet.resolve(spec, uid ? view.lastUid : view.exists);
  }
}

/** 0 false, 1 true, 2 unknown (a content key decides). */
type Tri = 0 | 1 | 2;

interface Candidate {
  meta: MessageMeta;
  seq: number;
}

function flagSet(flags: readonly string[], flag: string): boolean {
  for (const f of flags) if (f === flag || f.toLowerCase() === flag.toLowerCase()) return true;
  return false;
}

function dateMatches(op: 'before' | 'on' | 'since', msgDay: number, day: number): boolean {
  if (op === 'before') return msgDay < day;
  if (op === 'on') return msgDay === day;
  return msgDay >= day;
}

/** Content results known so far, per blob: results[nodeId] is 0, 1, or 2 (not evaluated yet). */
type BlobMemo = Map<string, Uint8Array>;

/**
 * Results of the indexed keys (SUBJECT, FROM, TO, CC, BCC) matched by the store for the whole
 * mailbox before the scan, by content key id: `yes` matches, `maybe` must be read.
 */
type IndexedResults = Map<number, { yes: Set<number>; maybe: Set<number> }>;

/** Evaluates what metadata (and content results already known for the blob) can tell. */
function cheap(
  k: Compiled,
  c: Candidate,
  view: SelectedView,
  memo: BlobMemo | null,
  indexed: IndexedResults | null = null,
): Tri {
  switch (k.kind) {
    case 'const':
      return k.value ? 1 : 0;
    case 'flag':
      return flagSet(c.meta.flags, k.flag) === k.set ? 1 : 0;
    case 'recent':
      return view.isRecent(c.meta.uid) ? 1 : 0;
    case 'uid':
      return k.set.contains(c.meta.uid) ? 1 : 0;
    case 'seq':
      return k.set.contains(c.seq) ? 1 : 0;
    case 'size':
      return (k.op === 'larger' ? c.meta.size > k.size : c.meta.size < k.size) ? 1 : 0;
    case 'internalDate':
      return dateMatches(k.op, Math.floor(c.meta.internalDate.getTime() / DAY_MS), k.day) ? 1 : 0;
    case 'modseq':
      return c.meta.modseq >= k.modseq ? 1 : 0;
    case 'saveDate':
      return dateMatches(k.op, Math.floor(c.meta.saveDate.getTime() / DAY_MS), k.day) ? 1 : 0;
    case 'emailId':
      return c.meta.blobId.startsWith(k.blobPrefix) ? 1 : 0;
    case 'age':
      // YOUNGER n: within the last n seconds; OLDER n: the rest.
      return c.meta.internalDate.getTime() >= k.since !== k.older ? 1 : 0;
    case 'content': {
      const pre = indexed?.get(k.id);
      if (pre !== undefined) return pre.yes.has(c.meta.uid) ? 1 : pre.maybe.has(c.meta.uid) ? 2 : 0;
      const known = memo?.get(c.meta.blobId);
      return known === undefined ? 2 : (known[k.id] as Tri);
    }
    case 'not': {
      const v = cheap(k.key, c, view, memo, indexed);
      return v === 2 ? 2 : v === 1 ? 0 : 1;
    }
    case 'or': {
      const a = cheap(k.left, c, view, memo, indexed);
      if (a === 1) return 1;
      const b = cheap(k.right, c, view, memo, indexed);
      if (b === 1) return 1;
      return a === 0 && b === 0 ? 0 : 2;
    }
    case 'and': {
      let unknown = false;
      for (const sub of k.keys) {
        const v = cheap(sub, c, view, memo, indexed);
        if (v === 0) return 0;
        if (v === 2) unknown = true;
      }
      return unknown ? 2 : 1;
    }
  }
}

/** The calendar day of a Date: header as written, ignoring time and zone (RFC 9051 §6.4.4). */
export function sentDay(raw: string | null, epochMs: number | null): number | null {
  if (raw !== null) {
    const tokens = raw.replace(/[,()]/g, ' ').split(/\s+/);
    for (let i = 0; i + 2 < tokens.length; i++) {
      const day = /^\d{1,2}$/.test(tokens[i]!) ? Number(tokens[i]) : NaN;
      const month = MONTHS.indexOf(tokens[i + 1]!.slice(0, 3).toLowerCase());
      const yearText = tokens[i + 2]!;
      if (Number.isNaN(day) || month < 0 || !/^\d{2,4}$/.test(yearText)) continue;
      let year = Number(yearText);
      // RFC 5322 §4.3: two-digit years 00-49 are 2000-2049, 50-99 are 1950-1999.
      if (yearText.length === 2) year += year < 50 ? 2000 : 1900;
      else if (yearText.length === 3) year += 1900;
      return Date.UTC(year, month, day) / DAY_MS;
    }
  }
  return epochMs === null ? null : Math.floor(epochMs / DAY_MS);
}
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

class Evaluator {
  readonly memo: BlobMemo = new Map();
  private readonly memoLimit: number;

  constructor(
    private readonly ctx: SearchContext,
    private readonly contentKeys: number,
    readonly indexed: IndexedResults,
  ) {
    this.memoLimit = Math.max(1, Math.min(MEMO_BLOBS, Math.floor(MEMO_BYTES / Math.max(1, contentKeys))));
  }

  async full(k: Compiled, c: Candidate, text: MessageText): Promise<boolean> {
    switch (k.kind) {
      case 'content': {
        const pre = this.indexed.get(k.id);
        if (pre !== undefined && !pre.maybe.has(c.meta.uid)) return pre.yes.has(c.meta.uid);
        return this.content(k.id, k.test, text);
      }
      case 'not':
        return !(await this.full(k.key, c, text));
      case 'or':
        return (await this.full(k.left, c, text)) || this.full(k.right, c, text);
      case 'and':
        for (const sub of k.keys) if (!(await this.full(sub, c, text))) return false;
        return true;
      default:
        return cheap(k, c, this.ctx.view, null, this.indexed) === 1;
    }
  }

  private async content(id: number, test: ContentTest, text: MessageText): Promise<boolean> {
    let known = this.memo.get(text.blobId);
    if (known !== undefined && known[id] !== 2) return known[id] === 1;
    const result = await this.test(test, text);
    if (known === undefined) {
      if (this.memo.size >= this.memoLimit) this.memo.clear();
      known = new Uint8Array(this.contentKeys).fill(2);
      this.memo.set(text.blobId, known);
    }
    known[id] = result ? 1 : 0;
    return result;
  }

  private async test(test: ContentTest, text: MessageText): Promise<boolean> {
    switch (test.kind) {
      case 'indexed': {
        const value = await text.indexedHeader(test.field);
        return value !== null && value.includes(test.needle);
      }
      case 'header': {
        // RFC 9051 §6.4.4: an empty string matches every message that has the field.
        for (const f of await text.headerFields())
          if (f.key === test.key && f.value.includes(test.needle)) return true;
        return false;
      }
      case 'body':
        for (const b of await text.bodyTexts()) if (b.includes(test.needle)) return true;
        return false;
      case 'text':
        if ((await text.headerText()).includes(test.needle)) return true;
        for (const b of await text.bodyTexts()) if (b.includes(test.needle)) return true;
        return false;
      case 'sentDate': {
        const mime = await text.mime();
        // Without a usable Date: header the message counts as sent on 1-Jan-1970, as Dovecot
        // does (RFC 9051 §6.4.4 does not say): SENTBEFORE matches it, SENTON/SENTSINCE do not.
        const day = sentDay(mime.envelope.date, mime.headers.date) ?? 0;
        return dateMatches(test.op, day, test.day);
      }
    }
  }
}

/** Whether evaluating the tree needs message metadata (flags, sizes, dates, blob contents). */
function needsMetadata(k: Compiled, indexed: IndexedResults): boolean {
  switch (k.kind) {
    case 'const':
    case 'uid':
    case 'seq':
    case 'recent':
      return false;
    case 'content': {
      const pre = indexed.get(k.id);
      return pre === undefined || pre.maybe.size > 0;
    }
    case 'not':
      return needsMetadata(k.key, indexed);
    case 'or':
      return needsMetadata(k.left, indexed) || needsMetadata(k.right, indexed);
    case 'and':
      return k.keys.some((sub) => needsMetadata(sub, indexed));
    default:
      return true;
  }
}

/** Every content node of a compiled tree. */
function contentNodes(k: Compiled): Array<Extract<Compiled, { kind: 'content' }>> {
  switch (k.kind) {
    case 'content':
      return [k];
    case 'not':
      return contentNodes(k.key);
    case 'or':
      return [...contentNodes(k.left), ...contentNodes(k.right)];
    case 'and':
      return k.keys.flatMap(contentNodes);
    default:
      return [];
  }
}

/** A compiled program: the tree and how many content keys it has. */
export interface CompiledSearch {
  root: Compiled;
  contentKeys: number;
}

/** Compiles the criteria for this view (sequence sets resolved against it now). */
export function compileSearch(ctx: SearchContext, criteria: SearchKey): CompiledSearch {
  const compiler = new Compiler(ctx);
  const root = compiler.compile(criteria);
  return { root, contentKeys: compiler.contentKeys };
}

/**
 * The UIDs of the view's messages that match, ascending, with their sequence numbers at the
 * time the command started.
 */
export async function runSearch(
  ctx: SearchContext,
  program: CompiledSearch,
): Promise<{ uids: number[]; seqs: number[] }> {
  const compiled = program.root;
  const { view, store } = ctx;
  const all = view.allUids.slice();
  const uids: number[] = [];
  const seqs: number[] = [];
  const indexed: IndexedResults = new Map();
  let needsBodies = false;
  for (const node of contentNodes(compiled)) {
    if (node.test.kind === 'indexed') {
      // Matched by the store (SQLite instr() over the stored folded text), a slice of UIDs per
      // query so the event loop is never held long.
      const yes = new Set<number>();
      const maybe = new Set<number>();
      for (let i = 0; i < all.length; i += INDEXED_SLICE) {
        const range = { minUid: all[i]!, maxUid: all[Math.min(all.length, i + INDEXED_SLICE) - 1]! };
        const r = await store.matchSearchField(view.mailboxId, node.test.field, node.test.needle, range);
        for (const uid of r.uids) yes.add(uid);
        for (const uid of r.unparsed) maybe.add(uid);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      indexed.set(node.id, { yes, maybe });
    } else if (node.test.kind === 'body' || node.test.kind === 'text') needsBodies = true;
  }
  const evaluator = new Evaluator(ctx, program.contentKeys, indexed);

  let sliceStart = Date.now();
  // One shared pause: every worker waits for the same setImmediate, so the event loop really
  // runs other connections' work (workers resumed by microtasks alone would not let it).
  let pause: Promise<void> | null = null;
  const yieldNow = (): Promise<void> =>
    (pause ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        pause = null;
        sliceStart = Date.now();
        resolve();
      }),
    ));
  const sliceOver = (): boolean => pause !== null || Date.now() - sliceStart >= SLICE_MS;
  if (!needsMetadata(compiled, indexed)) {
    // Decided by UIDs, sequence numbers and the store's indexed matches alone (SEARCH SUBJECT x,
    // UID SEARCH FROM y ...): no message metadata is read.
    // Messages expunged elsewhere but still in the view match nothing: walk the store's UIDs
    // (ascending, like the view's) beside the view's.
    const present = (await store.mailboxSummary(view.mailboxId)).uids;
    // ALL (SORT and THREAD's usual criteria): every present message, nothing to evaluate.
    const everything = compiled.kind === 'const' && compiled.value;
    let p = 0;
    for (let i = 0; i < all.length; i++) {
      const uid = all[i]!;
      while (p < present.length && present[p]! < uid) p++;
      if (present[p] !== uid || view.isExpunged(uid)) continue;
      if (
        everything ||
        cheap(compiled, { meta: { uid } as MessageMeta, seq: i + 1 }, view, null, indexed) === 1
      ) {
        uids.push(uid);
        seqs.push(i + 1);
      }
      if ((i & 1023) === 0 && sliceOver()) await yieldNow();
    }
    return { uids, seqs };
  }
  for (let start = 0; start < all.length; start += BATCH) {
    const batch = all.slice(start, start + BATCH);
    const metas = await store.listMessages(view.mailboxId, { uids: batch });
    // matched[i] is 1 when batch[i] matches; metas come in UID order like batch.
    const matched = new Uint8Array(batch.length);
    const pending: Array<{ c: Candidate; at: number }> = [];
    let at = 0;
    for (const meta of metas) {
      while (at < batch.length && batch[at] !== meta.uid) at++;
      if (at === batch.length) break;
      if (view.isExpunged(meta.uid)) continue;
      const c: Candidate = { meta, seq: start + at + 1 };
      const v = cheap(compiled, c, view, evaluator.memo, indexed);
      if (v === 1) matched[at] = 1;
      else if (v === 2) pending.push({ c, at });
      if ((at & 63) === 0 && sliceOver()) await yieldNow();
    }
    // Content: a few messages at a time, so file reads overlap.
    const parts: Map<number, TextPartRange[]> =
      needsBodies && pending.length > 0
        ? await store.textParts(
            view.mailboxId,
            pending.map((p) => p.c.meta.uid),
          )
        : new Map();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < pending.length) {
        const { c, at: pos } = pending[next++]!;
        const text = new MessageText(ctx, c.meta.blobId, c.meta.size, parts.get(c.meta.uid));
        // Another message of the same blob may have settled it meanwhile.
        const v = cheap(compiled, c, view, evaluator.memo, indexed);
        if (v === 2 ? await evaluator.full(compiled, c, text) : v === 1) matched[pos] = 1;
        if (sliceOver()) await yieldNow();
      }
    };
    const workers: Promise<void>[] = [];
    for (let w = 0; w < Math.min(PARALLEL, pending.length); w++) workers.push(worker());
    await Promise.all(workers);
    for (let i = 0; i < batch.length; i++) {
      if (matched[i] === 1) {
        uids.push(batch[i]!);
        seqs.push(start + i + 1);
      }
    }
  }
  return { uids, seqs };
}
