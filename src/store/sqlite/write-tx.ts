// What the transactional body of a write gets. Every write of the store is a synchronous
// function of (WriteTx, arguments): it reads and writes through `tx.sql` (the write
// connection's statements) and records what it touched here; it never awaits, announces or
// resolves anything. The core (core.ts) runs it inside BEGIN IMMEDIATE (or a SAVEPOINT of a
// group commit), then acts on the record once the commit is durable. So the bodies can move
// to a thread that owns the write connection without change.

import type { StatementCache } from './statement-cache.js';

export class WriteTx {
  /** Mailboxes whose watchers are told once the commit is durable. */
  readonly mailboxes = new Set<number>();
  /** The range of change-log seqs written (0: none), so the poll does not announce them twice. */
  minSeq = 0;
  maxSeq = 0;

  constructor(readonly sql: StatementCache) {}

  recordSeq(seq: number): void {
    if (this.minSeq === 0 || seq < this.minSeq) this.minSeq = seq;
    if (seq > this.maxSeq) this.maxSeq = seq;
  }
}
