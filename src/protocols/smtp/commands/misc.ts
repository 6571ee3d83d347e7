// RSET, NOOP, QUIT, VRFY, EXPN and HELP (RFC 5321 §4.1.1.5 - §4.1.1.10).

import { ANY_LINE_STATE, defineCommand } from '../context.js';

export const rsetCommand = defineCommand({
  verbs: ['RSET'],
  states: ANY_LINE_STATE,
  async handle(ctx) {
    await ctx.resetTransaction();
    ctx.reply(250, '2.0.0', 'Reset OK');
  },
});

export const noopCommand = defineCommand({
  verbs: ['NOOP'],
  states: ANY_LINE_STATE,
  async handle(ctx) {
    ctx.reply(250, '2.0.0', 'OK');
  },
});

export const quitCommand = defineCommand({
  verbs: ['QUIT'],
  states: ANY_LINE_STATE,
  async handle(ctx) {
    await ctx.resetTransaction();
    ctx.close(221, '2.0.0', `${ctx.env.config.hostname} closing connection`);
  },
});

// RFC 5321 §3.5.3: 252 when the server will not verify; answering the same for every address
// means VRFY cannot be used to enumerate users.
export const vrfyCommand = defineCommand({
  verbs: ['VRFY', 'EXPN', 'HELP'],
  states: ANY_LINE_STATE,
  async handle(ctx, command) {
    switch (command.verb) {
      case 'VRFY':
        ctx.reply(252, '2.5.0', 'Cannot VRFY user, but will accept message and attempt delivery');
        return;
      case 'EXPN':
        ctx.reply(502, '5.5.1', 'EXPN not available');
        return;
      case 'HELP':
        ctx.reply(214, '2.0.0', [
          'Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH',
          'See RFC 5321',
        ]);
        return;
    }
  },
});
