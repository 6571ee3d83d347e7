// The arguments of NOTIFY (RFC 5465 §3, §8): `NOTIFY NONE` or `NOTIFY SET [STATUS] event-group
// *(SP event-group)`, each group a mailbox filter (§6) and its events (§5) or NONE. Parsing
// checks everything the RFC makes a client error (BAD) before the events Postern does not
// serve (NO [BADEVENT], §3.1), so the answer does not depend on the order of the groups.

import { atom } from '../../wire/imap/encoder.js';
import { parseFetchItems, FetchParseError } from '../../wire/imap/fetch.js';
import type { ImapToken } from '../../wire/imap/reader.js';
import { ImapBad, ImapNo } from './errors.js';
import { mailboxArg } from './mailbox-name.js';

/**
 * The events Postern serves (RFC 5465 §5.1-§5.5, and §5.7's metadata events, REQUIRED with
 * METADATA): MailboxMetadataChange is a mailbox event told for the mailboxes its filter
 * names; ServerMetadataChange concerns no mailbox, so any filter but SELECTED carries it.
 */
export type NotifyEvent =
  | 'MessageNew'
  | 'MessageExpunge'
  | 'FlagChange'
  | 'MailboxName'
  | 'SubscriptionChange'
  | 'MailboxMetadataChange'
  | 'ServerMetadataChange';

/** Spelled as RFC 5465 §8 spells them; matched case-insensitively. */
export const SUPPORTED_EVENTS: readonly NotifyEvent[] = [
  'MessageNew',
  'MessageExpunge',
  'FlagChange',
  'MailboxName',
  'SubscriptionChange',
  'MailboxMetadataChange',
  'ServerMetadataChange',
];

/** The event of RFC 5465 §5 that needs ANNOTATE (RFC 5257), which Postern lacks. */
const UNSUPPORTED_KNOWN = ['ANNOTATIONCHANGE'];

const MESSAGE_EVENTS: ReadonlySet<NotifyEvent> = new Set(['MessageNew', 'MessageExpunge', 'FlagChange']);

export type MailboxFilter =
  /** §6.1: the selected mailbox; `delayed` (SELECTED-DELAYED) holds expunges to the usual times. */
  | { kind: 'selected'; delayed: boolean }
  /** §6.2-§6.4 */
  | { kind: 'inboxes' }
  | { kind: 'personal' }
  | { kind: 'subscribed' }
  /** §6.5, §6.6: names as Unicode text (wire form decoded). */
  | { kind: 'subtree'; names: readonly string[] }
  | { kind: 'mailboxes'; names: readonly string[] };

export interface EventGroup {
  filter: MailboxFilter;
  events: ReadonlySet<NotifyEvent>;
  /** The fetch-att list after MessageNew (only for the selected mailbox, §5.1), as sent. */
  fetchItems: ImapToken | null;
}

export interface NotifyRequest {
  /** NOTIFY SET STATUS: send the STATUS of each matching mailbox now (§3.1). */
  status: boolean;
  groups: EventGroup[];
}

/** Groups per command; more is a client gone wrong, not a real need. */
const MAX_GROUPS = 64;
/** Mailbox names per SUBTREE or MAILBOXES filter. */
const MAX_NAMES = 1000;

function word(token: ImapToken | undefined): string | null {
  return token?.kind === 'atom' ? token.value.toUpperCase() : null;
}

/** Parses NOTIFY's arguments; null for NOTIFY NONE. */
export function parseNotify(
  args: readonly ImapToken[],
  opts: { utf8: boolean; rev2: boolean },
): NotifyRequest | null {
  const verb = word(args[0]);
  if (verb === 'NONE') {
    if (args.length !== 1) throw new ImapBad('NOTIFY NONE takes no arguments');
    return null;
  }
  if (verb !== 'SET') throw new ImapBad('NOTIFY SET or NOTIFY NONE expected');
  let i = 1;
  const status = word(args[i]) === 'STATUS';
  if (status) i++;
  const tokens = args.slice(i);
  if (tokens.length === 0) throw new ImapBad('NOTIFY SET needs at least one event group');
  if (tokens.length > MAX_GROUPS) throw new ImapBad(`At most ${MAX_GROUPS} event groups`);
  const unsupported: string[] = [];
  const groups = tokens.map((t) => parseGroup(t, opts, unsupported));
  if (groups.filter((g) => g.filter.kind === 'selected').length > 1)
    throw new ImapBad('SELECTED and SELECTED-DELAYED may be given once');
  // §3.1: an event the server does not support fails the command with BADEVENT listing those it does.
  if (unsupported.length > 0)
    throw new ImapNo(`Unsupported event ${unsupported[0]!.slice(0, 40)}`, {
      name: 'BADEVENT',
      data: [SUPPORTED_EVENTS.map((e) => atom(e))],
    });
  return { status, groups };
}

