// The flags of many messages at once, read fast: what SELECT needs (mailboxSummary: every UID,
// the first unseen, the keywords in use) and FETCH of flags over large UID sets (listFlags,
// through the in-memory FlagIndex of src/store/flag-index.ts). Both are reads on the main connection,
// cached per mailbox and checked against its HIGHESTMODSEQ, which every write raises.

import { FLAG_SEEN } from '../rules/flags.js';
import { uniqueUids } from '../rules/uid-set.js';
import type { MailboxSummary, MessageFlags } from '../types.js';
import { KIND_MAILBOX_EVENT, toFlagChangeRow, type ChangeRow } from './change-log.js';
import type { SqliteCore } from './core.js';
import { FlagIndex } from '../flag-index.js';
import { LruCache } from '../../core/lru-cache.js';
import { notFound } from './rows.js';

/** Mailboxes whose SELECT summary is kept in memory (each up to 8 bytes per message). */
const SUMMARY_CACHE_ENTRIES = 16;
/**
 * listFlags keeps an in-memory flag index (src/store/flag-index.ts) for mailboxes of at least this many
 * messages, asked for at least FLAG_INDEX_MIN_REQUEST UIDs at once; at most FLAG_INDEX_ENTRIES
 * mailboxes (about 24 bytes a message: 2.4 MB for 100,000 messages).
 */
const FLAG_INDEX_MIN_MESSAGES = 2048;
const FLAG_INDEX_MIN_REQUEST = 256;
const FLAG_INDEX_ENTRIES = 8;

const COMMA = 44;
const DIGIT_0 = 48;

export class FlagReads {
  /** mailboxSummary answers of the most recently opened large mailboxes, by mailbox id. */
  private readonly summaryCache = new LruCache<number, { modseq: number; summary: MailboxSummary }>(
    SUMMARY_CACHE_ENTRIES,
  );
  /** Flag indexes of the most recently fetched large mailboxes, by mailbox id (src/store/flag-index.ts). */
  private readonly flagIndexes = new LruCache<number, FlagIndex>(FLAG_INDEX_ENTRIES);

  constructor(private readonly core: SqliteCore) {}

  mailboxSummary(mailboxId: number): MailboxSummary {
    const { sql, db } = this.core;
    if (sql.stmt('SELECT 1 FROM mailboxes WHERE id = ?').get(mailboxId) === undefined)
      throw notFound('mailbox');
    // One read transaction, so the three answers describe the same moment.
    return db.transaction(() => {
      // Every write to a mailbox raises its HIGHESTMODSEQ (in any process), so an answer cached
      // at the same modseq is still the answer: re-selecting a large mailbox costs a copy.
      const modseq = sql
        .stmt<number>('SELECT highestmodseq FROM mailboxes WHERE id = ?', 'pluck')
        .get(mailboxId)!;
      const cached = this.summaryCache.get(mailboxId);
      // The UID array is shared with every caller (read-only by contract): copying 100,000
      // elements cost more than the rest of a SELECT.
      if (cached !== undefined && cached.modseq === modseq) return cached.summary;
      const summary = this.readSummary(mailboxId);
      this.summaryCache.set(mailboxId, { modseq, summary });
      return summary;
    })();
  }

