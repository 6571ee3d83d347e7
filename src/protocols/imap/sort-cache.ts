// Sort orders and threads kept between SORT and THREAD commands (RFC 5256), per process, shared
// by the sessions of one store: a client that sorts or threads a large mailbox again (a phone
// reconnecting, a second client) pays for the messages it has not seen sorted yet, not for all.
// Invariants:
// - the order of two messages never changes: what SORT compares is fixed when a message is
//   stored (internal date, size, the fields of its blob) and a UID names one message within a
//   UIDVALIDITY; the last tie-break is the UID, which is the sequence-number order of every view
//   (records kept here carry the UID as their `seq`);
// - so a sort entry (store, mailbox, UIDVALIDITY, sort program) orders any set of UIDs it holds;
//   UIDs it lacks (new mail) are loaded and merged in, UIDs it holds that are not asked for
//   (expunged, or not matched) are skipped, and dropped when they outnumber the rest;
// - a thread entry answers only for the very set of UIDs it was made from (THREAD of a subset is
//   not a part of THREAD of the whole, RFC 5256 §3);
// - bounded: at most `maxRecords` records over all entries (least recently used go first), and an
//   entry unused for IDLE_MS goes; nothing here is ever needed, only faster. The bound is
//   limits.imap_sort_cache (records are about 200 bytes: 100,000 messages in one order ~20 MB).

import type { MailStore } from '../../store/roles.js';
import { sortYielding, type SortRecord } from './sort-keys.js';
import type { ThreadNode } from './thread-tree.js';

/** An entry not used for this long is dropped. */
const IDLE_MS = 10 * 60_000;
/** Ranks looked up or placed between two pauses. */
const STEP = 16_384;

type Compare = (a: SortRecord, b: SortRecord) => number;
type Pause = () => Promise<void>;

/** A sort order: `records` in order, and for each UID (ascending in `uids`) its rank. */
interface SortEntry {
  kind: 'sort';
  records: SortRecord[];
  uids: Uint32Array;
  rank: Uint32Array;
  used: number;
}

/** A THREAD answer for the UIDs `uids` (ascending): its roots, in order. */
interface ThreadEntry {
  kind: 'thread';
  uids: Uint32Array;
  roots: ThreadNode[];
  used: number;
}

type Entry = SortEntry | ThreadEntry;

const caches = new WeakMap<MailStore, SortCache>();

/** The cache of the sessions using `store` in this process, of at most `maxRecords` records (limits.imapSortCache). */
export function sortCacheOf(store: MailStore, maxRecords: number): SortCache {
  let cache = caches.get(store);
  if (cache === undefined) {
    cache = new SortCache(maxRecords);
    caches.set(store, cache);
  }
  return cache;
}

/** Which mailbox (and UIDVALIDITY) an entry is for. */
export interface MailboxKey {
  mailboxId: number;
  uidValidity: number;
}

export class SortCache {
  /** Insertion order is use order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  private records = 0;
  /** Drops idle entries while there are any (unref'd: it keeps no process alive). */
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly maxRecords: number,
    private readonly idleMs = IDLE_MS,
  ) {}

  /** Records held over all entries. */
  get size(): number {
    return this.records;
  }

  /**
   * The order of the messages `uids` (ascending) under `cmp`, as indices into `uids`. `program`
   * names the comparison (the same name, the same comparison); `load` gives the records of
   * UIDs (ascending) with their UID as `seq`.
   */
  async sortOrder(
    box: MailboxKey,
    program: string,
    uids: readonly number[],
    cmp: Compare,
    load: (uids: number[]) => Promise<SortRecord[]>,
    pause: Pause,
  ): Promise<number[]> {
    const key = `s:${box.mailboxId}:${box.uidValidity}:${program}`;
    const found = this.take(key);
    let entry = found?.kind === 'sort' ? found : null;
    const missing = entry === null ? [...uids] : await absent(entry.uids, uids, pause);
    if (entry === null || missing.length > 0) {
      const fresh = await sortMerge([], await load(missing), cmp, pause);
      // Kept records not asked for are dropped once they outnumber those asked for.
      let kept = entry?.records ?? [];
      if (kept.length > 2 * uids.length + 1024) kept = await only(kept, uids, pause);
      entry = await sortEntry(await sortMerge(kept, fresh, cmp, pause), pause);
    }
    this.put(key, entry);
    return ordered(entry, uids, pause);
  }

  /** A THREAD answer kept for exactly these UIDs (ascending), or null. */
  threads(box: MailboxKey, algorithm: string, uids: readonly number[]): ThreadNode[] | null {
    const key = `t:${box.mailboxId}:${box.uidValidity}:${algorithm}`;
    const entry = this.take(key);
    if (entry?.kind !== 'thread') return null;
    this.put(key, entry);
    if (entry.uids.length !== uids.length) return null;
    for (let i = 0; i < uids.length; i++) if (entry.uids[i] !== uids[i]) return null;
    return entry.roots;
  }

  /**
   * The records of the THREAD answer kept for another set of UIDs (new mail since), by UID:
   * what a new THREAD need not read again (what it threads is fixed per UID, as for SORT). Their
   * `seq` is their index in that other set: copy a record before giving it another.
   */
  async threadRecords(box: MailboxKey, algorithm: string, pause: Pause): Promise<Map<number, SortRecord>> {
    const out = new Map<number, SortRecord>();
    const entry = this.entries.get(`t:${box.mailboxId}:${box.uidValidity}:${algorithm}`);
    if (entry?.kind !== 'thread') return out;
    const stack: ThreadNode[] = [...entry.roots];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.record !== null) out.set(node.record.uid, node.record);
      for (const child of node.children) stack.push(child);
      if ((out.size & (STEP - 1)) === STEP - 1) await pause();
    }
    return out;
  }

  /** Keeps a THREAD answer for these UIDs (ascending); its records carry their index in `uids` as `seq`. */
  keepThreads(box: MailboxKey, algorithm: string, uids: readonly number[], roots: ThreadNode[]): void {
    const key = `t:${box.mailboxId}:${box.uidValidity}:${algorithm}`;
    this.take(key);
    this.put(key, { kind: 'thread', uids: Uint32Array.from(uids), roots, used: 0 });
  }

  /** Removes the entry `key` and returns it (put() adds it back as the most recently used). */
  private take(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.records -= entry.uids.length;
    return entry;
  }

  private put(key: string, entry: Entry): void {
    const now = Date.now();
    entry.used = now;
    this.entries.set(key, entry);
    this.records += entry.uids.length;
    for (const [k, e] of this.entries) {
      if (e === entry) break;
      if (this.records <= this.maxRecords && now - e.used < this.idleMs) break;
      this.entries.delete(k);
      this.records -= e.uids.length;
    }
    // One entry alone above the bound is not kept either.
    if (this.records > this.maxRecords) {
      this.entries.delete(key);
      this.records -= entry.uids.length;
    }
    if (this.entries.size > 0 && this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), Math.max(1000, this.idleMs / 4));
      this.sweeper.unref();
    }
  }

  /** Drops the entries unused for idleMs. */
  sweep(now = Date.now()): void {
    for (const [k, e] of this.entries) {
      if (now - e.used < this.idleMs) break;
      this.entries.delete(k);
      this.records -= e.uids.length;
    }
    if (this.entries.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }
}

