// APPEND (RFC 9051 §6.3.12, RFC 3501 §6.3.11) with APPENDUID (RFC 4315 §3), literal8
// (RFC 3516 §4.4), MULTIAPPEND (RFC 3502) and CATENATE (RFC 4469). Invariants:
// - each message enters the store only through a Delivery (src/delivery/delivery.ts): a literal
//   above the session's streaming threshold was already taken into one while it arrived
//   (cmd.streamed, in the order the literals came), a smaller one is given to a new one here;
//   the OK is sent after the commit;
// - the deliveries are committed only after every check of the command (arguments, mailbox,
//   CATENATE URLs); they check the quota before they finish their blobs, and a failed APPEND
//   discards what it wrote at once; a refused command leaves its deliveries uncommitted and the
//   session (or this handler, for those it made) aborts them, so a failed APPEND leaves nothing;
// - several messages (MULTIAPPEND) are one store transaction: all are stored or none (RFC 3502
//   §3: a failure of any, such as over quota, stores nothing), with one APPENDUID naming every
//   UID in message order (RFC 4315 §3);
// - a missing mailbox is NO [TRYCREATE] (RFC 9051 §6.3.12), quota NO [OVERQUOTA] (RFC 9208
//   §4.3 via the store's error), size NO [TOOBIG] (RFC 4469 §5 / RFC 9051 §7.1), an unusable
//   CATENATE URL NO [BADURL url] (RFC 4469 §5);
// - EXISTS for an append to the selected mailbox comes from the session's sync after the command;
//   \Recent (IMAP4rev1) goes to whichever session claims it first (view.sync or SELECT).

import { isStoreError, StoreError } from '../../../core/errors.js';
import { Delivery } from '../../../delivery/delivery.js';
import type { Account, AppendOutcome } from '../../../store/types.js';
import { codes } from '../../../wire/imap/encoder.js';
import { astring, type ImapToken } from '../../../wire/imap/reader.js';
import { SequenceSet } from '../../../wire/imap/sequence-set.js';
import { parseStoreArgs, StoreArgsError } from '../../../wire/imap/store-args.js';
import type { CommandResult, ImapCommandInput, ImapCommandSpec, ImapSessionContext } from '../context.js';
import { writeStreamedText, writeUrlPart } from '../catenate.js';
import { ImapBad, ImapNo } from '../errors.js';
import { mailboxArg } from '../mailbox-name.js';
import { quotaWarningSettings } from '../quota-alert.js';
import { flagRight, requireMailbox } from '../mailbox-access.js';
import { AUTHENTICATED } from '../state.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * RFC 9051 §9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (the day may be a space and one digit).
 * Returns null when the text is not one.
 */
export function parseDateTime(text: string): Date | null {
  if (text.length !== 26) return null;
  const num = (from: number, to: number): number => {
    let n = 0;
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return NaN;
      n = n * 10 + c - 0x30;
    }
    return n;
  };
  const day = text[0] === ' ' ? num(1, 2) : num(0, 2);
  const month = MONTHS.findIndex((m) => m.toLowerCase() === text.slice(3, 6).toLowerCase());
  const year = num(7, 11);
  const hh = num(12, 14);
  const mm = num(15, 17);
  const ss = num(18, 20);
  const sign = text[21];
  const zh = num(22, 24);
  const zm = num(24, 26);
  if (text[2] !== '-' || text[6] !== '-' || text[11] !== ' ' || text[14] !== ':' || text[17] !== ':')
    return null;
  if (text[20] !== ' ' || (sign !== '+' && sign !== '-')) return null;
  if ([day, year, hh, mm, ss, zh, zm].some((n) => Number.isNaN(n)) || month < 0) return null;
  if (day < 1 || day > new Date(Date.UTC(year, month + 1, 0)).getUTCDate()) return null;
  if (hh > 23 || mm > 59 || ss > 60 || zm > 59) return null;
  const offsetMin = (sign === '-' ? -1 : 1) * (zh * 60 + zm);
  return new Date(Date.UTC(year, month, day, hh, mm, Math.min(ss, 59)) - offsetMin * 60_000);
}

/** How one message of an APPEND is given (RFC 3502 append-message, RFC 4469 cat-part). */
type MessageBody =
  | { kind: 'literal'; token: ImapToken; streamed: number | null }
  | { kind: 'catenate'; parts: CatenatePart[] };

type CatenatePart =
  { kind: 'url'; url: string } | { kind: 'text'; token: ImapToken; streamed: number | null };

interface MessageSpec {
  flags: string[];
  internalDate?: Date;
  body: MessageBody;
}

