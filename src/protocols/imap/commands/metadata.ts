// METADATA and METADATA-SERVER (RFC 5464): GETMETADATA and SETMETADATA, on a mailbox or, with
// the mailbox name "", on the server (per account here: Postern has no users' shared server
// space). Invariants:
// - entries live in the store (Metadata role), keyed by the mailbox's id, so they follow
//   RENAME and go with DELETE; names are checked and lower-cased by metadata-entry.ts;
// - /private and /shared are both kept (so [METADATA NOPRIVATE] is never sent); without ACL
//   only the owner sees either;
// - the server entry /shared/admin is the server's, not stored, and read only (NO [NOPERM]);
// - a SETMETADATA changes every entry it names or none (§4.3): values over
//   limits.imap_metadata_size are NO [METADATA MAXSIZE n] and an account past
//   limits.imap_metadata_entries NO [METADATA TOOMANY], both before anything changes;
// - a SETMETADATA that changes an entry is logged by the store for account watches, so
//   sessions with NOTIFY's metadata events get §4.4.2's unsolicited METADATA (notifier.ts).

import type { MetadataChange, MetadataEntry, MetadataTarget } from '../../../store/metadata-types.js';
import type { Account, Mailbox } from '../../../store/types.js';
import { atom, type ImapData } from '../../../wire/imap/encoder.js';
import type { ImapToken } from '../../../wire/imap/reader.js';
import type { ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import { mailboxArg, mailboxWire, noSuchMailbox } from '../mailbox-name.js';
import {
  ADMIN_ENTRY,
  adminContact,
  entryArg,
  entryData,
  withinDepth,
  type EntryName,
} from '../metadata-entry.js';
import { findMailbox } from '../special-use-alias.js';
import { TimeSlicer } from '../sort-data.js';
import { AUTHENTICATED } from '../state.js';
import { mailboxNameData } from './mailbox-name-data.js';

interface GetOptions {
  /** §4.2.1: values longer than this are left out (null: no limit). */
  maxSize: number | null;
  /** §4.2.2: 0, 1 or Infinity. */
  depth: number;
}

function account(ctx: ImapSessionContext): Account {
  const state = ctx.state;
  if (state.kind !== 'authenticated' && state.kind !== 'selected') throw new ImapBad('Authenticate first');
  return state.account;
}

function numberArg(token: ImapToken | undefined, what: string): number {
  if (token?.kind !== 'atom' || !/^[0-9]{1,15}$/.test(token.value))
    throw new ImapBad(`${what} needs a number`);
  return Number(token.value);
}

/** `(MAXSIZE n DEPTH d)` in any order (RFC 5464 §5 getmetadata-options). */
function parseGetOptions(list: Extract<ImapToken, { kind: 'list' }>): GetOptions {
  const opts: GetOptions = { maxSize: null, depth: 0 };
  const items = list.items;
  if (items.length === 0 || items.length % 2 !== 0) throw new ImapBad('GETMETADATA options come in pairs');
  for (let i = 0; i < items.length; i += 2) {
    const name = items[i];
    const value = items[i + 1];
    const key = name?.kind === 'atom' ? name.value.toUpperCase() : '';
    if (key === 'MAXSIZE') opts.maxSize = numberArg(value, 'MAXSIZE');
    else if (key === 'DEPTH') {
      const d = value?.kind === 'atom' ? value.value.toLowerCase() : '';
      if (d === '0') opts.depth = 0;
      else if (d === '1') opts.depth = 1;
      else if (d === 'infinity') opts.depth = Infinity;
      else throw new ImapBad('DEPTH is 0, 1 or infinity');
    } else throw new ImapBad('Unknown GETMETADATA option');
  }
  return opts;
}

/** The mailbox argument: "" is the server (RFC 5464 §3.1); otherwise the account's mailbox. */
async function targetOf(
  ctx: ImapSessionContext,
  token: ImapToken | undefined,
): Promise<{ target: MetadataTarget; wire: ImapData; mailbox: Mailbox | null }> {
  const acct = account(ctx);
  if (token?.kind === 'string' && token.value.length === 0) {
    return { target: { accountId: acct.id, mailboxId: null }, wire: '', mailbox: null };
  }
  const name = mailboxArg(token, { utf8: ctx.utf8 });
  const mailbox = await findMailbox(ctx.env.store, acct.id, name);
  if (mailbox === null) throw noSuchMailbox(name);
  return {
    target: { accountId: acct.id, mailboxId: mailbox.id },
    // As asked (an alias too), so the client can match the response.
    wire: mailboxNameData(mailboxWire(name, { utf8: ctx.utf8 })),
    mailbox,
  };
}

/** The entries of the target, with the server's own entries on the server level. */
async function entriesOf(ctx: ImapSessionContext, target: MetadataTarget): Promise<Map<string, Buffer>> {
  const stored: MetadataEntry[] = await ctx.env.store.getMetadata(target);
  const map = new Map<string, Buffer>(stored.map((e) => [e.name, Buffer.from(e.value)]));
  if (target.mailboxId === null) map.set(ADMIN_ENTRY, Buffer.from(adminContact(ctx.env.config.hostname)));
  return map;
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The first index of `sorted` whose name is not below `key`. */
function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export const METADATA_COMMANDS: ImapCommandSpec[] = [
  {
    // RFC 5464 §4.2: GETMETADATA [options] mailbox (entry ...) | entry.
    name: 'GETMETADATA',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      const args = [...cmd.args];
      const opts =
        args[0]?.kind === 'list'
          ? parseGetOptions(args.shift() as Extract<ImapToken, { kind: 'list' }>)
          : { maxSize: null, depth: 0 };
      if (args.length !== 2) throw new ImapBad('GETMETADATA takes a mailbox and entries');
      const entryTokens = args[1]!.kind === 'list' ? args[1]!.items : [args[1]!];
      if (entryTokens.length === 0) throw new ImapBad('GETMETADATA needs at least one entry');
      // A command may name tens of thousands of entries (up to limits.imap_command_size): the
      // work yields to the event loop every few milliseconds, as SORT does.
      const slicer = new TimeSlicer();
      const requested: EntryName[] = [];
      for (const t of entryTokens) {
        requested.push(entryArg(t));
        await slicer.pause();
      }
      const { target, wire } = await targetOf(ctx, args[0]);
      const entries = await entriesOf(ctx, target);
      const names = [...entries.keys()].sort(compareCodeUnits);

      const out: ImapData[] = [];
      const sent = new Set<string>();
      let longest = 0;
      const add = (name: string, value: Buffer | null): void => {
        if (sent.has(name)) return;
        sent.add(name);
        // §4.2.1: a value over MAXSIZE is left out; LONGENTRIES tells the longest left out.
        if (value !== null && opts.maxSize !== null && value.length > opts.maxSize) {
          longest = Math.max(longest, value.length);
          return;
        }
        out.push(entryData(name), value);
      };
      for (const req of requested) {
        await slicer.pause();
        const own = entries.get(req.name);
        // A requested entry without a value is answered NIL under DEPTH 0 (its descendants
        // answer for it otherwise), as Dovecot does; the bare prefixes are no entries.
        if (!req.root && (own !== undefined || opts.depth === 0)) add(req.name, own ?? null);
        if (opts.depth === 0) continue;
        // The descendants are one run of the sorted names, found by binary search: a command
        // naming thousands of entries costs a search each, not a pass over every entry.
        const below = `${req.name}/`;
        for (let i = lowerBound(names, below); i < names.length && names[i]!.startsWith(below); i++) {
          const name = names[i]!;
          if (withinDepth(req.name, name, opts.depth)) add(name, entries.get(name)!);
        }
      }
      if (out.length > 0) ctx.untagged(atom('METADATA'), wire, out);
      if (longest > 0) return { code: { name: 'METADATA', data: [atom('LONGENTRIES'), longest] } };
    },
  },
  {
    // RFC 5464 §4.3: SETMETADATA mailbox (entry value ...); NIL removes.
    name: 'SETMETADATA',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      const [box, list] = cmd.args;
      if (
        cmd.args.length !== 2 ||
        list?.kind !== 'list' ||
        list.items.length === 0 ||
        list.items.length % 2 !== 0
      ) {
        throw new ImapBad('SETMETADATA takes a mailbox and a list of entries and values');
      }
      const changes = new Map<string, Buffer | null>();
      const limits = ctx.env.config.limits;
      let tooLarge = false;
      for (let i = 0; i < list.items.length; i += 2) {
        const entry = entryArg(list.items[i]);
        if (entry.root) throw new ImapBad(`${entry.name} is not an entry`);
        const token = list.items[i + 1];
        let value: Buffer | null;
        if (token?.kind === 'nil') value = null;
        else if (token?.kind === 'string') value = token.value;
        else throw new ImapBad('Entry values are strings or NIL');
        if (value !== null && value.length > limits.imapMetadataSize) tooLarge = true;
        changes.delete(entry.name);
        changes.set(entry.name, value);
      }
      const { target } = await targetOf(ctx, box);
      if (target.mailboxId === null && changes.has(ADMIN_ENTRY)) {
        throw new ImapNo('/shared/admin is set by the administrator', { name: 'NOPERM' });
      }
      // §4.3: the largest size the server accepts.
      if (tooLarge)
        throw new ImapNo('Value too large', {
          name: 'METADATA',
          data: [atom('MAXSIZE'), limits.imapMetadataSize],
        });
      const list2: MetadataChange[] = [...changes].map(([name, value]) => ({ name, value }));
      const result = await ctx.env.store.setMetadata(target, list2, {
        maxEntries: limits.imapMetadataEntries,
      });
      if (!result.ok) throw new ImapNo('Too many entries', { name: 'METADATA', data: [atom('TOOMANY')] });
    },
  },
];
