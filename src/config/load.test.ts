import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import {
  buildConfig,
  DEFAULT_LISTEN,
  DEV_LISTEN,
  loadConfig,
  parseConfigToml,
  renderConfigToml,
  resolveConfigPath,
} from './load.js';

const FILE = '/etc/postern/postern.toml';

function refused(text: string, expected: string): void {
  assert.throws(
    () => parseConfigToml(text, 'postern.toml'),
    (err: unknown) => err instanceof UsageError && err.message === expected,
    expected,
  );
}

void test('an empty file gives every default', () => {
  const c = parseConfigToml('', FILE);
  assert.equal(c.configPath, FILE);
  assert.equal(c.hostname, os.hostname().toLowerCase());
  assert.equal(c.dataDir, '/etc/postern/data');
  assert.deepEqual(c.listen, DEFAULT_LISTEN);
  assert.deepEqual(c.tls, { cert: null, key: null });
  assert.deepEqual(c.store, {
    backend: 'sqlite',
    gcInterval: 3600,
    gcGrace: 600,
    gcOrphanAge: 3600,
    changeLogRetention: 2592000,
    autoexpungeTrash: 2592000,
    autoexpungeJunk: 2592000,
    quotaWarnings: [80, 90, 100],
  });
  assert.deepEqual(c.server, { workers: 1, shutdownGrace: 30 });
  assert.deepEqual(c.log, { level: 'info' });
  assert.deepEqual(c.dns, { servers: [], cacheSeconds: 300 });
  assert.deepEqual(c.smtp, {
    bareLineEndings: 'reject',
    maxUnknownRecipients: 5,
    unknownRecipientDelay: 1000,
    greetingDelay: 1000,
    forbidUnauthPipelining: ['smtp'],
    maxHops: 50,
    dmarcReject: 'reject',
    dmarcQuarantine: 'quarantine',
    dmarcExempt: [],
    senderLoginExemptDomains: [],
  });
  assert.equal(c.limits.ipv6Prefix, 64);
  assert.deepEqual(c.pop3, {
    deleteMode: 'expunge',
    apop: false,
    loginDelay: 0,
    expire: 'NEVER',
    expireImap: false,
  });
  assert.deepEqual(c.auth, {
    cacheTtl: 3600,
    cacheSize: 100_000,
    scryptLogN: 15,
    scryptConcurrency: 2,
    plaintextFromLoopback: true,
  });
  assert.deepEqual(c.limits, DEFAULT_LIMITS);
});

void test('[web] is read and validated; defaults when absent', () => {
  assert.deepEqual(parseConfigToml('', FILE).web, {
    sessionIdle: 1800,
    sessionLifetime: 43_200,
    sessionsPerAccount: 10,
    minPasswordLength: 10,
  });
  const c = parseConfigToml(
    '[web]\nsession_idle = "45m"\nsession_lifetime = "1d"\nsessions_per_account = 3\nmin_password_length = 12\n',
    FILE,
  );
  assert.deepEqual(c.web, {
    sessionIdle: 2700,
    sessionLifetime: 86_400,
    sessionsPerAccount: 3,
    minPasswordLength: 12,
  });
  refused('[web]\nsession_idle = 5', 'postern.toml: web.session_idle: must be at least 60, got 5');
  refused(
    '[web]\nsessions_per_account = 0',
    'postern.toml: web.sessions_per_account: must be at least 1, got 0',
  );
  refused(
    '[web]\nmin_password_length = 0',
    'postern.toml: web.min_password_length: expected an integer from 1 to 256, got 0',
  );
});

