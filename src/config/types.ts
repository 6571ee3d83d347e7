// The validated configuration, as the rest of the program sees it. src/config/load.ts turns
// postern.toml (snake_case keys) into this shape and fills every default.

import type { Limits } from '../core/limits.js';
import type { LogSettings } from '../core/log.js';

export const LISTENER_NAMES = [
  'smtp',
  'submission',
  'submissions',
  'imap',
  'imaps',
  'pop3',
  'pop3s',
  'http',
  'https',
] as const;
export type ListenerName = (typeof LISTENER_NAMES)[number];

/** Listeners whose connections start in TLS (implicit TLS). */
export const IMPLICIT_TLS: ReadonlySet<ListenerName> = new Set(['submissions', 'imaps', 'pop3s', 'https']);

/** The listeners that speak SMTP. */
export const SMTP_LISTENERS = ['smtp', 'submission', 'submissions'] as const;
export type SmtpListenerName = (typeof SMTP_LISTENERS)[number];
/** What a DMARC policy leads to: refuse the message, file it into Junk, or deliver it normally. */
export type DmarcAction = 'reject' | 'quarantine' | 'accept';

export interface ListenAddress {
  host: string;
  port: number;
}

/** [auth]: how passwords are hashed and how verified logins are remembered. */
export interface AuthSettings {
  /** Seconds a verified login is remembered (Dovecot's auth_cache_ttl); 0 turns the cache off. */
  cacheTtl: number;
  /** Most verified logins remembered per process; 0 turns the cache off. */
  cacheSize: number;
  /** scrypt cost, log2 N, of new password hashes (`user add`, `user passwd`) and of the dummy verification. */
  scryptLogN: number;
  /** Most scrypt runs at once per process (they share libuv's thread pool with file I/O). */
  scryptConcurrency: number;
  /**
   * Allow plaintext passwords (IMAP LOGIN, AUTHENTICATE PLAIN/LOGIN, POP3 USER/PASS and AUTH,
   * SMTP AUTH on submission) without TLS from loopback clients (127.0.0.0/8, ::1). Default true.
   */
  plaintextFromLoopback: boolean;
}

/** [web]: the user's page (src/web, docs/web.md). */
export interface WebSettings {
  /** Seconds without a request after which a session of the page ends. */
  sessionIdle: number;
  /** Seconds after login at which a session ends, however active. */
  sessionLifetime: number;
  /** Most sessions one account holds at once; a new login ends the oldest beyond it. */
  sessionsPerAccount: number;
  /** Shortest new password the page accepts, in characters. */
  minPasswordLength: number;
}

/** [outbound]: sending to other servers (issue 12). Durations in seconds. */
export interface OutboundSettings {
  /** How long a message is retried before it bounces as expired (RFC 5321 §4.5.4.1: 4-5 days). */
  maxQueueLifetime: number;
  /** Age of a message at which a "delayed" DSN is sent (NOTIFY=DELAY); 0: never. */
  delayWarning: number;
  /** Wait before the first retry; each later wait is the previous times retryFactor. */
  retryFirst: number;
  retryFactor: number;
  /** Longest wait between two attempts. */
  retryMax: number;
  /** Each wait is moved at random by up to this fraction of it (0 to 1), so retries spread out. */
  retryJitter: number;
  /** Most SMTP sessions at once in total, and to one destination domain. */
  concurrency: number;
  concurrencyPerDomain: number;
  /** Idle connections kept open for reuse (several messages to one MX), and for how long. */
  connectionCacheSize: number;
  connectionCacheIdle: number;
  /** Messages sent over one connection before it is closed rather than reused. */
  connectionReuseLimit: number;
  /** Most bounces (DSNs) to one address per hour, against backscatter; 0: no limit. */
  bounceRateLimit: number;
  /** The name sent in EHLO/HELO; null: `hostname`. */
  heloName: string | null;
  /** The port of remote MX hosts (25; tests point it at a loopback server). */
  port: number;
  /** Never send in clear: a server without STARTTLS, or a failed handshake, defers. */
  requireTls: boolean;
  /**
   * How long a serving process's claim on queued recipients lasts unless renewed (it is renewed
   * every third of it while held): after a crash, how long until another process sends them.
   */
  lease: number;
  /**
   * Seconds after midnight UTC at which the day's TLS-RPT run (RFC 8460) is due: one process of
   * those sharing the store claims it and reports every earlier day's TLS results.
   */
  tlsReportTime: number;
}

