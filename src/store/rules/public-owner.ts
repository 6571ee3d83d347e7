// The owner of a domain's public folders (RFC 2342 §5 shared namespace, IMAP "shared/"): a
// hidden account per domain, ".shared@<domain>". Its local part starts with a dot, so it is no
// dot-atom (RFC 5322 §3.2.3): no `postern user add` accepts it and no unquoted address names
// it. Invariants (each enforced where the thing happens):
// - only createAccount with `publicOwner: true` makes one (directory.ts), never an alias;
// - it never logs in (authenticator.ts) and never receives mail (recipient-resolver.ts);
// - its mailboxes are reached only as "shared/<name>" by the users of its own domain
//   (protocols/imap/mailbox-access.ts), never as "user/<address>/...".

/** The local part of every domain's public-folder owner. */
export const PUBLIC_OWNER_LOCAL = '.shared';

/** The address of the account that owns the public folders of `domain` (lower-case). */
export function publicOwnerAddress(domain: string): string {
  return `${PUBLIC_OWNER_LOCAL}@${domain.toLowerCase()}`;
}

/** Whether an address (any case) is a domain's public-folder owner. */
export function isPublicOwner(address: string): boolean {
  return address.toLowerCase().startsWith(PUBLIC_OWNER_LOCAL + '@');
}

/** The domain part of an address (after the last "@"). */
export function domainOfAddress(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}
