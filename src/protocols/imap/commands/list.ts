// LIST (RFC 9051 §6.3.9; RFC 3501 §6.3.8) with LIST-EXTENDED (RFC 5258: selection options
// SUBSCRIBED, REMOTE, RECURSIVEMATCH; return options SUBSCRIBED, CHILDREN; several patterns),
// SPECIAL-USE (RFC 6154 §5), LIST-STATUS (RFC 5819), LSUB (RFC 3501 §6.3.9, IMAP4rev1 only) and
// NAMESPACE (RFC 2342, RFC 9051 §6.3.10). Invariants:
// - three namespaces (mailbox-access.ts): personal, prefix "", Other Users, prefix "user/", and
//   shared, prefix "shared/", all with delimiter "/" (MAILBOX_DELIMITER); other users' mailboxes
//   and the public folders of the user's domain are listed only where their ACL gives this user
//   "l" (RFC 4314 §4), under "user/<owner>/" and "shared/", with the levels "user",
//   "user/<owner>" and "shared" as \Noselect, and without special-use attributes (they are the
//   owner's); a public folder hides a personal mailbox of the same "shared/..." name;
// - a name that is only a level above existing mailboxes (its own mailbox was deleted, or never
//   created) is listed as \Noselect (IMAP4rev1 plain LIST) or \NonExistent (IMAP4rev2 and the
//   extended forms), with \HasChildren;
// - \HasChildren / \HasNoChildren and special-use attributes are always sent (RFC 5258 §4 and
//   RFC 6154 §2 allow it; Dovecot does the same);
// - patterns are matched by ListPattern (no backtracking); the work yields to the event loop
//   every few milliseconds, so a huge hierarchy does not stall other connections.

import type { Account, Mailbox } from '../../../store/types.js';
import { MAILBOX_DELIMITER } from '../../../store/types.js';
import { atom, type ImapData } from '../../../wire/imap/encoder.js';
import { astring, type ImapToken } from '../../../wire/imap/reader.js';
import { decodeMutf7, Mutf7Error } from '../../../wire/imap/mutf7.js';
import type { ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad } from '../errors.js';
import { mailboxWire } from '../mailbox-name.js';
import { isPublicOwner, publicOwnerAddress, domainOfAddress } from '../../../store/rules/public-owner.js';
import {
  OTHER_USERS_PREFIX,
  PUBLIC_PREFIX,
  otherUsersName,
  publicName,
  splitName,
} from '../mailbox-access.js';
import { AUTHENTICATED } from '../state.js';
import { ListPattern } from './list-pattern.js';
import { mailboxNameData } from './mailbox-name-data.js';
import { parseStatusItems, writeStatus, type StatusItem } from './status.js';

/** Patterns per LIST command (RFC 5258 allows a list of them). */
const MAX_PATTERNS = 64;
/** Milliseconds of matching between two yields to the event loop. */
const SLICE_MS = 5;

interface ListRequest {
  /** RFC 5258 syntax was used (selection options, return options or several patterns). */
  extended: boolean;
  selectSubscribed: boolean;
  selectSpecialUse: boolean;
  recursiveMatch: boolean;
  returnSubscribed: boolean;
  status: StatusItem[] | null;
  /** Null when not valid modified UTF-7 (nothing matches). */
  reference: string | null;
  /** Null entries are patterns that are not valid modified UTF-7. */
  patterns: Array<string | null>;
}

/**
 * A reference or pattern argument as Unicode text (modified UTF-7 unless UTF8=ACCEPT), or null
 * when it is not valid modified UTF-7: no mailbox name has such a spelling, so it matches none
 * (as in Dovecot).
 */
