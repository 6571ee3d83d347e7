// Writes a PosternConfig as a commented postern.toml (used by `postern init` and `postern dev`).
// Every key is listed with its meaning and default; a key whose value is the default is left
// commented out, so later releases can change defaults for files that never set them.

import path from 'node:path';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { LISTENER_NAMES, type PosternConfig } from './types.js';
import { formatListenAddress } from './listen-address.js';
import { formatSizeExact } from './units.js';
import {
  BARE_LINE_ENDINGS,
  DMARC_ACTIONS,
  DEFAULT_AUTH,
  DEFAULT_WEB,
  DEFAULT_DATA_DIR,
  DEFAULT_DNS,
  DEFAULT_LISTEN,
  DEFAULT_SERVER,
  DEFAULT_STORE,
  DEFAULT_POP3,
  DEFAULT_SMTP,
  DEFAULT_OUTBOUND,
  LIMIT_KEYS,
  OUTBOUND_KEYS,
  LISTENER_DOCS,
  LOG_LEVELS,
  defaultHostname,
} from './schema.js';

/** A TOML basic string (JSON's escapes are a subset of TOML's). */
function str(value: string): string {
  return JSON.stringify(value);
}

function line(key: string, value: string, isDefault: boolean): string {
  return `${isDefault ? '# ' : ''}${key} = ${value}`;
}

/** A path as written in the file: relative to the config file's directory when inside it. */
function relPath(p: string, configPath: string | null): string {
  if (configPath === null) return p;
  const rel = path.relative(path.dirname(configPath), p);
  if (rel === '') return '.';
  if (rel.startsWith('..') || path.isAbsolute(rel)) return p;
  return rel.split(path.sep).join('/');
}

