// LOGIN, AUTHENTICATE (PLAIN and LOGIN, with SASL-IR, RFC 4959) and STARTTLS (RFC 9051 §6.2).
// Invariants: plaintext credentials are refused where LOGINDISABLED is advertised (no TLS and
// not loopback); every failure counts towards limits.authFailuresPerSession and, for wrong
// credentials, the per-IP ban (Authenticator); passwords never reach the log; the OK of a
// successful login carries the new CAPABILITY list (RFC 9051 §6.2.2).

import type { AuthResult } from '../../../auth/authenticator.js';
import { createSaslServer, SaslError, type SaslStep } from '../../../auth/sasl.js';
import { atom, codes, raw } from '../../../wire/imap/encoder.js';
import { astring } from '../../../wire/imap/reader.js';
import type { CommandResult, ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import { quotaAlertText } from '../quota-alert.js';
import { NOT_AUTHENTICATED } from '../state.js';

const privacyRequired = (): ImapNo =>
  new ImapNo('Plaintext authentication is disabled without TLS', { name: 'PRIVACYREQUIRED' });

async function complete(ctx: ImapSessionContext, username: string, password: string): Promise<CommandResult> {
  const result: AuthResult = await ctx.env.authenticator.authenticate({
    username,
    password,
    remoteAddress: ctx.conn.remoteAddress,
    protocol: 'imap',
  });
  if (result.ok) {
    ctx.state = { kind: 'authenticated', account: result.account };
    ctx.log.info({ user: result.account.address }, 'imap authenticated');
    // The account as stored now (the credential cache may hold an older copy of its usage).
    const current = (await ctx.env.store.getAccountById(result.account.id)) ?? result.account;
    const alert = quotaAlertText(current, ctx.env.config.store.quotaWarnings);
    if (alert !== null) ctx.untagged(atom('OK'), raw('[ALERT]'), raw(alert));
    return { code: codes.capability(ctx.capabilities()), text: 'Logged in' };
  }
  if (result.reason === 'banned') {
    ctx.closeAfterResponse('Too many authentication failures');
    throw new ImapNo('Access temporarily denied', { name: 'UNAVAILABLE' });
  }
  throw failure(ctx, new ImapNo('Invalid credentials', { name: 'AUTHENTICATIONFAILED' }));
}

/** Counts a failed attempt; past the per-session limit the session is closed after the reply. */
function failure<E extends ImapNo | ImapBad>(ctx: ImapSessionContext, err: E): E {
  if (ctx.authFailures.fail()) ctx.closeAfterResponse('Too many authentication failures');
  return err;
}

function saslFailure(err: SaslError): ImapNo | ImapBad {
  switch (err.code) {
    case 'CANCELLED':
      return new ImapBad('Authentication cancelled');
    case 'TOO_LONG':
      return new ImapBad('Authentication response too long');
    case 'AUTHZID_REFUSED':
      return new ImapNo('Authorization identity must equal the authentication identity', {
        name: 'AUTHORIZATIONFAILED',
      });
    case 'UNSUPPORTED_MECHANISM':
      return new ImapNo('Unsupported authentication mechanism', { name: 'CANNOT' });
    case 'BAD_BASE64':
    case 'NUL_IN_FIELD':
    case 'MALFORMED':
    case 'UNEXPECTED':
      return new ImapBad('Cannot decode authentication response');
  }
}

export const AUTH_COMMANDS: ImapCommandSpec[] = [
  {
    name: 'LOGIN',
    states: NOT_AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length !== 2) throw new ImapBad('LOGIN takes a user name and a password');
      const user = astring(cmd.args[0]);
      const password = astring(cmd.args[1]);
      if (user === null || password === null || cmd.args.some((a) => a.kind === 'nil')) {
        throw new ImapBad('LOGIN takes a user name and a password');
      }
      if (!ctx.plaintextAuthAllowed) throw privacyRequired();
      return complete(ctx, user, password);
    },
  },
  {
    name: 'AUTHENTICATE',
    states: NOT_AUTHENTICATED,
    async handle(ctx, cmd) {
      const mech = cmd.args[0];
      const initial = cmd.args[1];
      if (
        mech?.kind !== 'atom' ||
        cmd.args.length > 2 ||
        (initial !== undefined && initial.kind !== 'atom')
      ) {
        throw new ImapBad('AUTHENTICATE takes a mechanism and an optional initial response');
      }
      let sasl;
      try {
        sasl = createSaslServer(mech.value.toUpperCase());
      } catch (err) {
        if (err instanceof SaslError) throw saslFailure(err);
        throw err;
      }
      if (!ctx.plaintextAuthAllowed) throw privacyRequired();
      let step: SaslStep;
      try {
        step = sasl.start(initial?.kind === 'atom' ? initial.value : undefined);
        while (step.kind === 'challenge') {
          const line = await ctx.continuation(step.challenge);
          if (line === null) return { silent: true };
          step = sasl.respond(line.toString('latin1'));
        }
      } catch (err) {
        if (err instanceof SaslError) throw failure(ctx, saslFailure(err));
        throw err;
      }
      return complete(ctx, step.credentials.authcid, step.credentials.password);
    },
  },
  {
    name: 'STARTTLS',
    states: NOT_AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length > 0) throw new ImapBad('STARTTLS takes no arguments');
      if (ctx.conn.secure) throw new ImapBad('TLS is already active');
      await ctx.startTls(cmd.tag);
      return { silent: true };
    },
  },
];
