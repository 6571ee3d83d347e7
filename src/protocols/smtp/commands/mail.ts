// MAIL FROM (RFC 5321 §4.1.1.2) with SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8
// (RFC 6531), RET/ENVID (RFC 3461), REQUIRETLS (RFC 8689) and AUTH= (RFC 4954 §5). On submission the sender must be
// one of the authenticated account's own addresses (RFC 6409 §6.1; 553 5.7.1 as Postfix's
// reject_sender_login_mismatch).

import { randomBytes } from 'node:crypto';
import type { Account } from '../../../store/types.js';
import type { SmtpParams, SmtpPath } from '../../../wire/smtp/command.js';
import { defineCommand, type SmtpSessionContext } from '../context.js';
import { badArguments, badParameter, badSequence, SmtpReply } from '../reply.js';
import type { MailParams } from '../state.js';
import { ownsAddress } from '../sender-login.js';
import { isAscii, isDecimal, isXtext } from '../syntax.js';

/** RFC 3461 §4.4: ENVID is at most 100 characters of xtext. */
const MAX_ENVID = 100;
/** Digits accepted in SIZE= before the value is certainly over any limit. */
const MAX_SIZE_DIGITS = 15;

export function parseMailParams(
  params: SmtpParams,
  opts: { extended: boolean; messageSize: number; tls?: boolean },
): MailParams {
  const out: MailParams = {
    size: null,
    body: '7BIT',
    smtputf8: false,
    ret: null,
    envid: null,
    requireTls: false,
  };
  if (params.size > 0 && !opts.extended) throw badParameter('Parameters need EHLO');
  for (const [keyword, value] of params) {
    switch (keyword) {
      case 'SIZE': {
        if (value === null || !isDecimal(value)) throw badArguments('SIZE needs a decimal number');
        // A number too long to be exact is over the limit anyway.
        const size = value.length > MAX_SIZE_DIGITS ? Number.POSITIVE_INFINITY : Number(value);
        if (size > opts.messageSize)
          throw new SmtpReply(552, '5.3.4', 'Message size exceeds fixed maximum message size');
        out.size = size;
        break;
      }
      case 'BODY':
        if (value === null) throw badArguments('BODY needs a value');
        switch (value.toUpperCase()) {
          case '7BIT':
            out.body = '7BIT';
            break;
          case '8BITMIME':
            out.body = '8BITMIME';
            break;
          case 'BINARYMIME':
            out.body = 'BINARYMIME';
            break;
          default:
            throw badArguments('BODY must be 7BIT, 8BITMIME or BINARYMIME');
        }
        break;
      case 'SMTPUTF8':
        if (value !== null) throw badArguments('SMTPUTF8 takes no value');
        out.smtputf8 = true;
        break;
      case 'RET':
        if (value === null) throw badArguments('RET needs a value');
        if (value.toUpperCase() === 'FULL') out.ret = 'FULL';
        else if (value.toUpperCase() === 'HDRS') out.ret = 'HDRS';
        else throw badArguments('RET must be FULL or HDRS');
        break;
      case 'ENVID':
        if (value === null || value.length === 0 || value.length > MAX_ENVID || !isXtext(value)) {
          throw badArguments('ENVID must be 1 to 100 characters of xtext');
        }
        out.envid = value;
        break;
      case 'REQUIRETLS':
        // RFC 8689 §2, §4.1: only offered, and only accepted, on a TLS-protected session.
        if (value !== null) throw badArguments('REQUIRETLS takes no value');
        if (opts.tls !== true) throw new SmtpReply(530, '5.7.10', 'REQUIRETLS needs a TLS session');
        out.requireTls = true;
        break;
      case 'AUTH':
        // RFC 4954 §5: we do not trust other servers' AUTH= claims; accept and ignore it.
        if (value === null) throw badArguments('AUTH= needs a value');
        break;
      default:
        throw badParameter(`${keyword.slice(0, 32)} parameter not supported`);
    }
  }
  return out;
}

/**
 * RFC 6409 §6.1: the sender is one of the account's own addresses (sender-login.ts). The null
 * reverse-path is allowed: MDNs (RFC 8098 §2.1) and client-side auto-replies use it, and the
 * From: header of such a message is still checked at end of data.
 */
export async function senderBelongsTo(
  ctx: SmtpSessionContext,
  path: SmtpPath,
  account: Account,
): Promise<boolean> {
  if (path.address === '') return true;
  return ownsAddress(ctx, account, path.localPart, path.domain);
}

export function newQueueId(): string {
  return `${Date.now().toString(36).toUpperCase()}${randomBytes(5).toString('hex').toUpperCase()}`;
}

export const mailCommand = defineCommand({
  verbs: ['MAIL'],
  states: ['ready'],
  async handle(ctx, command) {
    if (ctx.state.kind !== 'ready') throw badSequence();
    const helo = ctx.state.helo;
    if (ctx.policy.requireAuth && ctx.auth === null) {
      throw new SmtpReply(530, '5.7.0', 'Authentication required', { badCommand: true });
    }
    const { limits } = ctx.env.config;
    const params = parseMailParams(command.params, {
      extended: helo.verb === 'EHLO',
      messageSize: limits.messageSize,
      tls: ctx.conn.secure,
    });
    // RFC 6531 §3.4: a non-ASCII address needs the SMTPUTF8 parameter.
    if (!params.smtputf8 && !isAscii(command.path.address)) {
      throw new SmtpReply(553, '5.6.7', 'Non-ASCII address needs the SMTPUTF8 parameter');
    }
    if (ctx.auth !== null && !(await senderBelongsTo(ctx, command.path, ctx.auth))) {
      throw new SmtpReply(553, '5.7.1', `Sender address not owned by ${ctx.auth.address}`);
    }
    ctx.state = {
      kind: 'transaction',
      helo,
      tx: {
        id: newQueueId(),
        from: command.path,
        params,
        local: new Map(),
        localRecipients: new Map(),
        remote: new Map(),
        accepted: 0,
        firstRecipient: null,
      },
    };
    ctx.reply(250, '2.1.0', 'Sender OK');
  },
});
