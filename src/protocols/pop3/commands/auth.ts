// Login (RFC 1939 §7 USER/PASS and APOP, RFC 5034 AUTH with SASL PLAIN and LOGIN). Invariants:
// - plaintext credentials (USER/PASS, AUTH PLAIN/LOGIN) are taken only over TLS or from
//   loopback (RFC 2595 §2.1); elsewhere they are refused with [AUTH] before any check;
// - every wrong credential goes through the Authenticator (delay, per-IP ban across
//   protocols) or, for APOP, through the same tracker and delay; after
//   limits.authFailuresPerSession failures the session is closed;
// - USER answers +OK whatever the name, so user names cannot be probed (RFC 1939 §7 allows it);
// - passwords never reach the log.

import { createHash, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuthResult } from '../../../auth/authenticator.js';
import { normalizeIp } from '../../../auth/failure-tracker.js';
import { createSaslServer, SASL_MECHANISMS, SaslError, type SaslStep } from '../../../auth/sasl.js';
import { parseSaslResponse, Pop3Err } from '../../../wire/pop3/command.js';
import { multiline } from '../../../wire/pop3/response.js';
import { isPublicOwner } from '../../../store/rules/public-owner.js';
import { defineCommand, type Pop3SessionContext } from '../context.js';

const PLAINTEXT_REFUSED = 'plaintext authentication needs TLS: use STLS first';

/** Answers a failed login; closes the session past the per-session limit or when banned. */
function loginFailed(ctx: Pop3SessionContext, result: AuthResult | null, text: string): void {
  if (result !== null && !result.ok && result.reason === 'banned') {
    ctx.close('too many authentication failures, try again later', 'SYS/TEMP');
    return;
  }
  if (ctx.authFailures.fail()) {
    ctx.err(text, 'AUTH');
    ctx.close('too many authentication failures');
    return;
  }
  ctx.err(text, 'AUTH');
}

async function passwordLogin(ctx: Pop3SessionContext, username: string, password: string): Promise<void> {
  const result = await ctx.env.authenticator.authenticate({
    username,
    password,
    remoteAddress: ctx.conn.remoteAddress,
    protocol: 'pop3',
  });
  if (result.ok) {
    await ctx.login(result.account);
    return;
  }
  loginFailed(
    ctx,
    result,
    result.reason === 'disabled' ? 'account disabled' : 'invalid user name or password',
  );
}

export const userCommand = defineCommand({
  verbs: ['USER'],
  states: ['authorization'],
  async handle(ctx, command) {
    if (!ctx.plaintextAllowed) throw new Pop3Err('syntax', PLAINTEXT_REFUSED, 'AUTH');
    ctx.state = { kind: 'authorization', user: command.name };
    ctx.ok('send PASS');
  },
});

export const passCommand = defineCommand({
  verbs: ['PASS'],
  states: ['authorization'],
  async handle(ctx, command) {
    const state = ctx.state;
    if (state.kind !== 'authorization' || state.user === null) {
      throw new Pop3Err('wrongState', 'send USER first');
    }
    ctx.state = { kind: 'authorization', user: null };
    if (!ctx.plaintextAllowed) throw new Pop3Err('syntax', PLAINTEXT_REFUSED, 'AUTH');
    await passwordLogin(ctx, state.user, command.password);
  },
});

/** RFC 1939 §7: digest = MD5(timestamp + secret), in lower-case hex. */
export function apopDigest(timestamp: string, secret: string): string {
  return createHash('md5')
    .update(timestamp + secret, 'utf8')
    .digest('hex');
}

