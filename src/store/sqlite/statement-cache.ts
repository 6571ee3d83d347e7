// Prepared statements of one connection, cached by their SQL (a bounded set: the store's SQL is
// fixed text) and pinned for the life of the process (see statement-pin.ts).

import type Database from 'better-sqlite3';
import { pin } from './statement-pin.js';

/** `pluck` returns the first column, `raw` rows as arrays, `row` rows as objects. */
export type StatementMode = 'row' | 'pluck' | 'raw';

export class StatementCache {
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();

  constructor(readonly db: Database.Database) {}

  /** The cached prepared statement for `sql` in this mode. */
  stmt<R = unknown>(sql: string, mode: StatementMode = 'row'): Database.Statement<unknown[], R> {
    const key = `${mode}:${sql}`;
    let s = this.statements.get(key);
    if (s === undefined) {
      s = pin(this.db.prepare(sql));
      if (mode === 'pluck') s.pluck(true);
      else if (mode === 'raw') s.raw(true);
      this.statements.set(key, s);
    }
    return s as Database.Statement<unknown[], R>;
  }

  clear(): void {
    this.statements.clear();
  }
}
