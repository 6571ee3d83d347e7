// The SQLite schema as numbered migrations. Each migration runs in its own IMMEDIATE
// transaction and records itself in schema_migrations, so re-opening is idempotent and two
// processes opening a fresh file at once apply each migration exactly once. A file whose
// schema is newer than this code is refused rather than misread.

import type Database from 'better-sqlite3';
import { pin } from './statement-pin.js';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

// Conventions: times are milliseconds since the epoch; flags are a bitmask of SYSTEM_FLAGS
// (\Seen=1 \Answered=2 \Flagged=4 \Deleted=8 \Draft=16); keywords are space-separated atoms
// or NULL; change kinds are 0 added, 1 flags, 2 expunged, 3 mailbox deleted (a tombstone
// that lets other processes notice the deletion).
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema',
    sql: `
      CREATE TABLE store_counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE domains (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id),
        address TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        quota_bytes INTEGER NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
        used_bytes INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
        created_at INTEGER NOT NULL
      );
      CREATE INDEX accounts_domain ON accounts(domain_id);

      CREATE TABLE aliases (
        source TEXT NOT NULL,
        destination TEXT NOT NULL,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        PRIMARY KEY (source, destination)
      ) WITHOUT ROWID;
      CREATE INDEX aliases_domain ON aliases(domain_id);

      CREATE TABLE mailboxes (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        name TEXT NOT NULL,
        special_use TEXT,
        uidvalidity INTEGER NOT NULL,
        uidnext INTEGER NOT NULL DEFAULT 1,
        highestmodseq INTEGER NOT NULL DEFAULT 1,
        messages INTEGER NOT NULL DEFAULT 0,
        unseen INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        size INTEGER NOT NULL DEFAULT 0,
        recent_uid INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account_id, name)
      );

      CREATE TABLE subscriptions (
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        name TEXT NOT NULL,
        PRIMARY KEY (account_id, name)
      ) WITHOUT ROWID;

      CREATE TABLE blobs (
        id TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        refcount INTEGER NOT NULL DEFAULT 0 CHECK (refcount >= 0),
        mime TEXT NOT NULL,
        zero_since INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX blobs_zero_since ON blobs(zero_since) WHERE zero_since IS NOT NULL;

      CREATE TABLE messages (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
        uid INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        flags INTEGER NOT NULL DEFAULT 0,
        keywords TEXT,
        internal_date INTEGER NOT NULL,
        size INTEGER NOT NULL,
        blob_id TEXT NOT NULL REFERENCES blobs(id) DEFERRABLE INITIALLY DEFERRED,
        PRIMARY KEY (mailbox_id, uid)
      ) WITHOUT ROWID;
      CREATE INDEX messages_blob ON messages(blob_id);

      CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        mailbox_id INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        flags INTEGER,
        keywords TEXT
      );
      CREATE INDEX changes_mailbox_modseq ON changes(mailbox_id, modseq);
      CREATE INDEX changes_mailbox_uid ON changes(mailbox_id, uid);
    `,
  },
  {
    version: 2,
    description: 'outbound queue',
    // One row per message queued for remote delivery; it holds one reference on its blob
    // (blobs.refcount counts message rows plus queue rows). Recipients are JSON:
    // [{"address", "notify": [..] | null, "orcpt": ".." | null}].
    sql: `
      CREATE TABLE outbound_queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        blob_id TEXT NOT NULL REFERENCES blobs(id) DEFERRABLE INITIALLY DEFERRED,
        size INTEGER NOT NULL,
        mail_from TEXT NOT NULL,
        recipients TEXT NOT NULL,
        envid TEXT,
        ret TEXT CHECK (ret IN ('FULL', 'HDRS')),
        body TEXT NOT NULL CHECK (body IN ('7BIT', '8BITMIME', 'BINARYMIME')),
        smtputf8 INTEGER NOT NULL DEFAULT 0,
        account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
        queued_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX outbound_queue_next ON outbound_queue(next_attempt_at);
      CREATE INDEX outbound_queue_blob ON outbound_queue(blob_id);
    `,
  },
  {
    version: 3,
    description: 'POP3 mailbox locks and APOP secrets',
    // A lease per mailbox held by one POP3 session (RFC 1939 §8: exclusive access to the
    // maildrop), across processes; a lease past expires_at belongs to nobody, so the lock of a
    // crashed process lapses. No foreign key: a lock on a deleted mailbox is simply never asked
    // for again. apop_secret is the shared secret APOP (RFC 1939 §7) needs in clear.
    sql: `
      CREATE TABLE mailbox_locks (
        mailbox_id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
      ALTER TABLE accounts ADD COLUMN apop_secret TEXT;
    `,
  },
  {
    version: 4,
    description: 'SEARCH text beside each blob',
    // IMAP SEARCH SUBJECT/FROM/TO/CC/BCC compare against these (decoded, case-folded: see
    // src/mail/mime/search-fields.ts) inside SQLite, and BODY finds the text parts without
    // parsing the MIME record. A table of its own, not columns of blobs: a blobs row carries
    // the MIME record (kilobytes of JSON, in overflow pages), and reading a column stored after
    // it walked those pages for every message. Filled when a blob row is inserted; blobs from
    // before this migration are filled when the store opens.
    sql: `
      CREATE TABLE blob_search (
        blob_id TEXT PRIMARY KEY,
        search_subject TEXT,
        search_from TEXT,
        search_to TEXT,
        search_cc TEXT,
        search_bcc TEXT,
        text_parts TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    description: 'SEARCH header text per message, in mailbox order',
    // A copy of blob_search's header columns keyed like messages, so SEARCH SUBJECT/FROM/TO/
    // CC/BCC over a mailbox is one range scan of adjacent rows instead of one random lookup of
    // a 64-character blob key per message (three times slower on 100,000 messages). Triggers
    // keep it in step with messages in every process and every write path: whichever of the
    // messages row and the blob_search row comes second fills it; expunges, deletes and moves
    // follow the messages row.
    sql: `
      CREATE TABLE message_search (
        mailbox_id INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        search_subject TEXT,
        search_from TEXT,
        search_to TEXT,
        search_cc TEXT,
        search_bcc TEXT,
        PRIMARY KEY (mailbox_id, uid)
      ) WITHOUT ROWID;
      CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN
        INSERT OR REPLACE INTO message_search
          SELECT NEW.mailbox_id, NEW.uid, search_subject, search_from, search_to, search_cc, search_bcc
          FROM blob_search WHERE blob_id = NEW.blob_id;
      END;
      CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN
        DELETE FROM message_search WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
      END;
      CREATE TRIGGER message_search_move AFTER UPDATE OF mailbox_id, uid, blob_id ON messages BEGIN
        DELETE FROM message_search WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
        INSERT OR REPLACE INTO message_search
          SELECT NEW.mailbox_id, NEW.uid, search_subject, search_from, search_to, search_cc, search_bcc
          FROM blob_search WHERE blob_id = NEW.blob_id;
      END;
      CREATE TRIGGER message_search_blob AFTER INSERT ON blob_search BEGIN
        INSERT OR REPLACE INTO message_search
          SELECT m.mailbox_id, m.uid, NEW.search_subject, NEW.search_from, NEW.search_to, NEW.search_cc,
            NEW.search_bcc
          FROM messages m WHERE m.blob_id = NEW.blob_id;
      END;
      INSERT INTO message_search
        SELECT m.mailbox_id, m.uid, s.search_subject, s.search_from, s.search_to, s.search_cc, s.search_bcc
        FROM messages m CROSS JOIN blob_search s ON s.blob_id = m.blob_id;
    `,
  },
  {
    version: 6,
    description: 'time of the last POP3 login',
    // POP3 LOGIN-DELAY (RFC 2449 §6.5) is enforced per account across processes.
    sql: `ALTER TABLE accounts ADD COLUMN pop3_login_at INTEGER;`,
  },
  {
    version: 7,
    description: 'small messages stored in the database',
    // The bytes of blobs up to the inline size (32 KiB by default), written in the append's
    // transaction instead of a file (see src/store/sqlite/inline-blobs.ts). A table of its own,
    // not a column of blobs: GC and the MIME lookups read blobs rows without walking the
    // content's overflow pages; and a rowid table, as its rows are large.
    sql: `
      CREATE TABLE blob_content (
        blob_id TEXT PRIMARY KEY,
        content BLOB NOT NULL
      );
    `,
  },
  {
    version: 8,
    description: 'outbound queue: a state per recipient',
    // One row per recipient of a queued message (outbound_queue.recipients stays the envelope
    // as accepted). status: queued (never tried), deferred (due again at next_attempt_at), held
    // (by an administrator), delivered and failed (final). lease_owner/lease_expires_at: the
    // sender that claimed it (like mailbox_locks: a lapsed lease belongs to nobody). domain is
    // the lower-cased part after the last "@". Rows of messages queued before this migration
    // are made from the JSON; a message already tried counts as deferred.
    sql: `
      CREATE TABLE outbound_recipients (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id INTEGER NOT NULL REFERENCES outbound_queue(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        address TEXT NOT NULL,
        domain TEXT NOT NULL,
        notify TEXT,
        orcpt TEXT,
        status TEXT NOT NULL CHECK (status IN ('queued', 'deferred', 'delivered', 'failed', 'held')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt_at INTEGER,
        next_attempt_at INTEGER NOT NULL,
        reply_code INTEGER,
        reply_enhanced TEXT,
        reply_text TEXT,
        remote_mta TEXT,
        delay_warned_at INTEGER,
        lease_owner TEXT,
        lease_expires_at INTEGER,
        UNIQUE (message_id, position)
      );
      CREATE INDEX outbound_recipients_due ON outbound_recipients(next_attempt_at)
        WHERE status IN ('queued', 'deferred');
      CREATE INDEX outbound_recipients_lease ON outbound_recipients(lease_owner)
        WHERE lease_owner IS NOT NULL;
      INSERT INTO outbound_recipients (message_id, position, address, domain, notify, orcpt, status,
          attempts, next_attempt_at)
        SELECT q.id, CAST(r.key AS INTEGER), json_extract(r.value, '$.address'),
          lower(substr(json_extract(r.value, '$.address'),
            length(rtrim(json_extract(r.value, '$.address'),
              replace(json_extract(r.value, '$.address'), '@', ''))) + 1)),
          json_extract(r.value, '$.notify'), json_extract(r.value, '$.orcpt'),
          CASE WHEN q.attempts > 0 THEN 'deferred' ELSE 'queued' END, q.attempts, q.next_attempt_at
        FROM outbound_queue q, json_each(q.recipients) r;
    `,
  },
  {
    version: 9,
    description: 'DKIM signing keys',
    // The keys a domain signs its outgoing mail with (RFC 6376; ed25519 is RFC 8463). state:
    // pending (staged: published, not signing yet), active (signs) or retired (kept so
    // `postern dns` still prints its record until removed).
    // public_key is the p= value of the DNS record (base64). Selectors are unique per domain,
    // retired ones included, so a rotation never reuses a published name.
    sql: `
      CREATE TABLE dkim_keys (
        id INTEGER PRIMARY KEY,
        domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
        selector TEXT NOT NULL,
        algorithm TEXT NOT NULL CHECK (algorithm IN ('ed25519', 'rsa')),
        private_key TEXT NOT NULL,
        public_key TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('pending', 'active', 'retired')),
        created_at INTEGER NOT NULL,
        retired_at INTEGER,
        UNIQUE (domain_id, selector)
      );
    `,
  },
  {
    version: 10,
    description: 'MTA-STS policies and TLS-RPT results',
    // mta_sts_policies: the last policy fetched per domain (RFC 8461 §5.1: kept through failed
    // refreshes until it expires). tls_results: outbound sessions counted per UTC day, policy
    // and outcome (RFC 8460 §4.4); policy_strings is a JSON array; '' stands for an absent
    // address or reason so that the key is unique.
    sql: `
      CREATE TABLE mta_sts_policies (
        domain TEXT PRIMARY KEY,
        policy_id TEXT NOT NULL,
        policy TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE tls_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        day TEXT NOT NULL,
        policy_domain TEXT NOT NULL,
        policy_type TEXT NOT NULL CHECK (policy_type IN ('sts', 'tlsa', 'no-policy-found')),
        policy_strings TEXT NOT NULL,
        mx_host TEXT NOT NULL,
        result TEXT NOT NULL,
        sending_ip TEXT NOT NULL,
        receiving_ip TEXT NOT NULL,
        reason TEXT NOT NULL,
        count INTEGER NOT NULL,
        UNIQUE (day, policy_domain, policy_type, policy_strings, mx_host, result, sending_ip,
          receiving_ip, reason)
      );
    `,
  },
  {
    version: 11,
    description: 'SAVEDATE and OBJECTID: save dates of messages, object ids of mailboxes',
    // RFC 8514: the date a message was saved into this mailbox (APPEND, delivery, COPY and MOVE
    // each set it; the internal date keeps the client's or the original one). Rows stored
    // before this migration get their internal date, the best estimate there is.
    // RFC 8474 §4: a mailbox's MAILBOXID survives RENAME (which gives a new UIDVALIDITY) and is
    // never reused; it is 'F' and the UIDVALIDITY the mailbox had when created, unique over the
    // whole store for good (uid-validity.ts). Existing mailboxes take their current one.
    sql: `
      ALTER TABLE messages ADD COLUMN save_date INTEGER;
      UPDATE messages SET save_date = internal_date;
      ALTER TABLE mailboxes ADD COLUMN object_id TEXT;
      UPDATE mailboxes SET object_id = 'F' || uidvalidity;
    `,
  },
  {
    version: 12,
    description: 'message-count quota per account; index of \\Deleted messages',
    // RFC 9208 §5.2 MESSAGE resource: quota_messages bounds the messages of the account (0:
    // unlimited); used_messages is kept with used_bytes by every write that adds or removes
    // messages, so the IMAP QUOTA response and the SMTP check read the same numbers.
    sql: `
      ALTER TABLE accounts ADD COLUMN quota_messages INTEGER NOT NULL DEFAULT 0 CHECK (quota_messages >= 0);
      ALTER TABLE accounts ADD COLUMN used_messages INTEGER NOT NULL DEFAULT 0;
      UPDATE accounts SET used_messages =
        (SELECT coalesce(sum(messages), 0) FROM mailboxes WHERE mailboxes.account_id = accounts.id);
      -- STATUS DELETED-STORAGE (RFC 9208 §4.2): the sizes of a mailbox's \Deleted messages.
      CREATE INDEX messages_deleted ON messages(mailbox_id) WHERE (flags & 8) != 0;
    `,
  },
  {
    version: 13,
    description: 'REQUIRETLS per message, owed DSNs, TLS-RPT report runs',
    // require_tls: MAIL FROM carried REQUIRETLS (RFC 8689 §4.1). outbound_dsn_owed: a DSN due
    // for outcomes recorded in the same transaction, kept until it is sent (so a crash between
    // the outcome and the report loses nothing); it holds one reference on the original's blob.
    // head and blocks are JSON written by src/outbound. tls_report_runs: the claim of one
    // process on a day's TLS-RPT run (RFC 8460), so processes sharing the store send it once.
    sql: `
      ALTER TABLE outbound_queue ADD COLUMN require_tls INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE outbound_dsn_owed (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        blob_id TEXT NOT NULL REFERENCES blobs(id) DEFERRABLE INITIALLY DEFERRED,
        size INTEGER NOT NULL,
        head TEXT NOT NULL,
        blocks TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_owner TEXT,
        lease_expires_at INTEGER
      );
      CREATE INDEX outbound_dsn_owed_due ON outbound_dsn_owed(next_attempt_at);
      CREATE TABLE tls_report_runs (
        day TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        lease_expires_at INTEGER NOT NULL,
        finished_at INTEGER
      );
    `,
  },
  {
    version: 14,
    description: 'change log retention: change clock, expunge floor per mailbox',
    // RFC 7162 §3.2.5.1 lets a server that no longer knows every expunge answer VANISHED with a
    // superset. Expunge rows older than the retention are pruned (gc.ts); the mailbox keeps the
    // highest modseq pruned, and a client asking from below it gets the superset. change_clock
    // maps change seqs to wall-clock time, one row per GC run, so rows need no timestamp each.
    sql: `
      CREATE TABLE change_clock (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL
      );
      ALTER TABLE mailboxes ADD COLUMN expunge_floor INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 15,
    description: 'POP3 retention: when POP3 first retrieved a message; expire days per domain and account',
    // RFC 2449 §6.7 EXPIRE as a policy: a message POP3 retrieved is expunged from INBOX that many
    // days later. pop3_expire_days: NULL inherits (account -> domain -> pop3.expire_days), -1 is
    // NEVER. The partial index finds the expirable messages of a mailbox without a scan.
    sql: `
      ALTER TABLE messages ADD COLUMN pop3_retrieved_at INTEGER;
      CREATE INDEX messages_pop3_retrieved ON messages(mailbox_id, pop3_retrieved_at)
        WHERE pop3_retrieved_at IS NOT NULL;
      ALTER TABLE accounts ADD COLUMN pop3_expire_days INTEGER;
      ALTER TABLE domains ADD COLUMN pop3_expire_days INTEGER;
    `,
  },
  {
    version: 16,
    description: 'app passwords: per-device passwords of an account',
    // Issue 14. secret_hash is a SHA-256 of a random 135-bit secret (src/auth/app-passwords.ts),
    // never the secret. AUTOINCREMENT: a revoked id is never given to a new app password, so
    // "revoke ID" cannot hit a later one. last_used_*: the last recorded login (at most one
    // write a minute per app password).
    sql: `
      CREATE TABLE app_passwords (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        label TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        last_used_protocol TEXT,
        last_used_address TEXT
      );
      CREATE INDEX app_passwords_account ON app_passwords(account_id);
    `,
  },
  {
    version: 17,
    description:
      'quota warnings; POP3 retention of messages IMAP touched; indexes of POP3 retention overrides',
    // quota_warned_level: the highest quota warning threshold (percent) already sent, raised only
    // by a conditional UPDATE (one warning per threshold across processes), lowered when usage
    // falls (rules/quota-warning.ts). pop3_retrieved_modseq: the message's modseq when POP3 first
    // retrieved it; a higher modseq means IMAP changed its flags since, and POP3 retention keeps
    // it (unless pop3.expire_imap). Existing retrieved rows count as untouched. The partial indexes
    // make the pre-login CAPA's "any override?" (EXPIRE n USER) an index lookup, not a table scan.
    sql: `
      ALTER TABLE accounts ADD COLUMN quota_warned_level INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE messages ADD COLUMN pop3_retrieved_modseq INTEGER;
      UPDATE messages SET pop3_retrieved_modseq = modseq WHERE pop3_retrieved_at IS NOT NULL;
      CREATE INDEX accounts_pop3_expire ON accounts(pop3_expire_days) WHERE pop3_expire_days IS NOT NULL;
      CREATE INDEX domains_pop3_expire ON domains(pop3_expire_days) WHERE pop3_expire_days IS NOT NULL;
    `,
  },
  {
    version: 18,
    description: 'IMAP METADATA entries per mailbox and per account',
    // RFC 5464: named values on a mailbox, or on the server (mailbox_id 0, per account here).
    // Keyed by the mailbox's id, so RENAME keeps them; purgeMailbox and deleteAccount remove them.
    sql: `
      CREATE TABLE metadata (
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        mailbox_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (account_id, mailbox_id, name)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 19,
    description: 'access control lists of mailboxes (RFC 4314)',
    // One row per mailbox and identifier ("anyone" or an account address); the owner's rights
    // are implicit and never stored. rights: canonical "lrswipkxtea" letters (rules/acl.ts).
    // The identifier index finds what is shared with a user (LIST of the "user/" namespace) and
    // what to remove when the account is deleted.
    sql: `
      CREATE TABLE mailbox_acl (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        identifier TEXT NOT NULL,
        rights TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, identifier)
      ) WITHOUT ROWID;
      CREATE INDEX mailbox_acl_identifier ON mailbox_acl(identifier);
    `,
  },
  {
    version: 20,
    description: "web sessions: the user's page, shared by every process and node on the store",
    // Only a SHA-256 of the session id is stored: a copy of the database does not log anyone in.
    // Times are milliseconds since the epoch; expired rows are deleted when a session is created.
    sql: `
      CREATE TABLE web_sessions (
        id_hash TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL
      );
      CREATE INDEX web_sessions_account ON web_sessions(account_id, created_at);
      CREATE INDEX web_sessions_expires ON web_sessions(expires_at);
    `,
  },
  {
    version: 21,
    description: 'SORT and THREAD keys beside each blob',
    // What RFC 5256 SORT/THREAD and RFC 5957 DISPLAY compare, computed once when the blob row is
    // inserted (src/store/rules/sort-fields.ts), instead of parsing every MIME record per SORT.
    // A table of its own for the reason blob_search is one (the MIME record's overflow pages).
    // Blobs from before this migration get their row lazily, on the first SORT or THREAD that
    // reads them (src/store/sqlite/sort-fields.ts): no backfill step holds the store's opening.
    // refs: the References msg-ids as a JSON array, NULL when none. message_sort is a copy keyed
    // like messages (with the internal date and size), kept by triggers as message_search is
    // (migration 5), so a SORT over a mailbox is one range scan of adjacent rows instead of one
    // random lookup of a 64-character blob key per message (2 to 3 times slower).
    sql: `
      CREATE TABLE blob_sort (
        blob_id TEXT PRIMARY KEY,
        sent INTEGER,
        base_subject TEXT NOT NULL,
        reply_fwd INTEGER NOT NULL,
        from_mailbox TEXT NOT NULL,
        to_mailbox TEXT NOT NULL,
        cc_mailbox TEXT NOT NULL,
        display_from TEXT NOT NULL,
        display_to TEXT NOT NULL,
        message_id TEXT,
        in_reply_to TEXT,
        refs TEXT
      ) WITHOUT ROWID;
      CREATE TABLE message_sort (
        mailbox_id INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        internal_date INTEGER NOT NULL,
        size INTEGER NOT NULL,
        sent INTEGER,
        base_subject TEXT NOT NULL,
        reply_fwd INTEGER NOT NULL,
        from_mailbox TEXT NOT NULL,
        to_mailbox TEXT NOT NULL,
        cc_mailbox TEXT NOT NULL,
        display_from TEXT NOT NULL,
        display_to TEXT NOT NULL,
        message_id TEXT,
        in_reply_to TEXT,
        refs TEXT,
        PRIMARY KEY (mailbox_id, uid)
      ) WITHOUT ROWID;
      CREATE TRIGGER message_sort_insert AFTER INSERT ON messages BEGIN
        INSERT OR REPLACE INTO message_sort
          SELECT NEW.mailbox_id, NEW.uid, NEW.internal_date, NEW.size, sent, base_subject, reply_fwd, from_mailbox, to_mailbox, cc_mailbox, display_from, display_to, message_id, in_reply_to, refs
          FROM blob_sort WHERE blob_id = NEW.blob_id;
      END;
      CREATE TRIGGER message_sort_delete AFTER DELETE ON messages BEGIN
        DELETE FROM message_sort WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
      END;
      CREATE TRIGGER message_sort_move AFTER UPDATE OF mailbox_id, uid, blob_id, internal_date, size ON messages BEGIN
        DELETE FROM message_sort WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
        INSERT OR REPLACE INTO message_sort
          SELECT NEW.mailbox_id, NEW.uid, NEW.internal_date, NEW.size, sent, base_subject, reply_fwd, from_mailbox, to_mailbox, cc_mailbox, display_from, display_to, message_id, in_reply_to, refs
          FROM blob_sort WHERE blob_id = NEW.blob_id;
      END;
      CREATE TRIGGER message_sort_blob AFTER INSERT ON blob_sort BEGIN
        INSERT OR REPLACE INTO message_sort
          SELECT m.mailbox_id, m.uid, m.internal_date, m.size, NEW.sent, NEW.base_subject, NEW.reply_fwd, NEW.from_mailbox, NEW.to_mailbox, NEW.cc_mailbox, NEW.display_from, NEW.display_to, NEW.message_id, NEW.in_reply_to, NEW.refs
          FROM messages m WHERE m.blob_id = NEW.blob_id;
      END;
    `,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
    file: string,
  ) {
    super(
      `${file} has schema version ${found}, but this Postern knows versions up to ${known}: ` +
        'upgrade Postern (or restore a backup made by this version)',
    );
    this.name = 'SchemaTooNewError';
  }
}

function currentVersion(db: Database.Database): number {
  const row = pin(db.prepare('SELECT max(version) AS v FROM schema_migrations')).get() as {
    v: number | null;
  };
  return row.v ?? 0;
}

/** Applies every pending migration; returns the versions applied. */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)',
  );
  const known = migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
  const found = currentVersion(db);
  if (found > known) throw new SchemaTooNewError(found, known, db.name);
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= found) continue;
    const run = db.transaction(() => {
      // Re-read under the write lock: another process may have applied it meanwhile.
      if (currentVersion(db) >= m.version) return false;
      db.exec(m.sql);
      pin(db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)')).run(
        m.version,
        Date.now(),
      );
      return true;
    });
    if (run.immediate()) applied.push(m.version);
  }
  return applied;
}
