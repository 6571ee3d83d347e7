// RETR and TOP (RFC 1939 §7): a message streamed from the blob store, byte-stuffed on the way
// (DotStuffer) and, for TOP, cut after the header and n body lines (TopCutter). Invariants:
// - a message expunged by another session (IMAP) since the snapshot answers -ERR: the store is
//   asked (one primary-key lookup, MailStore.hasMessage) before anything is sent;
// - memory per connection stays bounded: messages up to SMALL_MESSAGE bytes are read in one
//   piece and sent in one write; larger ones are streamed chunk by chunk, waiting for the
//   socket to drain (backpressure);
// - once "+OK" is out, a read failure cannot be reported on the wire: the connection is cut,
//   so the client never takes a truncated message for a whole one;
// - RETR marks the message \Seen and retrieved (once a session, batched, see seen-marker.ts);
//   TOP does not;
// - small messages are read synchronously from a local blob store (into a buffer shared by the
//   process, copied out before anything yields), else the next one is read ahead
//   (read-ahead.ts), at most one of at most SMALL_MESSAGE bytes.

import { Pop3Err } from '../../../wire/pop3/command.js';
import { DotStuffer, ok, TopCutter } from '../../../wire/pop3/response.js';
import { defineCommand, transaction, type Pop3SessionContext } from '../context.js';
import { SMALL_MESSAGE } from '../read-ahead.js';
import type { MaildropMessage } from '../snapshot.js';

function stillStored(ctx: Pop3SessionContext, m: MaildropMessage): Promise<boolean> {
  return ctx.env.store.hasMessage(transaction(ctx).maildrop.mailboxId, m.uid);
}

/**
 * Sends "+OK" and the byte-stuffed message (cut by `cutter` for TOP), then starts reading
 * `next` ahead. False if the connection was cut.
 */
async function sendMessage(
  ctx: Pop3SessionContext,
  m: MaildropMessage,
  status: Buffer,
  cutter: TopCutter | null,
  next: MaildropMessage | null,
): Promise<boolean> {
  const { blobs } = ctx.env;
  const { readAhead } = transaction(ctx);
  const stuffer = new DotStuffer();
  if (m.size <= SMALL_MESSAGE) {
    let bytes: Buffer;
    try {
      // Possibly the process's shared buffer: nothing may yield until its bytes are copied out.
      bytes = readAhead.readShared(m.blobId, m.size) ?? (await readAhead.read(m.blobId, m.size));
    } catch (err) {
      ctx.log.error({ err, blobId: m.blobId }, 'pop3: cannot read a message');
      throw new Pop3Err('syntax', 'cannot read the message now', 'SYS/TEMP');
    }
    if (next !== null && next.size <= SMALL_MESSAGE) readAhead.prefetch(next.blobId, next.size);
    const body = cutter === null ? bytes : cutter.push(bytes);
    // Buffer.concat copies: the response owns its bytes while the socket holds it.
    const response = Buffer.concat([status, ...stuffer.push(body), stuffer.end()]);
    await ctx.send(response);
    return !ctx.conn.closed;
  }
  const stream = blobs.read(m.blobId);
  let started = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const body = cutter === null ? chunk : cutter.push(chunk);
      const pieces = stuffer.push(body);
      if (!started) {
        pieces.unshift(status);
        started = true;
      }
      if (pieces.length > 0) await ctx.send(pieces.length === 1 ? pieces[0] : Buffer.concat(pieces));
      if (ctx.conn.closed) return false;
      if (cutter?.done === true) break;
    }
  } catch (err) {
    ctx.log.error({ err, blobId: m.blobId }, 'pop3: reading a message failed');
    if (!started) throw new Pop3Err('syntax', 'cannot read the message now', 'SYS/TEMP');
    ctx.abort();
    return false;
  } finally {
    stream.destroy();
  }
  if (next !== null && next.size <= SMALL_MESSAGE) readAhead.prefetch(next.blobId, next.size);
  await ctx.send(started ? stuffer.end() : Buffer.concat([status, stuffer.end()]));
  return !ctx.conn.closed;
}

async function retrieve(ctx: Pop3SessionContext, n: number, lines: number | null): Promise<void> {
  const { maildrop, seen } = transaction(ctx);
  const m = maildrop.get(n);
  if (m === null) {
    throw new Pop3Err('syntax', n <= maildrop.size ? `message ${n} already deleted` : 'no such message');
  }
  if (!(await stillStored(ctx, m))) {
    throw new Pop3Err('syntax', `message ${n} was removed by another session`);
  }
  const status = lines === null ? ok(`${m.size} octets`) : ok(`top of message ${n} follows`);
  // Clients download in order: the next message is read while this one goes out.
  const next = maildrop.get(n + 1);
  const sent = await sendMessage(ctx, m, status, lines === null ? null : new TopCutter(lines), next);
  if (sent && lines === null && !m.retrieved) {
    m.retrieved = true;
    seen.mark(m.uid);
  }
}

export const retrCommand = defineCommand({
  verbs: ['RETR'],
  states: ['transaction'],
  async handle(ctx, command) {
    await retrieve(ctx, command.msg, null);
  },
});

export const topCommand = defineCommand({
  verbs: ['TOP'],
  states: ['transaction'],
  async handle(ctx, command) {
    await retrieve(ctx, command.msg, command.lines);
  },
});
