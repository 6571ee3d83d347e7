// COMPRESS (RFC 4978): raw DEFLATE both ways from the byte after the tagged OK, in the
// authenticated and selected states. The transform lives in the connection (src/server/
// connection.ts), under the session's reader and writer, so literals, IDLE, FETCH streaming
// and backpressure work unchanged; decompressed input meets the same line and literal bounds.

import type { ImapCommandSpec } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';

export const COMPRESS_COMMANDS: ImapCommandSpec[] = [
  {
    name: 'COMPRESS',
    states: ['authenticated', 'selected'],
    async handle(ctx, cmd) {
      const arg = cmd.args.length === 1 ? cmd.args[0]! : undefined;
      // RFC 4978 §3: an unknown or missing mechanism is BAD; DEFLATE is the only one defined.
      if (arg?.kind !== 'atom' || arg.value.toUpperCase() !== 'DEFLATE')
        throw new ImapBad('COMPRESS takes one mechanism: DEFLATE');
      // RFC 4978 §3: NO [COMPRESSIONACTIVE] when the same compression already runs.
      if (ctx.conn.compressed) throw new ImapNo('DEFLATE is already active', { name: 'COMPRESSIONACTIVE' });
      await ctx.startCompression(cmd.tag);
      return { silent: true };
    },
  },
];