void test('[auth] is read and validated', () => {
  const c = parseConfigToml(
    '[auth]\ncache_ttl = "10m"\ncache_size = 500\nscrypt_log_n = 12\nscrypt_concurrency = 4\n',
    FILE,
  );
  assert.deepEqual(c.auth, {
    cacheTtl: 600,
    cacheSize: 500,
    scryptLogN: 12,
    scryptConcurrency: 4,
    plaintextFromLoopback: true,
  });
  assert.equal(parseConfigToml('[auth]\ncache_ttl = 0\n', FILE).auth.cacheTtl, 0);
  refused(
    '[auth]\nscrypt_log_n = 9',
    'postern.toml: auth.scrypt_log_n: expected an integer from 10 to 20, got 9',
  );
  refused(
    '[auth]\nscrypt_log_n = 21',
    'postern.toml: auth.scrypt_log_n: expected an integer from 10 to 20, got 21',
  );
  refused(
    '[auth]\nscrypt_concurrency = 0',
    'postern.toml: auth.scrypt_concurrency: expected an integer from 1 to 64, got 0',
  );
  refused(
    '[auth]\ncache_size = -1',
    'postern.toml: auth.cache_size: expected a non-negative integer, got -1',
  );
  refused(
    '[auth]\ncache = 1',
    'postern.toml: auth.cache: unknown key (known keys of [auth]: cache_ttl, cache_size, scrypt_log_n, scrypt_concurrency, plaintext_from_loopback)',
  );
  const built = buildConfig({ auth: { cacheTtl: 0, scryptLogN: 10 } });
  assert.deepEqual(built.auth, {
    cacheTtl: 0,
    cacheSize: 100_000,
    scryptLogN: 10,
    scryptConcurrency: 2,
    plaintextFromLoopback: true,
  });
  assert.throws(() => buildConfig({ auth: { scryptLogN: 30 } }), /config: auth.scryptLogN/);
  const text = renderConfigToml({
    ...built,
    auth: { cacheTtl: 120, cacheSize: 7, scryptLogN: 16, scryptConcurrency: 3, plaintextFromLoopback: false },
  });
  assert.match(text, /^scrypt_log_n = 16$/m);
  assert.deepEqual(parseConfigToml(text, FILE).auth, {
    cacheTtl: 120,
    cacheSize: 7,
    scryptLogN: 16,
    scryptConcurrency: 3,
    plaintextFromLoopback: false,
  });
});

void test('[pop3] is read and validated', () => {
  const c = parseConfigToml(
    '[pop3]\ndelete_mode = "trash"\napop = true\nlogin_delay = "5m"\nexpire = 30\n',
    FILE,
  );
  assert.deepEqual(c.pop3, {
    deleteMode: 'trash',
    apop: true,
    loginDelay: 300,
    expire: 30,
    expireImap: false,
  });
  assert.equal(parseConfigToml('[pop3]\nexpire_imap = true\n', FILE).pop3.expireImap, true);
  refused('[pop3]\nexpire_imap = 1', 'postern.toml: pop3.expire_imap: expected true or false, got 1');
  assert.deepEqual(
    parseConfigToml('[store]\nquota_warnings = [95, 50, 95]\n', FILE).store.quotaWarnings,
    [50, 95],
  );
  assert.deepEqual(parseConfigToml('[store]\nquota_warnings = []\n', FILE).store.quotaWarnings, []);
  refused(
    '[store]\nquota_warnings = [80, 120]',
    'postern.toml: store.quota_warnings: expected whole percentages from 1 to 100, got 120',
  );
  refused(
    '[store]\nquota_warnings = 80',
    'postern.toml: store.quota_warnings: expected an array of percentages, got 80',
  );
  assert.equal(parseConfigToml('[pop3]\nexpire = "NEVER"\n', FILE).pop3.expire, 'NEVER');
  assert.equal(parseConfigToml('[pop3]\nexpire_days = 14\n', FILE).pop3.expire, 14);
  refused(
    '[pop3]\nexpire_days = 14\nexpire = 14',
    'postern.toml: pop3.expire: set pop3.expire_days only (pop3.expire is its earlier name)',
  );
  refused(
    '[pop3]\nexpire_days = "soon"',
    'postern.toml: pop3.expire_days: expected "NEVER" or a number of days, got "soon"',
  );
  refused(
    '[pop3]\ndelete_mode = "shred"',
    'postern.toml: pop3.delete_mode: expected one of expunge, trash, flag, got "shred"',
  );
  refused('[pop3]\napop = "yes"', 'postern.toml: pop3.apop: expected true or false, got "yes"');
  refused('[pop3]\nexpire = -1', 'postern.toml: pop3.expire: expected "NEVER" or a number of days, got -1');
  refused(
    '[pop3]\nretain = 1',
    'postern.toml: pop3.retain: unknown key (known keys of [pop3]: delete_mode, apop, login_delay, expire_days, expire, expire_imap)',
  );
  const built = buildConfig({ pop3: { deleteMode: 'flag', expire: 'NEVER' } });
  assert.equal(built.pop3.deleteMode, 'flag');
  assert.throws(() => buildConfig({ pop3: { deleteMode: 'x' } }), /config: pop3.deleteMode/);
  const text = renderConfigToml({
    ...built,
    pop3: { deleteMode: 'trash', apop: true, loginDelay: 60, expire: 7, expireImap: true },
  });
  assert.deepEqual(parseConfigToml(text, FILE).pop3, {
    deleteMode: 'trash',
    apop: true,
    loginDelay: 60,
    expire: 7,
    expireImap: true,
  });
});

