// The flags of every message of a large mailbox, held in memory and brought up to date from the
// change log, so FETCH of flags over a whole mailbox (`UID FETCH 1:* (UID FLAGS)`, what a client
// resynchronising sends) reads no message rows. Backend-independent: a backend loads it from
// its rows as text and feeds it its change log (sqlite: sqlite/flag-reads.ts). Invariants:
// - an index describes its mailbox exactly at `modseq` (and `uidValidity`); the store reads the
//   changes after `modseq` before each use, so a change made by any process is seen;
// - the change log keeps, per message, its `added` row and at most its latest `flags` row (older
//   ones are deleted when superseded, and all of them on expunge), so applying the rows after
//   `modseq` in modseq order gives the current state; anything that does not fit (a flags row for
//   an unknown UID, an added UID below the last one) makes the caller rebuild;
// - flag lists are frozen and shared between messages with the same flags: read-only for callers.

import { indexOfSorted, lowerBound } from '../core/sorted.js';
import type { MessageFlags } from './types.js';
import { flagList } from './rules/flags.js';

const TAB = 9;
const LF = 10;
const DIGIT_0 = 48;
/** Distinct flag lists remembered for sharing; past this the memo starts again. */
const MAX_LISTS = 4096;

/** A change-log row as the store reads it. */
export interface FlagChangeRow {
  kind: 'added' | 'flags' | 'expunged';
  modseq: number;
  uid: number;
  bits: number;
  keywords: string | null;
}

export class FlagIndex {
  private uids: number[] = [];
  private modseqs: number[] = [];
  private flags: Array<readonly string[]> = [];
  /** Frozen flag lists by "bits[ TAB keywords]". */
  private readonly lists = new Map<string, readonly string[]>();

  constructor(
    readonly uidValidity: number,
    public modseq: number,
  ) {}

  get size(): number {
    return this.uids.length;
  }

  /**
   * Fills the index from "uid TAB modseq TAB bits [TAB keywords]" rows joined by LF (the
   * store's group_concat); false when the rows are not in ascending UID order.
   */
  load(text: string): boolean {
    const n = text.length;
    let i = 0;
    let last = 0;
    while (i < n) {
      let uid = 0;
      let c = text.charCodeAt(i++);
      for (; c !== TAB; c = text.charCodeAt(i++)) uid = uid * 10 + c - DIGIT_0;
      let modseq = 0;
      for (c = text.charCodeAt(i++); c !== TAB; c = text.charCodeAt(i++)) modseq = modseq * 10 + c - DIGIT_0;
      const start = i;
      while (i < n && text.charCodeAt(i) !== LF) i++;
      const key = text.slice(start, i);
      i++;
      if (uid <= last) return false;
      last = uid;
      this.uids.push(uid);
      this.modseqs.push(modseq);
      this.flags.push(this.list(key));
    }
    return true;
  }

  /** Applies change-log rows (modseq order); false when they do not fit (rebuild instead). */
  apply(rows: readonly FlagChangeRow[], modseq: number): boolean {
    let expunged: Set<number> | null = null;
    for (const r of rows) {
      if (r.kind === 'expunged') {
        (expunged ??= new Set()).add(r.uid);
        continue;
      }
      const flags = this.list(
        r.keywords === null || r.keywords === '' ? String(r.bits) : `${r.bits}\t${r.keywords}`,
      );
      const last = this.uids.length === 0 ? 0 : this.uids[this.uids.length - 1]!;
      if (r.kind === 'added' && r.uid > last) {
        this.uids.push(r.uid);
        this.modseqs.push(r.modseq);
        this.flags.push(flags);
        continue;
      }
      const i = this.indexOf(r.uid);
      if (i < 0) return false;
      this.modseqs[i] = r.modseq;
      this.flags[i] = flags;
    }
    if (expunged !== null) {
      let w = 0;
      for (let r = 0; r < this.uids.length; r++) {
        if (expunged.has(this.uids[r]!)) continue;
        this.uids[w] = this.uids[r]!;
        this.modseqs[w] = this.modseqs[r]!;
        this.flags[w] = this.flags[r]!;
        w++;
      }
      this.uids.length = w;
      this.modseqs.length = w;
      this.flags.length = w;
    }
    this.modseq = modseq;
    return true;
  }

  /** The messages among `sorted` (ascending UIDs) that the index holds, in UID order. */
  lookup(sorted: readonly number[]): MessageFlags[] {
    const out: MessageFlags[] = [];
    if (sorted.length === 0) return out;
    // Both lists ascend: walk them side by side from the first candidate.
    let i = this.lowerBound(sorted[0]!);
    for (const uid of sorted) {
      while (i < this.uids.length && this.uids[i]! < uid) i++;
      if (i === this.uids.length) break;
      if (this.uids[i] === uid) out.push({ uid, modseq: this.modseqs[i]!, flags: this.flags[i]! });
    }
    return out;
  }

  private list(key: string): readonly string[] {
    let flags = this.lists.get(key);
    if (flags === undefined) {
      if (this.lists.size >= MAX_LISTS) this.lists.clear();
      const tab = key.indexOf('\t');
      flags = Object.freeze(
        tab < 0 ? flagList(Number(key), null) : flagList(Number(key.slice(0, tab)), key.slice(tab + 1)),
      );
      this.lists.set(key, flags);
    }
    return flags;
  }

  private lowerBound(uid: number): number {
    return lowerBound(this.uids, uid);
  }

  private indexOf(uid: number): number {
    return indexOfSorted(this.uids, uid);
  }
}
