// One session's NOTIFY (RFC 5465): what it asked for, what it last told the client of its
// account's mailboxes, and the untagged responses that bring the client up to date.
// Invariants:
// - it watches the account through the store's account watch (one listener per session on the
//   process's one change feed): it never polls mailboxes itself, and does work only when one of
//   the account's mailboxes changed;
// - the listener only marks work and wakes the session; responses are written by deliver(),
//   which the session calls where untagged responses may go (between commands, after a
//   command, in IDLE), never while another command's handler runs;
// - non-selected mailboxes are told as STATUS (message events, §5.1-§5.3) and LIST (mailbox
//   name and subscription events, §5.4, §5.5), from a diff of the account's mailboxes and
//   subscriptions against the last ones told; the selected mailbox through the view's sync;
// - metadata changes (RFC 5465 §5.7) are told as METADATA with entry names only (RFC 5464
//   §4.4.2), from a diff of the changed mailbox's entries (and, when INBOX changed, where the
//   store logs server-level changes, the server entries) against digests of those last read;
// - memory is bounded: the pending set holds at most the account's mailbox ids, and once the
//   client leaves more than OVERFLOW_BYTES unread, NOTIFICATIONOVERFLOW ends NOTIFY (§5.8).

import { createHash } from 'node:crypto';
import { StoreError } from '../../core/errors.js';
import type { MetadataTarget } from '../../store/metadata-types.js';
import type { Mailbox } from '../../store/types.js';
import { MAILBOX_DELIMITER } from '../../store/types.js';
import { atom, raw, type ImapData } from '../../wire/imap/encoder.js';
import { fetchNewMessages } from './commands/fetch.js';
import { mailboxNameData } from './commands/mailbox-name-data.js';
import type { ImapSessionContext } from './context.js';
import { mailboxWire } from './mailbox-name.js';
import { entryData } from './metadata-entry.js';
import {
  filterMatches,
  isMessageEvent,
  type EventGroup,
  type NotifyEvent,
  type NotifyRequest,
} from './notify-request.js';

/** Unsent output past which the session's notifications overflow (RFC 5465 §5.8). */
export const OVERFLOW_BYTES = 1024 * 1024;

/** Where the session is when it lets the notifier write. */
export type DeliveryPoint =
  /** No command runs (RFC 5465 §3: notifications may be sent at any time). */
  | 'between'
  /** A command ended; its view sync already ran. */
  | 'afterCommand'
  /** In IDLE: expunges may be sent (RFC 2177). */
  | 'idle';

interface Told {
  name: string;
  uidValidity: number;
  uidNext: number;
  messages: number;
  unseen: number;
  highestModseq: number;
}

function told(m: Mailbox): Told {
  return {
    name: m.name,
    uidValidity: m.uidValidity,
    uidNext: m.uidNext,
    messages: m.messages,
    unseen: m.unseen,
    highestModseq: m.highestModseq,
  };
}

