// Account-scoped change notification (MailStore.watchAccount, for IMAP NOTIFY), built on the
// process's one ChangeFeed. Invariants:
// - it adds no polling of its own: the backend's feed already learns of every change (its own
//   commits, and other processes' through its poll of new change rows), and this only sorts
//   each dispatched batch of mailbox ids by account;
// - a mailbox's account is looked up once (ownerOf, one indexed read) and remembered only for
//   watched accounts; ids of other accounts' mailboxes are remembered in a bounded set, so
//   memory is bounded by the watched accounts' mailboxes plus FOREIGN_MAX;
// - a watched account's mailboxes are known from the first watch on (primed with their ids), so
//   a later delete, whose row is gone when the notification comes, is still told to the account.

import type { ChangeFeed } from './change-feed.js';

export type AccountListener = (mailboxIds: readonly number[]) => void;

/** Ids of other accounts' mailboxes remembered (then forgotten all at once). */
const FOREIGN_MAX = 4096;

export interface AccountWatchOptions {
  feed: ChangeFeed;
  /** The account owning a mailbox, or null when it does not exist (any more). */
  ownerOf(mailboxId: number): number | null;
  /** The ids of an account's mailboxes now. */
  mailboxIdsOf(accountId: number): number[];
}

export class AccountWatch {
  private readonly listeners = new Map<number, Set<AccountListener>>();
  /** Mailbox id -> account id, for the mailboxes of watched accounts. */
  private readonly owner = new Map<number, number>();
  private readonly foreign = new Set<number>();
  private unwatchFeed: (() => void) | null = null;

  constructor(private readonly opts: AccountWatchOptions) {}

  watch(accountId: number, listener: AccountListener): () => void {
    let set = this.listeners.get(accountId);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(accountId, set);
      for (const id of this.opts.mailboxIdsOf(accountId)) {
        this.owner.set(id, accountId);
        this.foreign.delete(id);
      }
    }
    const entry: AccountListener = (ids) => listener(ids);
    set.add(entry);
    this.unwatchFeed ??= this.opts.feed.watchAll((ids) => this.dispatch(ids));
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const current = this.listeners.get(accountId);
      if (current === undefined || !current.delete(entry) || current.size > 0) return;
      this.listeners.delete(accountId);
      for (const [id, acc] of this.owner) if (acc === accountId) this.owner.delete(id);
      if (this.listeners.size === 0) {
        this.unwatchFeed?.();
        this.unwatchFeed = null;
        this.foreign.clear();
      }
    };
  }

  private dispatch(ids: readonly number[]): void {
    const byAccount = new Map<number, number[]>();
    for (const id of ids) {
      const account = this.accountOf(id);
      if (account === null) continue;
      let list = byAccount.get(account);
      if (list === undefined) byAccount.set(account, (list = []));
      list.push(id);
    }
    for (const [account, list] of byAccount) {
      const set = this.listeners.get(account);
      if (set === undefined) continue;
      for (const listener of Array.from(set)) listener(list);
    }
  }

  private accountOf(id: number): number | null {
    const known = this.owner.get(id);
    if (known !== undefined) return known;
    if (this.foreign.has(id)) return null;
    const account = this.opts.ownerOf(id);
    if (account === null) return null;
    if (this.listeners.has(account)) {
      this.owner.set(id, account);
      return account;
    }
    if (this.foreign.size >= FOREIGN_MAX) this.foreign.clear();
    this.foreign.add(id);
    return null;
  }
}
