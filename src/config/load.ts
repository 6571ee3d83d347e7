// postern.toml -> PosternConfig. One TOML file (smol-toml), every default filled, every
// problem refused at start with ONE UsageError naming the file, the key and the reason:
//   postern.toml: listen.imap: expected "HOST:PORT" or "", got "143"
// Relative paths in the file (data_dir, tls.cert, tls.key) are resolved against the
// directory of the file, so a config works whatever the current directory is.

import { readFile } from 'node:fs/promises';
import { isIP, isIPv6 } from 'node:net';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { DEFAULT_LIMITS, type Limits } from '../core/limits.js';
import { UsageError } from '../core/errors.js';
import { MAX_LOG_N, MIN_LOG_N } from '../auth/password.js';
import {
  LISTENER_NAMES,
  SMTP_LISTENERS,
  type AuthSettings,
  type WebSettings,
  type OutboundSettings,
  type ListenAddress,
  type ListenerName,
  type PosternConfig,
  type SmtpListenerName,
  type DmarcAction,
} from './types.js';
import { formatListenAddress, parseListenAddress } from './listen-address.js';
import { isValidHostname, normalizeDomain } from '../mail/domain.js';
import { parseDmarcExemption } from './dmarc-exemption.js';
import { parseDurationMs, parseDurationSeconds, parseSize } from './units.js';
import {
  BARE_LINE_ENDINGS,
  DEFAULT_AUTH,
  DEFAULT_WEB,
  DMARC_ACTIONS,
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
  type OutboundKey,
  POP3_DELETE_MODES,
  LOG_LEVELS,
  defaultHostname,
  type LimitKey,
} from './schema.js';

export { renderConfigToml } from './render-toml.js';
export { DEFAULT_LISTEN, DEV_LISTEN, NO_LISTENERS } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'postern.toml';

/** Upper bound of auth.scrypt_concurrency: each run holds 32 MiB at the default cost. */
const MAX_SCRYPT_CONCURRENCY = 64;

/** What buildConfig accepts: any subset of PosternConfig; listeners may also be "HOST:PORT" strings. */
export interface PosternConfigInput {
  configPath?: string | null;
  hostname?: string;
  /** Resolved against the current directory when relative. */
  dataDir?: string;
  listen?: Partial<Record<ListenerName, ListenAddress | string | null>>;
  tls?: { cert?: string | null; key?: string | null };
  store?: {
    backend?: string;
    gcInterval?: number;
    gcGrace?: number;
    gcOrphanAge?: number;
    changeLogRetention?: number;
    autoexpungeTrash?: number;
    autoexpungeJunk?: number;
    quotaWarnings?: number[];
  };
  server?: { workers?: number; shutdownGrace?: number };
  dns?: { servers?: string[]; cacheSeconds?: number };
  smtp?: {
    bareLineEndings?: string;
    maxUnknownRecipients?: number;
    unknownRecipientDelay?: number;
    greetingDelay?: number;
    forbidUnauthPipelining?: string[];
    maxHops?: number;
    dmarcReject?: string;
    dmarcQuarantine?: string;
    dmarcExempt?: string[];
    senderLoginExemptDomains?: string[];
  };
  pop3?: {
    deleteMode?: string;
    apop?: boolean;
    loginDelay?: number;
    expire?: string | number;
    expireImap?: boolean;
  };
  outbound?: Partial<OutboundSettings>;
  auth?: Partial<AuthSettings>;
  web?: Partial<WebSettings>;
  log?: { level?: string };
  limits?: Partial<Limits>;
}

/** The config file a command uses: --config, else $POSTERN_CONFIG, else ./postern.toml. */
export function resolveConfigPath(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (option !== undefined && option !== '') return option;
  const fromEnv = env.POSTERN_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return DEFAULT_CONFIG_FILE;
}

/** Reads and validates a config file. `file` is shown as given in error messages. */
export async function loadConfig(file: string = resolveConfigPath()): Promise<PosternConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new UsageError(`${file}: no such file (run "postern init" to create one, or pass --config FILE)`);
    }
    throw new UsageError(`${file}: cannot read: ${(err as Error).message}`);
  }
  return parseConfigToml(text, file);
}

