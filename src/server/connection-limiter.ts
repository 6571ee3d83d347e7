// Open connections per client and in total, for the listeners of one process. A client is its
// IPv4 address or its IPv6 network of limits.ipv6Prefix bits (src/auth/ip-group.ts), so a host
// with a /64 cannot open connections_per_ip connections from each of its addresses.
// Invariant: every admit() that returned a Ticket is matched by exactly one release of it.

import { ipGroup } from '../auth/ip-group.js';
import type { Limits } from '../core/limits.js';
import type { RefusalReason } from './types.js';

/** One admitted connection; release() once when it closes (later calls do nothing). */
export interface ConnectionTicket {
  /** The key the connection is counted under. */
  readonly group: string;
  release(): void;
}

export class ConnectionLimiter {
  private readonly perGroup = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly limits: Pick<Limits, 'connectionsPerIp' | 'connectionsTotal' | 'ipv6Prefix'>,
  ) {}

  /** The key an address is counted under. */
  group(address: string): string {
    return ipGroup(address, { ipv6Prefix: this.limits.ipv6Prefix });
  }

  /** Counts a new connection from `address`, or says why it is refused. */
  admit(address: string): ConnectionTicket | RefusalReason {
    const group = this.group(address);
    if (this.total >= this.limits.connectionsTotal) return 'too-many-total';
    const n = this.perGroup.get(group) ?? 0;
    if (n >= this.limits.connectionsPerIp) return 'too-many-from-ip';
    this.perGroup.set(group, n + 1);
    this.total++;
    let released = false;
    return {
      group,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.perGroup.get(group) ?? 1) - 1;
        if (left <= 0) this.perGroup.delete(group);
        else this.perGroup.set(group, left);
      },
    };
  }

  /** Connections open from the group of `address`. */
  openFrom(address: string): number {
    return this.perGroup.get(this.group(address)) ?? 0;
  }

  /** Connections open in total. */
  get open(): number {
    return this.total;
  }

  /** Groups with at least one open connection (memory is bounded by connectionsTotal). */
  get groups(): number {
    return this.perGroup.size;
  }
}
