// The MailboxAcls role on SQLite (RFC 4314 access control lists): rows of mailbox_acl
// (migration 19). Rights are validated and put in canonical order by the caller's rules
// (rules/acl.ts); the write bodies only store them. A mailbox's rows go with it (ON DELETE
// CASCADE); an account's rows as identifier are removed by the directory's deleteAccount.

import type { MailboxAcls } from '../roles.js';
import { canonicalRights, normalizeIdentifier, unionRights } from '../rules/acl.js';
import { StoreError } from '../../core/errors.js';
import type { AclEntry, AclGrant } from '../types.js';
import type { SqliteCore } from './core.js';
import { mailboxRow, notFound, toMailbox, type MailboxRow } from './rows.js';
import type { WriteTx } from './write-tx.js';

/** The transactional bodies of the ACL writes. */
export const aclWrites = {
  setAcl(tx: WriteTx, mailboxId: number, identifier: string, rights: string): void {
    if (mailboxRow(tx.sql, mailboxId) === undefined) throw notFound('mailbox');
    if (rights === '') {
      tx.sql
        .stmt('DELETE FROM mailbox_acl WHERE mailbox_id = ? AND identifier = ?')
        .run(mailboxId, identifier);
      return;
    }
    tx.sql
      .stmt(
        `INSERT INTO mailbox_acl (mailbox_id, identifier, rights) VALUES (?, ?, ?)
           ON CONFLICT (mailbox_id, identifier) DO UPDATE SET rights = excluded.rights`,
      )
      .run(mailboxId, identifier, rights);
  },

  deleteAcl(tx: WriteTx, mailboxId: number, identifier: string): boolean {
    const r = tx.sql
      .stmt('DELETE FROM mailbox_acl WHERE mailbox_id = ? AND identifier = ?')
      .run(mailboxId, identifier);
    return r.changes > 0;
  },
};

/** Removes every entry naming the account (its grants on others' mailboxes): deleteAccount. */
export function deleteAclsOf(tx: WriteTx, address: string): void {
  tx.sql.stmt('DELETE FROM mailbox_acl WHERE identifier = ?').run(address);
}

function identifierArg(identifier: string): string {
  const id = normalizeIdentifier(identifier);
  if (id === null) throw new StoreError('INVALID_ARGUMENT', 'invalid ACL identifier');
  return id;
}

export class SqliteAcls implements MailboxAcls {
  constructor(private readonly core: SqliteCore) {}

  async getAcl(mailboxId: number): Promise<AclEntry[]> {
    this.core.assertOpen();
    return this.core.sql
      .stmt<AclEntry>('SELECT identifier, rights FROM mailbox_acl WHERE mailbox_id = ? ORDER BY identifier')
      .all(mailboxId);
  }

  async setAcl(mailboxId: number, identifier: string, rights: string): Promise<void> {
    await this.core.write('acl', 'setAcl', mailboxId, identifierArg(identifier), canonicalRights(rights));
  }

  async deleteAcl(mailboxId: number, identifier: string): Promise<boolean> {
    return this.core.write('acl', 'deleteAcl', mailboxId, identifierArg(identifier));
  }

  async listAclGrants(address: string): Promise<AclGrant[]> {
    this.core.assertOpen();
    const { sql } = this.core;
    const user = identifierArg(address);
    type Row = MailboxRow & { owner: string; acl_rights: string };
    const rows = sql
      .stmt<Row>(
        `SELECT m.*, a.address AS owner, acl.rights AS acl_rights
           FROM mailbox_acl acl
           JOIN mailboxes m ON m.id = acl.mailbox_id
           JOIN accounts a ON a.id = m.account_id
          WHERE acl.identifier IN (?, 'anyone') AND a.address != ?
          ORDER BY a.address, m.name`,
      )
      .all(user, user);
    // RFC 4314 §2: a user has the union of the rights of every identifier it matches.
    const byId = new Map<number, AclGrant>();
    for (const r of rows) {
      const seen = byId.get(r.id);
      if (seen !== undefined) seen.rights = unionRights(seen.rights, r.acl_rights);
      else byId.set(r.id, { mailbox: toMailbox(r), owner: r.owner, rights: r.acl_rights });
    }
    return [...byId.values()];
  }
}
