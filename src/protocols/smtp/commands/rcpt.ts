// RCPT TO (RFC 5321 §4.1.1.3) with DSN NOTIFY/ORCPT (RFC 3461 §4.1, §4.2). Recipients are
// resolved now, so the client learns at once which are refused. Invariants: nobody relays
// without authentication (a non-local domain, or a local address that does not resolve and is
// spelled as a relay attempt: %, !, quoted local part, RFC 5321 §3.6.1 / RFC 2505 §2.5); an
// unknown local user costs a delay and too many end the session; quota is checked against the
// declared SIZE (RFC 1870 §6), and the store checks it again when it commits.

import { setTimeout as sleep } from 'node:timers/promises';
import { domainToASCII } from 'node:url';
import { accountExceedsQuota } from '../../../store/rules/quota.js';
import type { AppendTarget, Recipient } from '../../../store/types.js';
import type { SmtpParams, SmtpPath } from '../../../wire/smtp/command.js';
import { defineCommand, type SmtpSessionContext } from '../context.js';
import { badArguments, badParameter, badSequence, SmtpReply } from '../reply.js';
import type { Transaction } from '../state.js';
import { isAscii, isXtext } from '../syntax.js';

const NOTIFY_VALUES: ReadonlySet<string> = new Set(['SUCCESS', 'FAILURE', 'DELAY']);
/** RFC 3461 §4.2: ORCPT is at most 500 characters. */
const MAX_ORCPT = 500;

export interface RcptParams {
  notify: string[] | null;
  orcpt: string | null;
}

export function parseRcptParams(params: SmtpParams): RcptParams {
  const out: RcptParams = { notify: null, orcpt: null };
  for (const [keyword, value] of params) {
    switch (keyword) {
      case 'NOTIFY': {
        if (value === null || value.length === 0) throw badArguments('NOTIFY needs a value');
        const items = value.toUpperCase().split(',');
        if (items.length > 3) throw badArguments('NOTIFY: at most SUCCESS,FAILURE,DELAY');
        const never = items.length === 1 && items[0] === 'NEVER';
        if (!never && !items.every((v) => NOTIFY_VALUES.has(v))) {
          throw badArguments('NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY');
        }
        out.notify = [...new Set(items)];
        break;
      }
      case 'ORCPT': {
        // RFC 3461 §4.2: ORCPT=addr-type ";" xtext
        const semi = value === null ? -1 : value.indexOf(';');
        if (value === null || semi <= 0 || value.length > MAX_ORCPT || !isXtext(value.slice(semi + 1))) {
          throw badArguments('ORCPT must be addr-type;xtext');
        }
        out.orcpt = value;
        break;
      }
      default:
        throw badParameter(`${keyword.slice(0, 32)} parameter not supported`);
    }
  }
  return out;
}

/**
 * Local parts that route elsewhere in other mail systems (RFC 2505 §2.5, RFC 5321 §3.6.1):
 * user%host, host!user, and quoted local parts (the codec keeps the quotes in `address` only
 * when they are needed, e.g. "user@host"@ours).
 */
function looksLikeRelay(path: SmtpPath): boolean {
  const local = path.localPart;
  return local.includes('%') || local.includes('!') || local.includes('@') || path.address.startsWith('"');
}

/** The address to look up: the domain as an A-label, so U-labels (RFC 6531) find their domain. */
function lookupAddress(path: SmtpPath): string | null {
  const domain = domainToASCII(path.domain);
  if (domain === '') return null;
  return `${path.localPart}@${domain}`.toLowerCase();
}

/**
 * RFC 5321 §4.5.1: <Postmaster> without a domain must be accepted. It is postmaster@ our host
 * name, or of the nearest parent of the host name that is a local domain.
 */
async function postmasterAddress(ctx: SmtpSessionContext): Promise<string | null> {
  const labels = ctx.env.config.hostname.toLowerCase().split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const domain = labels.slice(i).join('.');
    if ((await ctx.env.store.getDomain(domain)) !== null) return `postmaster@${domain}`;
  }
  return null;
}

async function refuseUnknown(ctx: SmtpSessionContext, reply: SmtpReply): Promise<void> {
  ctx.unknownRecipients++;
  const { smtp } = ctx.env.config;
  if (smtp.unknownRecipientDelay > 0) await sleep(smtp.unknownRecipientDelay);
  ctx.reply(reply.code, reply.enhanced, reply.text);
  if (ctx.unknownRecipients >= smtp.maxUnknownRecipients) {
    ctx.close(421, '4.7.0', `${ctx.env.config.hostname} too many unknown recipients, closing`);
  }
}

