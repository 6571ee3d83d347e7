// AUTH (RFC 4954) with SASL PLAIN and LOGIN from src/auth/sasl.ts. Invariants: plaintext
// mechanisms are refused where they are not offered (no TLS, except from loopback on
// submission); every failure counts towards limits.authFailuresPerSession and, for wrong
// credentials, the per-IP ban (Authenticator); passwords never reach the log.

import { createSaslServer, SaslError, type SaslServer, type SaslStep } from '../../../auth/sasl.js';
import { defineCommand, type SmtpSessionContext } from '../context.js';
import { badSequence, SmtpReply } from '../reply.js';

function saslFailure(err: SaslError): SmtpReply {
  switch (err.code) {
    case 'CANCELLED':
      return new SmtpReply(501, '5.0.0', 'Authentication cancelled');
    case 'TOO_LONG':
      return new SmtpReply(500, '5.5.6', 'Authentication exchange line is too long');
    case 'AUTHZID_REFUSED':
      return new SmtpReply(535, '5.7.8', 'Authorization identity must equal the authentication identity');
    case 'UNSUPPORTED_MECHANISM':
      return new SmtpReply(504, '5.5.4', 'Unrecognized authentication type');
    case 'BAD_BASE64':
    case 'NUL_IN_FIELD':
    case 'MALFORMED':
    case 'UNEXPECTED':
      return new SmtpReply(501, '5.5.2', 'Cannot decode response');
  }
}

/** Runs the challenge/response exchange; returns the credentials, or a reply to fail with. */
async function exchange(
  ctx: SmtpSessionContext,
  sasl: SaslServer,
  initialResponse: string | null,
): Promise<SaslStep | SmtpReply | null> {
  try {
    let step = sasl.start(initialResponse ?? undefined);
    while (step.kind === 'challenge') {
      ctx.challenge(step.challenge);
      const input = await ctx.nextInput();
      if (input === null) return null;
      if (input.kind === 'lineTooLong')
        return new SmtpReply(500, '5.5.6', 'Authentication exchange line is too long');
      if (input.kind !== 'line') return new SmtpReply(501, '5.5.2', 'Unexpected input');
      step = sasl.respond(input.line.toString('latin1'));
    }
    return step;
  } catch (err) {
    if (err instanceof SaslError) return saslFailure(err);
    throw err;
  }
}

export const authCommand = defineCommand({
  verbs: ['AUTH'],
  states: ['ready'],
  async handle(ctx, command) {
    if (ctx.auth !== null) throw badSequence('Already authenticated');
    if (!ctx.authAllowed) {
      // RFC 4954 §6: 538 when the mechanism needs an encrypted connection.
      throw new SmtpReply(538, '5.7.11', 'Encryption required for requested authentication mechanism');
    }
    let sasl: SaslServer;
    try {
      sasl = createSaslServer(command.mechanism);
    } catch (err) {
      if (err instanceof SaslError) throw saslFailure(err);
      throw err;
    }
    const outcome = await exchange(ctx, sasl, command.initialResponse);
    if (outcome === null) return;
    let failure: SmtpReply;
    if (outcome instanceof SmtpReply) {
      failure = outcome;
    } else if (outcome.kind === 'done') {
      const result = await ctx.env.authenticator.authenticate({
        username: outcome.credentials.authcid,
        password: outcome.credentials.password,
        remoteAddress: ctx.conn.remoteAddress,
        protocol: 'smtp',
      });
      if (result.ok) {
        ctx.auth = result.account;
        ctx.log.info({ user: result.account.address }, 'smtp authenticated');
        ctx.reply(235, '2.7.0', 'Authentication successful');
        return;
      }
      if (result.reason === 'banned') {
        ctx.close(421, '4.7.0', `${ctx.env.config.hostname} too many authentication failures`);
        return;
      }
      failure = new SmtpReply(535, '5.7.8', 'Authentication credentials invalid');
    } else {
      failure = new SmtpReply(501, '5.5.2', 'Unexpected input');
    }
    if (ctx.authFailures.fail()) {
      ctx.reply(failure.code, failure.enhanced, failure.text);
      ctx.close(421, '4.7.0', `${ctx.env.config.hostname} too many authentication failures`);
      return;
    }
    ctx.reply(failure.code, failure.enhanced, failure.text);
  },
});