export interface PosternConfig {
  /** Absolute path of the file this was read from (null when built in code, e.g. tests). */
  configPath: string | null;
  hostname: string;
  /** Absolute path. */
  dataDir: string;
  /** null: the listener is disabled. */
  listen: Record<ListenerName, ListenAddress | null>;
  tls: {
    /** Absolute paths, or null to use (and on first start generate) a self-signed pair in dataDir. */
    cert: string | null;
    key: string | null;
  };
  store: {
    backend: 'sqlite';
    /** Seconds between garbage collections run by the server; 0: never (run `postern gc`). */
    gcInterval: number;
    /** Seconds an unreferenced blob is kept before garbage collection removes it. */
    gcGrace: number;
    /** Seconds after which blob and temp files that no row names are removed by garbage collection. */
    gcOrphanAge: number;
    /** Seconds expunges stay in the change log (QRESYNC VANISHED is exact that far back). */
    changeLogRetention: number;
    /** Seconds a message stays in the \Trash mailbox after it was saved there; 0: for ever. */
    autoexpungeTrash: number;
    /** Seconds a message stays in the \Junk mailbox after it was saved there; 0: for ever. */
    autoexpungeJunk: number;
    /**
     * Quota warning thresholds in percent, ascending (issue 14): reaching one sends the user one
     * warning message and makes IMAP logins say `* OK [ALERT]` from the lowest. Empty: none.
     */
    quotaWarnings: number[];
  };
  server: {
    /** Processes serving the store; 1 = single process, 0 = one per CPU core. */
    workers: number;
    /** Seconds to let commands in flight finish on shutdown before connections are cut. */
    shutdownGrace: number;
  };
  dns: {
    /** Resolvers as "HOST:PORT"; empty: the system's resolvers. Tests point this at loopback. */
    servers: string[];
    /** Upper bound on how long an answer is cached, in seconds (the record's TTL wins if lower). */
    cacheSeconds: number;
  };
  smtp: {
    /** Bare CR or LF inside DATA: "reject" (default, SMTP smuggling defence) or "normalize" to CRLF. */
    bareLineEndings: 'reject' | 'normalize';
    /** Unknown recipients in one session before it is cut (after 550 5.1.1 each). */
    maxUnknownRecipients: number;
    /** Milliseconds of delay before answering an unknown recipient. */
    unknownRecipientDelay: number;
    /**
     * Milliseconds before the banner on the smtp listener (not for loopback clients); a client
     * that talks before it is refused (RFC 5321 §4.3.1 lets a server wait).
     */
    greetingDelay: number;
    /**
     * SMTP listeners that close (554 5.5.0) a client sending input before the banner, or after
     * EHLO/HELO before its reply, while PIPELINING is not yet offered (RFC 2920 §3.1, like
     * Postfix's smtpd_forbid_unauth_pipelining). Default ["smtp"].
     */
    forbidUnauthPipelining: SmtpListenerName[];
    /** Most Received: fields a message may carry (RFC 5321 §6.3 loop detection); more gets 554 5.4.6. */
    maxHops: number;
    /** What is done with a message that fails DMARC when its domain publishes p=reject. */
    dmarcReject: DmarcAction;
    /** What is done with a message that fails DMARC when its domain publishes p=quarantine. */
    dmarcQuarantine: DmarcAction;
    /**
     * Where no DMARC policy is applied: client IPs or networks ("192.0.2.1", "2001:db8::/32"), and
     * envelope sender domains (honoured only when SPF passed for them).
     */
    dmarcExempt: string[];
    /** Domains whose addresses any authenticated user may use as sender (MAIL FROM and From:). */
    senderLoginExemptDomains: string[];
  };
  pop3: {
    /**
     * What DELE does when the session ends with QUIT (RFC 1939 §6 UPDATE state): "expunge" the
     * message (default), "trash" (move it to the Trash mailbox), or "flag" (only set \Deleted).
     */
    deleteMode: 'expunge' | 'trash' | 'flag';
    /** Offer APOP (RFC 1939 §7) to accounts that have an APOP secret. */
    apop: boolean;
    /** Seconds announced by CAPA LOGIN-DELAY (RFC 2449 §6.8); 0 omits it. */
    loginDelay: number;
    /** CAPA EXPIRE (RFC 2449 §6.7): "NEVER" or a number of days. */
    expire: 'NEVER' | number;
    /**
     * POP3 retention also expunges messages IMAP changed (flags) after POP3 retrieved them.
     * Default false: a message an IMAP user flagged, answered or marked since is kept.
     */
    expireImap: boolean;
  };
  outbound: OutboundSettings;
  auth: AuthSettings;
  web: WebSettings;
  log: LogSettings;
  limits: Limits;
}