void test('[dns] and [smtp] are read and validated', () => {
  const c = parseConfigToml(
    `
[dns]
servers = ["127.0.0.1:5353", "::1", "[::1]:53", "10.0.0.1"]
cache_seconds = "10m"
[smtp]
bare_line_endings = "normalize"
max_unknown_recipients = 0
unknown_recipient_delay = "2s"
greeting_delay = 0
forbid_unauth_pipelining = ["submission", "smtp", "submission"]
max_hops = 30
dmarc_reject = "quarantine"
dmarc_quarantine = "accept"
dmarc_exempt = ["192.0.2.7", "2001:db8::/32", "Lists.Example.ORG"]
sender_login_exempt_domains = ["Shared.Example"]
`,
    FILE,
  );
  assert.deepEqual(c.dns, {
    servers: ['127.0.0.1:5353', '[::1]:53', '[::1]:53', '10.0.0.1:53'],
    cacheSeconds: 600,
  });
  assert.deepEqual(c.smtp, {
    bareLineEndings: 'normalize',
    maxUnknownRecipients: 0,
    unknownRecipientDelay: 2000,
    greetingDelay: 0,
    forbidUnauthPipelining: ['submission', 'smtp'],
    maxHops: 30,
    dmarcReject: 'quarantine',
    dmarcQuarantine: 'accept',
    dmarcExempt: ['192.0.2.7', '2001:db8::/32', 'lists.example.org'],
    senderLoginExemptDomains: ['shared.example'],
  });
  assert.deepEqual(
    parseConfigToml('[smtp]\nforbid_unauth_pipelining = []\n', FILE).smtp.forbidUnauthPipelining,
    [],
  );
  refused(
    '[smtp]\nforbid_unauth_pipelining = ["imap"]',
    'postern.toml: smtp.forbid_unauth_pipelining: expected an array of "smtp", "submission", "submissions", got "imap"',
  );
  refused(
    '[smtp]\nforbid_unauth_pipelining = true',
    'postern.toml: smtp.forbid_unauth_pipelining: expected an array of "smtp", "submission", "submissions", got true',
  );
  refused(
    '[smtp]\ndmarc_reject = "bounce"',
    'postern.toml: smtp.dmarc_reject: expected one of reject, quarantine, accept, got "bounce"',
  );
  refused(
    '[smtp]\ndmarc_exempt = ["10.0.0.0/33"]',
    'postern.toml: smtp.dmarc_exempt: expected an IP, a network ("192.0.2.0/24") or a domain, got "10.0.0.0/33"',
  );
  refused(
    '[smtp]\nsender_login_exempt_domains = ["no domain"]',
    'postern.toml: smtp.sender_login_exempt_domains: expected a domain name, got "no domain"',
  );
  refused('[smtp]\nmax_hops = 0', 'postern.toml: smtp.max_hops: must be at least 1, got 0');
  refused(
    '[dns]\nservers = ["dns.example.com:53"]',
    'postern.toml: dns.servers: expected "IP:PORT" (a literal IPv4, or "[IPv6]:PORT"), got "dns.example.com:53"',
  );
  refused(
    '[dns]\nservers = "127.0.0.1"',
    'postern.toml: dns.servers: expected an array of "IP:PORT" strings, got "127.0.0.1"',
  );
  refused(
    '[dns]\nservers = ["127.0.0.1:0"]',
    'postern.toml: dns.servers: expected "IP:PORT" (a literal IPv4, or "[IPv6]:PORT"), got "127.0.0.1:0"',
  );
  refused(
    '[dns]\nttl = 1',
    'postern.toml: dns.ttl: unknown key (known keys of [dns]: servers, cache_seconds)',
  );
  refused(
    '[smtp]\nbare_line_endings = "allow"',
    'postern.toml: smtp.bare_line_endings: expected one of reject, normalize, got "allow"',
  );
  refused(
    '[smtp]\nmax_unknown_recipients = -1',
    'postern.toml: smtp.max_unknown_recipients: expected a non-negative integer, got -1',
  );
  const built = buildConfig({ dns: { servers: ['127.0.0.1:53'] }, smtp: { bareLineEndings: 'normalize' } });
  assert.deepEqual(built.dns, { servers: ['127.0.0.1:53'], cacheSeconds: 300 });
  assert.equal(built.smtp.bareLineEndings, 'normalize');
  assert.equal(built.smtp.unknownRecipientDelay, 1000);
  assert.throws(() => buildConfig({ dns: { servers: ['x'] } }), /config: dns.servers: expected/);
  assert.throws(() => buildConfig({ smtp: { bareLineEndings: 'yes' } }), /config: smtp.bareLineEndings/);
  assert.deepEqual(buildConfig({ smtp: { forbidUnauthPipelining: [] } }).smtp.forbidUnauthPipelining, []);
  assert.throws(
    () => buildConfig({ smtp: { forbidUnauthPipelining: ['pop3'] } }),
    /config: smtp.forbidUnauthPipelining: expected an array/,
  );
});

