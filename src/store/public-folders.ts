// The owner of a domain's public folders (IMAP "shared/", rules/public-owner.ts), made on first
// use by the administrator's `postern mailbox create --public`. Invariant: it has INBOX only at
// first, no usable password, and the unlimited quota of a new account.

import { StoreError } from '../core/errors.js';
import { publicOwnerAddress } from './rules/public-owner.js';
import type { Account, MailStore } from './types.js';

/** The public-folder owner of `domain`, made when missing; NOT_FOUND for an unknown domain. */
export async function ensurePublicOwner(store: MailStore, domain: string): Promise<Account> {
  const address = publicOwnerAddress(domain);
  const found = await store.getAccount(address);
  if (found !== null) return found;
  if ((await store.getDomain(domain)) === null)
    throw new StoreError('NOT_FOUND', `no such domain: ${domain}`);
  // "!" is no password hash, so no password matches it; the authenticator refuses the address anyway.
  return store.createAccount({ address, passwordHash: '!', publicOwner: true });
}
