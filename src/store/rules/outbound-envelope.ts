// The envelope of a message queued for remote delivery, checked before it is queued so that the
// queue only ever holds what could be sent as given.

import { StoreError } from '../../core/errors.js';
import type { OutboundEnvelope } from '../types.js';
import { isCount } from './count.js';

const OUTBOUND_BODIES: ReadonlySet<string> = new Set(['7BIT', '8BITMIME', 'BINARYMIME']);
/** RFC 5321 §4.5.3.1.8 asks for 100 recipients; limits.recipients may allow more, not this many. */
export const MAX_OUTBOUND_RECIPIENTS = 100000;

/** Refuses (INVALID_ARGUMENT) an envelope that could not be sent as given. */
export function validateOutboundEnvelope(env: OutboundEnvelope): void {
  const bad = (what: string): never => {
    throw new StoreError('INVALID_ARGUMENT', `outbound: ${what}`);
  };
  if (typeof env !== 'object' || env === null) bad('envelope must be an object');
  if (typeof env.mailFrom !== 'string' || env.mailFrom.length > 1000) bad('invalid mailFrom');
  if (!Array.isArray(env.recipients) || env.recipients.length === 0) bad('at least one recipient');
  if (env.recipients.length > MAX_OUTBOUND_RECIPIENTS) bad('too many recipients');
  for (const r of env.recipients) {
    if (typeof r?.address !== 'string' || r.address === '' || r.address.length > 1000)
      bad('invalid recipient');
    if (r.notify !== null && (!Array.isArray(r.notify) || r.notify.some((n) => typeof n !== 'string'))) {
      bad('notify must be null or a list of strings');
    }
    if (r.orcpt !== null && typeof r.orcpt !== 'string') bad('orcpt must be null or a string');
  }
  if (env.envid !== null && typeof env.envid !== 'string') bad('envid must be null or a string');
  if (env.ret !== null && env.ret !== 'FULL' && env.ret !== 'HDRS') bad('ret must be FULL, HDRS or null');
  if (!OUTBOUND_BODIES.has(env.body)) bad('body must be 7BIT, 8BITMIME or BINARYMIME');
  if (typeof env.smtputf8 !== 'boolean') bad('smtputf8 must be a boolean');
  if (env.requireTls !== undefined && typeof env.requireTls !== 'boolean')
    bad('requireTls must be a boolean');
  if (env.accountId !== null && !isCount(env.accountId)) bad('accountId must be null or an id');
}

/** The recipients as stored: plain copies, so a caller's later changes cannot reach the queue. */
export function storedRecipients(env: OutboundEnvelope): OutboundEnvelope['recipients'] {
  return env.recipients.map((r) => ({
    address: r.address,
    notify: r.notify === null ? null : [...r.notify],
    orcpt: r.orcpt,
  }));
}