/** Validates the text of a config file; `file` locates relative paths and names the file in errors. */
export function parseConfigToml(text: string, file: string): PosternConfig {
  const fail = (key: string, reason: string): never => {
    throw new UsageError(`${file}: ${key === '' ? '' : `${key}: `}${reason}`);
  };
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n', 1)[0] ?? 'invalid TOML';
      return fail(
        '',
        `line ${err.line}, column ${err.column}: ${first.replace('Invalid TOML document: ', '')}`,
      );
    }
    throw err;
  }
  const configPath = path.resolve(file);
  const baseDir = path.dirname(configPath);
  const v = new Validator(fail);

  const top = v.table(doc, '', [
    'hostname',
    'data_dir',
    'listen',
    'tls',
    'store',
    'server',
    'dns',
    'smtp',
    'auth',
    'web',
    'pop3',
    'outbound',
    'log',
    'limits',
  ]);

  const hostname = top.hostname === undefined ? defaultHostname() : v.hostname('hostname', top.hostname);
  const dataDir = path.resolve(
    baseDir,
    top.data_dir === undefined ? DEFAULT_DATA_DIR : v.path('data_dir', top.data_dir),
  );

  const listenRaw = v.table(top.listen ?? {}, 'listen', LISTENER_NAMES);
  const listen = { ...DEFAULT_LISTEN };
  for (const name of LISTENER_NAMES) {
    const raw = listenRaw[name];
    if (raw !== undefined) listen[name] = v.listen(`listen.${name}`, raw);
  }

  const tlsRaw = v.table(top.tls ?? {}, 'tls', ['cert', 'key']);
  const cert = tlsRaw.cert === undefined ? null : path.resolve(baseDir, v.path('tls.cert', tlsRaw.cert));
  const key = tlsRaw.key === undefined ? null : path.resolve(baseDir, v.path('tls.key', tlsRaw.key));
  v.tlsPair(cert, key);

  const storeRaw = v.table(top.store ?? {}, 'store', [
    'backend',
    'gc_interval',
    'gc_grace',
    'gc_orphan_age',
    'change_log_retention',
    'autoexpunge_trash',
    'autoexpunge_junk',
    'quota_warnings',
  ]);
  const backend = storeRaw.backend === undefined ? 'sqlite' : v.backend('store.backend', storeRaw.backend);
  const storeSeconds = (
    toml:
      | 'gc_interval'
      | 'gc_grace'
      | 'gc_orphan_age'
      | 'change_log_retention'
      | 'autoexpunge_trash'
      | 'autoexpunge_junk',
    fallback: number,
  ): number =>
    storeRaw[toml] === undefined
      ? fallback
      : v.limit(
          { field: 'commandTimeout', toml, kind: 'seconds', min: 0, doc: '' },
          `store.${toml}`,
          storeRaw[toml],
        );
  const store: PosternConfig['store'] = {
    backend,
    gcInterval: storeSeconds('gc_interval', DEFAULT_STORE.gcInterval),
    gcGrace: storeSeconds('gc_grace', DEFAULT_STORE.gcGrace),
    gcOrphanAge: storeSeconds('gc_orphan_age', DEFAULT_STORE.gcOrphanAge),
    changeLogRetention: storeSeconds('change_log_retention', DEFAULT_STORE.changeLogRetention),
    autoexpungeTrash: storeSeconds('autoexpunge_trash', DEFAULT_STORE.autoexpungeTrash),
    autoexpungeJunk: storeSeconds('autoexpunge_junk', DEFAULT_STORE.autoexpungeJunk),
    quotaWarnings:
      storeRaw.quota_warnings === undefined
        ? [...DEFAULT_STORE.quotaWarnings]
        : v.percentages('store.quota_warnings', storeRaw.quota_warnings),
  };

  const serverRaw = v.table(top.server ?? {}, 'server', ['workers', 'shutdown_grace']);
  const workers =
    serverRaw.workers === undefined ? DEFAULT_SERVER.workers : v.workers('server.workers', serverRaw.workers);
  const shutdownGrace =
    serverRaw.shutdown_grace === undefined
      ? DEFAULT_SERVER.shutdownGrace
      : v.limit(
          { field: 'commandTimeout', toml: 'shutdown_grace', kind: 'seconds', min: 0, doc: '' },
          'server.shutdown_grace',
          serverRaw.shutdown_grace,
        );

  const dnsRaw = v.table(top.dns ?? {}, 'dns', ['servers', 'cache_seconds']);
  const dnsServers =
    dnsRaw.servers === undefined ? [...DEFAULT_DNS.servers] : v.dnsServers('dns.servers', dnsRaw.servers);
  const cacheSeconds =
    dnsRaw.cache_seconds === undefined
      ? DEFAULT_DNS.cacheSeconds
      : v.limit(
          { field: 'commandTimeout', toml: 'cache_seconds', kind: 'seconds', min: 0, doc: '' },
          'dns.cache_seconds',
          dnsRaw.cache_seconds,
        );

  const smtpRaw = v.table(top.smtp ?? {}, 'smtp', [
    'bare_line_endings',
    'max_unknown_recipients',
    'unknown_recipient_delay',
    'greeting_delay',
    'forbid_unauth_pipelining',
    'max_hops',
    'dmarc_reject',
    'dmarc_quarantine',
    'dmarc_exempt',
    'sender_login_exempt_domains',
  ]);
  const bareLineEndings =
    smtpRaw.bare_line_endings === undefined
      ? DEFAULT_SMTP.bareLineEndings
      : v.bareLineEndings('smtp.bare_line_endings', smtpRaw.bare_line_endings);
  const maxUnknownRecipients =
    smtpRaw.max_unknown_recipients === undefined
      ? DEFAULT_SMTP.maxUnknownRecipients
      : v.nonNegativeInteger('smtp.max_unknown_recipients', smtpRaw.max_unknown_recipients);
  const unknownRecipientDelay =
    smtpRaw.unknown_recipient_delay === undefined
      ? DEFAULT_SMTP.unknownRecipientDelay
      : v.limit(
          {
            field: 'authFailureDelay',
            toml: 'unknown_recipient_delay',
            kind: 'milliseconds',
            min: 0,
            doc: '',
          },
          'smtp.unknown_recipient_delay',
          smtpRaw.unknown_recipient_delay,
        );

  const greetingDelay =
    smtpRaw.greeting_delay === undefined
      ? DEFAULT_SMTP.greetingDelay
      : v.limit(
          { field: 'authFailureDelay', toml: 'greeting_delay', kind: 'milliseconds', min: 0, doc: '' },
          'smtp.greeting_delay',
          smtpRaw.greeting_delay,
        );

  const forbidUnauthPipelining =
    smtpRaw.forbid_unauth_pipelining === undefined
      ? [...DEFAULT_SMTP.forbidUnauthPipelining]
      : v.smtpListeners('smtp.forbid_unauth_pipelining', smtpRaw.forbid_unauth_pipelining);
  const maxHops =
    smtpRaw.max_hops === undefined
      ? DEFAULT_SMTP.maxHops
      : v.positiveInteger('smtp.max_hops', smtpRaw.max_hops);
  const dmarcReject =
    smtpRaw.dmarc_reject === undefined
      ? DEFAULT_SMTP.dmarcReject
      : v.dmarcAction('smtp.dmarc_reject', smtpRaw.dmarc_reject);
  const dmarcQuarantine =
    smtpRaw.dmarc_quarantine === undefined
      ? DEFAULT_SMTP.dmarcQuarantine
      : v.dmarcAction('smtp.dmarc_quarantine', smtpRaw.dmarc_quarantine);
  const dmarcExempt =
    smtpRaw.dmarc_exempt === undefined
      ? [...DEFAULT_SMTP.dmarcExempt]
      : v.dmarcExempt('smtp.dmarc_exempt', smtpRaw.dmarc_exempt);
  const senderLoginExemptDomains =
    smtpRaw.sender_login_exempt_domains === undefined
      ? [...DEFAULT_SMTP.senderLoginExemptDomains]
      : v.domains('smtp.sender_login_exempt_domains', smtpRaw.sender_login_exempt_domains);

  const pop3Raw = v.table(top.pop3 ?? {}, 'pop3', [
    'delete_mode',
    'apop',
    'login_delay',
    'expire_days',
    'expire',
    'expire_imap',
  ]);
  // `expire` is the earlier name of `expire_days`.
  if (pop3Raw.expire_days !== undefined && pop3Raw.expire !== undefined) {
    fail('pop3.expire', 'set pop3.expire_days only (pop3.expire is its earlier name)');
  }
  const pop3ExpireKey = pop3Raw.expire_days !== undefined ? 'pop3.expire_days' : 'pop3.expire';
  const pop3Expire = pop3Raw.expire_days ?? pop3Raw.expire;
  const pop3: PosternConfig['pop3'] = {
    deleteMode:
      pop3Raw.delete_mode === undefined
        ? DEFAULT_POP3.deleteMode
        : v.deleteMode('pop3.delete_mode', pop3Raw.delete_mode),
    apop: pop3Raw.apop === undefined ? DEFAULT_POP3.apop : v.boolean('pop3.apop', pop3Raw.apop),
    loginDelay:
      pop3Raw.login_delay === undefined
        ? DEFAULT_POP3.loginDelay
        : v.limit(
            { field: 'commandTimeout', toml: 'login_delay', kind: 'seconds', min: 0, doc: '' },
            'pop3.login_delay',
            pop3Raw.login_delay,
          ),
    expire: pop3Expire === undefined ? DEFAULT_POP3.expire : v.expire(pop3ExpireKey, pop3Expire),
    expireImap:
      pop3Raw.expire_imap === undefined
        ? DEFAULT_POP3.expireImap
        : v.boolean('pop3.expire_imap', pop3Raw.expire_imap),
  };

  const authRaw = v.table(top.auth ?? {}, 'auth', [
    'cache_ttl',
    'cache_size',
    'scrypt_log_n',
    'scrypt_concurrency',
    'plaintext_from_loopback',
  ]);
  const auth: AuthSettings = {
    cacheTtl:
      authRaw.cache_ttl === undefined
        ? DEFAULT_AUTH.cacheTtl
        : v.limit(
            { field: 'commandTimeout', toml: 'cache_ttl', kind: 'seconds', min: 0, doc: '' },
            'auth.cache_ttl',
            authRaw.cache_ttl,
          ),
    cacheSize:
      authRaw.cache_size === undefined
        ? DEFAULT_AUTH.cacheSize
        : v.nonNegativeInteger('auth.cache_size', authRaw.cache_size),
    scryptLogN:
      authRaw.scrypt_log_n === undefined
        ? DEFAULT_AUTH.scryptLogN
        : v.integerIn('auth.scrypt_log_n', authRaw.scrypt_log_n, MIN_LOG_N, MAX_LOG_N),
    scryptConcurrency:
      authRaw.scrypt_concurrency === undefined
        ? DEFAULT_AUTH.scryptConcurrency
        : v.integerIn('auth.scrypt_concurrency', authRaw.scrypt_concurrency, 1, MAX_SCRYPT_CONCURRENCY),
    plaintextFromLoopback:
      authRaw.plaintext_from_loopback === undefined
        ? DEFAULT_AUTH.plaintextFromLoopback
        : v.boolean('auth.plaintext_from_loopback', authRaw.plaintext_from_loopback),
  };

  const webRaw = v.table(top.web ?? {}, 'web', [
    'session_idle',
    'session_lifetime',
    'sessions_per_account',
    'min_password_length',
  ]);
  const webSeconds = (key: 'session_idle' | 'session_lifetime', fallback: number): number =>
    webRaw[key] === undefined
      ? fallback
      : v.limit(
          { field: 'commandTimeout', toml: key, kind: 'seconds', min: 60, doc: '' },
          `web.${key}`,
          webRaw[key],
        );
  const web: WebSettings = {
    sessionIdle: webSeconds('session_idle', DEFAULT_WEB.sessionIdle),
    sessionLifetime: webSeconds('session_lifetime', DEFAULT_WEB.sessionLifetime),
    sessionsPerAccount:
      webRaw.sessions_per_account === undefined
        ? DEFAULT_WEB.sessionsPerAccount
        : v.positiveInteger('web.sessions_per_account', webRaw.sessions_per_account),
    minPasswordLength:
      webRaw.min_password_length === undefined
        ? DEFAULT_WEB.minPasswordLength
        : v.integerIn('web.min_password_length', webRaw.min_password_length, 1, 256),
  };

  const outboundRaw = v.table(
    top.outbound ?? {},
    'outbound',
    OUTBOUND_KEYS.map((k) => k.toml),
  );
  const outbound: OutboundSettings = { ...DEFAULT_OUTBOUND };
  for (const spec of OUTBOUND_KEYS) {
    const raw = outboundRaw[spec.toml];
    if (raw !== undefined) setOutbound(outbound, spec, v.outbound(spec, `outbound.${spec.toml}`, raw));
  }
  v.outboundConsistent(outbound, (k) => `outbound.${OUTBOUND_KEYS.find((s) => s.field === k)?.toml ?? k}`);

  const logRaw = v.table(top.log ?? {}, 'log', ['level']);
  const level = logRaw.level === undefined ? 'info' : v.logLevel('log.level', logRaw.level);

  const limitsRaw = v.table(
    top.limits ?? {},
    'limits',
    LIMIT_KEYS.map((k) => k.toml),
  );
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const spec of LIMIT_KEYS) {
    const raw = limitsRaw[spec.toml];
    if (raw !== undefined) limits[spec.field] = v.limit(spec, `limits.${spec.toml}`, raw);
  }

  return {
    configPath,
    hostname,
    dataDir,
    listen,
    tls: { cert, key },
    store,
    server: { workers, shutdownGrace },
    dns: { servers: dnsServers, cacheSeconds },
    smtp: {
      bareLineEndings,
      maxUnknownRecipients,
      unknownRecipientDelay,
      greetingDelay,
      forbidUnauthPipelining,
      maxHops,
      dmarcReject,
      dmarcQuarantine,
      dmarcExempt,
      senderLoginExemptDomains,
    },
    outbound,
    auth,
    web,
    pop3,
    log: { level },
    limits,
  };
}