/** A literal token (`{n}`, `~{n}`, or one streamed to a blob), or null. */
function literalToken(token: ImapToken | undefined): ImapToken | null {
  if (token?.kind === 'streamed') return token;
  if (token?.kind === 'string' && token.form !== 'quoted') return token;
  return null;
}

/** Parses the arguments after the mailbox name into messages; `streamed` numbers the streamed literals. */
function parseMessages(args: readonly ImapToken[]): MessageSpec[] {
  const out: MessageSpec[] = [];
  let streamed = 0;
  const streamedIndex = (token: ImapToken): number | null => (token.kind === 'streamed' ? streamed++ : null);
  let i = 0;
  while (i < args.length) {
    let flags: string[] = [];
    let internalDate: Date | undefined;
    const flagList = args[i];
    if (flagList?.kind === 'list') {
      try {
        flags = parseStoreArgs([{ kind: 'atom', value: 'FLAGS' }, flagList]).flags;
      } catch (err) {
        if (err instanceof StoreArgsError) throw new ImapBad(`Invalid flags: ${err.message}`);
        throw err;
      }
      i++;
    }
    const date = args[i];
    if (date?.kind === 'string' && date.form === 'quoted') {
      const parsed = parseDateTime(date.value.toString('latin1'));
      if (parsed === null) throw new ImapBad('Invalid date-time');
      internalDate = parsed;
      i++;
    }
    const what = args[i];
    const next = args[i + 1];
    let body: MessageBody;
    if (what?.kind === 'atom' && what.value.toUpperCase() === 'UTF8' && next?.kind === 'list') {
      // RFC 6855 §4: `UTF8 (~{n}...)` carries a message with UTF-8 headers as literal8.
      const only = next.items[0];
      if (
        next.items.length !== 1 ||
        (only?.kind !== 'streamed' && !(only?.kind === 'string' && only.form === 'literal8'))
      ) {
        throw new ImapBad('UTF8 needs one literal8');
      }
      body = { kind: 'literal', token: only, streamed: streamedIndex(only) };
      i += 2;
    } else if (what?.kind === 'atom' && what.value.toUpperCase() === 'CATENATE' && next?.kind === 'list') {
      body = { kind: 'catenate', parts: parseCatenateParts(next.items, streamedIndex) };
      i += 2;
    } else {
      const token = literalToken(what);
      if (token === null)
        throw new ImapBad(
          what === undefined ? 'APPEND needs a message literal' : 'APPEND needs the message as a literal',
        );
      body = { kind: 'literal', token, streamed: streamedIndex(token) };
      i++;
    }
    out.push(internalDate === undefined ? { flags, body } : { flags, internalDate, body });
  }
  if (out.length === 0) throw new ImapBad('APPEND needs a message literal');
  return out;
}

/** RFC 4469 §5: cat-part = text-literal / url; at least one. */
function parseCatenateParts(
  items: readonly ImapToken[],
  streamedIndex: (token: ImapToken) => number | null,
): CatenatePart[] {
  const parts: CatenatePart[] = [];
  for (let i = 0; i < items.length; i += 2) {
    const kind = items[i];
    const value = items[i + 1];
    const name = kind?.kind === 'atom' ? kind.value.toUpperCase() : '';
    if (name === 'URL' && value !== undefined && value.kind !== 'streamed') {
      const url = astring(value);
      if (url === null) throw new ImapBad('CATENATE URL needs a string');
      parts.push({ kind: 'url', url });
    } else if (name === 'TEXT') {
      const token = literalToken(value);
      if (token === null) throw new ImapBad('CATENATE TEXT needs a literal');
      parts.push({ kind: 'text', token, streamed: streamedIndex(token) });
    } else throw new ImapBad('CATENATE parts are URL or TEXT');
  }
  if (parts.length === 0) throw new ImapBad('CATENATE needs at least one part');
  return parts;
}

/** The delivery a streamed literal went into; its refusal (TOOBIG, OVERQUOTA, NUL) is thrown. */
function streamedDelivery(cmd: ImapCommandInput, index: number): Delivery {
  const streamed = cmd.streamed[index];
  if (streamed === undefined) throw new Error('streamed literal without a delivery');
  if (!streamed.ok) throw streamed.error;
  return streamed.delivery;
}

