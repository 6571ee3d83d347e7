// DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030). Invariants: the body streams into the
// transaction's Delivery (bounded memory, SIZE enforced while streaming, RFC 1870 §6); a body that fails
// (too large, bare CR/LF in 'reject' mode) is still read to its end so the session stays in step,
// and nothing of it is stored; the connection cut before the end stores nothing; 250 is sent only
// once the commit is durable (commitMessage).

import type { Delivery } from '../../../delivery/delivery.js';
import { isStoreError } from '../../../core/errors.js';
import { AFTER_HELO, ANY_LINE_STATE, defineCommand, type SmtpSessionContext } from '../context.js';
import { commitMessage } from '../commit-message.js';
import { badSequence, SmtpReply } from '../reply.js';
import type { Helo, Transaction } from '../state.js';

function tooLarge(): SmtpReply {
  return new SmtpReply(552, '5.3.4', 'Message size exceeds fixed maximum message size');
}

/**
 * Writes one body chunk unless the message already failed; returns the failure, if any. Never
 * throws: the caller must go on reading the body to its end whatever happens, or the rest of
 * it would be read as commands.
 */
async function writeChunk(
  ctx: SmtpSessionContext,
  delivery: Delivery,
  chunk: Buffer,
  failure: SmtpReply | null,
): Promise<SmtpReply | null> {
  if (failure !== null) return failure;
  try {
    await delivery.write(chunk);
    return null;
  } catch (err) {
    if (isStoreError(err, 'TOO_LARGE')) return tooLarge();
    ctx.log.error({ err }, 'cannot spool the message body');
    return new SmtpReply(451, '4.3.0', 'Local error in processing');
  }
}

/** The transaction DATA or BDAT may carry a body for, or the reply refusing it. */
function readyTransaction(ctx: SmtpSessionContext): { helo: Helo; tx: Transaction } | SmtpReply {
  const state = ctx.state;
  if (state.kind !== 'transaction') return badSequence('Need MAIL and RCPT first');
  // RFC 2920 §3.1: DATA after every RCPT failed gets 554.
  if (state.tx.accepted === 0)
    return new SmtpReply(554, '5.5.1', 'No valid recipients', { badCommand: true });
  return { helo: state.helo, tx: state.tx };
}

export const dataCommand = defineCommand({
  verbs: ['DATA'],
  states: AFTER_HELO,
  async handle(ctx) {
    const ready = readyTransaction(ctx);
    if (ready instanceof SmtpReply) throw ready;
    const { helo, tx } = ready;
    // RFC 3030 §3: a BINARYMIME body can only be sent with BDAT.
    if (tx.params.body === 'BINARYMIME') throw badSequence('BINARYMIME needs BDAT');
    const delivery = ctx.startDelivery(helo, tx);
    ctx.state = { kind: 'data', helo, tx, delivery };
    ctx.reply(354, null, 'End data with <CR><LF>.<CR><LF>');
    ctx.setReaderMode({ kind: 'data', bareLineEndings: ctx.env.config.smtp.bareLineEndings });
    ctx.conn.setIdleTimeout(ctx.policy.dataTimeoutSeconds);
    let failure: SmtpReply | null = null;
    for (;;) {
      const input = await ctx.nextInput();
      if (input === null) {
        await ctx.resetTransaction(); // cut before the final dot: nothing is delivered
        return;
      }
      if (input.kind === 'data') {
        failure = await writeChunk(ctx, delivery, input.chunk, failure);
      } else if (input.kind === 'dataEnd') {
        if (input.error === 'bareLineEnding' && failure === null) {
          // Bare CR or LF: the SMTP smuggling vector (CVE-2023-51764 and kin); refuse the message.
          failure = new SmtpReply(550, '5.6.0', 'Bare CR or LF in message text not allowed; use CRLF');
        }
        break;
      }
    }
    ctx.conn.setIdleTimeout(ctx.policy.commandTimeoutSeconds);
    if (failure !== null) {
      await ctx.resetTransaction();
      ctx.reply(failure.code, failure.enhanced, failure.text);
      return;
    }
    await commitMessage(ctx, helo, tx, delivery);
  },
});

export const bdatCommand = defineCommand({
  verbs: ['BDAT'],
  // Every state: the chunk's bytes must be read whatever the answer (RFC 3030 §2).
  states: ANY_LINE_STATE,
  async handle(ctx, command) {
    let failure: SmtpReply | null = null;
    let delivery: Delivery | null = null;
    let helo: Helo | null = null;
    let tx: Transaction | null = null;
    const state = ctx.state;
    if (state.kind === 'chunking') {
      ({ delivery, helo, tx } = state);
    } else {
      const ready = readyTransaction(ctx);
      if (ready instanceof SmtpReply) failure = ready;
      else {
        ({ helo, tx } = ready);
        delivery = ctx.startDelivery(helo, tx);
        ctx.state = { kind: 'chunking', helo, tx, delivery };
      }
    }
    ctx.setReaderMode({ kind: 'bdat', size: command.size });
    ctx.conn.setIdleTimeout(ctx.policy.dataTimeoutSeconds);
    for (;;) {
      const input = await ctx.nextInput();
      if (input === null) {
        await ctx.resetTransaction();
        return;
      }
      if (input.kind === 'bdatEnd') break;
      if (input.kind === 'bdatChunk' && delivery !== null) {
        failure = await writeChunk(ctx, delivery, input.chunk, failure);
      }
    }
    ctx.conn.setIdleTimeout(ctx.policy.commandTimeoutSeconds);
    if (failure !== null) {
      // RFC 3030 §2: after a failed chunk the transaction is over; later BDATs get 503.
      await ctx.resetTransaction();
      throw failure;
    }
    if (delivery === null || helo === null || tx === null) throw badSequence();
    if (!command.last) {
      ctx.reply(250, '2.0.0', `${command.size} octets received`);
      return;
    }
    await commitMessage(ctx, helo, tx, delivery);
  },
});