void test('[auth] and limits.ipv6_prefix are read and validated', () => {
  const c = parseConfigToml('[auth]\nplaintext_from_loopback = false\n[limits]\nipv6_prefix = 56\n', FILE);
  assert.equal(c.auth.plaintextFromLoopback, false);
  assert.equal(c.limits.ipv6Prefix, 56);
  refused(
    '[auth]\nplaintext_from_loopback = 1',
    'postern.toml: auth.plaintext_from_loopback: expected true or false, got 1',
  );
  refused(
    '[auth]\nplaintext = true',
    'postern.toml: auth.plaintext: unknown key (known keys of [auth]: cache_ttl, cache_size, scrypt_log_n, scrypt_concurrency, plaintext_from_loopback)',
  );
  refused('[limits]\nipv6_prefix = 129', 'postern.toml: limits.ipv6_prefix: must be at most 128, got 129');
  refused('[limits]\nipv6_prefix = 0', 'postern.toml: limits.ipv6_prefix: must be at least 1, got 0');
  assert.equal(buildConfig({ auth: { plaintextFromLoopback: false } }).auth.plaintextFromLoopback, false);
  assert.equal(buildConfig({ limits: { ipv6Prefix: 128 } }).limits.ipv6Prefix, 128);
  assert.throws(
    () => buildConfig({ limits: { ipv6Prefix: 200 } }),
    /config: limits.ipv6Prefix: must be at most 128/,
  );
  const text = renderConfigToml(
    buildConfig({
      auth: { plaintextFromLoopback: false },
      smtp: { forbidUnauthPipelining: ['smtp', 'submission'] },
      limits: { ipv6Prefix: 48 },
    }),
  );
  assert.match(text, /^plaintext_from_loopback = false$/m);
  assert.match(text, /^forbid_unauth_pipelining = \["smtp", "submission"\]$/m);
  assert.match(text, /^ipv6_prefix = 48$/m);
  const back = parseConfigToml(text, FILE);
  assert.equal(back.auth.plaintextFromLoopback, false);
  assert.deepEqual(back.smtp.forbidUnauthPipelining, ['smtp', 'submission']);
  assert.equal(back.limits.ipv6Prefix, 48);
});