function parseGroup(
  token: ImapToken,
  opts: { utf8: boolean; rev2: boolean },
  unsupported: string[],
): EventGroup {
  if (token.kind !== 'list' || token.items.length < 2) throw new ImapBad('Event group expected');
  const items = token.items;
  const kind = word(items[0]);
  let filter: MailboxFilter;
  let at = 1;
  switch (kind) {
    case 'SELECTED':
    case 'SELECTED-DELAYED':
      filter = { kind: 'selected', delayed: kind === 'SELECTED-DELAYED' };
      break;
    case 'INBOXES':
      filter = { kind: 'inboxes' };
      break;
    case 'PERSONAL':
      filter = { kind: 'personal' };
      break;
    case 'SUBSCRIBED':
      filter = { kind: 'subscribed' };
      break;
    case 'SUBTREE':
    case 'MAILBOXES': {
      const names = mailboxNames(items[1], opts);
      filter = kind === 'SUBTREE' ? { kind: 'subtree', names } : { kind: 'mailboxes', names };
      at = 2;
      break;
    }
    default:
      throw new ImapBad('Unknown mailbox filter');
  }
  if (items.length !== at + 1) throw new ImapBad('Event group: a filter and its events expected');
  const selected = filter.kind === 'selected';
  const eventsToken = items[at]!;
  const events = new Set<NotifyEvent>();
  let fetchItems: ImapToken | null = null;
  if (word(eventsToken) === 'NONE') return { filter, events, fetchItems };
  if (eventsToken.kind !== 'list' || eventsToken.items.length === 0) throw new ImapBad('Event list expected');
  const list = eventsToken.items;
  for (let j = 0; j < list.length; j++) {
    const name = word(list[j]);
    if (name === null) throw new ImapBad('Event name expected');
    const event = SUPPORTED_EVENTS.find((e) => e.toUpperCase() === name);
    if (event === undefined) {
      // §8 event-ext: any atom; one Postern does not know is unsupported, not a syntax error.
      if (!UNSUPPORTED_KNOWN.includes(name) && !/^[A-Z][A-Z0-9-]*$/.test(name))
        throw new ImapBad('Event name expected');
      unsupported.push((list[j] as { value: string }).value);
      continue;
    }
    events.add(event);
    if (event === 'MessageNew' && list[j + 1]?.kind === 'list') {
      const att = list[++j]!;
      // §5.1: fetch attributes are sent with MessageNew of the selected mailbox only.
      if (!selected) throw new ImapBad('Fetch attributes are allowed for the selected mailbox only');
      try {
        parseFetchItems([att], { rev2: opts.rev2 });
      } catch (err) {
        if (err instanceof FetchParseError) throw new ImapBad(`Invalid fetch attributes: ${err.message}`);
        throw err;
      }
      fetchItems = att;
    }
  }
  // §5: MessageNew and MessageExpunge go together; FlagChange needs both.
  if (events.has('MessageNew') !== events.has('MessageExpunge'))
    throw new ImapBad('MessageNew and MessageExpunge must be given together');
  if (events.has('FlagChange') && !events.has('MessageNew'))
    throw new ImapBad('FlagChange needs MessageNew and MessageExpunge');
  // §6.1: the selected mailbox takes message events only.
  if (selected && [...events].some((e) => !MESSAGE_EVENTS.has(e)))
    throw new ImapBad('Only message events apply to the selected mailbox');
  return { filter, events, fetchItems };
}

function mailboxNames(token: ImapToken | undefined, opts: { utf8: boolean }): string[] {
  const tokens = token?.kind === 'list' ? token.items : [token];
  if (tokens.length === 0 || tokens.length > MAX_NAMES)
    throw new ImapBad('One or more mailbox names expected');
  return tokens.map((t) => mailboxArg(t, opts));
}

/** Whether the event group's filter names this mailbox (not SELECTED: that is the session's). */
export function filterMatches(filter: MailboxFilter, name: string, subscribed: ReadonlySet<string>): boolean {
  switch (filter.kind) {
    case 'selected':
      return false;
    case 'inboxes':
      // §6.2: mailboxes the MDA delivers to; Postern delivers to INBOX only.
      return name === 'INBOX';
    case 'personal':
      return true;
    case 'subscribed':
      return subscribed.has(name);
    case 'subtree':
      return filter.names.some((n) => name === n || name.startsWith(`${n}/`));
    case 'mailboxes':
      return filter.names.includes(name);
  }
}

export function isMessageEvent(event: NotifyEvent): boolean {
  return MESSAGE_EVENTS.has(event);
}