/**
 * Builds a PosternConfig in code (tests, `postern dev`): `partial` over `base` (by default the
 * production defaults with dataDir ./data), validated by the same rules as the file.
 */
export function buildConfig(partial: PosternConfigInput = {}, base?: PosternConfig): PosternConfig {
  const fail = (key: string, reason: string): never => {
    throw new UsageError(`config: ${key}: ${reason}`);
  };
  const v = new Validator(fail);
  const b: PosternConfig = base ?? {
    configPath: null,
    hostname: defaultHostname(),
    dataDir: path.resolve(DEFAULT_DATA_DIR),
    listen: { ...DEFAULT_LISTEN },
    tls: { cert: null, key: null },
    store: { ...DEFAULT_STORE, quotaWarnings: [...DEFAULT_STORE.quotaWarnings] },
    server: { ...DEFAULT_SERVER },
    dns: { servers: [...DEFAULT_DNS.servers], cacheSeconds: DEFAULT_DNS.cacheSeconds },
    smtp: {
      ...DEFAULT_SMTP,
      forbidUnauthPipelining: [...DEFAULT_SMTP.forbidUnauthPipelining],
      dmarcExempt: [...DEFAULT_SMTP.dmarcExempt],
      senderLoginExemptDomains: [...DEFAULT_SMTP.senderLoginExemptDomains],
    },
    outbound: { ...DEFAULT_OUTBOUND },
    auth: { ...DEFAULT_AUTH },
    web: { ...DEFAULT_WEB },
    pop3: { ...DEFAULT_POP3 },
    log: { level: 'info' },
    limits: { ...DEFAULT_LIMITS },
  };

  const listen = { ...b.listen };
  for (const name of LISTENER_NAMES) {
    const raw = partial.listen?.[name];
    if (raw === undefined) continue;
    if (raw === null || typeof raw === 'string') {
      listen[name] = v.listen(`listen.${name}`, raw ?? '');
    } else {
      listen[name] = v.listen(`listen.${name}`, formatListenAddress(raw));
    }
  }
  if (partial.listen !== undefined) {
    for (const k of Object.keys(partial.listen)) {
      if (!(LISTENER_NAMES as readonly string[]).includes(k)) fail(`listen.${k}`, 'unknown listener');
    }
  }

  const cert = partial.tls?.cert !== undefined ? partial.tls.cert : b.tls.cert;
  const key = partial.tls?.key !== undefined ? partial.tls.key : b.tls.key;
  v.tlsPair(cert, key);

  const limits: Limits = { ...b.limits };
  if (partial.limits !== undefined) {
    const byField = new Map<string, LimitKey>(LIMIT_KEYS.map((k) => [k.field, k]));
    for (const [field, value] of Object.entries(partial.limits)) {
      const spec = byField.get(field);
      if (spec === undefined) return fail(`limits.${field}`, 'unknown limit');
      limits[spec.field] = v.limit(spec, `limits.${field}`, value);
    }
  }

  const outbound: OutboundSettings = { ...b.outbound };
  if (partial.outbound !== undefined) {
    const byField = new Map<string, OutboundKey>(OUTBOUND_KEYS.map((k) => [k.field, k]));
    for (const [field, value] of Object.entries(partial.outbound)) {
      const spec = byField.get(field);
      if (spec === undefined) return fail(`outbound.${field}`, 'unknown key');
      setOutbound(outbound, spec, v.outbound(spec, `outbound.${field}`, value));
    }
  }
  v.outboundConsistent(outbound, (k) => `outbound.${k}`);

  return {
    configPath: partial.configPath !== undefined ? partial.configPath : b.configPath,
    hostname: partial.hostname !== undefined ? v.hostname('hostname', partial.hostname) : b.hostname,
    dataDir: partial.dataDir !== undefined ? path.resolve(v.path('dataDir', partial.dataDir)) : b.dataDir,
    listen,
    tls: {
      cert: cert === null ? null : path.resolve(cert),
      key: key === null ? null : path.resolve(key),
    },
    store: {
      backend:
        partial.store?.backend !== undefined
          ? v.backend('store.backend', partial.store.backend)
          : b.store.backend,
      gcInterval:
        partial.store?.gcInterval !== undefined
          ? v.nonNegativeInteger('store.gcInterval', partial.store.gcInterval)
          : b.store.gcInterval,
      gcGrace:
        partial.store?.gcGrace !== undefined
          ? v.nonNegativeInteger('store.gcGrace', partial.store.gcGrace)
          : b.store.gcGrace,
      gcOrphanAge:
        partial.store?.gcOrphanAge !== undefined
          ? v.nonNegativeInteger('store.gcOrphanAge', partial.store.gcOrphanAge)
          : b.store.gcOrphanAge,
      changeLogRetention:
        partial.store?.changeLogRetention !== undefined
          ? v.nonNegativeInteger('store.changeLogRetention', partial.store.changeLogRetention)
          : b.store.changeLogRetention,
      autoexpungeTrash:
        partial.store?.autoexpungeTrash !== undefined
          ? v.nonNegativeInteger('store.autoexpungeTrash', partial.store.autoexpungeTrash)
          : b.store.autoexpungeTrash,
      autoexpungeJunk:
        partial.store?.autoexpungeJunk !== undefined
          ? v.nonNegativeInteger('store.autoexpungeJunk', partial.store.autoexpungeJunk)
          : b.store.autoexpungeJunk,
      quotaWarnings:
        partial.store?.quotaWarnings !== undefined
          ? v.percentages('store.quotaWarnings', partial.store.quotaWarnings)
          : [...b.store.quotaWarnings],
    },
    server: {
      workers:
        partial.server?.workers !== undefined
          ? v.workers('server.workers', partial.server.workers)
          : b.server.workers,
      shutdownGrace:
        partial.server?.shutdownGrace !== undefined
          ? v.nonNegativeInteger('server.shutdownGrace', partial.server.shutdownGrace)
          : b.server.shutdownGrace,
    },
    dns: {
      servers:
        partial.dns?.servers !== undefined
          ? v.dnsServers('dns.servers', partial.dns.servers)
          : [...b.dns.servers],
      cacheSeconds:
        partial.dns?.cacheSeconds !== undefined
          ? v.nonNegativeInteger('dns.cacheSeconds', partial.dns.cacheSeconds)
          : b.dns.cacheSeconds,
    },
    smtp: {
      bareLineEndings:
        partial.smtp?.bareLineEndings !== undefined
          ? v.bareLineEndings('smtp.bareLineEndings', partial.smtp.bareLineEndings)
          : b.smtp.bareLineEndings,
      maxUnknownRecipients:
        partial.smtp?.maxUnknownRecipients !== undefined
          ? v.nonNegativeInteger('smtp.maxUnknownRecipients', partial.smtp.maxUnknownRecipients)
          : b.smtp.maxUnknownRecipients,
      unknownRecipientDelay:
        partial.smtp?.unknownRecipientDelay !== undefined
          ? v.nonNegativeInteger('smtp.unknownRecipientDelay', partial.smtp.unknownRecipientDelay)
          : b.smtp.unknownRecipientDelay,
      greetingDelay:
        partial.smtp?.greetingDelay !== undefined
          ? v.nonNegativeInteger('smtp.greetingDelay', partial.smtp.greetingDelay)
          : b.smtp.greetingDelay,
      forbidUnauthPipelining:
        partial.smtp?.forbidUnauthPipelining !== undefined
          ? v.smtpListeners('smtp.forbidUnauthPipelining', partial.smtp.forbidUnauthPipelining)
          : [...b.smtp.forbidUnauthPipelining],
      maxHops:
        partial.smtp?.maxHops !== undefined
          ? v.positiveInteger('smtp.maxHops', partial.smtp.maxHops)
          : b.smtp.maxHops,
      dmarcReject:
        partial.smtp?.dmarcReject !== undefined
          ? v.dmarcAction('smtp.dmarcReject', partial.smtp.dmarcReject)
          : b.smtp.dmarcReject,
      dmarcQuarantine:
        partial.smtp?.dmarcQuarantine !== undefined
          ? v.dmarcAction('smtp.dmarcQuarantine', partial.smtp.dmarcQuarantine)
          : b.smtp.dmarcQuarantine,
      dmarcExempt:
        partial.smtp?.dmarcExempt !== undefined
          ? v.dmarcExempt('smtp.dmarcExempt', partial.smtp.dmarcExempt)
          : [...b.smtp.dmarcExempt],
      senderLoginExemptDomains:
        partial.smtp?.senderLoginExemptDomains !== undefined
          ? v.domains('smtp.senderLoginExemptDomains', partial.smtp.senderLoginExemptDomains)
          : [...b.smtp.senderLoginExemptDomains],
    },
    pop3: {
      deleteMode:
        partial.pop3?.deleteMode !== undefined
          ? v.deleteMode('pop3.deleteMode', partial.pop3.deleteMode)
          : b.pop3.deleteMode,
      apop: partial.pop3?.apop !== undefined ? v.boolean('pop3.apop', partial.pop3.apop) : b.pop3.apop,
      loginDelay:
        partial.pop3?.loginDelay !== undefined
          ? v.nonNegativeInteger('pop3.loginDelay', partial.pop3.loginDelay)
          : b.pop3.loginDelay,
      expire:
        partial.pop3?.expire !== undefined ? v.expire('pop3.expire', partial.pop3.expire) : b.pop3.expire,
      expireImap:
        partial.pop3?.expireImap !== undefined
          ? v.boolean('pop3.expireImap', partial.pop3.expireImap)
          : b.pop3.expireImap,
    },
    auth: {
      cacheTtl:
        partial.auth?.cacheTtl !== undefined
          ? v.nonNegativeInteger('auth.cacheTtl', partial.auth.cacheTtl)
          : b.auth.cacheTtl,
      cacheSize:
        partial.auth?.cacheSize !== undefined
          ? v.nonNegativeInteger('auth.cacheSize', partial.auth.cacheSize)
          : b.auth.cacheSize,
      scryptLogN:
        partial.auth?.scryptLogN !== undefined
          ? v.integerIn('auth.scryptLogN', partial.auth.scryptLogN, MIN_LOG_N, MAX_LOG_N)
          : b.auth.scryptLogN,
      scryptConcurrency:
        partial.auth?.scryptConcurrency !== undefined
          ? v.integerIn('auth.scryptConcurrency', partial.auth.scryptConcurrency, 1, MAX_SCRYPT_CONCURRENCY)
          : b.auth.scryptConcurrency,
      plaintextFromLoopback:
        partial.auth?.plaintextFromLoopback !== undefined
          ? v.boolean('auth.plaintextFromLoopback', partial.auth.plaintextFromLoopback)
          : b.auth.plaintextFromLoopback,
    },
    web: {
      sessionIdle:
        partial.web?.sessionIdle !== undefined
          ? v.integerIn('web.sessionIdle', partial.web.sessionIdle, 60, Number.MAX_SAFE_INTEGER)
          : b.web.sessionIdle,
      sessionLifetime:
        partial.web?.sessionLifetime !== undefined
          ? v.integerIn('web.sessionLifetime', partial.web.sessionLifetime, 60, Number.MAX_SAFE_INTEGER)
          : b.web.sessionLifetime,
      sessionsPerAccount:
        partial.web?.sessionsPerAccount !== undefined
          ? v.positiveInteger('web.sessionsPerAccount', partial.web.sessionsPerAccount)
          : b.web.sessionsPerAccount,
      minPasswordLength:
        partial.web?.minPasswordLength !== undefined
          ? v.integerIn('web.minPasswordLength', partial.web.minPasswordLength, 1, 256)
          : b.web.minPasswordLength,
    },
    outbound,
    log: {
      level: partial.log?.level !== undefined ? v.logLevel('log.level', partial.log.level) : b.log.level,
    },
    limits,
  };
}