void test('every key is read, with sizes and durations in words, IPv6, and relative paths', () => {
  const c = parseConfigToml(
    `
hostname = "Mail.Example.org"
data_dir = "../var/lib/postern"
[listen]
smtp = "[::1]:2525"
imap = "127.0.0.1:0"
pop3 = ""
http = "localhost:8081"
[tls]
cert = "tls/cert.pem"
key = "/abs/key.pem"
[store]
backend = "sqlite"
[server]
workers = 0
shutdown_grace = "2m"
[log]
level = "debug"
[limits]
line_length = "16K"
message_size = "1G"
literal_size = 1048576
recipients = 100
command_timeout = "5m"
idle_timeout = 3600
auth_failure_delay = "1s"
`,
    FILE,
  );
  assert.equal(c.hostname, 'mail.example.org');
  assert.equal(c.dataDir, '/etc/var/lib/postern');
  assert.deepEqual(c.listen.smtp, { host: '::1', port: 2525 });
  assert.deepEqual(c.listen.imap, { host: '127.0.0.1', port: 0 });
  assert.equal(c.listen.pop3, null);
  assert.deepEqual(c.listen.http, { host: 'localhost', port: 8081 });
  assert.deepEqual(c.listen.imaps, DEFAULT_LISTEN.imaps);
  assert.deepEqual(c.tls, { cert: '/etc/postern/tls/cert.pem', key: '/abs/key.pem' });
  assert.deepEqual(c.server, { workers: 0, shutdownGrace: 120 });
  assert.equal(c.log.level, 'debug');
  assert.equal(c.limits.lineLength, 16384);
  assert.equal(c.limits.messageSize, 1024 ** 3);
  assert.equal(c.limits.literalSize, 1048576);
  assert.equal(c.limits.commandTimeout, 300);
  assert.equal(c.limits.idleTimeout, 3600);
  assert.equal(c.limits.authFailureDelay, 1000);
  assert.equal(c.limits.mimeDepth, DEFAULT_LIMITS.mimeDepth);
});

