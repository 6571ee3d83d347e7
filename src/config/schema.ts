// The keys of postern.toml: their TOML spelling, kind and one-line meaning. load.ts validates
// against this table and render-toml.ts writes the commented file `postern init` produces, so
// the two never disagree. docs/configuration.md follows the same order.

import { hostname as osHostname } from 'node:os';
import { DEFAULT_LOG_N } from '../auth/password.js';
import type { Limits } from '../core/limits.js';
import type {
  DmarcAction,
  ListenAddress,
  ListenerName,
  OutboundSettings,
  SmtpListenerName,
} from './types.js';

export type LimitKind = 'size' | 'count' | 'seconds' | 'milliseconds';

export interface LimitKey {
  field: keyof Limits;
  toml: string;
  kind: LimitKind;
  /** Smallest accepted value. */
  min: number;
  /** Largest accepted value, when there is one. */
  max?: number;
  doc: string;
}

export const LIMIT_KEYS: readonly LimitKey[] = [
  {
    field: 'lineLength',
    toml: 'line_length',
    kind: 'size',
    min: 512,
    doc: 'longest SMTP and POP3 command line, bytes (RFC 5321 §4.5.3.1.4: at least 512)',
  },
  {
    field: 'imapLineLength',
    toml: 'imap_line_length',
    kind: 'size',
    min: 512,
    doc: 'longest IMAP command line (one segment between literals), bytes',
  },
  {
    field: 'imapCommandSize',
    toml: 'imap_command_size',
    kind: 'size',
    min: 512,
    doc: 'largest IMAP command (lines plus literals; not APPEND messages), bytes',
  },
  {
    field: 'literalSize',
    toml: 'literal_size',
    kind: 'size',
    min: 1,
    doc: 'largest IMAP literal, checked before the continuation is sent',
  },
  {
    field: 'messageSize',
    toml: 'message_size',
    kind: 'size',
    min: 1,
    doc: 'largest message accepted by SMTP (SIZE), APPEND or import',
  },
  {
    field: 'recipients',
    toml: 'recipients',
    kind: 'count',
    min: 1,
    doc: 'recipients per SMTP transaction (RFC 5321 §4.5.3.1.8 asks for 100)',
  },
  { field: 'mimeDepth', toml: 'mime_depth', kind: 'count', min: 1, doc: 'deepest MIME nesting indexed' },
  {
    field: 'mimeParts',
    toml: 'mime_parts',
    kind: 'count',
    min: 1,
    doc: 'most MIME parts indexed per message',
  },
  {
    field: 'headerSize',
    toml: 'header_size',
    kind: 'size',
    min: 1,
    doc: 'largest header block of one MIME part',
  },
  {
    field: 'messageHeaderSize',
    toml: 'message_header_size',
    kind: 'size',
    min: 1024,
    doc: 'largest top-level header section of a message received by SMTP (552 5.3.4 beyond it)',
  },
  {
    field: 'connectionsPerIp',
    toml: 'connections_per_ip',
    kind: 'count',
    min: 1,
    doc: 'simultaneous connections from one IP address',
  },
  {
    field: 'connectionsTotal',
    toml: 'connections_total',
    kind: 'count',
    min: 1,
    doc: 'simultaneous connections in total, per process',
  },
  {
    field: 'ipv6Prefix',
    toml: 'ipv6_prefix',
    kind: 'count',
    min: 1,
    max: 128,
    doc: 'IPv6 clients are one address per network of this prefix length, for bans and connections_per_ip',
  },
  {
    field: 'commandTimeout',
    toml: 'command_timeout',
    kind: 'seconds',
    min: 1,
    doc: 'seconds a started command may take to arrive',
  },
  {
    field: 'idleTimeout',
    toml: 'idle_timeout',
    kind: 'seconds',
    min: 1,
    doc: 'seconds of idle before a connection is closed (RFC 9051 §5.4: 30 min for IMAP)',
  },
  {
    field: 'authFailuresPerSession',
    toml: 'auth_failures_per_session',
    kind: 'count',
    min: 1,
    doc: 'authentication failures before the session is closed',
  },
  {
    field: 'authFailuresBeforeBan',
    toml: 'auth_failures_before_ban',
    kind: 'count',
    min: 1,
    doc: 'failures from one IP within ban_seconds before a temporary ban',
  },
  {
    field: 'banSeconds',
    toml: 'ban_seconds',
    kind: 'seconds',
    min: 1,
    doc: 'window over which failures are counted, and the length of a ban',
  },
  {
    field: 'authFailureDelay',
    toml: 'auth_failure_delay',
    kind: 'milliseconds',
    min: 0,
    doc: 'delay after each authentication failure, MILLIseconds (or "1s")',
  },
  {
    field: 'badCommands',
    toml: 'bad_commands',
    kind: 'count',
    min: 1,
    doc: 'unknown or malformed commands tolerated per session',
  },
  {
    field: 'verifyThreads',
    toml: 'verify_threads',
    kind: 'count',
    min: 1,
    doc: 'worker threads per process for SPF/DKIM/DMARC/ARC of incoming mail',
  },
  {
    field: 'verifyTimeout',
    toml: 'verify_timeout',
    kind: 'seconds',
    min: 1,
    doc: "seconds one message's verification may take (queueing included); then 451",
  },
  {
    field: 'dkimSignatures',
    toml: 'dkim_signatures',
    kind: 'count',
    min: 0,
    doc: 'DKIM signatures verified per message; the rest are dkim=neutral',
  },
  {
    field: 'verifyInlineSize',
    toml: 'verify_inline_size',
    kind: 'size',
    min: 0,
    doc: 'largest message verified on the event loop instead of a verify thread',
  },
  {
    field: 'imapMetadataSize',
    toml: 'imap_metadata_size',
    kind: 'size',
    min: 1,
    doc: 'largest IMAP METADATA value (RFC 5464), bytes',
  },
  {
    field: 'imapMetadataEntries',
    toml: 'imap_metadata_entries',
    kind: 'count',
    min: 1,
    doc: 'most IMAP METADATA entries per account, over its mailboxes and server level',
  },
  {
    field: 'imapSortCache',
    toml: 'imap_sort_cache',
    kind: 'count',
    min: 0,
    doc: 'messages whose IMAP SORT order or THREAD answer is kept between commands (about 200 bytes each), 0: none',
  },
];

