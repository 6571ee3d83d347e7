// STARTTLS (RFC 3207). Invariant: once the 220 is sent, nothing received before the handshake is
// ever read as a command (the Connection drops its pending input, we drop the reader's), and the
// session starts over as if just greeted: no EHLO, no transaction, no authentication (§4.2).

import { formatReply } from '../../../wire/smtp/reply.js';
import { defineCommand } from '../context.js';
import { badSequence } from '../reply.js';

export const starttlsCommand = defineCommand({
  verbs: ['STARTTLS'],
  states: ['greeted', 'ready'],
  async handle(ctx) {
    if (ctx.conn.secure) throw badSequence('TLS already active');
    await ctx.resetTransaction();
    await ctx.flush();
    const handshake = ctx.conn.startTls({ response: formatReply(220, '2.0.0', 'Ready to start TLS') });
    // startTls has synchronously stopped reading and discarded the socket's buffered input;
    // now drop what our reader holds (commands pipelined after STARTTLS: injection, §5).
    ctx.discardBufferedInput();
    ctx.state = { kind: 'greeted' };
    ctx.auth = null;
    try {
      await handshake;
    } catch {
      // startTls logged the failure and closed the connection; the session loop ends on close.
    }
  },
});