export function renderConfigToml(config: PosternConfig): string {
  const out: string[] = [];
  const cfgPath = config.configPath;
  const defaultDataDir =
    cfgPath === null ? path.resolve(DEFAULT_DATA_DIR) : path.resolve(path.dirname(cfgPath), DEFAULT_DATA_DIR);

  out.push('# Postern configuration. Every key is listed with its default; a commented-out line');
  out.push("# shows the default in force. Relative paths are relative to this file's directory.");
  out.push('# Reference: docs/configuration.md');
  out.push('');
  out.push(
    "# Name this server gives itself in SMTP greetings and Received headers. Default: the machine's host name.",
  );
  out.push(line('hostname', str(config.hostname), config.hostname === defaultHostname()));
  out.push('');
  out.push('# Directory holding the SQLite database, message blobs and generated TLS keys. Default: "data".');
  out.push(line('data_dir', str(relPath(config.dataDir, cfgPath)), config.dataDir === defaultDataDir));
  out.push('');

  out.push('[listen]');
  out.push('# "HOST:PORT" (IPv6 as "[::1]:143"), or "" to disable the listener.');
  for (const name of LISTENER_NAMES) {
    const value = formatListenAddress(config.listen[name]);
    const def = formatListenAddress(DEFAULT_LISTEN[name]);
    out.push(
      `# ${LISTENER_DOCS[name].charAt(0).toUpperCase()}${LISTENER_DOCS[name].slice(1)}. Default: ${str(def)}`,
    );
    out.push(line(name, str(value), value === def));
  }
  out.push('');

  out.push('[tls]');
  out.push('# Certificate chain and private key (PEM), both or neither. Neither: a self-signed pair');
  out.push('# is generated in data_dir on first start.');
  out.push(
    line(
      'cert',
      str(config.tls.cert === null ? 'cert.pem' : relPath(config.tls.cert, cfgPath)),
      config.tls.cert === null,
    ),
  );
  out.push(
    line(
      'key',
      str(config.tls.key === null ? 'key.pem' : relPath(config.tls.key, cfgPath)),
      config.tls.key === null,
    ),
  );
  out.push('');

  out.push('[store]');
  out.push('# Storage backend: "sqlite" (embedded). "postgres" is not available yet.');
  out.push(line('backend', str(config.store.backend), config.store.backend === 'sqlite'));
  out.push(
    `# Seconds between garbage collections of unreferenced message files; 0: never. Default: ${DEFAULT_STORE.gcInterval}`,
  );
  out.push(
    line(
      'gc_interval',
      String(config.store.gcInterval),
      config.store.gcInterval === DEFAULT_STORE.gcInterval,
    ),
  );
  out.push(
    `# Seconds an unreferenced message file is kept before it is collected. Default: ${DEFAULT_STORE.gcGrace}`,
  );
  out.push(line('gc_grace', String(config.store.gcGrace), config.store.gcGrace === DEFAULT_STORE.gcGrace));
  out.push('# Seconds after which files no message names (left by a crash) are removed. Default: 3600');
  out.push(
    line(
      'gc_orphan_age',
      String(config.store.gcOrphanAge),
      config.store.gcOrphanAge === DEFAULT_STORE.gcOrphanAge,
    ),
  );
  out.push(
    `# Seconds expunges stay in the change log; older QRESYNC resyncs get a superset. Default: ${DEFAULT_STORE.changeLogRetention}`,
  );
  out.push(
    line(
      'change_log_retention',
      String(config.store.changeLogRetention),
      config.store.changeLogRetention === DEFAULT_STORE.changeLogRetention,
    ),
  );
  out.push(
    `# Seconds after which a message saved into the Trash / Junk mailbox is expunged; 0: never. Default: ${DEFAULT_STORE.autoexpungeTrash}`,
  );
  out.push(
    line(
      'autoexpunge_trash',
      String(config.store.autoexpungeTrash),
      config.store.autoexpungeTrash === DEFAULT_STORE.autoexpungeTrash,
    ),
  );
  out.push(
    line(
      'autoexpunge_junk',
      String(config.store.autoexpungeJunk),
      config.store.autoexpungeJunk === DEFAULT_STORE.autoexpungeJunk,
    ),
  );
  out.push(
    `# Quota warnings: percentages at which the user gets one warning message (and an IMAP login ALERT); []: none. Default: [${DEFAULT_STORE.quotaWarnings.join(', ')}]`,
  );
  out.push(
    line(
      'quota_warnings',
      `[${config.store.quotaWarnings.join(', ')}]`,
      config.store.quotaWarnings.join() === DEFAULT_STORE.quotaWarnings.join(),
    ),
  );
  out.push('');

  out.push('[server]');
  out.push('# Processes serving the store: 1 = single process, 0 = one per CPU core. Default: 1');
  out.push(line('workers', String(config.server.workers), config.server.workers === DEFAULT_SERVER.workers));
  out.push('# Seconds to let commands in flight finish on shutdown. Default: 30');
  out.push(
    line(
      'shutdown_grace',
      String(config.server.shutdownGrace),
      config.server.shutdownGrace === DEFAULT_SERVER.shutdownGrace,
    ),
  );
  out.push('');

  out.push('[dns]');
  out.push('# Resolvers used for SPF, DKIM, DMARC and MX lookups: "IP:PORT" ("[IPv6]:PORT").');
  out.push("# Empty: the system's resolvers (/etc/resolv.conf). Default: []");
  out.push(
    line(
      'servers',
      `[${config.dns.servers.map(str).join(', ')}]`,
      config.dns.servers.length === 0 && DEFAULT_DNS.servers.length === 0,
    ),
  );
  out.push("# Longest time an answer is cached, seconds (the record's TTL wins when lower). Default: 300");
  out.push(
    line(
      'cache_seconds',
      String(config.dns.cacheSeconds),
      config.dns.cacheSeconds === DEFAULT_DNS.cacheSeconds,
    ),
  );
  out.push('');

  out.push('[smtp]');
  out.push(`# Bare CR or LF inside DATA: ${BARE_LINE_ENDINGS.map(str).join(' or ')}. "reject" refuses the`);
  out.push('# message (554 5.6.11), the defence against SMTP smuggling; "normalize" turns them into CRLF.');
  out.push(`# Default: ${str(DEFAULT_SMTP.bareLineEndings)}`);
  out.push(
    line(
      'bare_line_endings',
      str(config.smtp.bareLineEndings),
      config.smtp.bareLineEndings === DEFAULT_SMTP.bareLineEndings,
    ),
  );
  out.push(
    `# Unknown recipients tolerated in one session before it is closed. Default: ${DEFAULT_SMTP.maxUnknownRecipients}`,
  );
  out.push(
    line(
      'max_unknown_recipients',
      String(config.smtp.maxUnknownRecipients),
      config.smtp.maxUnknownRecipients === DEFAULT_SMTP.maxUnknownRecipients,
    ),
  );
  out.push(
    `# Delay before answering an unknown recipient, MILLIseconds (or "1s"). Default: ${DEFAULT_SMTP.unknownRecipientDelay}`,
  );
  out.push(
    line(
      'unknown_recipient_delay',
      String(config.smtp.unknownRecipientDelay),
      config.smtp.unknownRecipientDelay === DEFAULT_SMTP.unknownRecipientDelay,
    ),
  );
  out.push(
    `# Wait before the banner on the smtp listener (not for loopback), MILLIseconds. Default: ${DEFAULT_SMTP.greetingDelay}`,
  );
  out.push(
    line(
      'greeting_delay',
      String(config.smtp.greetingDelay),
      config.smtp.greetingDelay === DEFAULT_SMTP.greetingDelay,
    ),
  );
  out.push(
    `# Most Received: fields a message may carry (mail loop detection); more: 554 5.4.6. Default: ${DEFAULT_SMTP.maxHops}`,
  );
  out.push(line('max_hops', String(config.smtp.maxHops), config.smtp.maxHops === DEFAULT_SMTP.maxHops));
  out.push(`# Mail failing DMARC whose domain publishes p=reject: ${DMARC_ACTIONS.map(str).join(', ')}.`);
  out.push(`# Default: ${str(DEFAULT_SMTP.dmarcReject)}`);
  out.push(
    line('dmarc_reject', str(config.smtp.dmarcReject), config.smtp.dmarcReject === DEFAULT_SMTP.dmarcReject),
  );
  out.push(
    `# The same for p=quarantine ("quarantine" files it into Junk). Default: ${str(DEFAULT_SMTP.dmarcQuarantine)}`,
  );
  out.push(
    line(
      'dmarc_quarantine',
      str(config.smtp.dmarcQuarantine),
      config.smtp.dmarcQuarantine === DEFAULT_SMTP.dmarcQuarantine,
    ),
  );
  out.push('# No DMARC policy applied for these client IPs, networks ("192.0.2.0/24") or envelope');
  out.push('# sender domains (a domain only when SPF passed for it). Default: []');
  out.push(
    line(
      'dmarc_exempt',
      `[${config.smtp.dmarcExempt.map(str).join(', ')}]`,
      config.smtp.dmarcExempt.length === 0,
    ),
  );
  out.push('# Domains whose addresses any authenticated user may send as (MAIL FROM and From:);');
  out.push('# elsewhere a user sends only as their own addresses, sub-addresses and aliases. Default: []');
  out.push(
    line(
      'sender_login_exempt_domains',
      `[${config.smtp.senderLoginExemptDomains.map(str).join(', ')}]`,
      config.smtp.senderLoginExemptDomains.length === 0,
    ),
  );
  out.push('# SMTP listeners that close (554 5.5.0) a client talking before the banner, or sending more');
  out.push('# after EHLO/HELO before its reply (RFC 2920 §3.1); [] for none.');
  out.push(`# Default: [${DEFAULT_SMTP.forbidUnauthPipelining.map(str).join(', ')}]`);
  out.push(
    line(
      'forbid_unauth_pipelining',
      `[${config.smtp.forbidUnauthPipelining.map(str).join(', ')}]`,
      config.smtp.forbidUnauthPipelining.join(',') === DEFAULT_SMTP.forbidUnauthPipelining.join(','),
    ),
  );
  out.push('');

  out.push('[auth]');
  out.push('# Accept plaintext passwords without TLS from loopback clients (127.0.0.0/8, ::1): IMAP LOGIN,');
  out.push('# POP3 USER/PASS, SMTP AUTH on submission. Elsewhere they always need TLS. Default: true');
  out.push(
    line(
      'plaintext_from_loopback',
      String(config.auth.plaintextFromLoopback),
      config.auth.plaintextFromLoopback === DEFAULT_AUTH.plaintextFromLoopback,
    ),
  );
  out.push('# Seconds a verified login is remembered, so a reconnecting client costs no scrypt run;');
  out.push(
    `# 0 turns the cache off. A changed password or a deleted account never hits. Default: ${DEFAULT_AUTH.cacheTtl}`,
  );
  out.push(line('cache_ttl', String(config.auth.cacheTtl), config.auth.cacheTtl === DEFAULT_AUTH.cacheTtl));
  out.push(
    `# Most verified logins remembered, per process; 0 turns the cache off. Default: ${DEFAULT_AUTH.cacheSize}`,
  );
  out.push(
    line('cache_size', String(config.auth.cacheSize), config.auth.cacheSize === DEFAULT_AUTH.cacheSize),
  );
  out.push('# scrypt cost (log2 N, 10..20) of new password hashes: 15 = 32 MiB and about 50 ms of CPU;');
  out.push(
    `# each step doubles both. Existing hashes keep their own cost. Default: ${DEFAULT_AUTH.scryptLogN}`,
  );
  out.push(
    line('scrypt_log_n', String(config.auth.scryptLogN), config.auth.scryptLogN === DEFAULT_AUTH.scryptLogN),
  );
  out.push(
    `# Most scrypt runs at once, per process (they share libuv's thread pool with file I/O). Default: ${DEFAULT_AUTH.scryptConcurrency}`,
  );
  out.push(
    line(
      'scrypt_concurrency',
      String(config.auth.scryptConcurrency),
      config.auth.scryptConcurrency === DEFAULT_AUTH.scryptConcurrency,
    ),
  );
  out.push('');
  out.push('[web]');
  out.push('# The user\'s page (docs/web.md): a session ends after this many idle seconds (or "30m"),');
  out.push(
    `# and this long after login however active. Defaults: ${DEFAULT_WEB.sessionIdle}, ${DEFAULT_WEB.sessionLifetime}`,
  );
  out.push(
    line('session_idle', String(config.web.sessionIdle), config.web.sessionIdle === DEFAULT_WEB.sessionIdle),
  );
  out.push(
    line(
      'session_lifetime',
      String(config.web.sessionLifetime),
      config.web.sessionLifetime === DEFAULT_WEB.sessionLifetime,
    ),
  );
  out.push(`# Most sessions per account (the oldest end first). Default: ${DEFAULT_WEB.sessionsPerAccount}`);
  out.push(
    line(
      'sessions_per_account',
      String(config.web.sessionsPerAccount),
      config.web.sessionsPerAccount === DEFAULT_WEB.sessionsPerAccount,
    ),
  );
  out.push(`# Shortest new password the page accepts. Default: ${DEFAULT_WEB.minPasswordLength}`);
  out.push(
    line(
      'min_password_length',
      String(config.web.minPasswordLength),
      config.web.minPasswordLength === DEFAULT_WEB.minPasswordLength,
    ),
  );
  out.push('');

  out.push('[pop3]');
  out.push('# What DELE does at QUIT: "expunge" (remove the message), "trash" (move it to Trash) or');
  out.push(
    `# "flag" (only set \\Deleted, for IMAP clients to expunge). Default: ${str(DEFAULT_POP3.deleteMode)}`,
  );
  out.push(
    line('delete_mode', str(config.pop3.deleteMode), config.pop3.deleteMode === DEFAULT_POP3.deleteMode),
  );
  out.push('# Offer APOP to accounts with an APOP secret ("postern user apop-secret"). Default: false');
  out.push(line('apop', String(config.pop3.apop), config.pop3.apop === DEFAULT_POP3.apop));
  out.push(
    `# Least seconds between two POP3 logins of an account (CAPA LOGIN-DELAY, enforced); 0: none. Default: ${DEFAULT_POP3.loginDelay}`,
  );
  out.push(
    line('login_delay', String(config.pop3.loginDelay), config.pop3.loginDelay === DEFAULT_POP3.loginDelay),
  );
  out.push(
    '# Days after POP3 first retrieves a message until it is deleted from INBOX (CAPA EXPIRE), or "NEVER". Domains and users may have their own. Default: "NEVER"',
  );
  out.push(
    line(
      'expire_days',
      config.pop3.expire === 'NEVER' ? str('NEVER') : String(config.pop3.expire),
      config.pop3.expire === DEFAULT_POP3.expire,
    ),
  );
  out.push(
    '# Let POP3 retention also delete messages that IMAP flagged or marked after POP3 downloaded them. Default: false',
  );
  out.push(
    line('expire_imap', String(config.pop3.expireImap), config.pop3.expireImap === DEFAULT_POP3.expireImap),
  );
  out.push('');

  out.push('[outbound]');
  out.push('# Sending to other servers. Durations: seconds, or strings like "30s", "5m", "4h", "5d".');
  for (const spec of OUTBOUND_KEYS) {
    const value = config.outbound[spec.field];
    const def = DEFAULT_OUTBOUND[spec.field];
    const render = (v: string | number | boolean | null): string =>
      v === null ? str('') : typeof v === 'string' ? str(v) : String(v);
    out.push(`# ${spec.doc.charAt(0).toUpperCase()}${spec.doc.slice(1)}. Default: ${render(def)}`);
    out.push(line(spec.toml, render(value), value === def));
  }
  out.push('');

  out.push('[log]');
  out.push(`# One of ${LOG_LEVELS.join(', ')}. Default: "info"`);
  out.push(line('level', str(config.log.level), config.log.level === 'info'));
  out.push('');

  out.push('[limits]');
  out.push('# Sizes: bytes, or strings like "64K", "50M", "1G" (binary multiples).');
  out.push('# Durations: seconds, or strings like "30s", "5m", "1h" (auth_failure_delay: milliseconds).');
  for (const spec of LIMIT_KEYS) {
    const value = config.limits[spec.field];
    const def = DEFAULT_LIMITS[spec.field];
    const render = (n: number): string => {
      const exact = spec.kind === 'size' ? formatSizeExact(n) : String(n);
      return exact === String(n) ? exact : str(exact);
    };
    out.push(`# ${spec.doc.charAt(0).toUpperCase()}${spec.doc.slice(1)}. Default: ${render(def)}`);
    out.push(line(spec.toml, render(value), value === def));
  }
  out.push('');
  return out.join('\n');
}
