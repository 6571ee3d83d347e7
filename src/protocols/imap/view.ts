// A session's view of its selected mailbox (RFC 9051 §5.2, §7.4): the UIDs in sequence-number
// order plus the highest modseq the session has caught up to. Invariants:
// - the view changes only in sync(), which reads the store's change log after `modseq` and tells
//   the client in untagged responses what changed: EXPUNGE (only when the command allows it),
//   EXISTS (and RECENT for IMAP4rev1), then FETCH FLAGS;
// - a message expunged elsewhere stays in the view, with its sequence number, until an EXPUNGE
//   response may be sent (it is then `pendingExpunge`: fetches of it return nothing);
// - sync() is idempotent over overlapping reads: an `added` UID at or below the last known one,
//   or an `expunged` UID not in the view, is ignored, so opening (list then read the log from the
//   modseq read before the list) never counts a message twice;
// - no FETCH response shows a keyword the client has not been told of in FLAGS: whoever writes
//   flags (sync, STORE, FETCH) first passes them to announceKeywords().

import { indexOfSorted, lowerBound } from '../../core/sorted.js';
import type { Mailbox, MailStore } from '../../store/types.js';
import { atom, raw, type Atom, type ImapData } from '../../wire/imap/encoder.js';
import { SequenceSet, type SequenceSetSpec } from '../../wire/imap/sequence-set.js';
import { ImapBad } from './errors.js';

/** The system flags in the order FLAGS and PERMANENTFLAGS list them (Dovecot's order). */
export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

/** Atoms of the flags seen most (system flags and common keywords), made once. */
const FLAG_ATOMS = new Map<string, Atom>();
const MAX_FLAG_ATOMS = 1000;

function flagAtom(flag: string): Atom {
  let a = FLAG_ATOMS.get(flag);
  if (a === undefined) {
    a = atom(flag);
    if (FLAG_ATOMS.size < MAX_FLAG_ATOMS) FLAG_ATOMS.set(flag, a);
  }
  return a;
}

export interface SyncOptions {
  /** EXPUNGE responses may be sent now. */
  expunges: boolean;
  /** The current command is a UID command: unsolicited FETCH responses carry UID. */
  uid: boolean;
  /** IMAP4rev1 session: \Recent is claimed and RECENT sent. */
  rev1: boolean;
  /** CONDSTORE is on: FETCH responses carry MODSEQ. */
  condstore: boolean;
  /** QRESYNC is on: expunges are told as `* VANISHED uid-set` (RFC 7162 §3.2.10), not EXPUNGE. */
  qresync?: boolean;
}

export interface ViewOutput {
  untagged(...data: ImapData[]): void;
}

export class SelectedView {
  /**
   * UIDs in sequence-number order: uids[seq - 1]. At open it is the store's shared (cached)
   * array; it is copied before the first change (ownUids), so opening costs no copy.
   */
  private uids: number[];
  private sharedUids = true;
  /** Messages expunged in the store but still in the view (EXPUNGE not sent yet). */
  private readonly pendingExpunge = new Set<number>();
  /** \Recent messages of this session (IMAP4rev1). */
  readonly recent = new Set<number>();
  /** Flag changes this session already reported itself (STORE): uid -> modseq. */
  private readonly echoed = new Map<number, number>();
  /** Highest modseq whose changes are reflected in the view. */
  private modseq: number;
  /**
   * Keywords the client has been told of in FLAGS, sorted: those in use when the mailbox was
   * opened (the FLAGS and PERMANENTFLAGS of SELECT), then each one announced since.
   */
  keywords: string[] = [];
  /** The same keywords in lower case (keywords are case-insensitive, RFC 9051 §2.3.2). */
  private readonly announced = new Set<string>();
  /** Frozen flag lists (shared by the store) whose keywords are all announced. */
  private readonly announcedLists = new WeakSet<readonly string[]>();
  /** Sequence number of the first message without \Seen at open, 0 if none (rev1 [UNSEEN n]). */
  firstUnseenAtOpen = 0;
  /** RFC 5182 SEARCHRES: the UIDs saved by SEARCH RETURN (SAVE), named `$`; reset by SELECT. */
  saved: SequenceSet | null = null;
  /** RFC 4314: the user's rights on the mailbox as opened (all of them for its owner). */
  rights = 'lrswipkxtea';

  private constructor(
    readonly store: MailStore,
    readonly mailbox: Mailbox,
    readonly readOnly: boolean,
    uids: number[],
    modseq: number,
  ) {
    this.uids = uids;
    this.modseq = modseq;
  }

