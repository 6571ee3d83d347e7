// The DkimKeys role on SQLite: the dkim_keys table (migration 9), one row per key of a local
// domain. Arguments are checked (rules/dkim-key.ts) before a write begins; the transactional
// bodies are `dkimKeyWrites`. Reads run on the main connection: the signer asks for a domain's
// active keys once per message (or per cache period), one indexed lookup.

import { StoreError } from '../../core/errors.js';
import type { DkimKeys } from '../roles.js';
import { normalizeDomain } from '../rules/address.js';
import { checkNewDkimKeys, normalizeSelector } from '../rules/dkim-key.js';
import type { DkimAlgorithm, DkimKey, DkimKeyState, NewDkimKey } from '../types.js';
import type { SqliteCore } from './core.js';
import { notFound } from './rows.js';
import type { WriteTx } from './write-tx.js';

interface DkimKeyRow {
  id: number;
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  private_key: string;
  public_key: string;
  state: DkimKeyState;
  created_at: number;
  retired_at: number | null;
}

const SELECT_KEYS = `SELECT k.id, d.name AS domain, k.selector, k.algorithm, k.private_key, k.public_key,
    k.state, k.created_at, k.retired_at
  FROM dkim_keys k JOIN domains d ON d.id = k.domain_id`;

function toDkimKey(r: DkimKeyRow): DkimKey {
  return {
    id: r.id,
    domain: r.domain,
    selector: r.selector,
    algorithm: r.algorithm,
    privateKeyPem: r.private_key,
    publicKey: r.public_key,
    state: r.state,
    createdAt: new Date(r.created_at),
    retiredAt: r.retired_at === null ? null : new Date(r.retired_at),
  };
}

/** The transactional bodies of the DKIM key writes (arguments already checked). */
export const dkimKeyWrites = {
  addDkimKeys(
    tx: WriteTx,
    domain: string,
    keys: NewDkimKey[],
    state: 'active' | 'pending',
    retireActive: boolean,
  ): DkimKey[] {
    const { sql } = tx;
    const d = sql.stmt<{ id: number }>('SELECT id FROM domains WHERE name = ?').get(domain);
    if (d === undefined) throw notFound(`domain ${domain}`);
    const now = Date.now();
    for (const k of keys) {
      if (
        sql.stmt('SELECT 1 FROM dkim_keys WHERE domain_id = ? AND selector = ?').get(d.id, k.selector) !==
        undefined
      ) {
        throw new StoreError(
          'ALREADY_EXISTS',
          `domain ${domain} already has the DKIM selector ${k.selector}`,
        );
      }
    }
    if (retireActive) {
      sql
        .stmt(
          "UPDATE dkim_keys SET state = 'retired', retired_at = ? WHERE domain_id = ? AND state = 'active'",
        )
        .run(now, d.id);
    }
    const ids: number[] = [];
    for (const k of keys) {
      const r = sql
        .stmt<{ id: number }>(
          `INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, public_key, state, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        )
        .get(d.id, k.selector, k.algorithm, k.privateKeyPem, k.publicKey, state, now);
      ids.push(r!.id);
    }
    return ids.map((id) => toDkimKey(sql.stmt<DkimKeyRow>(`${SELECT_KEYS} WHERE k.id = ?`).get(id)!));
  },

  activateDkimKeys(tx: WriteTx, domain: string): { activated: DkimKey[]; retired: DkimKey[] } {
    const { sql } = tx;
    const d = sql.stmt<{ id: number }>('SELECT id FROM domains WHERE name = ?').get(domain);
    if (d === undefined) throw notFound(`domain ${domain}`);
    const byState = (state: DkimKeyState): DkimKeyRow[] =>
      sql
        .stmt<DkimKeyRow>(`${SELECT_KEYS} WHERE k.domain_id = ? AND k.state = ? ORDER BY k.id`)
        .all(d.id, state);
    const pending = byState('pending');
    if (pending.length === 0) return { activated: [], retired: [] };
    const active = byState('active');
    const now = Date.now();
    sql
      .stmt("UPDATE dkim_keys SET state = 'retired', retired_at = ? WHERE domain_id = ? AND state = 'active'")
      .run(now, d.id);
    sql.stmt("UPDATE dkim_keys SET state = 'active' WHERE domain_id = ? AND state = 'pending'").run(d.id);
    return {
      activated: pending.map((r) => toDkimKey({ ...r, state: 'active' })),
      retired: active.map((r) => toDkimKey({ ...r, state: 'retired', retired_at: now })),
    };
  },

  deleteDkimKey(tx: WriteTx, domain: string, selector: string): void {
    const { sql } = tx;
    const k = sql
      .stmt<{ id: number; state: string }>(
        'SELECT k.id, k.state FROM dkim_keys k JOIN domains d ON d.id = k.domain_id WHERE d.name = ? AND k.selector = ?',
      )
      .get(domain, selector);
    if (k === undefined) throw notFound(`DKIM key ${selector} of ${domain}`);
    if (k.state === 'active') {
      throw new StoreError('INVALID_ARGUMENT', `DKIM key ${selector} of ${domain} is active: rotate first`);
    }
    sql.stmt('DELETE FROM dkim_keys WHERE id = ?').run(k.id);
  },
};

export class SqliteDkimKeys implements DkimKeys {
  constructor(private readonly core: SqliteCore) {}

  async addDkimKeys(
    domain: string,
    keys: NewDkimKey[],
    opts: { retireActive?: boolean; pending?: boolean } = {},
  ): Promise<DkimKey[]> {
    const name = normalizeDomain(domain);
    const checked = checkNewDkimKeys(keys);
    const pending = opts.pending === true;
    const retireActive = opts.retireActive === true;
    if (pending && retireActive) {
      throw new StoreError('INVALID_ARGUMENT', 'staged keys retire nothing until they are activated');
    }
    return this.core.write(
      'dkim',
      'addDkimKeys',
      name,
      checked,
      pending ? 'pending' : 'active',
      retireActive,
    );
  }

  async activateDkimKeys(domain: string): Promise<{ activated: DkimKey[]; retired: DkimKey[] }> {
    const name = normalizeDomain(domain);
    return this.core.write('dkim', 'activateDkimKeys', name);
  }

  async listDkimKeys(domain: string, opts: { activeOnly?: boolean } = {}): Promise<DkimKey[]> {
    this.core.assertOpen();
    let name: string;
    try {
      name = normalizeDomain(domain);
    } catch {
      return [];
    }
    const where = opts.activeOnly === true ? "AND k.state = 'active'" : '';
    return this.core.sql
      .stmt<DkimKeyRow>(
        `${SELECT_KEYS} WHERE d.name = ? ${where}
         ORDER BY CASE k.state WHEN 'active' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, k.created_at, k.id`,
      )
      .all(name)
      .map((r) => toDkimKey(r));
  }

  async deleteDkimKey(domain: string, selector: string): Promise<void> {
    const name = normalizeDomain(domain);
    const s = normalizeSelector(selector);
    await this.core.write('dkim', 'deleteDkimKey', name, s);
  }
}
