// COPY (RFC 9051 §6.4.7, RFC 3501 §6.4.7), MOVE (RFC 6851, RFC 9051 §6.4.8) and their UID forms
// (RFC 9051 §6.4.9), with COPYUID (RFC 4315 §3). Invariants:
// - the copy (and for MOVE the expunge of the sources) is one store transaction: over quota
//   copies nothing (NO [OVERQUOTA]); a missing target is NO [TRYCREATE];
// - COPY reports COPYUID in its tagged OK; MOVE sends `* OK [COPYUID ...]` before any EXPUNGE
//   response (RFC 6851 §4.3), and the EXPUNGE responses come from the session's sync;
// - copying or moving to the selected mailbox itself works: the new messages arrive through the
//   same sync as EXISTS.

import { atom, codes, raw } from '../../../wire/imap/encoder.js';
import {
  parseSequenceSet,
  SequenceSet,
  SequenceSetError,
  type SequenceSetSpec,
} from '../../../wire/imap/sequence-set.js';
import type { CommandResult, ImapCommandInput, ImapCommandSpec, ImapSessionContext } from '../context.js';
import { ImapBad, ImapNo } from '../errors.js';
import { warnQuotaAfter } from '../../../delivery/delivery.js';
import { mailboxArg } from '../mailbox-name.js';
import { quotaWarningSettings } from '../quota-alert.js';
import { noPermission, requireMailbox } from '../mailbox-access.js';
import { hasRight } from '../../../store/rules/acl.js';
import { SELECTED } from '../state.js';

function copyOrMove(move: boolean) {
  return async (ctx: ImapSessionContext, cmd: ImapCommandInput): Promise<CommandResult | void> => {
    if (ctx.state.kind !== 'selected') throw new ImapBad('No mailbox selected');
    const { view, account } = ctx.state;
    const [setArg, boxArg] = cmd.args;
    if (setArg?.kind !== 'atom' || cmd.args.length !== 2)
      throw new ImapBad(`${cmd.name} needs a sequence set and a mailbox`);
    let spec: SequenceSetSpec;
    try {
      spec = parseSequenceSet(setArg.value);
    } catch (err) {
      if (err instanceof SequenceSetError) throw new ImapBad(err.message);
      throw err;
    }
    const name = mailboxArg(boxArg, { utf8: ctx.utf8 });
    const uids = view.resolve(spec, { uid: cmd.uid }).filter((uid) => !view.isExpunged(uid));
    // RFC 6851 §3.3: MOVE expunges, which a read-only view may not do.
    if (move && view.readOnly) throw new ImapNo('Mailbox is read-only', { name: 'READ-ONLY' });
    // RFC 4314 §4 (and RFC 6851 §3.3 for MOVE): the source loses messages only with "t" and "e".
    if (move) for (const r of 'te') if (!hasRight(view.rights, r)) throw noPermission(r);
    // RFC 4314 §4: the target needs the "i" right.
    const { mailbox: target } = await requireMailbox(ctx.env.store, account, name, 'i', {
      missing: () => new ImapNo('Mailbox does not exist', { name: 'TRYCREATE' }),
    });
    if (uids.length === 0) return { text: 'No messages found' };
    const result = move
      ? await ctx.env.store.move(view.mailboxId, uids, target.id)
      : await ctx.env.store.copy(view.mailboxId, uids, target.id);
    if (result.mapping.length === 0) return { text: 'No messages found' };
    // A COPY (or a MOVE to another account's mailbox, none today) adds to the account's usage.
    if (!move) {
      const { store, blobs, config } = ctx.env;
      await warnQuotaAfter({ store, blobs, limits: config.limits }, quotaWarningSettings(config, ctx.log), [
        { accountId: target.accountId },
      ]);
    }
    // Sources ascending map to destinations ascending, so the compact sets keep the pairing.
    const from = SequenceSet.fromNumbers(result.mapping.map(([f]) => f));
    const to = SequenceSet.fromNumbers(result.mapping.map(([, t]) => t));
    if (!move) return { code: codes.copyUid(result.uidValidity, from, to) };
    // RFC 6851 §4.3: the COPYUID goes in an untagged OK before the EXPUNGE responses.
    ctx.untagged(
      atom('OK'),
      raw(`[COPYUID ${result.uidValidity} ${from.toString()} ${to.toString()}]`),
      atom('Moved'),
    );
  };
}

export const COPY_MOVE_COMMANDS: ImapCommandSpec[] = [
  { name: 'COPY', states: SELECTED, uidForm: true, handle: copyOrMove(false) },
  { name: 'MOVE', states: SELECTED, uidForm: true, handle: copyOrMove(true) },
];