/** The names whose values differ between two reads (added, changed or removed), sorted. */
export function changedNames(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): string[] {
  const out: string[] = [];
  for (const [name, digest] of after) if (before.get(name) !== digest) out.push(name);
  for (const name of before.keys()) if (!after.has(name)) out.push(name);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export class Notifier {
  /** Account mailboxes changed since the last delivery (the selected one included). */
  private readonly dirty = new Set<number>();
  private known = new Map<number, Told>();
  private subscribed = new Set<string>();
  private unwatch: (() => void) | null = null;
  private readonly selectedGroup: EventGroup | null;
  private readonly otherGroups: EventGroup[];
  /** Whether LIST or subscription state must be re-read on each change. */
  private readonly wantsStructure: boolean;
  private readonly wantsSubscriptions: boolean;
  private readonly wantsMailboxMetadata: boolean;
  private readonly wantsServerMetadata: boolean;
  /** Entry name -> value digest, per mailbox id, as last read (only with MailboxMetadataChange). */
  private readonly mailboxEntries = new Map<number, Map<string, string>>();
  private serverEntries = new Map<string, string>();
  private stopped = false;

  constructor(
    private readonly ctx: ImapSessionContext,
    readonly request: NotifyRequest,
    private readonly wake: () => void,
  ) {
    this.selectedGroup = request.groups.find((g) => g.filter.kind === 'selected') ?? null;
    this.otherGroups = request.groups.filter((g) => g.filter.kind !== 'selected');
    const any = (e: NotifyEvent): boolean => this.otherGroups.some((g) => g.events.has(e));
    this.wantsSubscriptions =
      any('SubscriptionChange') || this.otherGroups.some((g) => g.filter.kind === 'subscribed');
    this.wantsStructure = any('MailboxName') || this.wantsSubscriptions;
    this.wantsMailboxMetadata = any('MailboxMetadataChange');
    this.wantsServerMetadata = any('ServerMetadataChange');
  }

  /** Whether there is something to tell (the session calls deliver() then). */
  get pending(): boolean {
    return !this.stopped && this.dirty.size > 0;
  }

  /** The fetch attributes of the selected mailbox's MessageNew, if any (§5.1). */
  get newMessageItems(): EventGroup['fetchItems'] {
    return this.selectedGroup?.events.has('MessageNew') === true ? this.selectedGroup.fetchItems : null;
  }

  /** Starts watching; with NOTIFY SET STATUS, writes the STATUS of each mailbox concerned. */
  async start(opts: { status: boolean }): Promise<void> {
    const state = this.ctx.state;
    if (state.kind !== 'authenticated' && state.kind !== 'selected') return;
    const accountId = state.account.id;
    const store = this.ctx.env.store;
    // Watch first, then read: a change between the two is delivered (a repeat is harmless).
    this.unwatch = store.watchAccount(accountId, (ids) => {
      if (this.stopped) return;
      for (const id of ids) this.dirty.add(id);
      this.wake();
    });
    const boxes = await store.listMailboxes(accountId);
    this.subscribed = new Set(this.wantsSubscriptions ? await store.listSubscriptions(accountId) : []);
    this.known = new Map(boxes.map((b) => [b.id, told(b)]));
    // The entries as they are now: later changes are told against these.
    if (this.wantsMailboxMetadata) {
      for (const b of boxes) {
        const entries = await this.readEntries({ accountId, mailboxId: b.id });
        if (entries !== null) this.mailboxEntries.set(b.id, entries);
      }
    }
    if (this.wantsServerMetadata)
      this.serverEntries = (await this.readEntries({ accountId, mailboxId: null })) ?? new Map();
    if (!opts.status) return;
    const selectedId = this.selectedId();
    for (const b of boxes) {
      if (b.id === selectedId) continue;
      const events = this.eventsFor(b.name);
      if ([...events].some(isMessageEvent)) this.writeStatus(b);
    }
  }

  stop(): void {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = null;
    this.dirty.clear();
    this.mailboxEntries.clear();
    this.serverEntries.clear();
  }

  /** Writes what changed since the last delivery. */
  async deliver(point: DeliveryPoint): Promise<void> {
    if (!this.pending) return;
    // §5.8: a client that does not read its notifications loses them, not the server's memory.
    if (this.ctx.conn.pendingBytes > OVERFLOW_BYTES) {
      this.stop();
      this.ctx.untagged(atom('OK'), raw('[NOTIFICATIONOVERFLOW] Too many notifications, NOTIFY is off'));
      return;
    }
    const selectedId = this.selectedId();
    const ids = [...this.dirty];
    this.dirty.clear();
    // After a command its sync has run, but a change may have landed since it read the log:
    // the mark stays for the delivery before the session next waits (a repeat finds nothing).
    if (point === 'afterCommand' && selectedId !== null && ids.includes(selectedId))
      this.dirty.add(selectedId);
    if (selectedId !== null && ids.includes(selectedId)) await this.deliverSelected(point);
    const others = ids.filter((id) => id !== selectedId);
    if (others.length > 0 || (this.wantsStructure && selectedId !== null && ids.includes(selectedId)))
      await this.deliverOthers(others);
    // The selected mailbox too: its metadata is no message event (§6.1 leaves it to the others).
    if (this.wantsMailboxMetadata || this.wantsServerMetadata) await this.deliverMetadata(ids);
  }

  /** A target's entries as name -> digest of the value; null when the mailbox is gone. */
  private async readEntries(target: MetadataTarget): Promise<Map<string, string> | null> {
    try {
      const entries = await this.ctx.env.store.getMetadata(target);
      // Digests, not values: a session holds 32 octets per entry, not up to 64 KiB.
      return new Map(entries.map((e) => [e.name, createHash('sha256').update(e.value).digest('base64')]));
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NOT_FOUND') return null;
      throw err;
    }
  }

  /**
   * RFC 5465 §5.7 with RFC 5464 §4.4.2: `* METADATA mailbox entry ...` naming the entries set,
   * changed or removed since last read (no values); mailbox "" for the server level, whose
   * changes the store logs on INBOX. Private entries are the account's own, so all are told.
   */
  private async deliverMetadata(ids: readonly number[]): Promise<void> {
    const state = this.ctx.state;
    if (state.kind !== 'authenticated' && state.kind !== 'selected') return;
    const accountId = state.account.id;
    for (const id of ids) {
      const m = await this.ctx.env.store.getMailboxById(id);
      if (m === null || m.accountId !== accountId) {
        this.mailboxEntries.delete(id);
        continue;
      }
      if (this.wantsServerMetadata && m.name === 'INBOX') {
        const now = await this.readEntries({ accountId, mailboxId: null });
        if (now !== null) {
          const changed = changedNames(this.serverEntries, now);
          this.serverEntries = now;
          if (changed.length > 0) this.ctx.untagged(atom('METADATA'), '', ...changed.map(entryData));
        }
      }
      if (!this.wantsMailboxMetadata) continue;
      const now = await this.readEntries({ accountId, mailboxId: id });
      if (now === null) {
        this.mailboxEntries.delete(id);
        continue;
      }
      // A mailbox unknown at the last read was created since: it had no entries.
      const changed = changedNames(this.mailboxEntries.get(id) ?? new Map(), now);
      this.mailboxEntries.set(id, now);
      if (changed.length === 0 || !this.eventsFor(m.name).has('MailboxMetadataChange')) continue;
      const name = mailboxNameData(mailboxWire(m.name, { utf8: this.ctx.utf8 }));
      this.ctx.untagged(atom('METADATA'), name, ...changed.map(entryData));
    }
  }

  private selectedId(): number | null {
    const state = this.ctx.state;
    return state.kind === 'selected' ? state.view.mailboxId : null;
  }

  /**
   * The selected mailbox: after a command its sync already ran; in IDLE every change may go;
   * between commands only with a SELECTED filter that has message events, and expunges only
   * with SELECTED (§6.1: SELECTED-DELAYED keeps them for when RFC 9051 §7.5.1 allows them).
   */
  private async deliverSelected(point: DeliveryPoint): Promise<void> {
    if (point === 'afterCommand') return;
    if (point === 'idle') {
      await this.ctx.syncView({ expunges: true, uid: false });
      return;
    }
    const group = this.selectedGroup;
    if (group === null || group.events.size === 0 || group.filter.kind !== 'selected') return;
    const expunges = !group.filter.delayed && group.events.has('MessageExpunge');
    await this.ctx.syncView({ expunges, uid: false });
  }

  private async deliverOthers(changed: number[]): Promise<void> {
    const state = this.ctx.state;
    if (state.kind !== 'authenticated' && state.kind !== 'selected') return;
    const store = this.ctx.env.store;
    const accountId = state.account.id;
    const structural = this.wantsStructure || changed.some((id) => !this.known.has(id));
    let now: Mailbox[];
    if (structural) now = await store.listMailboxes(accountId);
    else {
      // Only messages changed in mailboxes already known: read just those rows.
      const rows = await Promise.all(changed.map((id) => store.getMailboxById(id)));
      if (rows.some((r) => r === null)) now = await store.listMailboxes(accountId);
      else now = rows as Mailbox[];
    }
    const before = this.known;
    const after = structural ? new Map<number, Told>() : new Map(before);
    for (const m of now) after.set(m.id, told(m));
    const oldSubs = this.subscribed;
    if (this.wantsSubscriptions) this.subscribed = new Set(await store.listSubscriptions(accountId));
    this.known = after;

    const selectedId = this.selectedId();
    const wire = (name: string): ImapData => mailboxNameData(mailboxWire(name, { utf8: this.ctx.utf8 }));
    const byId = new Map(now.map((m) => [m.id, m]));
    // §5.4 MailboxName: deleted ones first, then renamed and created ones, in name order.
    if (structural) {
      for (const [id, old] of before) {
        if (after.has(id) || !this.eventsFor(old.name).has('MailboxName')) continue;
        this.ctx.untagged(atom('LIST'), [atom('\\NonExistent')], MAILBOX_DELIMITER, wire(old.name));
      }
      for (const m of [...now].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        const old = before.get(m.id);
        if (old !== undefined && old.name === m.name) continue;
        const named = this.eventsFor(m.name).has('MailboxName');
        if (old === undefined) {
          if (named)
            this.ctx.untagged(atom('LIST'), this.attributes(m.name), MAILBOX_DELIMITER, wire(m.name));
        } else if (named || this.eventsFor(old.name).has('MailboxName')) {
          // RFC 5465 §5.4: a rename is a LIST of the new name with OLDNAME.
          this.ctx.untagged(atom('LIST'), this.attributes(m.name), MAILBOX_DELIMITER, wire(m.name), [
            'OLDNAME',
            [wire(old.name)],
          ]);
        }
      }
    }
    // §5.5 SubscriptionChange: LIST with or without \Subscribed.
    if (this.wantsSubscriptions) {
      for (const name of [...this.subscribed].sort()) {
        if (oldSubs.has(name) || !this.eventsFor(name).has('SubscriptionChange')) continue;
        const attrs = [atom('\\Subscribed')];
        if (![...byId.values()].some((m) => m.name === name)) attrs.unshift(atom('\\NonExistent'));
        this.ctx.untagged(atom('LIST'), attrs, MAILBOX_DELIMITER, wire(name));
      }
      for (const name of [...oldSubs].sort()) {
        if (this.subscribed.has(name) || !this.eventsFor(name).has('SubscriptionChange')) continue;
        this.ctx.untagged(atom('LIST'), [], MAILBOX_DELIMITER, wire(name));
      }
    }
    // §5.1-§5.3: message events of other mailboxes are told as STATUS.
    for (const id of changed) {
      if (id === selectedId) continue;
      const m = byId.get(id);
      const old = before.get(id);
      if (m === undefined || old === undefined || old.name !== m.name) continue;
      const events = this.eventsFor(m.name);
      const messages =
        old.uidNext !== m.uidNext || old.messages !== m.messages || old.uidValidity !== m.uidValidity;
      const flags = old.unseen !== m.unseen || old.highestModseq !== m.highestModseq;
      if (messages && (events.has('MessageNew') || events.has('MessageExpunge'))) this.writeStatus(m);
      else if (!messages && flags && events.has('FlagChange')) this.writeStatus(m);
    }
  }

  private attributes(name: string): ImapData[] {
    return this.subscribed.has(name) ? [atom('\\Subscribed')] : [];
  }

  /**
   * The events the non-selected filters give this mailbox: the union over the groups that name
   * it (RFC 5465 §6 leaves overlaps to the server; a union loses nothing the client asked for).
   */
  private eventsFor(name: string): Set<NotifyEvent> {
    const out = new Set<NotifyEvent>();
    for (const g of this.otherGroups) {
      if (!filterMatches(g.filter, name, this.subscribed)) continue;
      for (const e of g.events) out.add(e);
    }
    return out;
  }

  /**
   * RFC 5465 §5.1-§5.3: a non-selected mailbox's changes as STATUS with MESSAGES, UIDNEXT,
   * UIDVALIDITY and UNSEEN, and HIGHESTMODSEQ once CONDSTORE is on (RFC 7162 §3.2.4).
   */
  private writeStatus(m: Mailbox): void {
    const items: ImapData[] = [
      atom('MESSAGES'),
      m.messages,
      atom('UIDNEXT'),
      m.uidNext,
      atom('UIDVALIDITY'),
      m.uidValidity,
      atom('UNSEEN'),
      m.unseen,
    ];
    if (this.ctx.enabled.has('CONDSTORE')) items.push(atom('HIGHESTMODSEQ'), m.highestModseq);
    const name = mailboxNameData(mailboxWire(m.name, { utf8: this.ctx.utf8 }));
    this.ctx.untagged(atom('STATUS'), name, items);
  }

  /** §5.1: FETCH of the selected mailbox's new messages, with MessageNew's attributes. */
  async fetchNew(uids: readonly number[]): Promise<void> {
    const items = this.newMessageItems;
    if (items === null || uids.length === 0 || this.stopped) return;
    await fetchNewMessages(this.ctx, uids, items);
  }
}