function patternArg(token: ImapToken | undefined, ctx: ImapSessionContext): string | null {
  if (token === undefined || token.kind === 'list' || token.kind === 'streamed') {
    throw new ImapBad('Mailbox pattern expected');
  }
  if (token.kind === 'string' && token.value.includes(0)) throw new ImapBad('NUL in mailbox pattern');
  const text = astring(token);
  if (text === null) throw new ImapBad('Mailbox pattern expected');
  if (text.includes('\r') || text.includes('\n')) throw new ImapBad('CR or LF in mailbox pattern');
  if (ctx.utf8) return text;
  try {
    return decodeMutf7(text);
  } catch (err) {
    if (err instanceof Mutf7Error) return null;
    throw err;
  }
}

function atomArg(token: ImapToken | undefined, what: string): string {
  if (token?.kind !== 'atom') throw new ImapBad(`${what} expected`);
  return token.value.toUpperCase();
}

function parseList(ctx: ImapSessionContext, args: readonly ImapToken[]): ListRequest {
  const req: ListRequest = {
    extended: false,
    selectSubscribed: false,
    selectSpecialUse: false,
    recursiveMatch: false,
    returnSubscribed: false,
    status: null,
    reference: '',
    patterns: [],
  };
  let i = 0;
  const first = args[0];
  if (first?.kind === 'list') {
    // RFC 5258 §3.1: selection options; an unknown one is a BAD.
    req.extended = true;
    for (const opt of first.items) {
      const name = atomArg(opt, 'Selection option');
      if (name === 'SUBSCRIBED') req.selectSubscribed = true;
      else if (name === 'SPECIAL-USE') req.selectSpecialUse = true;
      else if (name === 'RECURSIVEMATCH') req.recursiveMatch = true;
      else if (name !== 'REMOTE') throw new ImapBad(`Unknown LIST selection option ${name.slice(0, 40)}`);
    }
    // RFC 5258 §3.1: RECURSIVEMATCH needs another selection option that it can refer to.
    if (req.recursiveMatch && !req.selectSubscribed && !req.selectSpecialUse) {
      throw new ImapBad('RECURSIVEMATCH needs another selection option');
    }
    i++;
  }
  req.reference = patternArg(args[i++], ctx);
  const pat = args[i++];
  if (pat?.kind === 'list') {
    req.extended = true;
    if (pat.items.length === 0 || pat.items.length > MAX_PATTERNS) throw new ImapBad('Bad list of patterns');
    for (const p of pat.items) req.patterns.push(patternArg(p, ctx));
  } else req.patterns.push(patternArg(pat, ctx));
  if (i < args.length) {
    // RFC 5258 §3.2: RETURN (options); RFC 5819 STATUS (items); RFC 6154 §5 SPECIAL-USE.
    if (atomArg(args[i++], 'RETURN') !== 'RETURN') throw new ImapBad('RETURN expected');
    const opts = args[i++];
    if (opts?.kind !== 'list') throw new ImapBad('Return options must be a list');
    req.extended = true;
    for (let j = 0; j < opts.items.length; j++) {
      const name = atomArg(opts.items[j], 'Return option');
      if (name === 'SUBSCRIBED') req.returnSubscribed = true;
      else if (name === 'STATUS') {
        req.status = parseStatusItems(opts.items[++j], { rev2: ctx.rev2 });
      } else if (name !== 'CHILDREN' && name !== 'SPECIAL-USE') {
        throw new ImapBad(`Unknown LIST return option ${name.slice(0, 40)}`);
      }
    }
  }
  if (i !== args.length) throw new ImapBad('Too many LIST arguments');
  return req;
}

/** Every strict superior of each name: "a/b/c" gives "a" and "a/b". */
function superiors(names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const name of names) {
    let at = name.indexOf(MAILBOX_DELIMITER);
    while (at !== -1) {
      out.add(name.slice(0, at));
      at = name.indexOf(MAILBOX_DELIMITER, at + 1);
    }
  }
  return out;
}

