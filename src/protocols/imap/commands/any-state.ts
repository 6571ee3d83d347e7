// Commands valid in any state (RFC 9051 §6.1): CAPABILITY, NOOP, LOGOUT; and ID (RFC 2971),
// which real clients (Apple Mail, Thunderbird, Outlook) send right after connecting.

import { atom, type ImapData } from '../../../wire/imap/encoder.js';
import type { ImapToken } from '../../../wire/imap/reader.js';
import type { ImapCommandSpec } from '../context.js';
import { ImapBad } from '../errors.js';
import { ANY_STATE } from '../state.js';

/** RFC 2971 §3.3: at most 30 field-value pairs, fields at most 30 octets, values at most 1024. */
const MAX_ID_PAIRS = 30;

function checkIdArgs(args: ImapToken[]): void {
  if (args.length !== 1) throw new ImapBad('ID takes one argument: a list or NIL');
  const arg = args[0]!;
  if (arg.kind === 'nil') return;
  if (arg.kind !== 'list') throw new ImapBad('ID takes one argument: a list or NIL');
  if (arg.items.length % 2 !== 0 || arg.items.length > MAX_ID_PAIRS * 2) {
    throw new ImapBad('ID list must hold at most 30 field-value pairs');
  }
  for (let i = 0; i < arg.items.length; i++) {
    const item = arg.items[i]!;
    const isString = item.kind === 'string';
    if (
      i % 2 === 0
        ? !isString || item.value.length > 30
        : !(isString && item.value.length <= 1024) && item.kind !== 'nil'
    ) {
      throw new ImapBad('Invalid ID field or value');
    }
  }
}

export const ANY_STATE_COMMANDS: ImapCommandSpec[] = [
  {
    name: 'CAPABILITY',
    states: ANY_STATE,
    async handle(ctx, cmd) {
      if (cmd.args.length > 0) throw new ImapBad('CAPABILITY takes no arguments');
      ctx.untagged(atom('CAPABILITY'), ...ctx.capabilities().map(atom));
    },
  },
  {
    name: 'NOOP',
    states: ANY_STATE,
    async handle(_ctx, cmd) {
      // RFC 9051 §6.1.2: the session reports mailbox changes after every command (session.ts).
      if (cmd.args.length > 0) throw new ImapBad('NOOP takes no arguments');
    },
  },
  {
    name: 'LOGOUT',
    states: ANY_STATE,
    async handle(ctx, cmd) {
      if (cmd.args.length > 0) throw new ImapBad('LOGOUT takes no arguments');
      ctx.untagged(atom('BYE'), atom('Logging out'));
      ctx.finish();
    },
  },
  {
    name: 'ID',
    states: ANY_STATE,
    async handle(ctx, cmd) {
      checkIdArgs(cmd.args);
      const fields: ImapData[] = ['name', 'Postern', 'vendor', 'Postern'];
      ctx.untagged(atom('ID'), fields);
    },
  },
];
