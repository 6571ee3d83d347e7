// IDLE (RFC 2177, RFC 9051 §6.3.13): after `+ idling` the session reports changes to the
// selected mailbox as they happen (any process: the store's watch() fires within its poll
// interval) until the client sends DONE. EXPUNGE may be sent during IDLE.

import type { ImapCommandSpec } from '../context.js';
import { ImapBad } from '../errors.js';
import { AUTHENTICATED } from '../state.js';

export const IDLE_COMMANDS: ImapCommandSpec[] = [
  {
    name: 'IDLE',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      if (cmd.args.length > 0) throw new ImapBad('IDLE takes no arguments');
      const line = await ctx.idle('idling', () => ctx.syncView({ expunges: true, uid: false }));
      if (line === null) return { silent: true };
      if (line.toString('latin1').toUpperCase() !== 'DONE') throw new ImapBad('Expected DONE');
      return { text: 'IDLE terminated' };
    },
  },
];
