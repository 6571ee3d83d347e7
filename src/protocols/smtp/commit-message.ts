// The end of a message (final dot, or BDAT LAST): the checks made on the whole message, then
// its delivery adds the trace headers and stores it once for every local recipient, queueing
// the outbound copy in the same commit; then the answer. Invariants: 250 only after the commit
// resolved (on disk); a refused or failed message stores nothing and answers 4xx/5xx (RFC 5321
// §4.2.5: we take responsibility only with the 250); the session is back in 'ready' whatever
// happens; a local recipient whose mailbox refused the message at commit while others took it
// (quota filled since RCPT) gets a DSN to the sender (RFC 3461 §6.2: we took responsibility).
// Checks, in order, each refusing before anything is stored or verified:
// - the top-level header section over limits.messageHeaderSize: 552 5.3.4;
// - more Received: fields than smtp.maxHops (RFC 5321 §6.3, a mail loop): 554 5.4.6;
// - on an authenticated session, a From: address that is not the user's: 550 5.7.1;
// - from other servers, DMARC failing with p=reject: 550 5.7.1, or p=quarantine: into Junk
//   (each as smtp.dmarcReject / smtp.dmarcQuarantine say).

import { isStoreError } from '../../core/errors.js';
import type { AppendOutcome, LocalFailure } from '../../store/types.js';
import { VerificationTimeout, type Delivery } from '../../delivery/delivery.js';
import type { SmtpSessionContext } from './context.js';
import { dmarcAction } from './dmarc-action.js';
import { SmtpReply } from './reply.js';
import { foreignFromAddress } from './sender-login.js';
import type { Helo, Transaction } from './state.js';

/** The reply refusing the message for what its header section holds, or null. */
async function headerRefusal(ctx: SmtpSessionContext, delivery: Delivery): Promise<SmtpReply | null> {
  const section = delivery.headerSection();
  if (section.tooLarge) {
    return new SmtpReply(552, '5.3.4', 'Message header size exceeds the limit');
  }
  if (section.received > ctx.env.config.smtp.maxHops) {
    return new SmtpReply(554, '5.4.6', 'Too many hops (mail loop?)');
  }
  if (ctx.auth !== null) {
    const foreign = await foreignFromAddress(ctx, ctx.auth, section.from);
    if (foreign === '') return new SmtpReply(550, '5.7.1', 'From: header cannot be checked');
    if (foreign !== null) {
      return new SmtpReply(550, '5.7.1', `From: address not owned by ${ctx.auth.address}`);
    }
  }
  return null;
}

export async function commitMessage(
  ctx: SmtpSessionContext,
  helo: Helo,
  tx: Transaction,
  delivery: Delivery,
): Promise<void> {
  const log = ctx.log.child({ queueId: tx.id });
  try {
    const refusal = await headerRefusal(ctx, delivery);
    if (refusal !== null) {
      await delivery.abort();
      ctx.state = { kind: 'ready', helo };
      log.info({ reply: `${refusal.code} ${refusal.enhanced ?? ''}` }, 'message refused at end of data');
      ctx.reply(refusal.code, refusal.enhanced, refusal.text);
      return;
    }
    const trace = await delivery.authenticate();
    if (trace.authentication !== null) {
      const action = dmarcAction({
        config: ctx.env.config.smtp,
        outcome: trace.authentication,
        clientIp: ctx.conn.remoteAddress,
        mailFromDomain: tx.from.domain,
      });
      if (action === 'reject') {
        await delivery.abort();
        ctx.state = { kind: 'ready', helo };
        log.info({ dmarcPolicy: trace.authentication.dmarcPolicy }, 'message refused by DMARC policy');
        ctx.reply(550, '5.7.1', "Message refused by the DMARC policy of the sender's domain");
        return;
      }
      if (action === 'quarantine') {
        await delivery.quarantine();
        log.info({ dmarcPolicy: trace.authentication.dmarcPolicy }, 'message quarantined by DMARC policy');
      }
    }
    const { targets: outcomes, blob } = await delivery.commit();
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
      const failures = localFailures(tx, failed);
      if (blob !== null && failures.length > 0) {
        if (ctx.env.outbound === undefined) log.warn('no outbound worker: no DSN for the failed recipients');
        ctx.env.outbound?.reportLocalFailures({
          mailFrom: tx.from.address,
          envid: tx.params.envid,
          ret: tx.params.ret,
          arrivalDate: new Date(),
          blob,
          failures,
        });
      }
    }
    log.info(
      { local: outcomes.length - failed.length, remote: tx.remote.size, from: tx.from.address.slice(0, 320) },
      'message accepted',
    );
    ctx.reply(250, '2.0.0', `OK queued as ${tx.id}`);
  } catch (err) {
    await delivery.abort();
    ctx.state = { kind: 'ready', helo };
    if (err instanceof SmtpReply) {
      ctx.reply(err.code, err.enhanced, err.text);
    } else if (err instanceof VerificationTimeout) {
      // Verification cut off by limits.verify_timeout: nothing is known yet; the client retries.
      ctx.reply(451, '4.3.0', 'Message verification timed out; try again later');
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

/** The RCPTs behind the mailboxes that refused the message, with the status their DSN reports. */
function localFailures(tx: Transaction, failed: AppendOutcome[]): LocalFailure[] {
  const out: LocalFailure[] = [];
  for (const o of failed) {
    if (o.ok) continue;
    const overQuota = o.error.code === 'OVER_QUOTA';
    for (const r of tx.localRecipients.get(o.mailboxId) ?? []) {
      out.push({
        address: r.address,
        notify: r.notify,
        orcpt: r.orcpt,
        status: overQuota ? '5.2.2' : '5.3.0',
        text: overQuota ? '552 5.2.2 Mailbox full' : '550 5.3.0 Local error in processing',
      });
    }
  }
  return out;
}