void test('each kind of mistake is refused with one line naming the key and the reason', () => {
  refused('[listen]\nimap = "143"', 'postern.toml: listen.imap: expected "HOST:PORT" or "", got "143"');
  refused(
    '[listen]\nimap = "0.0.0.0:99999"',
    'postern.toml: listen.imap: expected "HOST:PORT" or "", got "0.0.0.0:99999"',
  );
  refused(
    '[listen]\nimap = "::1:143"',
    'postern.toml: listen.imap: expected "HOST:PORT" or "", got "::1:143"',
  );
  refused('[listen]\nimap = 143', 'postern.toml: listen.imap: expected "HOST:PORT" or "", got 143');
  refused(
    '[listen]\nimapz = "0.0.0.0:1"',
    'postern.toml: listen.imapz: unknown key (known keys of [listen]: smtp, submission, submissions, imap, imaps, pop3, pop3s, http, https)',
  );
  refused(
    'hostnme = "x"',
    'postern.toml: hostnme: unknown key (known keys: hostname, data_dir, listen, tls, store, server, dns, smtp, auth, web, pop3, outbound, log, limits)',
  );
  refused('listen = "x"', 'postern.toml: listen: expected a table, got "x"');
  refused(
    '[limits]\nmessage_size = "50Q"',
    'postern.toml: limits.message_size: expected a size in bytes (an integer, or a string like "64K", "50M", "1G"), got "50Q"',
  );
  refused(
    '[limits]\nmessage_size = -1',
    'postern.toml: limits.message_size: expected a size in bytes (an integer, or a string like "64K", "50M", "1G"), got -1',
  );
  refused('[limits]\nline_length = 100', 'postern.toml: limits.line_length: must be at least 512, got 100');
  refused(
    '[limits]\nrecipients = "many"',
    'postern.toml: limits.recipients: expected a non-negative integer, got "many"',
  );
  refused(
    '[limits]\nidle_timeout = "1y"',
    'postern.toml: limits.idle_timeout: expected a duration in seconds (an integer, or a string like "30s", "5m", "1h"), got "1y"',
  );
  refused(
    '[limits]\n__proto__ = 1',
    'postern.toml: limits.__proto__: unknown key (known keys of [limits]: ' +
      'line_length, imap_line_length, imap_command_size, literal_size, message_size, recipients, mime_depth, mime_parts, header_size, message_header_size, connections_per_ip, ' +
      'connections_total, ipv6_prefix, command_timeout, idle_timeout, auth_failures_per_session, auth_failures_before_ban, ban_seconds, ' +
      'auth_failure_delay, bad_commands, verify_threads, verify_timeout, dkim_signatures, verify_inline_size, imap_metadata_size, imap_metadata_entries, imap_sort_cache)',
  );
  refused(
    '[store]\nbackend = "postgres"',
    'postern.toml: store.backend: "postgres" is not available yet (use "sqlite")',
  );
  refused('[store]\nbackend = "mysql"', 'postern.toml: store.backend: expected "sqlite", got "mysql"');
  refused(
    '[tls]\ncert = "c.pem"',
    'postern.toml: tls.key: tls.cert and tls.key must be given together (or neither)',
  );
  refused(
    '[server]\nworkers = 1.5',
    'postern.toml: server.workers: expected a non-negative integer, got 1.5',
  );
  refused(
    '[log]\nlevel = "loud"',
    'postern.toml: log.level: expected one of fatal, error, warn, info, debug, trace, got "loud"',
  );
  refused('hostname = "bad_host"', 'postern.toml: hostname: not a valid host name: "bad_host"');
  refused('data_dir = ""', 'postern.toml: data_dir: must not be empty');
  assert.throws(
    () => parseConfigToml('[listen\nimap = 1', 'postern.toml'),
    (err: unknown) =>
      err instanceof UsageError &&
      err.message.startsWith('postern.toml: line 1, column') &&
      !err.message.includes('\n'),
  );
});

void test('renderConfigToml lists every key, and reads back to the same config', () => {
  const dir = '/srv/mail';
  const configPath = path.join(dir, 'postern.toml');
  const defaults = buildConfig({ configPath, dataDir: path.join(dir, 'data') });
  const text = renderConfigToml(defaults);
  for (const key of [
    'hostname',
    'data_dir',
    'smtp',
    'pop3s',
    'cert',
    'key',
    'backend',
    'gc_interval',
    'gc_grace',
    'gc_orphan_age',
    'change_log_retention',
    'autoexpunge_trash',
    'autoexpunge_junk',
    'workers',
    'shutdown_grace',
    'level',
    'line_length',
    'bad_commands',
    'verify_threads',
    'verify_timeout',
    'dkim_signatures',
    'auth_failure_delay',
    'servers',
    'cache_seconds',
    'bare_line_endings',
    'max_unknown_recipients',
    'unknown_recipient_delay',
    'forbid_unauth_pipelining',
    'plaintext_from_loopback',
    'ipv6_prefix',
    'cache_ttl',
    'cache_size',
    'scrypt_log_n',
    'scrypt_concurrency',
  ]) {
    assert.match(text, new RegExp(`^# ${key} = `, 'm'), key);
  }
  assert.deepEqual(parseConfigToml(text, configPath), defaults);

  const custom = buildConfig({
    configPath,
    hostname: 'mx.example.org',
    dataDir: '/var/lib/postern',
    listen: { ...DEV_LISTEN, pop3: null, smtp: '[::1]:25' },
    tls: { cert: path.join(dir, 'tls/cert.pem'), key: path.join(dir, 'tls/key.pem') },
    server: { workers: 2, shutdownGrace: 5 },
    dns: { servers: ['127.0.0.1:5353', '[::1]:53'], cacheSeconds: 60 },
    smtp: {
      bareLineEndings: 'normalize',
      maxUnknownRecipients: 3,
      unknownRecipientDelay: 250,
      greetingDelay: 0,
      maxHops: 20,
      dmarcReject: 'accept',
      dmarcQuarantine: 'reject',
      dmarcExempt: ['10.1.0.0/16', 'lists.example.org'],
      senderLoginExemptDomains: ['shared.example'],
    },
    log: { level: 'warn' },
    limits: { messageSize: 10 * 1024 * 1024, authFailureDelay: 250, lineLength: 1000 },
  });
  const text2 = renderConfigToml(custom);
  assert.match(text2, /^hostname = "mx.example.org"$/m);
  assert.match(text2, /^data_dir = "\/var\/lib\/postern"$/m);
  assert.match(text2, /^pop3 = ""$/m);
  assert.match(text2, /^smtp = "\[::1\]:25"$/m);
  assert.match(text2, /^cert = "tls\/cert.pem"$/m);
  assert.match(text2, /^message_size = "10M"$/m);
  assert.match(text2, /^line_length = 1000$/m);
  assert.match(text2, /^servers = \["127.0.0.1:5353", "\[::1\]:53"\]$/m);
  assert.match(text2, /^bare_line_endings = "normalize"$/m);
  assert.deepEqual(parseConfigToml(text2, configPath), custom);
});

