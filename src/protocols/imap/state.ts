// The state of one IMAP connection (RFC 9051 §3), as a discriminated union: an account exists
// only once authenticated, a mailbox view only while a mailbox is selected.

import type { Account } from '../../store/types.js';
import type { SelectedView } from './view.js';

export type ImapState =
  | { kind: 'notAuthenticated' }
  | { kind: 'authenticated'; account: Account }
  | { kind: 'selected'; account: Account; view: SelectedView }
  | { kind: 'logout' };

export type ImapStateKind = ImapState['kind'];

export const ANY_STATE: readonly ImapStateKind[] = ['notAuthenticated', 'authenticated', 'selected'];
export const NOT_AUTHENTICATED: readonly ImapStateKind[] = ['notAuthenticated'];
export const AUTHENTICATED: readonly ImapStateKind[] = ['authenticated', 'selected'];
export const SELECTED: readonly ImapStateKind[] = ['selected'];