/** The body of one message as an uncommitted Delivery; `made` collects the deliveries made here. */
async function messageDelivery(
  ctx: ImapSessionContext,
  cmd: ImapCommandInput,
  account: Account,
  body: MessageBody,
  made: Delivery[],
): Promise<Delivery> {
  if (body.kind === 'literal' && body.streamed !== null) return streamedDelivery(cmd, body.streamed);
  const { store, blobs, config } = ctx.env;
  const delivery = Delivery.start(
    { store, blobs, limits: config.limits, quotaWarnings: quotaWarningSettings(config, ctx.log) },
    { kind: 'append', accountId: account.id },
  );
  made.push(delivery);
  if (body.kind === 'literal') {
    // RFC 3516 §4.2 / RFC 9051 §4.3: NUL only in literal8 (the reader already refuses it in {n}).
    if (body.token.kind === 'string') await delivery.writeAll(body.token.value);
    return delivery;
  }
  const env = { store, blobs, hostname: config.hostname };
  for (const part of body.parts) {
    if (part.kind === 'url') await writeUrlPart(env, account, part.url, delivery);
    else if (part.streamed !== null)
      await writeStreamedText(blobs, streamedDelivery(cmd, part.streamed), delivery);
    else if (part.token.kind === 'string') await delivery.writeAll(part.token.value);
  }
  return delivery;
}

/** RFC 4469 §5 / RFC 7889: a message over limits.message_size is NO [TOOBIG]. */
function tooBig(err: unknown): unknown {
  return isStoreError(err, 'TOO_LARGE') ? new ImapNo('Message too large', { name: 'TOOBIG' }) : err;
}

async function append(ctx: ImapSessionContext, cmd: ImapCommandInput): Promise<CommandResult> {
  if (ctx.state.kind !== 'authenticated' && ctx.state.kind !== 'selected')
    throw new ImapBad('Not authenticated');
  const account = ctx.state.account;
  const name = mailboxArg(cmd.args[0], { utf8: ctx.utf8 });
  const messages = parseMessages(cmd.args.slice(1));
  for (const m of messages) {
    if (m.body.kind === 'literal' && m.body.token.kind === 'string' && m.body.token.value.length === 0)
      throw new ImapNo("Can't save a zero byte message");
  }
  // RFC 4314 §4: APPEND needs the "i" right; the message counts on the owner's quota.
  const { mailbox: box, rights } = await requireMailbox(ctx.env.store, account, name, 'i', {
    missing: () => new ImapNo('Mailbox does not exist', { name: 'TRYCREATE' }),
  });
  const made: Delivery[] = [];
  try {
    const deliveries: Delivery[] = [];
    for (const m of messages) {
      const delivery = await messageDelivery(ctx, cmd, account, m.body, made).catch((err: unknown) => {
        throw tooBig(err);
      });
      // RFC 4469 §5 (and RFC 9051 §6.3.12 for a plain literal): no empty message.
      if (delivery.size === 0) throw new ImapNo("Can't save a zero byte message");
      // RFC 4314 §4: flags the user may not set are left off the appended message.
      const flags = m.flags.filter((f) => rights.includes(flagRight(f)));
      const target = { mailboxId: box.id, flags };
      delivery.addTarget(m.internalDate === undefined ? target : { ...target, internalDate: m.internalDate });
      deliveries.push(delivery);
    }
    // Pipelined APPENDs run concurrently: each queues its append in command order (UIDs follow).
    const order = cmd.commitTicket !== undefined ? { order: cmd.commitTicket } : {};
    let outcomes: AppendOutcome[];
    try {
      outcomes =
        deliveries.length === 1
          ? (await deliveries[0]!.commit(order)).targets
          : await Delivery.commitAll(deliveries, order);
    } catch (err) {
      throw tooBig(err);
    }
    const uids: number[] = [];
    let uidValidity = 0;
    for (const outcome of outcomes) {
      // Refused before or inside the commit (quota, mailbox deleted meanwhile): nothing stored.
      if (!outcome.ok) throw outcome.error;
      uids.push(outcome.uid);
      uidValidity = outcome.uidValidity;
    }
    if (uids.length === 0) throw new StoreError('INVALID_ARGUMENT', 'no append outcome');
    // RFC 4315 §3: APPENDUID uidvalidity uid-set (one UID per message, in message order).
    if (uids.length === 1) return { code: codes.appendUid(uidValidity, uids[0]!) };
    return { code: { name: 'APPENDUID', data: [uidValidity, SequenceSet.fromNumbers(uids)] } };
  } finally {
    // Committed ones are done already (abort is then a no-op); the session aborts streamed ones.
    for (const d of made) await d.abort();
  }
}

export const APPEND_COMMANDS: ImapCommandSpec[] = [{ name: 'APPEND', states: AUTHENTICATED, handle: append }];
