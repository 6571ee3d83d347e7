// EHLO and HELO (RFC 5321 §4.1.1.1). Both reset any transaction; EHLO lists the extensions this
// session may use now: AUTH only where plaintext passwords are safe, STARTTLS only before TLS.

import { ANY_LINE_STATE, defineCommand, type SmtpSessionContext } from '../context.js';

export function ehloKeywords(ctx: SmtpSessionContext): string[] {
  const keywords = [
    'PIPELINING', // RFC 2920
    `SIZE ${ctx.env.config.limits.messageSize}`, // RFC 1870
    '8BITMIME', // RFC 6152
    'SMTPUTF8', // RFC 6531
    'CHUNKING', // RFC 3030
    'BINARYMIME', // RFC 3030
    'ENHANCEDSTATUSCODES', // RFC 2034
    'DSN', // RFC 3461
  ];
  if (!ctx.conn.secure)
    keywords.push('STARTTLS'); // RFC 3207
  // RFC 8689 §2, §4.1: REQUIRETLS only where the session itself is TLS (after STARTTLS, or 465).
  else keywords.push('REQUIRETLS');
  if (ctx.authAllowed && ctx.auth === null) keywords.push('AUTH PLAIN LOGIN'); // RFC 4954
  keywords.push('HELP');
  return keywords;
}

export const ehloCommand = defineCommand({
  verbs: ['EHLO', 'HELO'],
  states: ANY_LINE_STATE,
  async handle(ctx, command) {
    await ctx.resetTransaction();
    ctx.state = { kind: 'ready', helo: { verb: command.verb, domain: command.domain } };
    const hostname = ctx.env.config.hostname;
    if (command.verb === 'HELO') {
      ctx.reply(250, null, hostname);
      return;
    }
    // RFC 2034 §3: no enhanced codes in the EHLO response itself.
    ctx.reply(250, null, [
      `${hostname} Hello ${command.domain} [${ctx.conn.remoteAddress}]`,
      ...ehloKeywords(ctx),
    ]);
  },
});