export const apopCommand = defineCommand({
  verbs: ['APOP'],
  states: ['authorization'],
  async handle(ctx, command) {
    const timestamp = ctx.apopTimestamp;
    if (timestamp === null) throw new Pop3Err('unknownCommand', 'APOP is not enabled on this server');
    ctx.state = { kind: 'authorization', user: null };
    const { authenticator, store, config } = ctx.env;
    const ip = normalizeIp(ctx.conn.remoteAddress);
    if (authenticator.tracker.isBanned(ip)) {
      ctx.close('too many authentication failures, try again later', 'SYS/TEMP');
      return;
    }
    const name = command.name.toLowerCase();
    // A domain's public-folder owner never logs in (store/rules/public-owner.ts).
    const account = name.length <= 320 && !isPublicOwner(name) ? await store.getAccount(name) : null;
    const secret = account === null ? null : await store.getApopSecret(account.id);
    // Compare against a digest whatever happens, so a missing account or secret costs the same.
    const expected = Buffer.from(apopDigest(timestamp, secret ?? '\0no secret'), 'latin1');
    const given = Buffer.from(command.digest, 'latin1');
    const match = given.length === expected.length && timingSafeEqual(given, expected);
    if (account !== null && secret !== null && match && account.state === 'active') {
      ctx.log.info({ protocol: 'pop3', ip, user: account.address }, 'authenticated with APOP');
      await ctx.login(account);
      return;
    }
    if (!(account !== null && secret !== null && match)) authenticator.tracker.recordFailure(ip);
    ctx.log.info({ protocol: 'pop3', ip, user: name.slice(0, 320) }, 'APOP authentication failed');
    if (config.limits.authFailureDelay > 0) await sleep(config.limits.authFailureDelay);
    loginFailed(ctx, null, 'authentication failed');
  },
});

function saslFailure(err: SaslError): string {
  switch (err.code) {
    case 'CANCELLED':
      return 'authentication cancelled';
    case 'TOO_LONG':
      return 'authentication response too long';
    case 'AUTHZID_REFUSED':
      return 'authorization identity must equal the authentication identity';
    case 'UNSUPPORTED_MECHANISM':
      return 'unsupported authentication mechanism';
    default:
      return 'cannot decode the authentication response';
  }
}

/** The challenge/response exchange (RFC 5034 §4); null when the connection went away. */
async function exchange(
  ctx: Pop3SessionContext,
  mechanism: string,
  initialResponse: string | null,
): Promise<SaslStep | SaslError | null> {
  try {
    const sasl = createSaslServer(mechanism);
    // The codec turned "=" into ""; the SASL layer reads both as the empty response.
    let step = sasl.start(
      initialResponse === null ? undefined : initialResponse === '' ? '=' : initialResponse,
    );
    while (step.kind === 'challenge') {
      ctx.queue(Buffer.from(`+ ${step.challenge}\r\n`, 'latin1'));
      const input = await ctx.nextInput();
      if (input === null) return null;
      if (input.kind === 'lineTooLong') return new SaslError('TOO_LONG', 'response too long');
      const parsed = parseSaslResponse(input.line);
      if (parsed instanceof Pop3Err) return new SaslError('BAD_BASE64', parsed.message);
      if (parsed.kind === 'cancel') return new SaslError('CANCELLED', 'cancelled');
      step = sasl.respond(input.line.toString('latin1'));
    }
    return step;
  } catch (err) {
    if (err instanceof SaslError) return err;
    throw err;
  }
}

export const authCommand = defineCommand({
  verbs: ['AUTH'],
  states: ['authorization'],
  async handle(ctx, command) {
    ctx.state = { kind: 'authorization', user: null };
    if (command.mechanism === null) {
      // RFC 1734 clients send a bare AUTH to list the mechanisms.
      ctx.ok('SASL mechanisms follow');
      ctx.queue(multiline(ctx.plaintextAllowed ? [...SASL_MECHANISMS] : []));
      return;
    }
    if (!ctx.plaintextAllowed) throw new Pop3Err('syntax', PLAINTEXT_REFUSED, 'AUTH');
    const outcome = await exchange(ctx, command.mechanism, command.initialResponse);
    if (outcome === null) return;
    if (outcome instanceof SaslError) {
      // A cancelled or malformed exchange is not a wrong password: no ban, but it counts here.
      if (outcome.code === 'UNSUPPORTED_MECHANISM' || outcome.code === 'CANCELLED') {
        ctx.err(saslFailure(outcome));
        return;
      }
      loginFailed(ctx, null, saslFailure(outcome));
      return;
    }
    if (outcome.kind !== 'done') {
      loginFailed(ctx, null, 'unexpected authentication input');
      return;
    }
    await passwordLogin(ctx, outcome.credentials.authcid, outcome.credentials.password);
  },
});
