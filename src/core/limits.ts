// Every limit the server enforces, with its default. The [limits] table of postern.toml
// overrides any of these by the same snake_case key (see src/config).

export interface Limits {
  /** Longest SMTP and POP3 command line, in bytes (RFC 5321 §4.5.3.1.4 minimum 512); IMAP has imapLineLength. */
  lineLength: number;
  /** Longest IMAP command line (one segment between literals), in bytes; IMAP's own, larger than lineLength. */
  imapLineLength: number;
  /**
   * Largest IMAP command other than APPEND's message literals: its lines plus its literals, in
   * bytes. A literal that would take a command over it is refused before `+` (or drained).
   */
  imapCommandSize: number;
  /** Largest IMAP literal accepted, in bytes; checked before the continuation is sent. */
  literalSize: number;
  /** Largest message accepted by SMTP (SIZE), APPEND or import, in bytes. */
  messageSize: number;
  /** Recipients per SMTP transaction (RFC 5321 §4.5.3.1.8 minimum 100). */
  recipients: number;
  /** Deepest MIME nesting indexed; deeper parts are treated as opaque leaves. */
  mimeDepth: number;
  /** Most MIME parts indexed per message; further parts are not indexed. */
  mimeParts: number;
  /** Largest header block of one MIME part, in bytes; beyond it the rest is treated as body. */
  headerSize: number;
  /** Largest top-level header section of a message received by SMTP, in bytes; beyond it 552 5.3.4. */
  messageHeaderSize: number;
  /** Simultaneous connections from one IP address. */
  connectionsPerIp: number;
  /** Simultaneous connections in total, per process. */
  connectionsTotal: number;
  /**
   * Prefix length by which IPv6 clients are grouped for bans and connectionsPerIp: one site
   * usually holds a whole /64, so counting full addresses would give it unlimited tries.
   */
  ipv6Prefix: number;
  /** Seconds a command may take to arrive once started (RFC 5321 §4.5.3.2 uses 5 minutes). */
  commandTimeout: number;
  /** Seconds of idle before the server closes a connection (RFC 9051 §5.4 minimum 30 minutes for IMAP). */
  idleTimeout: number;
  /** Authentication failures from one IP before the session is closed. */
  authFailuresPerSession: number;
  /** Authentication failures from one IP within banWindow seconds before a temporary ban. */
  authFailuresBeforeBan: number;
  /** Seconds over which failures are counted for a ban, and the length of the ban. */
  banSeconds: number;
  /** Milliseconds of delay after each authentication failure. */
  authFailureDelay: number;
  /** Unknown or malformed commands tolerated per session before it is closed. */
  badCommands: number;
  /** Worker threads (per process) verifying SPF/DKIM/DMARC/ARC off the event loop. */
  verifyThreads: number;
  /** Seconds one message's verification may take, queueing included; then 451 4.3.0. */
  verifyTimeout: number;
  /** DKIM-Signature fields verified per message (RFC 6376 §6.1 allows a limit); others are neutral. */
  dkimSignatures: number;
  /**
   * Largest message (bytes) verified on the event loop rather than in a verify thread: below it
   * the thread hop costs more than the work, which the header and DKIM limits keep to a few ms.
   */
  verifyInlineSize: number;
  /** Largest IMAP METADATA value (RFC 5464 §4.3 `[METADATA MAXSIZE n]` beyond it), in bytes. */
  imapMetadataSize: number;
  /** Most IMAP METADATA entries one account holds, its mailboxes' and its server level's together. */
  imapMetadataEntries: number;
  /**
   * Messages whose SORT order or THREAD answer a process keeps between commands (about 200 bytes
   * each, over every mailbox and sort program; src/protocols/imap/sort-cache.ts); 0 keeps none.
   */
  imapSortCache: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  lineLength: 8192,
  // Dovecot's imap_max_line_length; RFC 2971 ID alone may need about 31 KB.
  imapLineLength: 64 * 1024,
  imapCommandSize: 1024 * 1024,
  literalSize: 64 * 1024 * 1024,
  messageSize: 50 * 1024 * 1024,
  recipients: 1000,
  mimeDepth: 32,
  mimeParts: 2000,
  headerSize: 256 * 1024,
  messageHeaderSize: 100 * 1024,
  connectionsPerIp: 50,
  connectionsTotal: 5000,
  ipv6Prefix: 64,
  commandTimeout: 300,
  idleTimeout: 1800,
  authFailuresPerSession: 3,
  authFailuresBeforeBan: 10,
  banSeconds: 900,
  authFailureDelay: 1000,
  badCommands: 20,
  verifyThreads: 2,
  verifyTimeout: 30,
  dkimSignatures: 5,
  verifyInlineSize: 64 * 1024,
  imapMetadataSize: 64 * 1024,
  imapMetadataEntries: 1000,
  // Five sort programs of a 100,000-message mailbox, and room besides: at most ~120 MB.
  imapSortCache: 600_000,
});
