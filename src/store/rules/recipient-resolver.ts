// Envelope recipient resolution, independent of the backend: exact account, exact alias,
// sub-address (`user+tag@` delivers to user's INBOX), then the domain's catch-all (`@domain`).
// The catch-all can be left out (who owns an address by explicit rows, for the sender check).
// Local alias chains are followed at most MAX_ALIAS_DEPTH hops; every address is expanded at
// most once (loops end) and the result holds each account and each remote address once.

import type { Recipient } from '../types.js';
import { tryParseAddress, type ParsedAddress } from './address.js';
import { isPublicOwner } from './public-owner.js';

export const MAX_ALIAS_DEPTH = 8;
/** Most recipients one address may expand to (a bound on fan-out through aliases). */
export const MAX_EXPANSION = 1000;

export interface RecipientLookups {
  isLocalDomain(domain: string): boolean | Promise<boolean>;
  accountByAddress(
    address: string,
  ): { id: number; address: string } | null | Promise<{ id: number; address: string } | null>;
  /** Destinations of the alias rows whose source is exactly `source` (`local@domain` or `@domain`). */
  aliasDestinations(source: string): string[] | Promise<string[]>;
}

export interface ResolveOptions {
  /** Follow the domain's catch-all (`@domain`) for addresses nothing else matches (default true). */
  catchAll?: boolean;
}

export async function resolveRecipientWith(
  lookups: RecipientLookups,
  address: string,
  opts: ResolveOptions = {},
): Promise<Recipient[]> {
  const followCatchAll = opts.catchAll ?? true;
  const parsed = tryParseAddress(address);
  if (parsed === null) return [];
  if (!(await lookups.isLocalDomain(parsed.domain))) return [{ kind: 'remote', address: parsed.address }];

  const out: Recipient[] = [];
  const accounts = new Set<number>();
  const remotes = new Set<string>();
  const visited = new Set<string>();

  // Account or exact alias for this very address; true when one matched.
  async function direct(p: ParsedAddress, depth: number): Promise<boolean> {
    // A domain's public-folder owner receives no mail (rules/public-owner.ts).
    if (isPublicOwner(p.address)) return true;
    const account = await lookups.accountByAddress(p.address);
    if (account !== null) {
      if (!accounts.has(account.id) && out.length < MAX_EXPANSION) {
        accounts.add(account.id);
        out.push({ kind: 'local', accountId: account.id, address: account.address, mailbox: 'INBOX' });
      }
      return true;
    }
    const destinations = await lookups.aliasDestinations(p.address);
    if (destinations.length === 0) return false;
    for (const d of destinations) await expandDestination(d, depth + 1);
    return true;
  }

  async function expandDestination(destination: string, depth: number): Promise<void> {
    const p = tryParseAddress(destination);
    if (p === null) return;
    if (!(await lookups.isLocalDomain(p.domain))) {
      if (!remotes.has(p.address) && out.length < MAX_EXPANSION) {
        remotes.add(p.address);
        out.push({ kind: 'remote', address: p.address });
      }
      return;
    }
    await expand(p, depth);
  }

  async function expand(p: ParsedAddress, depth: number): Promise<void> {
    if (depth > MAX_ALIAS_DEPTH || visited.has(p.address)) return;
    visited.add(p.address);
    if (await direct(p, depth)) return;
    // RFC 5233 sub-addressing with "+" as the separator: user+tag@ -> user@.
    const plus = p.local.indexOf('+');
    if (plus > 0) {
      const base = tryParseAddress(`${p.local.slice(0, plus)}@${p.domain}`);
      if (base !== null && !visited.has(base.address)) {
        visited.add(base.address);
        if (await direct(base, depth)) return;
      }
    }
    if (!followCatchAll) return;
    const catchAll = await lookups.aliasDestinations(`@${p.domain}`);
    for (const d of catchAll) await expandDestination(d, depth + 1);
  }

  await expand(parsed, 0);
  return out;
}