/** INBOX first (as Dovecot), then by code point. */
function listOrder(a: string, b: string): number {
  if (a === 'INBOX') return b === 'INBOX' ? 0 : -1;
  if (b === 'INBOX') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Yields to the event loop when the current slice of work is used up. */
class Slicer {
  private start = performance.now();
  async tick(): Promise<void> {
    if (performance.now() - this.start < SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.start = performance.now();
  }
}

function accountOf(ctx: ImapSessionContext): number {
  return userOf(ctx).id;
}

function userOf(ctx: ImapSessionContext): Account {
  const state = ctx.state;
  if (state.kind !== 'authenticated' && state.kind !== 'selected') throw new ImapBad('Authenticate first');
  return state.account;
}

/**
 * Other users' mailboxes and the public folders of the user's domain this user may list
 * (RFC 4314 "l"), by the name the client sees; other domains' public folders are never listed.
 */
async function listableGrants(ctx: ImapSessionContext, account: Account): Promise<Map<string, Mailbox>> {
  const out = new Map<string, Mailbox>();
  const ownPublic = publicOwnerAddress(domainOfAddress(account.address));
  for (const g of await ctx.env.store.listAclGrants(account.address)) {
    if (!g.rights.includes('l')) continue;
    if (!isPublicOwner(g.owner)) out.set(otherUsersName(g.owner, g.mailbox.name), g.mailbox);
    else if (g.owner === ownPublic) out.set(publicName(g.mailbox.name), g.mailbox);
  }
  return out;
}

async function list(ctx: ImapSessionContext, args: readonly ImapToken[]): Promise<void> {
  const req = parseList(ctx, args);
  const account = userOf(ctx);
  const accountId = account.id;
  const store = ctx.env.store;
  const wire = (name: string): ImapData => mailboxNameData(mailboxWire(name, { utf8: ctx.utf8 }));

  const matchers: ListPattern[] = [];
  let root = false;
  for (const p of req.patterns) {
    // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root of the reference.
    if (p === '') root = true;
    else if (p !== null && req.reference !== null) matchers.push(new ListPattern(req.reference + p));
  }
  if (root) ctx.untagged(atom('LIST'), [atom('\\Noselect')], MAILBOX_DELIMITER, '');
  if (matchers.length === 0) return;

  const boxes = await store.listMailboxes(accountId);
  const byName = new Map<string, Mailbox>();
  for (const b of boxes) byName.set(b.name, b);
  const shared = await listableGrants(ctx, account);
  for (const [name, b] of shared) byName.set(name, b);
  const parents = superiors(byName.keys());
  const needSubs = req.selectSubscribed || req.returnSubscribed;
  const subs = new Set(needSubs ? await store.listSubscriptions(accountId) : []);
  const subParents = req.recursiveMatch && req.selectSubscribed ? superiors(subs) : new Set<string>();
  const nonExistent = ctx.rev2 || req.extended ? '\\NonExistent' : '\\Noselect';

  const candidates = new Set<string>();
  if (req.selectSubscribed) {
    for (const s of subs) candidates.add(s);
    for (const s of subParents) candidates.add(s);
  } else if (req.selectSpecialUse) {
    for (const b of boxes) if (b.specialUse !== null) candidates.add(b.name);
  } else {
    for (const name of byName.keys()) candidates.add(name);
    for (const p of parents) candidates.add(p);
  }

  const slicer = new Slicer();
  let sent = 0;
  for (const name of [...candidates].sort(listOrder)) {
    await slicer.tick();
    if (!matchers.some((m) => m.matches(name))) continue;
    const box = byName.get(name);
    const attrs: ImapData[] = [];
    const isShared = shared.has(name);
    // RFC 2342 §5: the Other Users and shared levels are namespace levels, never mailboxes: \Noselect.
    const kind = splitName(name).kind;
    const level = box === undefined && parents.has(name) && (kind === 'otherLevel' || kind === 'publicLevel');
    if (box === undefined)
      attrs.push(atom(level ? '\\Noselect' : parents.has(name) ? nonExistent : '\\NonExistent'));
    if (box !== undefined || parents.has(name))
      attrs.push(atom(parents.has(name) ? '\\HasChildren' : '\\HasNoChildren'));
    if (needSubs && subs.has(name)) attrs.push(atom('\\Subscribed'));
    if (box?.specialUse != null && !isShared) attrs.push(atom(box.specialUse));
    const data: ImapData[] = [atom('LIST'), attrs, MAILBOX_DELIMITER, wire(name)];
    // RFC 5258 §3.5: with RECURSIVEMATCH, a name with subscribed inferiors says so.
    if (subParents.has(name)) data.push([atom('CHILDINFO'), ['SUBSCRIBED']]);
    ctx.untagged(...data);
    // RFC 5819 §2: the STATUS of each selectable mailbox follows its LIST response.
    if (req.status !== null && box !== undefined) {
      await writeStatus(ctx, box, req.status, isShared ? { as: name } : {});
    }
    if (++sent % 256 === 0) await ctx.flush();
  }
}

async function lsub(ctx: ImapSessionContext, args: readonly ImapToken[]): Promise<void> {
  // RFC 9051 Appendix E: LSUB is gone from IMAP4rev2.
  if (ctx.rev2) throw new ImapBad('Unknown command');
  if (args.length !== 2) throw new ImapBad('LSUB takes a reference and a pattern');
  const reference = patternArg(args[0], ctx);
  const pattern = patternArg(args[1], ctx);
  const accountId = accountOf(ctx);
  if (pattern === '') {
    // RFC 3501 §6.3.9 refers to LIST "" "": the delimiter.
    ctx.untagged(atom('LSUB'), [atom('\\Noselect')], MAILBOX_DELIMITER, '');
    return;
  }
  if (reference === null || pattern === null) return;
  const matcher = new ListPattern(reference + pattern);
  const store = ctx.env.store;
  const subs = new Set(await store.listSubscriptions(accountId));
  const byName = new Map<string, Mailbox>();
  for (const b of await store.listMailboxes(accountId)) byName.set(b.name, b);
  // RFC 3501 §6.3.9: with a trailing "%", a level holding subscribed names is listed \Noselect.
  const levels = pattern.endsWith('%') ? superiors(subs) : new Set<string>();
  const names = new Set([...subs, ...levels]);
  const slicer = new Slicer();
  for (const name of [...names].sort(listOrder)) {
    await slicer.tick();
    if (!matcher.matches(name)) continue;
    // A subscribed name is listed as subscribed whether or not its mailbox exists (as Dovecot),
    // with its special use (RFC 6154 §2 allows it; Dovecot shows it).
    const specialUse = byName.get(name)?.specialUse ?? null;
    const attrs: ImapData[] = [];
    if (!subs.has(name)) attrs.push(atom('\\Noselect'));
    else if (specialUse !== null) attrs.push(atom(specialUse));
    ctx.untagged(
      atom('LSUB'),
      attrs,
      MAILBOX_DELIMITER,
      mailboxNameData(mailboxWire(name, { utf8: ctx.utf8 })),
    );
  }
}

export const LIST_COMMANDS: ImapCommandSpec[] = [
  { name: 'LIST', states: AUTHENTICATED, handle: (ctx, cmd) => list(ctx, cmd.args) },
  { name: 'LSUB', states: AUTHENTICATED, handle: (ctx, cmd) => lsub(ctx, cmd.args) },
  {
    name: 'NAMESPACE',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length > 0) throw new ImapBad('NAMESPACE takes no arguments');
      // RFC 2342 §5: personal namespace "", Other Users "user/" and shared "shared/", all with
      // delimiter "/" (mailbox-access.ts). "shared/" is always announced, whether or not the
      // user's domain has public folders yet: a client reads NAMESPACE once per session.
      ctx.untagged(
        atom('NAMESPACE'),
        [['', MAILBOX_DELIMITER]],
        [[OTHER_USERS_PREFIX, MAILBOX_DELIMITER]],
        [[PUBLIC_PREFIX, MAILBOX_DELIMITER]],
      );
    },
  },
];
