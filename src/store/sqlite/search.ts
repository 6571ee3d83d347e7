// The Search role on SQLite: header fields matched inside the database (message_search, kept
// in mailbox order by triggers) and the text-part ranges of blobs (blob_search), both filled
// from rules/search-text.ts when a blob is first stored.

import { StoreError } from '../../core/errors.js';
import { SEARCH_FIELDS, type SearchField, type TextPartRange } from '../../mail/mime/search-fields.js';
import type { Search } from '../roles.js';
import { uniqueUids } from '../rules/uid-set.js';
import type { SqliteCore } from './core.js';

export class SqliteSearch implements Search {
  constructor(private readonly core: SqliteCore) {}

  async matchSearchField(
    mailboxId: number,
    field: SearchField,
    needle: string,
    range: { minUid: number; maxUid: number } = { minUid: 1, maxUid: Number.MAX_SAFE_INTEGER },
  ): Promise<{ uids: number[]; unparsed: number[] }> {
    this.core.assertOpen();
    if (!SEARCH_FIELDS.includes(field)) throw new StoreError('INVALID_ARGUMENT', 'unknown search field');
    const column = `search_${field}`;
    // instr() on UTF-8 text is a substring test on code points; both sides are already folded.
    // message_search (migration 5) holds the fields in mailbox order: one range scan.
    const rows = this.core.sql
      .stmt<unknown[]>(
        `SELECT uid, ${column} = char(1) FROM message_search
       WHERE mailbox_id = ? AND uid BETWEEN ? AND ? AND (instr(${column}, ?) > 0 OR ${column} = char(1)) ORDER BY uid`,
        'raw',
      )
      .all(mailboxId, range.minUid, range.maxUid, needle);
    const uids: number[] = [];
    const unparsed: number[] = [];
    // An empty needle matches every message that has the field (RFC 9051 §6.4.4), parsed or not.
    for (const r of rows) (r[1] === 1 && needle !== '' ? unparsed : uids).push(r[0] as number);
    return { uids, unparsed };
  }

  async textParts(mailboxId: number, uids: number[]): Promise<Map<number, TextPartRange[]>> {
    this.core.assertOpen();
    const out = new Map<number, TextPartRange[]>();
    const sorted = uniqueUids(uids);
    if (sorted.length === 0) return out;
    const wanted = new Set(sorted);
    const rows = this.core.sql
      .stmt<unknown[]>(
        `SELECT m.uid, s.text_parts FROM messages m CROSS JOIN blob_search s ON s.blob_id = m.blob_id
       WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?`,
        'raw',
      )
      .all(mailboxId, sorted[0], sorted[sorted.length - 1]);
    for (const r of rows) {
      const uid = r[0] as number;
      if (wanted.has(uid)) out.set(uid, JSON.parse(r[1] as string) as TextPartRange[]);
    }
    return out;
  }
}
