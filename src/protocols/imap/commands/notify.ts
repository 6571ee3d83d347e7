// NOTIFY (RFC 5465 §3): NOTIFY SET [STATUS] event-groups replaces the session's notification
// request, NOTIFY NONE ends it. Parsing and its errors are in notify-request.ts; the watching
// and the untagged responses in notifier.ts.

import type { ImapCommandSpec } from '../context.js';
import { parseNotify } from '../notify-request.js';
import { AUTHENTICATED } from '../state.js';

export const NOTIFY_COMMANDS: ImapCommandSpec[] = [
  {
    name: 'NOTIFY',
    states: AUTHENTICATED,
    async handle(ctx, cmd) {
      const request = parseNotify(cmd.args, { utf8: ctx.utf8, rev2: ctx.rev2 });
      await ctx.setNotify(request, { status: request?.status === true });
      return { text: request === null ? 'NOTIFY NONE completed' : 'NOTIFY completed' };
    },
  },
];
