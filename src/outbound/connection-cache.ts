// Idle SMTP connections kept for the next message to the same MX address (Postfix's connection
// cache): a connection is put back after a send, reset (RSET, which also proves it alive), and
// taken by the next message to the same host and address. Invariants:
// - a cached connection is idle: nobody else holds it, and take() hands it to one caller;
// - it is closed (QUIT) after `idleMs` unused, after `reuseLimit` messages, when the cache
//   holds `maxIdle` connections already, when its RSET fails, and by closeAll();
// - the idle timers do not keep the process alive.

import type { SmtpClientConnection } from './smtp-client.js';

export interface ConnectionCacheOptions {
  /** Most idle connections kept (0: none). */
  maxIdle: number;
  /** How long an idle connection is kept, in milliseconds. */
  idleMs: number;
  /** Messages sent over one connection before it is closed. */
  reuseLimit: number;
}

/** A connection and the number of messages it has carried. */
export interface CachedConnection {
  conn: SmtpClientConnection;
  used: number;
}

interface Entry extends CachedConnection {
  timer: NodeJS.Timeout;
}

export class ConnectionCache {
  private readonly idle = new Map<string, Entry[]>();
  private count = 0;
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly opts: ConnectionCacheOptions) {}

  /** The key of one MX address: host name (TLS checks it) and IP. */
  static key(host: string, ip: string): string {
    return `${host.toLowerCase()}|${ip}`;
  }

  /** Idle connections held now. */
  get size(): number {
    return this.count;
  }

  /** An idle, usable connection to `key`, or null. */
  take(key: string): CachedConnection | null {
    const list = this.idle.get(key);
    while (list !== undefined && list.length > 0) {
      const entry = list.pop()!;
      this.count--;
      clearTimeout(entry.timer);
      if (list.length === 0) this.idle.delete(key);
      if (entry.conn.usable) return { conn: entry.conn, used: entry.used };
      this.close(entry.conn);
    }
    return null;
  }

  /** Gives a connection back after a send: kept (after RSET) for reuse, or closed. */
  async put(key: string, cached: CachedConnection): Promise<void> {
    const { conn, used } = cached;
    if (!conn.usable || used >= this.opts.reuseLimit || this.opts.maxIdle <= 0 || this.opts.idleMs <= 0) {
      this.close(conn);
      return;
    }
    try {
      await conn.reset();
    } catch {
      this.close(conn);
      return;
    }
    if (!conn.usable || this.count >= this.opts.maxIdle) {
      this.close(conn);
      return;
    }
    const entry: Entry = {
      conn,
      used,
      timer: setTimeout(() => this.expire(key, entry), this.opts.idleMs),
    };
    entry.timer.unref();
    let list = this.idle.get(key);
    if (list === undefined) this.idle.set(key, (list = []));
    list.push(entry);
    this.count++;
  }

  /** Closes every idle connection (and waits for those being closed). */
  async closeAll(): Promise<void> {
    for (const list of this.idle.values()) {
      for (const entry of list) {
        clearTimeout(entry.timer);
        this.close(entry.conn);
      }
    }
    this.idle.clear();
    this.count = 0;
    await Promise.all([...this.closing]);
  }

  private expire(key: string, entry: Entry): void {
    const list = this.idle.get(key);
    const i = list?.indexOf(entry) ?? -1;
    if (list === undefined || i < 0) return;
    list.splice(i, 1);
    this.count--;
    if (list.length === 0) this.idle.delete(key);
    this.close(entry.conn);
  }

  private close(conn: SmtpClientConnection): void {
    const p = conn.close().catch(() => undefined);
    this.closing.add(p);
    void p.finally(() => this.closing.delete(p));
  }
}