void test('buildConfig fills defaults, overlays a base, and validates', () => {
  const base = buildConfig({ dataDir: '/tmp/x', listen: { imap: '127.0.0.1:0' } });
  assert.equal(base.configPath, null);
  assert.deepEqual(base.listen.imap, { host: '127.0.0.1', port: 0 });
  assert.deepEqual(base.listen.smtp, DEFAULT_LISTEN.smtp);
  const over = buildConfig({ limits: { lineLength: 1024 } }, base);
  assert.equal(over.dataDir, '/tmp/x');
  assert.deepEqual(over.listen.imap, { host: '127.0.0.1', port: 0 });
  assert.equal(over.limits.lineLength, 1024);
  assert.equal(over.limits.messageSize, DEFAULT_LIMITS.messageSize);
  assert.throws(
    () => buildConfig({ listen: { imap: { host: '127.0.0.1', port: 70000 } } }),
    /config: listen.imap: expected/,
  );
  assert.throws(
    () => buildConfig({ limits: { recipients: 0 } }),
    /config: limits.recipients: must be at least 1/,
  );
  assert.throws(() => buildConfig({ tls: { cert: '/c' } }), /must be given together/);
  assert.throws(() => buildConfig({ store: { backend: 'postgres' } }), /not available yet/);
});

void test('loadConfig reads a file, names it in errors, and explains a missing file', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'p.toml');
  await writeFile(file, 'data_dir = "d"\n[limits]\nmessage_size = "2M"\n');
  const c = await loadConfig(file);
  assert.equal(c.dataDir, path.join(dir, 'd'));
  assert.equal(c.limits.messageSize, 2 * 1024 * 1024);
  await writeFile(file, '[limits]\nmesage_size = "2M"\n');
  await assert.rejects(
    loadConfig(file),
    (e: unknown) =>
      e instanceof UsageError && e.message.startsWith(`${file}: limits.mesage_size: unknown key`),
  );
  await assert.rejects(loadConfig(path.join(dir, 'none.toml')), /no such file \(run "postern init"/);
});

void test('resolveConfigPath: option, then POSTERN_CONFIG, then ./postern.toml', () => {
  assert.equal(resolveConfigPath('a.toml', { POSTERN_CONFIG: 'b.toml' }), 'a.toml');
  assert.equal(resolveConfigPath(undefined, { POSTERN_CONFIG: 'b.toml' }), 'b.toml');
  assert.equal(resolveConfigPath(undefined, {}), 'postern.toml');
});

