// CAPA (RFC 2449), NOOP, RSET, QUIT (RFC 1939), STLS (RFC 2595), UTF8 and LANG (RFC 6856).
// Invariants: STLS forgets every byte received before the handshake and all state learnt in
// clear (RFC 2595 §4); CAPA lists USER and SASL only where plaintext login is allowed, and STLS
// only before TLS.

import { Pop3Err } from '../../../wire/pop3/command.js';
import { multiline, ok } from '../../../wire/pop3/response.js';
import { SASL_MECHANISMS } from '../../../auth/sasl.js';
import { defineCommand, transaction, type Pop3SessionContext } from '../context.js';
import { applyDeletions } from '../update.js';
import { effectivePop3Expire, expireCapability } from '../../../store/rules/pop3-expire.js';

/** The capability lines for the current state (RFC 2449 §6). */
export async function capabilities(ctx: Pop3SessionContext): Promise<string[]> {
  const { pop3 } = ctx.env.config;
  const caps = ['TOP', 'UIDL'];
  const before = ctx.state.kind === 'authorization';
  if (before && ctx.plaintextAllowed) {
    caps.push('USER', `SASL ${SASL_MECHANISMS.join(' ')}`);
  }
  caps.push('RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING');
  caps.push(`EXPIRE ${await expireCapabilityFor(ctx)}`);
  if (pop3.loginDelay > 0) caps.push(`LOGIN-DELAY ${pop3.loginDelay}`);
  if (before && !ctx.conn.secure) caps.push('STLS');
  // RFC 6856 §2: "USER" says UTF-8 user names and passwords are accepted by USER and PASS.
  caps.push('UTF8 USER');
  caps.push('IMPLEMENTATION Postern');
  return caps;
}

/**
 * RFC 2449 §6.7: after login the account's own retention; before it the server's, with USER
 * when some domain or account has its own.
 */
async function expireCapabilityFor(ctx: Pop3SessionContext): Promise<string> {
  const { store, config } = ctx.env;
  const server = config.pop3.expire;
  if (ctx.state.kind === 'transaction') {
    const account = ctx.state.account;
    const domain = await store.getDomain(account.address.slice(account.address.lastIndexOf('@') + 1));
    return expireCapability(effectivePop3Expire(account.pop3Expire, domain?.pop3Expire ?? null, server));
  }
  const own = await store.hasPop3ExpireOverrides();
  return `${expireCapability(effectivePop3Expire(null, null, server))}${own ? ' USER' : ''}`;
}

export const capaCommand = defineCommand({
  verbs: ['CAPA'],
  states: ['authorization', 'transaction'],
  async handle(ctx) {
    ctx.ok('capability list follows');
    ctx.queue(multiline(await capabilities(ctx)));
  },
});

export const noopCommand = defineCommand({
  verbs: ['NOOP'],
  states: ['transaction'],
  async handle(ctx) {
    ctx.ok('');
  },
});

export const rsetCommand = defineCommand({
  verbs: ['RSET'],
  states: ['transaction'],
  async handle(ctx) {
    const { maildrop } = transaction(ctx);
    maildrop.reset();
    const { count, octets } = maildrop.stat();
    ctx.ok(`maildrop has ${count} messages (${octets} octets)`);
  },
});

export const quitCommand = defineCommand({
  verbs: ['QUIT'],
  states: ['authorization', 'transaction'],
  async handle(ctx) {
    const state = ctx.state;
    if (state.kind !== 'transaction') {
      ctx.ok('Postern POP3 server signing off');
      ctx.close();
      return;
    }
    // RFC 1939 §6: UPDATE. The session's end (session.ts) gives the lease up afterwards.
    ctx.state = { kind: 'update' };
    await state.seen.drain();
    const uids = state.maildrop.deletedUids();
    try {
      await applyDeletions({
        store: ctx.env.store,
        mode: ctx.env.config.pop3.deleteMode,
        accountId: state.account.id,
        mailboxId: state.maildrop.mailboxId,
        uids,
        log: ctx.log,
      });
    } catch (err) {
      ctx.log.error({ err }, 'pop3: applying deletions failed');
      await state.lease.release();
      ctx.close('some deleted messages not removed', 'SYS/TEMP');
      return;
    }
    await state.lease.release();
    const left = state.maildrop.size - uids.length;
    ctx.ok(`Postern POP3 server signing off (${left} messages left)`);
    ctx.close();
  },
});

export const stlsCommand = defineCommand({
  verbs: ['STLS'],
  states: ['authorization'],
  async handle(ctx) {
    if (ctx.conn.secure) throw new Pop3Err('syntax', 'TLS is already active');
    await ctx.flush();
    const handshake = ctx.conn.startTls({ response: ok('begin TLS negotiation') });
    // startTls has dropped the socket's buffered input; drop what our reader holds too:
    // commands pipelined after STLS were sent in clear and must not run inside TLS (RFC 2595 §4).
    ctx.discardBufferedInput();
    ctx.state = { kind: 'authorization', user: null };
    ctx.utf8 = false;
    try {
      await handshake;
    } catch {
      // startTls logged the failure and closed the connection; the session loop ends on close.
    }
  },
});

export const utf8Command = defineCommand({
  verbs: ['UTF8'],
  states: ['authorization'],
  async handle(ctx) {
    ctx.utf8 = true;
    ctx.ok('UTF8 enabled');
  },
});

export const langCommand = defineCommand({
  verbs: ['LANG'],
  states: ['authorization', 'transaction'],
  async handle(ctx, command) {
    // RFC 6856 §3: responses are in English only; LANG is answered but not advertised.
    if (command.tag === null) {
      ctx.ok('language listing follows');
      ctx.queue(multiline(['en English']));
      return;
    }
    const tag = command.tag.toLowerCase();
    if (tag === '*' || tag === 'en' || tag.startsWith('en-')) {
      ctx.ok('en English');
      return;
    }
    throw new Pop3Err('syntax', 'only English is available');
  },
});
