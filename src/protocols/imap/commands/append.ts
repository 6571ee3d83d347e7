// APPEND (RFC 9051 §6.3.12, RFC 3501 §6.3.11) with APPENDUID (RFC 4315 §3) and literal8
// (RFC 3516 §4.4). Invariants:
// - the message enters the store only through a Delivery (src/delivery/delivery.ts): a literal
//   above the session's streaming threshold was already taken into one while it arrived
//   (cmd.streamed), a smaller one is given to a new one here; the OK is sent after the commit;
// - the delivery is committed only after every check of the command (arguments, mailbox); it
//   checks the quota before it finishes the blob, and discards the blob of a failed append at
//   once; a refused command leaves its delivery uncommitted and the session (or this handler,
//   for a buffered literal) aborts it, so a failed APPEND leaves nothing on disk;
// - a missing mailbox is NO [TRYCREATE] (RFC 9051 §6.3.12), quota NO [OVERQUOTA] (RFC 9208
//   §4.3 via the store's error), size NO [TOOBIG] (RFC 4469 §5 / RFC 9051 §7.1);
// - EXISTS for an append to the selected mailbox comes from the session's sync after the command;
//   \Recent (IMAP4rev1) goes to whichever session claims it first (view.sync or SELECT).

import { isStoreError, StoreError } from '../../../core/errors.js';
import { Delivery } from '../../../delivery/delivery.js';
import { codes } from '../../../wire/imap/encoder.js';
import type { ImapToken } from '../../../wire/imap/reader.js';
import { parseStoreArgs, StoreArgsError } from '../../../wire/imap/store-args.js';
import type { CommandResult, ImapCommandInput, ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import { mailboxArg } from '../mailbox-name.js';
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

/**
 * The message literal as an uncommitted Delivery: the one the session streamed it into, or a
 * new one holding a buffered string token (aborted here when that fails). The caller commits it,
 * or leaves it (the session aborts the streamed ones).
 */
async function messageDelivery(
  ctx: ImapSessionContext,
  cmd: ImapCommandInput,
  token: ImapToken,
  accountId: number,
): Promise<Delivery> {
  if (token.kind === 'streamed') {
    const streamed = cmd.streamed[0];
    if (streamed === undefined) throw new Error('streamed literal without a delivery');
    // A refused or failed stream: TOOBIG, OVERQUOTA, NUL in a {n} literal, or a write error.
    if (!streamed.ok) throw streamed.error;
    return streamed.delivery;
  }
  if (token.kind !== 'string' || token.form === 'quoted')
    throw new ImapBad('APPEND needs the message as a literal');
  // RFC 3516 §4.2 / RFC 9051 §4.3: NUL only in literal8 (the reader already refuses it in {n}).
  const { store, blobs, config } = ctx.env;
  const delivery = Delivery.start({ store, blobs, limits: config.limits }, { kind: 'append', accountId });
  try {
    await delivery.writeAll(token.value);
  } catch (err) {
    await delivery.abort();
    throw err;
  }
  return delivery;
}

async function append(ctx: ImapSessionContext, cmd: ImapCommandInput): Promise<CommandResult> {
  if (ctx.state.kind !== 'authenticated' && ctx.state.kind !== 'selected')
    throw new ImapBad('Not authenticated');
  const account = ctx.state.account;
  const args = cmd.args;
  const name = mailboxArg(args[0], { utf8: ctx.utf8 });
  let i = 1;
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
  let literal = args[i];
  // RFC 6855 §4: `UTF8 (~{n}...)` carries a message with UTF-8 headers as literal8.
  const utf8Wrap = args[i + 1];
  if (literal?.kind === 'atom' && literal.value.toUpperCase() === 'UTF8' && utf8Wrap?.kind === 'list') {
    const inner = utf8Wrap.items;
    const only = inner[0];
    if (
      inner.length !== 1 ||
      (only?.kind !== 'streamed' && !(only?.kind === 'string' && only.form === 'literal8'))
    ) {
      throw new ImapBad('UTF8 needs one literal8');
    }
    literal = only;
    i++;
  }
  if (literal === undefined) throw new ImapBad('APPEND needs a message literal');
  // MULTIAPPEND (RFC 3502) is not offered: one message per APPEND.
  if (args.length > i + 1) throw new ImapBad('Too many arguments to APPEND');
  if (literal.kind === 'string' && literal.value.length === 0)
    throw new ImapNo("Can't save a zero byte message");
  const box = await ctx.env.store.getMailbox(account.id, name);
  if (box === null) throw new ImapNo('Mailbox does not exist', { name: 'TRYCREATE' });
  let delivery: Delivery;
  try {
    delivery = await messageDelivery(ctx, cmd, literal, account.id);
  } catch (err) {
    if (isStoreError(err, 'TOO_LARGE')) throw new ImapNo('Message too large', { name: 'TOOBIG' });
    throw err;
  }
  const target =
    internalDate === undefined ? { mailboxId: box.id, flags } : { mailboxId: box.id, flags, internalDate };
  delivery.addTarget(target);
  // Pipelined APPENDs run concurrently: each queues its append in command order (UIDs follow).
  let outcomes;
  try {
    outcomes = await delivery.commit(cmd.commitTicket !== undefined ? { order: cmd.commitTicket } : {});
  } catch (err) {
    if (isStoreError(err, 'TOO_LARGE')) throw new ImapNo('Message too large', { name: 'TOOBIG' });
    throw err;
  }
  const [outcome] = outcomes.targets;
  if (outcome === undefined) throw new StoreError('INVALID_ARGUMENT', 'no append outcome');
  // Refused before or inside the commit (quota, mailbox deleted meanwhile): nothing stored.
  if (!outcome.ok) throw outcome.error;
  // RFC 4315 §3: APPENDUID uidvalidity uid.
  return { code: codes.appendUid(outcome.uidValidity, outcome.uid) };
}

export const APPEND_COMMANDS: ImapCommandSpec[] = [{ name: 'APPEND', states: AUTHENTICATED, handle: append }];