  /**
   * Opens a view of `mailbox` (as just read from the store). For IMAP4rev1 read-write opens,
   * the recent messages are claimed for this session.
   */
  static async open(
    store: MailStore,
    mailbox: Mailbox,
    opts: { readOnly: boolean; rev1: boolean; rights?: string },
  ): Promise<SelectedView> {
    const modseq = mailbox.highestModseq;
    const summary = await store.mailboxSummary(mailbox.id);
    const view = new SelectedView(store, mailbox, opts.readOnly, summary.uids as number[], modseq);
    if (opts.rights !== undefined) view.rights = opts.rights;
    view.keywords = [...summary.keywords].sort();
    for (const k of summary.keywords) view.announced.add(k.toLowerCase());
    view.firstUnseenAtOpen = summary.firstUnseenUid === 0 ? 0 : view.seqOf(summary.firstUnseenUid);
    if (opts.rev1) {
      // A read-only (EXAMINE) session sees \Recent without taking it (RFC 3501 §6.3.2).
      if (!opts.readOnly) view.addRecent(await store.claimRecent(mailbox.id));
      else view.addRecent(summary.uids.filter((uid) => uid > mailbox.recentUid));
    }
    return view;
  }

  get mailboxId(): number {
    return this.mailbox.id;
  }
  /** The number of messages as the client knows it (EXISTS). */
  get exists(): number {
    return this.uids.length;
  }
  get highestModseq(): number {
    return this.modseq;
  }
  /** The UIDs in sequence order (read-only view; do not keep it across awaits that sync). */
  get allUids(): readonly number[] {
    return this.uids;
  }

  uidAt(seq: number): number | undefined {
    return this.uids[seq - 1];
  }

  /** Sequence number of a UID, or 0 when it is not in the view. */
  seqOf(uid: number): number {
    const i = this.indexOf(uid);
    return i < 0 ? 0 : i + 1;
  }

  isExpunged(uid: number): boolean {
    return this.pendingExpunge.has(uid);
  }

  isRecent(uid: number): boolean {
    return this.recent.has(uid);
  }

  /**
   * When the recent messages are exactly the view's last ones (the usual case: \Recent goes to
   * the newest messages), the smallest recent UID: `uid >= it` then tells recency without a set
   * lookup. Otherwise null (no recent message, or a gap among them).
   */
  recentSuffixFrom(): number | null {
    const n = this.recent.size;
    if (n === 0) return null;
    let min = Infinity;
    for (const uid of this.recent) if (uid < min) min = uid;
    // The recent UIDs are all in the view (added only when in it, dropped when expunged) and
    // all >= min: they are the view's UIDs from min on exactly when there are as many.
    const from = lowerBound(this.uids, min);
    return this.uids.length - from === n ? min : null;
  }

  /** The largest UID in the view, 0 when empty. */
  get lastUid(): number {
    return this.uids.length === 0 ? 0 : this.uids[this.uids.length - 1]!;
  }

  /**
   * The UIDs (ascending) a sequence set names. Message numbers beyond EXISTS are a BAD
   * (RFC 9051 §6.4.5 "invalid message sequence number"); UIDs not in the view match nothing.
   */
  resolve(spec: SequenceSetSpec, opts: { uid: boolean }): number[] {
    if (spec.kind === 'saved') {
      // RFC 5182 §2.1: $ is the saved result (UIDs, whatever the command form); none: empty.
      return this.saved === null ? [] : this.uidsIn(this.saved);
    }
    if (opts.uid) return this.uidsIn(SequenceSet.resolve(spec, this.lastUid));
    const set = SequenceSet.resolve(spec, this.uids.length);
    const max = set.max;
    if (max !== null && max > this.uids.length) throw new ImapBad('Invalid message sequence number');
    const out: number[] = [];
    for (const [lo, hi] of set.ranges) for (let s = lo; s <= hi; s++) out.push(this.uids[s - 1]!);
    return out;
  }

  /** The UIDs of the view inside a set of UIDs, ascending. */
  uidsIn(set: SequenceSet): number[] {
    // Each range is a contiguous stretch of the sorted UIDs: copied with slice(), which for
    // `1:*` over 100,000 messages is a tenth of the time of pushing them one by one.
    let out: number[] | null = null;
    for (const [lo, hi] of set.ranges) {
      const part = this.uids.slice(this.lowerBound(lo), this.lowerBound(hi + 1));
      if (part.length === 0) continue;
      if (out === null) out = part;
      else for (const uid of part) out.push(uid);
    }
    return out ?? [];
  }

  /** Records a flag change this session reported itself, so sync() does not repeat it. */
  noteEchoed(uid: number, modseq: number): void {
    this.echoed.set(uid, modseq);
  }

  addRecent(uids: readonly number[]): void {
    for (const uid of uids) if (this.indexOf(uid) >= 0) this.recent.add(uid);
  }