/**
 * A DNS server as node:dns `setServers` takes it: "1.2.3.4:53" or "[::1]:53". A bare IP gets
 * port 53. Host names are refused: the resolver cannot resolve its own servers.
 */
export function parseDnsServer(text: string): string | undefined {
  if (text.length > 60) return undefined;
  if (isIP(text) !== 0) return isIPv6(text) ? `[${text}]:53` : `${text}:53`;
  const addr = parseListenAddress(text);
  if (addr === undefined || addr === null || isIP(addr.host) === 0 || addr.port === 0) return undefined;
  return formatListenAddress(addr);
}

/** Shows a value in an error message, briefly. */
/** Sets one [outbound] field to a value its validator returned (of that field's type). */
function setOutbound(
  target: OutboundSettings,
  spec: OutboundKey,
  value: OutboundSettings[keyof OutboundSettings],
): void {
  (target as unknown as Record<string, unknown>)[spec.field] = value;
}

function show(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object' && value !== null) return 'a table';
  return String(value);
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Per-key checks shared by the file parser and buildConfig; each throws through `fail`. */
class Validator {
  constructor(private readonly fail: (key: string, reason: string) => never) {}

  /** The table's own keys, refusing any not in `known` (returned in a null-prototype object). */
  table(value: unknown, key: string, known: readonly string[]): Record<string, unknown> {
    if (!isTable(value)) return this.fail(key, `expected a table, got ${show(value)}`);
    const out = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(value)) {
      const full = key === '' ? k : `${key}.${k}`;
      if (!known.includes(k)) {
        return this.fail(
          full,
          `unknown key (known keys${key === '' ? '' : ` of [${key}]`}: ${known.join(', ')})`,
        );
      }
      out[k] = value[k];
    }
    return out;
  }

  hostname(key: string, value: unknown): string {
    if (typeof value !== 'string') return this.fail(key, `expected a string, got ${show(value)}`);
    if (!isValidHostname(value)) return this.fail(key, `not a valid host name: ${show(value)}`);
    return value.toLowerCase();
  }

  path(key: string, value: unknown): string {
    if (typeof value !== 'string') return this.fail(key, `expected a path string, got ${show(value)}`);
    if (value === '') return this.fail(key, 'must not be empty');
    if (value.includes('\0')) return this.fail(key, 'must not contain NUL');
    return value;
  }

  listen(key: string, value: unknown): ListenAddress | null {
    if (typeof value !== 'string') return this.fail(key, `expected "HOST:PORT" or "", got ${show(value)}`);
    const addr = parseListenAddress(value);
    if (addr === undefined) return this.fail(key, `expected "HOST:PORT" or "", got ${show(value)}`);
    return addr;
  }

  tlsPair(cert: string | null, key: string | null): void {
    if ((cert === null) !== (key === null)) {
      this.fail(
        cert === null ? 'tls.cert' : 'tls.key',
        'tls.cert and tls.key must be given together (or neither)',
      );
    }
  }

  backend(key: string, value: unknown): 'sqlite' {
    if (value === 'sqlite') return 'sqlite';
    if (value === 'postgres') return this.fail(key, '"postgres" is not available yet (use "sqlite")');
    return this.fail(key, `expected "sqlite", got ${show(value)}`);
  }

  workers(key: string, value: unknown): number {
    const n = this.nonNegativeInteger(key, value);
    if (n > 1024) return this.fail(key, `at most 1024, got ${n}`);
    return n;
  }

  integerIn(key: string, value: unknown, min: number, max: number): number {
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
      return this.fail(key, `expected an integer from ${min} to ${max}, got ${show(value)}`);
    }
    return n;
  }

  nonNegativeInteger(key: string, value: unknown): number {
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      return this.fail(key, `expected a non-negative integer, got ${show(value)}`);
    }
    return n;
  }

  positiveInteger(key: string, value: unknown): number {
    const n = this.nonNegativeInteger(key, value);
    if (n < 1) return this.fail(key, `must be at least 1, got ${n}`);
    return n;
  }

  dmarcAction(key: string, value: unknown): DmarcAction {
    const found = DMARC_ACTIONS.find((a) => a === value);
    if (found === undefined) {
      return this.fail(key, `expected one of ${DMARC_ACTIONS.join(', ')}, got ${show(value)}`);
    }
    return found;
  }

  /** Quota warning thresholds: whole percentages 1-100, each once; returned ascending. */
  percentages(key: string, value: unknown): number[] {
    if (!Array.isArray(value)) return this.fail(key, `expected an array of percentages, got ${show(value)}`);
    const out = new Set<number>();
    for (const item of value as unknown[]) {
      // Above 100 % could only be reached by the warning itself (it is stored past the quota).
      if (typeof item !== 'number' || !Number.isInteger(item) || item < 1 || item > 100)
        return this.fail(key, `expected whole percentages from 1 to 100, got ${show(item)}`);
      out.add(item);
    }
    return [...out].sort((a, b) => a - b);
  }

  /** Domain names (lower-cased, A-labels), at most 1,000. */
  domains(key: string, value: unknown): string[] {
    if (!Array.isArray(value)) return this.fail(key, `expected an array of domain names, got ${show(value)}`);
    if (value.length > 1000) return this.fail(key, `at most 1000 domains, got ${value.length}`);
    const out: string[] = [];
    for (const item of value as unknown[]) {
      const domain = typeof item === 'string' ? normalizeDomain(item) : null;
      if (domain === null) return this.fail(key, `expected a domain name, got ${show(item)}`);
      out.push(domain);
    }
    return out;
  }

  /** DMARC exemptions: IP addresses, networks in CIDR notation, or domain names. */
  dmarcExempt(key: string, value: unknown): string[] {
    if (!Array.isArray(value)) {
      return this.fail(key, `expected an array of IPs, networks or domains, got ${show(value)}`);
    }
    if (value.length > 1000) return this.fail(key, `at most 1000 entries, got ${value.length}`);
    const out: string[] = [];
    for (const item of value as unknown[]) {
      const entry = typeof item === 'string' ? parseDmarcExemption(item) : null;
      if (entry === null) {
        return this.fail(key, `expected an IP, a network ("192.0.2.0/24") or a domain, got ${show(item)}`);
      }
      out.push(entry.text);
    }
    return out;
  }

  /** DNS resolvers: an array of "IP" or "IP:PORT" ("[IPv6]:PORT"), normalised to "HOST:PORT". */
  dnsServers(key: string, value: unknown): string[] {
    if (!Array.isArray(value))
      return this.fail(key, `expected an array of "IP:PORT" strings, got ${show(value)}`);
    if (value.length > 16) return this.fail(key, `at most 16 servers, got ${value.length}`);
    const out: string[] = [];
    for (const item of value as unknown[]) {
      const server = typeof item === 'string' ? parseDnsServer(item) : undefined;
      if (server === undefined) {
        return this.fail(key, `expected "IP:PORT" (a literal IPv4, or "[IPv6]:PORT"), got ${show(item)}`);
      }
      out.push(server);
    }
    return out;
  }

  bareLineEndings(key: string, value: unknown): PosternConfig['smtp']['bareLineEndings'] {
    const found = BARE_LINE_ENDINGS.find((l) => l === value);
    if (found === undefined) {
      return this.fail(key, `expected one of ${BARE_LINE_ENDINGS.join(', ')}, got ${show(value)}`);
    }
    return found;
  }

  /** A set of SMTP listener names, e.g. ["smtp", "submission"]; [] is none. */
  smtpListeners(key: string, value: unknown): SmtpListenerName[] {
    const expected = `expected an array of ${SMTP_LISTENERS.map((n) => JSON.stringify(n)).join(', ')}`;
    if (!Array.isArray(value)) return this.fail(key, `${expected}, got ${show(value)}`);
    const out: SmtpListenerName[] = [];
    for (const item of value as unknown[]) {
      const found = SMTP_LISTENERS.find((n) => n === item);
      if (found === undefined) return this.fail(key, `${expected}, got ${show(item)}`);
      if (!out.includes(found)) out.push(found);
    }
    return out;
  }

  deleteMode(key: string, value: unknown): PosternConfig['pop3']['deleteMode'] {
    const found = POP3_DELETE_MODES.find((m) => m === value);
    if (found === undefined) {
      return this.fail(key, `expected one of ${POP3_DELETE_MODES.join(', ')}, got ${show(value)}`);
    }
    return found;
  }

  boolean(key: string, value: unknown): boolean {
    if (typeof value !== 'boolean') return this.fail(key, `expected true or false, got ${show(value)}`);
    return value;
  }

  /** RFC 2449 §6.7: EXPIRE is "NEVER" or a number of days. */
  expire(key: string, value: unknown): 'NEVER' | number {
    if (value === 'NEVER' || value === 'never') return 'NEVER';
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= 100_000) return n;
    return this.fail(key, `expected "NEVER" or a number of days, got ${show(value)}`);
  }

  logLevel(key: string, value: unknown): PosternConfig['log']['level'] {
    const found = LOG_LEVELS.find((l) => l === value);
    if (found === undefined)
      return this.fail(key, `expected one of ${LOG_LEVELS.join(', ')}, got ${show(value)}`);
    return found;
  }

  /** One [outbound] value, by its kind (OUTBOUND_KEYS). */
  outbound(spec: OutboundKey, key: string, value: unknown): OutboundSettings[keyof OutboundSettings] {
    switch (spec.kind) {
      case 'seconds':
        return this.limit(
          {
            field: 'commandTimeout',
            toml: spec.toml,
            kind: 'seconds',
            min: spec.min ?? 0,
            max: spec.max,
            doc: '',
          },
          key,
          value,
        );
      case 'integer':
        return this.integerIn(key, value, spec.min ?? 0, spec.max ?? Number.MAX_SAFE_INTEGER);
      case 'fraction':
      case 'factor': {
        const [min, max] = spec.kind === 'fraction' ? [0, 1] : [1, 10];
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          return this.fail(key, `expected a number from ${min} to ${max}, got ${show(value)}`);
        }
        if (value < min || value > max)
          return this.fail(key, `must be from ${min} to ${max}, got ${show(value)}`);
        return value;
      }
      case 'boolean':
        return this.boolean(key, value);
      case 'hostname':
        if (value === null || value === '') return null;
        return this.hostname(key, value);
    }
  }

  /** Checks between [outbound] keys; `name` spells a field as the caller's input did. */
  outboundConsistent(o: OutboundSettings, name: (field: keyof OutboundSettings) => string): void {
    if (o.retryMax < o.retryFirst) {
      this.fail(
        name('retryMax'),
        `must be at least ${name('retryFirst')} (${o.retryFirst}), got ${o.retryMax}`,
      );
    }
    if (o.concurrencyPerDomain > o.concurrency) {
      this.fail(
        name('concurrencyPerDomain'),
        `must be at most ${name('concurrency')} (${o.concurrency}), got ${o.concurrencyPerDomain}`,
      );
    }
  }

  limit(spec: LimitKey, key: string, value: unknown): number {
    let n: number | null;
    let expected: string;
    switch (spec.kind) {
      case 'size':
        n = parseSize(value);
        expected = 'a size in bytes (an integer, or a string like "64K", "50M", "1G")';
        break;
      case 'seconds':
        n = parseDurationSeconds(value);
        expected = 'a duration in seconds (an integer, or a string like "30s", "5m", "1h")';
        break;
      case 'milliseconds':
        n = parseDurationMs(value);
        expected = 'a duration in milliseconds (an integer, or a string like "500ms", "1s")';
        break;
      default:
        n = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
        expected = 'a non-negative integer';
    }
    if (n === null) return this.fail(key, `expected ${expected}, got ${show(value)}`);
    if (n < spec.min) return this.fail(key, `must be at least ${spec.min}, got ${show(value)}`);
    if (spec.max !== undefined && n > spec.max) {
      return this.fail(key, `must be at most ${spec.max}, got ${show(value)}`);
    }
    return n;
  }
}