  private readSummary(mailboxId: number): MailboxSummary {
    const { sql } = this.core;
    // One comma-separated string rather than 100,000 rows (see flagRowsText).
    const text = sql
      .stmt<string | null>('SELECT group_concat(uid) FROM messages WHERE mailbox_id = ?', 'pluck')
      .get(mailboxId);
    const uids: number[] = [];
    if (text !== null && text !== undefined) {
      let v = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === COMMA) {
          uids.push(v);
          v = 0;
        } else v = v * 10 + c - DIGIT_0;
      }
      uids.push(v);
      for (let i = 1; i < uids.length; i++) {
        if (uids[i - 1]! > uids[i]!) {
          uids.sort((a, b) => a - b);
          break;
        }
      }
    }
    const firstUnseenUid =
      sql
        .stmt<number>(
          `SELECT uid FROM messages WHERE mailbox_id = ? AND (flags & ${FLAG_SEEN}) = 0 ORDER BY uid LIMIT 1`,
          'pluck',
        )
        .get(mailboxId) ?? 0;
    const lists = sql
      .stmt<string>(
        'SELECT DISTINCT keywords FROM messages WHERE mailbox_id = ? AND keywords IS NOT NULL',
        'pluck',
      )
      .all(mailboxId);
    const keywords = new Map<string, string>();
    for (const list of lists) {
      for (const k of list.split(' '))
        if (k !== '' && !keywords.has(k.toLowerCase())) keywords.set(k.toLowerCase(), k);
    }
    return { uids, firstUnseenUid, keywords: [...keywords.values()].sort() };
  }

  listFlags(mailboxId: number, uids: number[]): MessageFlags[] {
    const sorted = uniqueUids(uids);
    if (sorted.length === 0) return [];
    if (sorted.length >= FLAG_INDEX_MIN_REQUEST || this.flagIndexes.get(mailboxId) !== undefined) {
      const index = this.core.db.transaction(() => this.flagIndex(mailboxId))();
      if (index !== null) return index.lookup(sorted);
    }
    return this.readFlagRows(mailboxId, sorted[0]!, sorted[sorted.length - 1]!, 0, 0).lookup(sorted);
  }

  /** The messages of a UID range, read into a FlagIndex (see flagRowsText). */
  private readFlagRows(
    mailboxId: number,
    minUid: number,
    maxUid: number,
    uidValidity: number,
    modseq: number,
  ): FlagIndex {
    const index = new FlagIndex(uidValidity, modseq);
    if (index.load(this.flagRowsText(mailboxId, minUid, maxUid))) return index;
    const again = new FlagIndex(uidValidity, modseq);
    again.load(this.flagRowsText(mailboxId, minUid, maxUid, true));
    return again;
  }

  /**
   * The rows of a UID range as one string, "uid TAB modseq TAB flags [TAB keywords]" LF ...,
   * ascending: better-sqlite3 spends about a microsecond on each row it turns into JavaScript
   * values, six times what SQLite needs to read it, so 100,000 rows cost 150 ms as rows and
   * 25 ms as one string. Keywords are atoms (RFC 9051 §9), which hold no control characters.
   * The aggregate follows the primary-key scan; its ORDER BY form (slower) is the fallback
   * should a plan ever differ.
   */
  private flagRowsText(mailboxId: number, minUid: number, maxUid: number, ordered = false): string {
    const row = `uid || char(9) || modseq || char(9) || flags || ifnull(char(9) || keywords, '')`;
    const text = this.core.sql
      .stmt<string | null>(
        `SELECT group_concat(${row}, char(10)${ordered ? ' ORDER BY uid' : ''})
       FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ?`,
        'pluck',
      )
      .get(mailboxId, minUid, maxUid);
    return text ?? '';
  }

  /**
   * The flag index of a large mailbox, up to date (call inside a read transaction); null for
   * a small or missing mailbox, which listFlags reads directly.
   */
  private flagIndex(mailboxId: number): FlagIndex | null {
    const { sql } = this.core;
    type Row = { uidvalidity: number; highestmodseq: number; messages: number };
    const mb = sql
      .stmt<Row>('SELECT uidvalidity, highestmodseq, messages FROM mailboxes WHERE id = ?')
      .get(mailboxId);
    if (mb === undefined || mb.messages < FLAG_INDEX_MIN_MESSAGES) {
      this.flagIndexes.delete(mailboxId);
      return null;
    }
    const cached = this.flagIndexes.get(mailboxId);
    if (cached !== undefined && cached.uidValidity === mb.uidvalidity) {
      if (cached.modseq === mb.highestmodseq) return cached;
      // More changes than half the mailbox: reading it anew is cheaper.
      const limit = Math.floor(mb.messages / 2) + 1;
      const rows = sql
        .stmt<ChangeRow>(
          `SELECT kind, modseq, uid, flags, keywords FROM changes
         WHERE mailbox_id = ? AND modseq > ? AND kind < ${KIND_MAILBOX_EVENT} ORDER BY modseq, seq LIMIT ?`,
        )
        .all(mailboxId, cached.modseq, limit);
      const changes = rows.map(toFlagChangeRow);
      if (rows.length < limit && cached.apply(changes, mb.highestmodseq)) return cached;
    }
    const index = this.readFlagRows(mailboxId, 1, Number.MAX_SAFE_INTEGER, mb.uidvalidity, mb.highestmodseq);
    this.flagIndexes.set(mailboxId, index);
    return index;
  }
}
