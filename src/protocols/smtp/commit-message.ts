// The end of a message (final dot, or BDAT LAST): prepend the trace headers, store it once for
// every local recipient and queue the outbound copy in the same commit, then answer. Invariants:
// 250 only after the commit resolved (on disk); a failed commit stores nothing and answers 4xx/5xx
// (RFC 5321 §4.2.5: we take responsibility only with the 250); the session is back in 'ready'
// whatever happens.

import { isStoreError } from '../../core/errors.js';
import type { InboundMessage } from '../../delivery/inbound.js';
import type { OutboundEnvelope } from '../../store/types.js';
import type { SmtpSessionContext } from './context.js';
import { SmtpReply } from './reply.js';
import type { Helo, Transaction } from './state.js';
import { tracePrefix } from './trace.js';

function outboundEnvelope(ctx: SmtpSessionContext, tx: Transaction): OutboundEnvelope | null {
  if (tx.remote.size === 0) return null;
  return {
    mailFrom: tx.from.address,
    recipients: [...tx.remote.values()].map((r) => ({
      address: r.address,
      notify: r.notify,
      orcpt: r.orcpt,
    })),
    envid: tx.params.envid,
    ret: tx.params.ret,
    body: tx.params.body,
    smtputf8: tx.params.smtputf8,
    accountId: ctx.auth?.id ?? null,
  };
}

export async function commitMessage(
  ctx: SmtpSessionContext,
  helo: Helo,
  tx: Transaction,
  message: InboundMessage,
): Promise<void> {
  const log = ctx.log.child({ queueId: tx.id });
  try {
    const prefix = await tracePrefix(ctx, helo, tx, message);
    const outcomes = await message.commit({
      prefix,
      local: [...tx.local.values()],
      outbound: outboundEnvelope(ctx, tx),
    });
    ctx.state = { kind: 'ready', helo };
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length > 0 && failed.length === outcomes.length && tx.remote.size === 0) {
      // Nothing was stored for anyone: refuse the whole message.
      const overQuota = failed.every((o) => !o.ok && o.error.code === 'OVER_QUOTA');
      log.info({ failed: failed.length }, 'message refused at commit');
      if (overQuota) ctx.reply(552, '5.2.2', 'Mailbox full');
      else ctx.reply(451, '4.3.0', 'Local error in processing');
      return;
    }
    if (failed.length > 0) {
      // Some mailboxes refused it (quota filled up since RCPT); the others have it.
      log.warn(
        { failed: failed.length, stored: outcomes.length - failed.length },
        'message stored for some recipients only',
      );
    }
    log.info(
      { local: outcomes.length - failed.length, remote: tx.remote.size, from: tx.from.address.slice(0, 320) },
      'message accepted',
    );
    ctx.reply(250, '2.0.0', `OK queued as ${tx.id}`);
  } catch (err) {
    await message.abort();
    ctx.state = { kind: 'ready', helo };
    if (err instanceof SmtpReply) {
      ctx.reply(err.code, err.enhanced, err.text);
    } else if (isStoreError(err, 'TOO_LARGE')) {
      ctx.reply(552, '5.3.4', 'Message size exceeds fixed maximum message size');
    } else if (isStoreError(err, 'OVER_QUOTA')) {
      ctx.reply(552, '5.2.2', 'Mailbox full');
    } else {
      log.error({ err }, 'message commit failed');
      ctx.reply(451, '4.3.0', 'Local error in processing');
    }
  }
}
