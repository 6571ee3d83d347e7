// STAT, LIST, UIDL and DELE (RFC 1939 §5, §7) over the session's snapshot. Invariants:
// - a message marked deleted does not exist for these commands (-ERR when named, left out of
//   listings), but keeps its number: numbers never shift during a session;
// - octet counts are the stored sizes, which are the sizes RETR sends before byte-stuffing
//   (stored messages have CRLF line endings).

import { Pop3Err } from '../../../wire/pop3/command.js';
import { multiline } from '../../../wire/pop3/response.js';
import { defineCommand, transaction } from '../context.js';
import type { Maildrop, MaildropMessage } from '../snapshot.js';

function message(maildrop: Maildrop, n: number): MaildropMessage {
  const m = maildrop.get(n);
  if (m === null) {
    const deleted = n <= maildrop.size;
    throw new Pop3Err('syntax', deleted ? `message ${n} already deleted` : `no such message`);
  }
  return m;
}

export const statCommand = defineCommand({
  verbs: ['STAT'],
  states: ['transaction'],
  async handle(ctx) {
    const { count, octets } = transaction(ctx).maildrop.stat();
    ctx.ok(`${count} ${octets}`);
  },
});

export const listCommand = defineCommand({
  verbs: ['LIST', 'UIDL'],
  states: ['transaction'],
  async handle(ctx, command) {
    const { maildrop } = transaction(ctx);
    const field = (m: MaildropMessage): string => (command.verb === 'LIST' ? String(m.size) : m.uidl);
    if (command.msg !== null) {
      const m = message(maildrop, command.msg);
      ctx.ok(`${m.number} ${field(m)}`);
      return;
    }
    const live = maildrop.live();
    if (command.verb === 'LIST') {
      const { count, octets } = maildrop.stat();
      ctx.ok(`${count} messages (${octets} octets)`);
    } else {
      ctx.ok('unique-id listing follows');
    }
    ctx.queue(multiline(live.map((m) => `${m.number} ${field(m)}`)));
  },
});

export const deleCommand = defineCommand({
  verbs: ['DELE'],
  states: ['transaction'],
  async handle(ctx, command) {
    const m = message(transaction(ctx).maildrop, command.msg);
    // RFC 1939 §6: only marked; removed in the UPDATE state after QUIT.
    m.deleted = true;
    ctx.ok(`message ${m.number} deleted`);
  },
});
