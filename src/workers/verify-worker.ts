// Entry module of the verify worker threads (src/workers/pool.ts): SPF, DKIM, DMARC and ARC of
// one message per task (message-authentication.ts). The message is pulled chunk by chunk from
// the main thread ({ op: 'pull' }: one chunk in flight, so a large message is never held twice),
// and every DNS query is answered by the main thread's DnsResolver ({ op: 'dns' }), so the
// configured servers and the shared cache are used.

import type { MessageAuthenticationInput } from '../delivery/authentication-outcome.js';
import { authenticateMessage } from '../delivery/message-authentication.js';
import { serveTasks, type TaskContext } from './task-port.js';

/** The requests a verify task makes (answered in src/delivery/trace-headers.ts). */
export type VerifyRequest = { op: 'pull' } | { op: 'dns'; name: string; rrtype: string };

async function* pulled(ctx: TaskContext): AsyncGenerator<Uint8Array> {
  for (;;) {
    const chunk = await ctx.request({ op: 'pull' } satisfies VerifyRequest);
    if (!(chunk instanceof Uint8Array)) return;
    yield chunk;
  }
}

serveTasks({
  authenticate: (payload, ctx) =>
    authenticateMessage(pulled(ctx), payload as MessageAuthenticationInput, (name, rrtype) =>
      ctx.request({ op: 'dns', name, rrtype } satisfies VerifyRequest),
    ),
});
