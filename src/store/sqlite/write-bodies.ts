// Every write body of the SQLite store, by role: what the writer thread runs (writer-thread.ts
// loads this module) and what the core runs on the main connection when the thread is off.
// An operation is named `role.body`; its arguments must survive structured cloning (plain
// data, Dates, Buffers), and so must its result (errors are carried across, writer-protocol.ts).

import type { AppendOutcome } from '../types.js';
import type { PreparedAppendRequest } from './blob-rows.js';
import { aclWrites } from './acl.js';
import type { Settled } from './core.js';
import { appPasswordWrites } from './app-passwords.js';
import { directoryWrites } from './directory.js';
import { dkimKeyWrites } from './dkim-keys.js';
import { gcWrites } from './gc.js';
import { leaseWrites } from './leases.js';
import { mailboxWrites } from './mailboxes.js';
import { metadataWrites } from './metadata.js';
import { AppendRequestFailed } from '../rules/append-request.js';
import { AppendWrite, messageWrites } from './messages.js';
import { queueWrites } from './queue.js';
import { sortFieldWrites } from './sort-fields.js';
import { transportSecurityWrites } from './transport-security.js';
import { webSessionWrites } from './web-sessions.js';
import type { WriteTx } from './write-tx.js';

/**
 * Writes that join a group commit with others: the body runs under its own savepoint, and a
 * failure runs its `failed` step inside the transaction instead of failing it (an append whose
 * target refused keeps its blob row so the file is collected).
 */
const groupedWrites = {
  append(tx: WriteTx, req: PreparedAppendRequest): Settled<AppendOutcome[]> {
    const now = Date.now();
    const write = new AppendWrite(req);
    try {
      return { ok: true, value: tx.sql.db.transaction(() => write.body(tx, now))() };
    } catch (err) {
      // Errors such as SQLITE_FULL or SQLITE_IOERR end the whole transaction.
      if (!tx.sql.db.inTransaction) throw err;
      return write.failed(tx, err, now);
    }
  },

  /**
   * RFC 3502 MULTIAPPEND: several requests, all or none. One failing target rolls every
   * request back; each outcome then carries the first error (the blob rows stay for GC).
   */
  appendAll(tx: WriteTx, reqs: PreparedAppendRequest[]): Settled<AppendOutcome[][]> {
    const now = Date.now();
    const writes = reqs.map((req) => new AppendWrite({ ...req, allOrNothing: true }));
    try {
      return { ok: true, value: tx.sql.db.transaction(() => writes.map((w) => w.body(tx, now)))() };
    } catch (err) {
      if (!tx.sql.db.inTransaction) throw err;
      for (const w of writes) w.failed(tx, err, now);
      if (!(err instanceof AppendRequestFailed)) return { ok: false, error: err };
      const first = err.outcomes.find((o) => !o.ok);
      if (first === undefined || first.ok) return { ok: false, error: err };
      const error = first.error;
      return {
        ok: true,
        value: reqs.map((r) => r.targets.map((t) => ({ ok: false, mailboxId: t.mailboxId, error }))),
      };
    }
  },
};

export const WRITES = {
  acl: aclWrites,
  directory: directoryWrites,
  appPasswords: appPasswordWrites,
  dkim: dkimKeyWrites,
  mailboxes: mailboxWrites,
  messages: messageWrites,
  grouped: groupedWrites,
  gc: gcWrites,
  leases: leaseWrites,
  queue: queueWrites,
  sortFields: sortFieldWrites,
  transportSecurity: transportSecurityWrites,
  webSessions: webSessionWrites,
  metadata: metadataWrites,
};

export type Writes = typeof WRITES;
export type WriteRole = keyof Writes;
export type WriteName<R extends WriteRole> = keyof Writes[R] & string;
/** The arguments of a write body after its WriteTx. */
export type WriteArgs<R extends WriteRole, N extends WriteName<R>> = Writes[R][N] extends (
  tx: WriteTx,
  ...args: infer A
) => unknown
  ? A
  : never;
export type WriteResult<R extends WriteRole, N extends WriteName<R>> = Writes[R][N] extends (
  tx: WriteTx,
  ...args: never[]
) => infer T
  ? T
  : never;