/** The UIDs of `wanted` (ascending) not in `held` (ascending). */
async function absent(held: Uint32Array, wanted: readonly number[], pause: Pause): Promise<number[]> {
  const out: number[] = [];
  let h = 0;
  for (let i = 0; i < wanted.length; i++) {
    const uid = wanted[i]!;
    while (h < held.length && held[h]! < uid) h++;
    if (h === held.length || held[h] !== uid) out.push(uid);
    if ((i & (STEP - 1)) === STEP - 1) await pause();
  }
  return out;
}

/** The records (in their order) whose UID is in `uids` (ascending). */
async function only(records: SortRecord[], uids: readonly number[], pause: Pause): Promise<SortRecord[]> {
  const wanted = new Set(uids);
  const out: SortRecord[] = [];
  for (let i = 0; i < records.length; i++) {
    if (wanted.has(records[i]!.uid)) out.push(records[i]!);
    if ((i & (STEP - 1)) === STEP - 1) await pause();
  }
  return out;
}

/** `sorted` (in order) with `more` (any order) merged in, without holding the event loop long. */
async function sortMerge(
  sorted: SortRecord[],
  more: SortRecord[],
  cmp: Compare,
  pause: Pause,
): Promise<SortRecord[]> {
  const b = await sortYielding(more, cmp, pause);
  if (sorted.length === 0) return b;
  if (b.length === 0) return sorted;
  const out = new Array<SortRecord>(sorted.length + b.length);
  let x = 0;
  let y = 0;
  let o = 0;
  while (x < sorted.length && y < b.length) {
    out[o++] = cmp(b[y]!, sorted[x]!) < 0 ? b[y++]! : sorted[x++]!;
    if ((o & (STEP - 1)) === 0) await pause();
  }
  while (x < sorted.length) out[o++] = sorted[x++]!;
  while (y < b.length) out[o++] = b[y++]!;
  return out;
}

/** The entry of records in order: their UIDs ascending and the rank of each. */
async function sortEntry(records: SortRecord[], pause: Pause): Promise<SortEntry> {
  const n = records.length;
  const uids = new Uint32Array(n);
  for (let i = 0; i < n; i++) uids[i] = records[i]!.uid;
  uids.sort();
  await pause();
  const rank = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    rank[indexOf(uids, records[i]!.uid)] = i;
    if ((i & (STEP - 1)) === STEP - 1) await pause();
  }
  return { kind: 'sort', records, uids, rank, used: 0 };
}

function indexOf(uids: Uint32Array, uid: number): number {
  let lo = 0;
  let hi = uids.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = uids[mid]!;
    if (v < uid) lo = mid + 1;
    else if (v > uid) hi = mid - 1;
    else return mid;
  }
  return -1;
}

/**
 * `uids` (ascending) in the entry's order, as indices into `uids`; a UID the entry does not hold
 * (its message was expunged before its record could be read) is left out.
 */
async function ordered(entry: SortEntry, uids: readonly number[], pause: Pause): Promise<number[]> {
  // A slot per rank: the index in `uids` of the UID of that rank, -1 for UIDs not asked for.
  const slots = new Int32Array(entry.records.length).fill(-1);
  const held = entry.uids;
  let h = 0;
  for (let i = 0; i < uids.length; i++) {
    const uid = uids[i]!;
    while (h < held.length && held[h]! < uid) h++;
    if (h < held.length && held[h] === uid) slots[entry.rank[h]!] = i;
    if ((i & (STEP - 1)) === STEP - 1) await pause();
  }
  const out: number[] = [];
  for (let r = 0; r < slots.length; r++) {
    const i = slots[r]!;
    if (i >= 0) out.push(i);
  }
  return out;
}