void test('[outbound]: defaults, durations with units, validation naming the key, and render round trip', () => {
  const d = parseConfigToml('', FILE).outbound;
  assert.deepEqual(d, {
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
  const c = parseConfigToml(
    [
      '[outbound]',
      'max_queue_lifetime = "10s"',
      'delay_warning = 0',
      'retry_first = "2s"',
      'retry_factor = 1.5',
      'retry_max = "1m"',
      'retry_jitter = 0',
      'concurrency = 4',
      'concurrency_per_domain = 2',
      'connection_cache_size = 0',
      'helo_name = "Out.Example.org"',
      'port = 2525',
      'require_tls = true',
      'lease = "10s"',
    ].join('\n'),
    FILE,
  ).outbound;
  assert.equal(c.maxQueueLifetime, 10);
  assert.equal(c.delayWarning, 0);
  assert.equal(c.retryFirst, 2);
  assert.equal(c.retryFactor, 1.5);
  assert.equal(c.retryMax, 60);
  assert.equal(c.retryJitter, 0);
  assert.equal(c.concurrencyPerDomain, 2);
  assert.equal(c.connectionCacheSize, 0);
  assert.equal(c.heloName, 'out.example.org');
  assert.equal(c.port, 2525);
  assert.equal(c.requireTls, true);
  assert.equal(c.lease, 10);

  refused('[outbound]\nport = 0', 'postern.toml: outbound.port: expected an integer from 1 to 65535, got 0');
  refused('[outbound]\nretry_jitter = 2', 'postern.toml: outbound.retry_jitter: must be from 0 to 1, got 2');
  refused(
    '[outbound]\nretry_factor = "x"',
    'postern.toml: outbound.retry_factor: expected a number from 1 to 10, got "x"',
  );
  refused('[outbound]\nlease = 1', 'postern.toml: outbound.lease: must be at least 3, got 1');
  refused(
    '[outbound]\nrequire_tls = "yes"',
    'postern.toml: outbound.require_tls: expected true or false, got "yes"',
  );
  refused(
    '[outbound]\nhelo_name = "bad name"',
    'postern.toml: outbound.helo_name: not a valid host name: "bad name"',
  );
  refused(
    '[outbound]\nmax_queue_lifetime = "soon"',
    'postern.toml: outbound.max_queue_lifetime: expected a duration in seconds (an integer, or a string like "30s", "5m", "1h"), got "soon"',
  );
  refused(
    '[outbound]\nretry_first = "2d"',
    'postern.toml: outbound.retry_first: must be at most 86400, got "2d"',
  );
  refused(
    '[outbound]\nretry_first = "30m"\nretry_max = "10m"',
    'postern.toml: outbound.retry_max: must be at least outbound.retry_first (1800), got 600',
  );
  refused(
    '[outbound]\nconcurrency = 5',
    'postern.toml: outbound.concurrency_per_domain: must be at most outbound.concurrency (5), got 20',
  );
  assert.throws(
    () => buildConfig({ outbound: { port: 70000 } }),
    /config: outbound.port: expected an integer/,
  );
  assert.throws(() => buildConfig({ outbound: { nope: 1 } as never }), /config: outbound.nope: unknown key/);
  assert.equal(buildConfig({ outbound: { port: 2525 } }).outbound.port, 2525);

  const configPath = '/srv/mail/postern.toml';
  const defaults = buildConfig({ configPath, dataDir: '/srv/mail/data' });
  const text = renderConfigToml(defaults);
  assert.match(text, /^\[outbound\]$/m);
  for (const key of [
    'max_queue_lifetime',
    'delay_warning',
    'retry_first',
    'helo_name',
    'port',
    'require_tls',
  ]) {
    assert.match(text, new RegExp(`^# ${key} = `, 'm'), key);
  }
  assert.deepEqual(parseConfigToml(text, configPath), defaults);
  const custom = buildConfig(
    { outbound: { port: 2525, heloName: 'out.example.org', retryFactor: 1.5, requireTls: true } },
    defaults,
  );
  const text2 = renderConfigToml(custom);
  assert.match(text2, /^port = 2525$/m);
  assert.match(text2, /^helo_name = "out.example.org"$/m);
  assert.match(text2, /^retry_factor = 1.5$/m);
  assert.deepEqual(parseConfigToml(text2, configPath), custom);
});
