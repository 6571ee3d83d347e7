// ENABLE (RFC 5161): turns on IMAP4rev2 (RFC 9051 §6.3.1) and UTF8=ACCEPT (RFC 6855). Only
// extensions not already enabled are listed in `* ENABLED`; unknown ones are ignored.

import { atom } from '../../../wire/imap/encoder.js';
import type { ImapCommandSpec } from '../context.js';
import { ImapBad } from '../errors.js';
import { AUTHENTICATED } from '../state.js';

export const ENABLE_COMMANDS: ImapCommandSpec[] = [
  {
    name: 'ENABLE',
    // RFC 5161 §3.1: only in the authenticated state; RFC 9051 §6.3.1 keeps that.
    states: AUTHENTICATED.filter((s) => s === 'authenticated'),
    async handle(ctx, cmd) {
      if (cmd.args.length === 0) throw new ImapBad('ENABLE needs at least one capability');
      const newly: string[] = [];
      for (const arg of cmd.args) {
        if (arg.kind !== 'atom') throw new ImapBad('ENABLE takes capability names');
        const upper = arg.value.toUpperCase();
        if (ctx.enabled.has(upper)) continue;
        if (ctx.enable(upper)) newly.push(upper === 'IMAP4REV2' ? 'IMAP4rev2' : upper);
      }
      ctx.untagged(atom('ENABLED'), ...newly.map(atom));
    },
  },
];
