// EXPUNGE (RFC 9051 §6.4.3, RFC 3501 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1, RFC 9051 §6.4.9).
// Invariants:
// - only messages the session knows (its view) are expunged, so every EXPUNGE response the
//   session's sync sends afterwards names a message number the client has seen;
// - the EXPUNGE responses come from the view's sync after the command, like any other session's
//   expunges, in ascending order with each number valid when sent (RFC 9051 §7.5.1);
// - a read-only (EXAMINE) view cannot expunge.

import { parseSequenceSet, SequenceSetError, type SequenceSetSpec } from '../../../wire/imap/sequence-set.js';
import type { ImapCommandInput, ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import { noPermission } from '../mailbox-access.js';
import { hasRight } from '../../../store/rules/acl.js';
import { SELECTED } from '../state.js';
import type { SelectedView } from '../view.js';

function selectedView(ctx: ImapSessionContext): SelectedView {
  if (ctx.state.kind !== 'selected') throw new ImapBad('No mailbox selected');
  return ctx.state.view;
}

async function expunge(ctx: ImapSessionContext, cmd: ImapCommandInput): Promise<void> {
  const view = selectedView(ctx);
  let uids: number[];
  if (cmd.uid) {
    // RFC 4315 §2.1: UID EXPUNGE sequence-set: only those UIDs, and only if \Deleted.
    const arg = cmd.args[0];
    if (arg?.kind !== 'atom' || cmd.args.length !== 1) throw new ImapBad('UID EXPUNGE needs a UID set');
    let spec: SequenceSetSpec;
    try {
      spec = parseSequenceSet(arg.value);
    } catch (err) {
      if (err instanceof SequenceSetError) throw new ImapBad(err.message);
      throw err;
    }
    uids = view.resolve(spec, { uid: true });
  } else {
    if (cmd.args.length !== 0) throw new ImapBad('EXPUNGE takes no arguments');
    uids = view.allUids.slice();
  }
  if (view.readOnly) throw new ImapNo('Mailbox is read-only', { name: 'READ-ONLY' });
  // RFC 4314 §4: EXPUNGE needs the "e" right.
  if (!hasRight(view.rights, 'e')) throw noPermission('e');
  if (uids.length === 0) return;
  // Nothing is \Deleted: skip the per-message work (the common case for clients that poll).
  const box = await ctx.env.store.getMailboxById(view.mailboxId);
  if (box === null || box.deleted === 0) return;
  await ctx.env.store.expunge(view.mailboxId, { uids, onlyDeleted: true });
}

export const EXPUNGE_COMMANDS: ImapCommandSpec[] = [
  { name: 'EXPUNGE', states: SELECTED, uidForm: true, handle: expunge },
];