/** Local targets of `resolved` that still have room for the declared size. */
async function localTargets(
  ctx: SmtpSessionContext,
  resolved: Recipient[],
  declared: number,
): Promise<{ targets: AppendTarget[]; overQuota: number }> {
  const targets: AppendTarget[] = [];
  let overQuota = 0;
  for (const r of resolved) {
    if (r.kind !== 'local') continue;
    const account = await ctx.env.store.getAccountById(r.accountId);
    if (account === null || account.state !== 'active') continue;
    if (accountExceedsQuota(account, declared, 1)) {
      overQuota++;
      continue;
    }
    const mailbox = await ctx.env.store.getMailbox(r.accountId, r.mailbox);
    if (mailbox !== null) targets.push({ mailboxId: mailbox.id });
  }
  return { targets, overQuota };
}

function accept(tx: Transaction, path: SmtpPath): void {
  tx.accepted++;
  tx.firstRecipient ??= path.address;
}

export const rcptCommand = defineCommand({
  verbs: ['RCPT'],
  states: ['transaction'],
  async handle(ctx, command) {
    if (ctx.state.kind !== 'transaction') throw badSequence('Need MAIL before RCPT');
    const tx = ctx.state.tx;
    const { limits } = ctx.env.config;
    if (command.path.address === '')
      throw new SmtpReply(501, '5.1.3', 'Bad recipient address syntax', { badCommand: true });
    const params = parseRcptParams(command.params);
    if (!tx.params.smtputf8 && !isAscii(command.path.address)) {
      throw new SmtpReply(553, '5.6.7', 'Non-ASCII address needs SMTPUTF8 in MAIL FROM');
    }
    // RFC 5321 §4.5.3.1.8: keep the earlier recipients, refuse the rest temporarily.
    if (tx.accepted >= limits.recipients) throw new SmtpReply(452, '4.5.3', 'Too many recipients');

    const postmaster = command.path.domain === '';
    const address = postmaster ? await postmasterAddress(ctx) : lookupAddress(command.path);
    const resolved = address === null ? [] : await ctx.env.store.resolveRecipient(address);
    const relayDenied = new SmtpReply(554, '5.7.1', 'Relay access denied');
    if (resolved.length === 0) {
      if (postmaster) return refuseUnknown(ctx, new SmtpReply(550, '5.1.1', 'No postmaster here'));
      // A local domain (or an address we cannot even parse) that does not resolve.
      if (looksLikeRelay(command.path) || address === null) return refuseUnknown(ctx, relayDenied);
      return refuseUnknown(ctx, new SmtpReply(550, '5.1.1', 'No such user here'));
    }
    const domain = address === null ? '' : address.slice(address.lastIndexOf('@') + 1);
    const isLocalDomain = (await ctx.env.store.getDomain(domain)) !== null;
    if (!isLocalDomain) {
      // Mail to another domain: only authenticated users relay (RFC 6409 §4.3, RFC 5321 §3.9).
      if (ctx.auth === null) {
        ctx.log.info({ rcpt: command.path.address.slice(0, 320) }, 'relay attempt refused');
        throw relayDenied;
      }
      if (!tx.remote.has(resolved[0].address)) {
        tx.remote.set(resolved[0].address, {
          address: command.path.address,
          notify: params.notify,
          orcpt: params.orcpt,
        });
      }
      accept(tx, command.path);
      ctx.reply(250, '2.1.5', 'Recipient OK');
      return;
    }
    const { targets, overQuota } = await localTargets(ctx, resolved, tx.params.size ?? 0);
    // Remote destinations of a local alias (forwarding set up by the administrator).
    const forwards = resolved.filter((r) => r.kind === 'remote');
    if (targets.length === 0 && forwards.length === 0) {
      if (overQuota > 0) throw new SmtpReply(452, '4.2.2', 'Mailbox full');
      return refuseUnknown(ctx, new SmtpReply(550, '5.1.1', 'No such user here'));
    }
    for (const t of targets) {
      if (!tx.local.has(t.mailboxId)) tx.local.set(t.mailboxId, t);
      let rcpts = tx.localRecipients.get(t.mailboxId);
      if (rcpts === undefined) tx.localRecipients.set(t.mailboxId, (rcpts = []));
      if (!rcpts.some((r) => r.address === command.path.address)) {
        rcpts.push({ address: command.path.address, notify: params.notify, orcpt: params.orcpt });
      }
    }
    for (const f of forwards) {
      if (!tx.remote.has(f.address))
        tx.remote.set(f.address, { address: f.address, notify: params.notify, orcpt: null });
    }
    accept(tx, command.path);
    ctx.reply(250, '2.1.5', 'Recipient OK');
  },
});