export const LISTENER_DOCS: Readonly<Record<ListenerName, string>> = {
  smtp: 'SMTP relay/MX (RFC 5321), STARTTLS',
  submission: 'message submission (RFC 6409), STARTTLS',
  submissions: 'submission over implicit TLS (RFC 8314)',
  imap: 'IMAP (RFC 9051), STARTTLS',
  imaps: 'IMAP over implicit TLS',
  pop3: 'POP3 (RFC 1939), STLS',
  pop3s: 'POP3 over implicit TLS',
  http: 'admin API, web UI, autoconfig, metrics',
  https: 'the same as http, over TLS (autoconfig for Outlook needs it)',
};

/** Production listeners: every interface, the standard ports. */
export const DEFAULT_LISTEN: Readonly<Record<ListenerName, ListenAddress | null>> = Object.freeze({
  smtp: { host: '0.0.0.0', port: 25 },
  submission: { host: '0.0.0.0', port: 587 },
  submissions: { host: '0.0.0.0', port: 465 },
  imap: { host: '0.0.0.0', port: 143 },
  imaps: { host: '0.0.0.0', port: 993 },
  pop3: { host: '0.0.0.0', port: 110 },
  pop3s: { host: '0.0.0.0', port: 995 },
  http: { host: '0.0.0.0', port: 8080 },
  // Off by default: port 443 is often taken by a web server on the same machine.
  https: null,
});

/** `postern dev`: loopback only, unprivileged ports. */
export const DEV_LISTEN: Readonly<Record<ListenerName, ListenAddress | null>> = Object.freeze({
  smtp: { host: '127.0.0.1', port: 2525 },
  submission: { host: '127.0.0.1', port: 2587 },
  submissions: { host: '127.0.0.1', port: 2465 },
  imap: { host: '127.0.0.1', port: 1143 },
  imaps: { host: '127.0.0.1', port: 1993 },
  pop3: { host: '127.0.0.1', port: 1110 },
  pop3s: { host: '127.0.0.1', port: 1995 },
  http: { host: '127.0.0.1', port: 8080 },
  https: { host: '127.0.0.1', port: 8443 },
});