  /** Reads the change log and reports what changed. */
  async sync(out: ViewOutput, opts: SyncOptions): Promise<void> {
    const changes = await this.store.changesSince(this.mailbox.id, this.modseq);
    if (changes.length === 0 && (this.pendingExpunge.size === 0 || !opts.expunges)) return;
    let added = 0;
    let last = this.lastUid;
    /** UIDs above this were added in this pass: the client has not been told of them yet. */
    const known = last;
    const flagUpdates = new Map<number, { flags: string[]; modseq: number }>();
    for (const c of changes) {
      if (c.modseq > this.modseq) this.modseq = c.modseq;
      switch (c.kind) {
        case 'added':
          if (c.uid > last) {
            this.ownUids().push(c.uid);
            last = c.uid;
            added++;
          }
          break;
        case 'flags':
          if (this.echoed.get(c.uid) === c.modseq) break;
          if (this.indexOf(c.uid) >= 0 && !this.pendingExpunge.has(c.uid)) {
            flagUpdates.set(c.uid, { flags: c.flags, modseq: c.modseq });
          }
          break;
        case 'expunged': {
          const i = this.indexOf(c.uid);
          if (i < 0) break;
          flagUpdates.delete(c.uid);
          if (c.uid > known) {
            // Added and expunged since the last sync: the client never saw it, so it simply
            // never appears (an EXPUNGE for it would name a number beyond the known EXISTS).
            this.ownUids().splice(i, 1);
            this.recent.delete(c.uid);
            added--;
          } else this.pendingExpunge.add(c.uid);
          break;
        }
      }
    }
    for (const [uid, m] of this.echoed) if (m <= this.modseq) this.echoed.delete(uid);

    if (opts.expunges && this.pendingExpunge.size > 0) this.sendExpunges(out, opts.qresync === true);
    if (added > 0) {
      out.untagged(this.uids.length, atom('EXISTS'));
      if (opts.rev1) {
        if (!this.readOnly) this.addRecent(await this.store.claimRecent(this.mailbox.id));
        else this.addRecent(this.uids.slice(this.uids.length - added));
        out.untagged(this.recent.size, atom('RECENT'));
      }
    }
    if (flagUpdates.size > 0) this.announceKeywords(out, flagUpdates.values());
    for (const [uid, { flags, modseq }] of flagUpdates) {
      const seq = this.seqOf(uid);
      if (seq === 0) continue;
      const items: ImapData[] = [];
      // With QRESYNC the client keys its cache by UID: every FETCH carries it (as Dovecot does).
      if (opts.uid || opts.qresync === true) items.push(atom('UID'), uid);
      items.push(atom('FLAGS'), this.flagAtoms(uid, flags, opts.rev1));
      if (opts.condstore) items.push(atom('MODSEQ'), [modseq]);
      out.untagged(seq, atom('FETCH'), items);
    }
  }

  /**
   * Sends FLAGS again (and PERMANENTFLAGS, read-write only) when the flags of `messages` hold
   * keywords the client has not been told of, before the FETCH responses that show them.
   * RFC 9051 §7.3.5: FLAGS names the flags that apply to the mailbox and the client records
   * each update; a keyword another session created reaches this one only this way (Dovecot
   * does the same).
   */
  announceKeywords(out: ViewOutput, messages: Iterable<{ readonly flags: readonly string[] }>): void {
    let added: string[] | null = null;
    for (const { flags: list } of messages) {
      if (this.announcedLists.has(list)) continue;
      for (const flag of list) {
        if (flag.charCodeAt(0) === 0x5c /* \ */) continue;
        const key = flag.toLowerCase();
        if (this.announced.has(key)) continue;
        this.announced.add(key);
        (added ??= []).push(flag);
      }
      if (Object.isFrozen(list)) this.announcedLists.add(list);
    }
    if (added === null) return;
    this.keywords = [...this.keywords, ...added].sort();
    const flags = [...SYSTEM_FLAGS, ...this.keywords];
    out.untagged(atom('FLAGS'), flags.map(flagAtom));
    if (!this.readOnly) {
      out.untagged(atom('OK'), raw(`[PERMANENTFLAGS (${[...flags, '\\*'].join(' ')})] Flags permitted.`));
    }
  }

  /** FLAGS as atoms, with \Recent for IMAP4rev1 sessions that hold it. */
  flagAtoms(uid: number, flags: readonly string[], rev1: boolean): ImapData[] {
    const out: ImapData[] = flags.map(flagAtom);
    if (rev1 && this.recent.has(uid)) out.push(atom('\\Recent'));
    return out;
  }

  /**
   * EXPUNGE responses in ascending order, each number valid when sent (RFC 9051 §7.5.1); with
   * QRESYNC one `* VANISHED uid-set` instead (RFC 7162 §3.2.10).
   */
  private sendExpunges(out: ViewOutput, vanished: boolean): void {
    let removed = 0;
    const keep: number[] = [];
    for (let i = 0; i < this.uids.length; i++) {
      const uid = this.uids[i]!;
      if (this.pendingExpunge.has(uid)) {
        if (!vanished) out.untagged(i + 1 - removed, atom('EXPUNGE'));
        removed++;
        this.recent.delete(uid);
      } else keep.push(uid);
    }
    if (vanished)
      out.untagged(atom('VANISHED'), atom(SequenceSet.fromNumbers(this.pendingExpunge).toString()));
    this.uids = keep;
    this.sharedUids = false;
    this.pendingExpunge.clear();
  }

  /** The UID array, copied first if it is still the store's shared one. */
  private ownUids(): number[] {
    if (this.sharedUids) {
      this.uids = this.uids.slice();
      this.sharedUids = false;
    }
    return this.uids;
  }

  private lowerBound(uid: number): number {
    return lowerBound(this.uids, uid);
  }

  private indexOf(uid: number): number {
    return indexOfSorted(this.uids, uid);
  }
}