/** Every listener disabled (tools and tests that open the store without serving). */
export const NO_LISTENERS: Readonly<Record<ListenerName, null>> = Object.freeze({
  smtp: null,
  submission: null,
  submissions: null,
  imap: null,
  imaps: null,
  pop3: null,
  pop3s: null,
  http: null,
  https: null,
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

export const DEFAULT_SERVER = Object.freeze({ workers: 1, shutdownGrace: 30 });

/**
 * [store] defaults: garbage collection hourly, unreferenced blobs kept 10 minutes, orphans 1
 * hour, expunges kept in the change log 30 days, Trash and Junk emptied of what was saved there
 * more than 30 days ago.
 */
export const DEFAULT_STORE = Object.freeze({
  backend: 'sqlite' as const,
  gcInterval: 3600,
  gcGrace: 600,
  gcOrphanAge: 3600,
  changeLogRetention: 30 * 24 * 3600,
  autoexpungeTrash: 30 * 24 * 3600,
  autoexpungeJunk: 30 * 24 * 3600,
  quotaWarnings: Object.freeze([80, 90, 100]) as readonly number[],
});
export const DEFAULT_DATA_DIR = './data';

/** The default `hostname`: the machine's name, lower-cased. */
export function defaultHostname(): string {
  return osHostname().toLowerCase();
}

/** [dns]: empty servers = the system's resolvers. */
export const DEFAULT_DNS: Readonly<{ servers: readonly string[]; cacheSeconds: number }> = Object.freeze({
  servers: Object.freeze([]) as readonly string[],
  cacheSeconds: 300,
});

export const BARE_LINE_ENDINGS = ['reject', 'normalize'] as const;

export const POP3_DELETE_MODES = ['expunge', 'trash', 'flag'] as const;

/** [pop3] defaults. */
export const DEFAULT_POP3 = Object.freeze({
  deleteMode: 'expunge' as (typeof POP3_DELETE_MODES)[number],
  apop: false,
  loginDelay: 0,
  expire: 'NEVER' as 'NEVER' | number,
  expireImap: false,
});

/** [smtp] defaults. */
export const DEFAULT_SMTP = Object.freeze({
  bareLineEndings: 'reject' as (typeof BARE_LINE_ENDINGS)[number],
  maxUnknownRecipients: 5,
  unknownRecipientDelay: 1000,
  greetingDelay: 1000,
  forbidUnauthPipelining: Object.freeze(['smtp']) as readonly SmtpListenerName[],
  maxHops: 50,
  dmarcReject: 'reject' as DmarcAction,
  dmarcQuarantine: 'quarantine' as DmarcAction,
  dmarcExempt: Object.freeze([]) as readonly string[],
  senderLoginExemptDomains: Object.freeze([]) as readonly string[],
});

/** [auth] defaults: Dovecot's auth_cache_ttl (1 hour); src/auth/password.ts DEFAULT_LOG_N. */
export const DEFAULT_AUTH = Object.freeze({
  cacheTtl: 3600,
  cacheSize: 100_000,
  scryptLogN: DEFAULT_LOG_N,
  scryptConcurrency: 2,
  plaintextFromLoopback: true,
});

/** [web] defaults: sessions end after 30 idle minutes or 12 hours; 10 per account; 10-character passwords. */
export const DEFAULT_WEB = Object.freeze({
  sessionIdle: 1800,
  sessionLifetime: 43_200,
  sessionsPerAccount: 10,
  minPasswordLength: 10,
});

export const DMARC_ACTIONS: readonly DmarcAction[] = ['reject', 'quarantine', 'accept'];

/**
 * [outbound] defaults. Retries: 5 minutes, then doubling (10, 20, 40 minutes), capped at one
 * hour, each moved by up to 20% at random; a message bounces as expired after 5 days (Postfix's
 * maximal_queue_lifetime) and a "delayed" notice is due after 4 hours. Concurrency: Postfix's
 * default_process_limit (100) and default_destination_concurrency_limit (20). Idle connections
 * are kept 2 seconds (Postfix's smtp_connection_cache_time_limit).
 */
export const DEFAULT_OUTBOUND: Readonly<OutboundSettings> = Object.freeze({
  maxQueueLifetime: 5 * 86400,
  delayWarning: 4 * 3600,
  retryFirst: 300,
  retryFactor: 2,
  retryMax: 3600,
  retryJitter: 0.2,
  concurrency: 100,
  concurrencyPerDomain: 20,
  connectionCacheSize: 32,
  connectionCacheIdle: 2,
  connectionReuseLimit: 100,
  bounceRateLimit: 30,
  heloName: null,
  port: 25,
  requireTls: false,
  lease: 300,
  tlsReportTime: 3600,
});

export type OutboundKind = 'seconds' | 'integer' | 'fraction' | 'factor' | 'boolean' | 'hostname';

export interface OutboundKey {
  field: keyof OutboundSettings;
  toml: string;
  kind: OutboundKind;
  /** Bounds of integer and seconds values. */
  min?: number;
  max?: number;
  doc: string;
}

/** The keys of [outbound], in file order. */
export const OUTBOUND_KEYS: readonly OutboundKey[] = [
  {
    field: 'maxQueueLifetime',
    toml: 'max_queue_lifetime',
    kind: 'seconds',
    min: 1,
    max: 100 * 86400,
    doc: 'how long a message is retried before it bounces as expired',
  },
  {
    field: 'delayWarning',
    toml: 'delay_warning',
    kind: 'seconds',
    min: 0,
    max: 100 * 86400,
    doc: 'age at which a "delayed" notice goes to senders who asked for one (0: never)',
  },
  {
    field: 'retryFirst',
    toml: 'retry_first',
    kind: 'seconds',
    min: 1,
    max: 86400,
    doc: 'wait before the first retry',
  },
  {
    field: 'retryFactor',
    toml: 'retry_factor',
    kind: 'factor',
    doc: 'each later wait is the previous one times this (1 to 10; 1: a fixed interval)',
  },
  {
    field: 'retryMax',
    toml: 'retry_max',
    kind: 'seconds',
    min: 1,
    max: 86400,
    doc: 'longest wait between two attempts',
  },
  {
    field: 'retryJitter',
    toml: 'retry_jitter',
    kind: 'fraction',
    doc: 'each wait moves at random by up to this fraction of it (0 to 1)',
  },
  {
    field: 'concurrency',
    toml: 'concurrency',
    kind: 'integer',
    min: 1,
    max: 10_000,
    doc: 'most SMTP sessions at once',
  },
  {
    field: 'concurrencyPerDomain',
    toml: 'concurrency_per_domain',
    kind: 'integer',
    min: 1,
    max: 10_000,
    doc: 'most SMTP sessions at once to one destination domain',
  },
  {
    field: 'connectionCacheSize',
    toml: 'connection_cache_size',
    kind: 'integer',
    min: 0,
    max: 10_000,
    doc: 'idle connections kept for reuse by later messages to the same MX (0: none)',
  },
  {
    field: 'connectionCacheIdle',
    toml: 'connection_cache_idle',
    kind: 'seconds',
    min: 0,
    max: 300,
    doc: 'how long an idle connection is kept',
  },
  {
    field: 'connectionReuseLimit',
    toml: 'connection_reuse_limit',
    kind: 'integer',
    min: 1,
    max: 1_000_000,
    doc: 'messages sent over one connection before it is closed',
  },
  {
    field: 'bounceRateLimit',
    toml: 'bounce_rate_limit',
    kind: 'integer',
    min: 0,
    max: 1_000_000,
    doc: 'most bounces to one address per hour (0: no limit)',
  },
  { field: 'heloName', toml: 'helo_name', kind: 'hostname', doc: 'the name sent in EHLO (unset: hostname)' },
  { field: 'port', toml: 'port', kind: 'integer', min: 1, max: 65535, doc: 'the port of remote MX hosts' },
  {
    field: 'requireTls',
    toml: 'require_tls',
    kind: 'boolean',
    doc: 'never send in clear: no STARTTLS or a failed handshake defers the message',
  },
  {
    field: 'lease',
    toml: 'lease',
    kind: 'seconds',
    min: 3,
    max: 86400,
    doc: "how long a process's claim on queued recipients lasts unless renewed (after a crash: until others send them)",
  },
  {
    field: 'tlsReportTime',
    toml: 'tls_report_time',
    kind: 'seconds',
    min: 0,
    max: 86399,
    doc: 'when, after midnight UTC, the daily TLS-RPT reports (RFC 8460) for the day before are sent',
  },
];
