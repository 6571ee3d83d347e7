// A private Debian Dovecot 2.3 instance for differential tests and benchmarks: everything
// (config, base_dir, state_dir, log, passwd-file, Maildirs) lives in one temp directory; IMAP
// and/or POP3 listen on free ports of 127.0.0.1 only; users come from a passwd-file with
// {PLAIN} passwords; mail is Maildir with LAYOUT=fs and the "/" hierarchy separator, so
// mailbox names look like Postern's; Sent, Drafts, Trash, Junk and Archive exist with their
// special-use attributes (RFC 6154), subscribed like INBOX, as in a fresh Postern account.
// The master runs in the foreground (`dovecot -F`) as our child; stop() ends it and removes
// the directory.
//
// Mail processes run as nobody (65534): Dovecot refuses mail access as root. The temp
// directory is therefore made traversable (0755) and the mail directory owned by nobody.

import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface DovecotUser {
  /** Login name, e.g. "alice@example.test". No ":" or whitespace. */
  user: string;
  password: string;
}

export interface DovecotServiceLimits {
  /**
   * Connections the instance must hold at once (default 100): raises the imap/pop3 process
   * limits, imap-login/pop3-login client limits, anvil and the per-user/IP connection limit.
   * Also raise `ulimit -n` of the calling process for thousands.
   */
  connections?: number;
  /**
   * imap-login in high-performance mode (service_count = 0, one process serving many
   * connections); default true when connections > 500.
   */
  sharedLogin?: boolean;
  /**
   * imap/pop3 processes reused for later connections (service_count = 0) with `process_min_avail`
   * kept ready, as Dovecot's performance tuning advises, instead of one fork per login.
   */
  reuseMailProcesses?: boolean;
}

export interface DovecotOptions {
  users: DovecotUser[];
  /** Start the IMAP listener (default true). */
  imap?: boolean;
  /** Start the POP3 listener (default false). */
  pop3?: boolean;
  serviceLimits?: DovecotServiceLimits;
  /**
   * Dovecot's per-IP authentication penalty (anvil; default true as in Dovecot). Tests that
   * fail logins on purpose turn it off, or every later login from 127.0.0.1 waits seconds.
   */
  authPenalty?: boolean;
  /** auth_failure_delay in seconds (Dovecot's default 2). */
  authFailureDelaySeconds?: number;
  /** Extra lines appended to dovecot.conf. */
  extraConfig?: string;
  /** Keep the temp directory after stop() (for debugging). */
  keep?: boolean;
  /** Milliseconds to wait for the listeners (default 15,000). */
  readyTimeoutMs?: number;
}

export interface DovecotInstance {
  /** Port of the IMAP listener on 127.0.0.1 (0 when not started). */
  imapPort: number;
  /** Port of the POP3 listener on 127.0.0.1 (0 when not started). */
  pop3Port: number;
  /** The temp directory holding everything. */
  dir: string;
  /** The dovecot.conf in use (for `doveadm -c FILE ...`). */
  configFile: string;
  /** PID of the Dovecot master process. */
  pid: number;
  /**
   * The user's INBOX Maildir (holding cur/ new/ tmp/). Files written into new/ or cur/ are
   * picked up by Dovecot; create them owned by 65534 (see ownMail) or let mail processes
   * fix nothing: Dovecot reads root-owned 0644 files fine, but cannot rename them into cur/.
   */
  maildir(user: string): string;
  /** The user's Maildir root (INBOX's parent of other mailboxes with LAYOUT=fs). */
  mailRoot(user: string): string;
  /** chown -R 65534:65534 of the user's mail (after writing files into it as root). */
  ownMail(user: string): Promise<void>;
  /** PIDs of the master and all its descendant processes (for memory measurements). */
  pids(): Promise<number[]>;
  /** The log so far. */
  log(): Promise<string>;
  /** Stops the master (SIGTERM, then SIGKILL) and removes the directory. */
  stop(): Promise<void>;
}

export const DOVECOT_MAIL_UID = 65534;

/** A free TCP port on 127.0.0.1 (closed again before returning; the usual small race). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function checkUser(u: DovecotUser): void {
  if (u.user === '' || /[\s:/]/.test(u.user) || /[\s:]/.test(u.password) || u.user.startsWith('.')) {
    throw new Error(`dovecot helper: unusable user or password for passwd-file: ${JSON.stringify(u.user)}`);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function configText(o: {
  dir: string;
  users: string;
  imapPort: number;
  pop3Port: number;
  limits: Required<DovecotServiceLimits>;
  authPenalty: boolean;
  authFailureDelay: number;
  extra: string;
}): string {
  const { dir, limits } = o;
  const conns = limits.connections;
  const protocols = [o.imapPort > 0 ? 'imap' : '', o.pop3Port > 0 ? 'pop3' : ''].filter((p) => p !== '');
  const lines = [
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    `log_path = ${dir}/dovecot.log`,
    `info_log_path = ${dir}/dovecot.log`,
    `protocols = ${protocols.join(' ')}`,
    'listen = 127.0.0.1',
    'ssl = no',
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login',
    'login_trusted_networks = 127.0.0.0/8',
    'first_valid_uid = 100',
    `mail_uid = ${DOVECOT_MAIL_UID}`,
    `mail_gid = ${DOVECOT_MAIL_UID}`,
    // LAYOUT=fs: "a/b" is the directory a/b; INBOX gets its own directory so that INBOX's
    // children and other top-level names cannot collide with its cur/new/tmp.
    'mail_location = maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir/INBOX',
    'pop3_uidl_format = %08Xu%08Xv',
    'namespace inbox {',
    '  inbox = yes',
    '  separator = /',
    '  prefix =',
    // Postern subscribes every default mailbox of a new account, INBOX included.
    '  mailbox INBOX {',
    '    auto = subscribe',
    '  }',
    '  mailbox Sent {',
    '    special_use = \\Sent',
    '    auto = subscribe',
    '  }',
    '  mailbox Drafts {',
    '    special_use = \\Drafts',
    '    auto = subscribe',
    '  }',
    '  mailbox Trash {',
    '    special_use = \\Trash',
    '    auto = subscribe',
    '  }',
    '  mailbox Junk {',
    '    special_use = \\Junk',
    '    auto = subscribe',
    '  }',
    '  mailbox Archive {',
    '    special_use = \\Archive',
    '    auto = subscribe',
    '  }',
    '}',
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${o.users}`,
    '}',
    'userdb {',
    '  driver = passwd-file',
    `  args = username_format=%u ${o.users}`,
    '}',
    `default_process_limit = ${Math.max(100, conns + 50)}`,
    `default_client_limit = ${Math.max(1000, conns + 100)}`,
    'default_vsz_limit = 1G',
    'protocol imap {',
    `  mail_max_userip_connections = ${conns + 10}`,
    '}',
    'protocol pop3 {',
    `  mail_max_userip_connections = ${conns + 10}`,
    '}',
    `auth_failure_delay = ${o.authFailureDelay} secs`,
    'service anvil {',
    `  client_limit = ${3 * conns + 200}`,
    ...(o.authPenalty ? [] : ['  unix_listener anvil-auth-penalty {', '    mode = 0', '  }']),
    '}',
    'service auth {',
    `  client_limit = ${3 * conns + 200}`,
    '}',
    'service stats {',
    `  client_limit = ${3 * conns + 200}`,
    '}',
  ];
  if (o.imapPort > 0) {
    lines.push(
      'service imap-login {',
      '  inet_listener imap {',
      '    address = 127.0.0.1',
      `    port = ${o.imapPort}`,
      '  }',
      '  inet_listener imaps {',
      '    port = 0',
      '  }',
      ...(limits.sharedLogin
        ? ['  service_count = 0', '  process_min_avail = 2', `  client_limit = ${conns + 100}`]
        : [`  process_limit = ${conns + 50}`]),
      '}',
      'service imap {',
      `  process_limit = ${conns + 50}`,
      ...(limits.reuseMailProcesses
        ? ['  service_count = 0', `  process_min_avail = ${Math.min(conns, 64)}`]
        : []),
      '}',
    );
  }
  if (o.pop3Port > 0) {
    lines.push(
      'service pop3-login {',
      '  inet_listener pop3 {',
      '    address = 127.0.0.1',
      `    port = ${o.pop3Port}`,
      '  }',
      '  inet_listener pop3s {',
      '    port = 0',
      '  }',
      ...(limits.sharedLogin
        ? ['  service_count = 0', '  process_min_avail = 2', `  client_limit = ${conns + 100}`]
        : [`  process_limit = ${conns + 50}`]),
      '}',
      'service pop3 {',
      `  process_limit = ${conns + 50}`,
      ...(limits.reuseMailProcesses
        ? ['  service_count = 0', `  process_min_avail = ${Math.min(conns, 64)}`]
        : []),
      '}',
    );
  }
  lines.push(o.extra, '');
  return lines.join('\n');
}

/** Starts a private Dovecot; resolves once every requested listener accepts connections. */
export async function startDovecot(opts: DovecotOptions): Promise<DovecotInstance> {
  const wantImap = opts.imap ?? true;
  const wantPop3 = opts.pop3 ?? false;
  if (!wantImap && !wantPop3) throw new Error('dovecot helper: neither imap nor pop3 requested');
  for (const u of opts.users) checkUser(u);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-dovecot-'));
  let child: ChildProcess | null = null;
  try {
    await chmod(dir, 0o755);
    const mail = path.join(dir, 'mail');
    await mkdir(mail, { recursive: true });
    await mkdir(path.join(dir, 'run'), { recursive: true });
    await mkdir(path.join(dir, 'state'), { recursive: true });
    const usersFile = path.join(dir, 'users');
    await writeFile(
      usersFile,
      opts.users
        .map(
          (u) =>
            `${u.user}:{PLAIN}${u.password}:${DOVECOT_MAIL_UID}:${DOVECOT_MAIL_UID}::${mail}/${u.user}\n`,
        )
        .join(''),
      { mode: 0o644 },
    );
    for (const u of opts.users) {
      for (const sub of ['cur', 'new', 'tmp']) {
        await mkdir(path.join(mail, u.user, 'Maildir', 'INBOX', sub), { recursive: true });
      }
    }
    const imapPort = wantImap ? await freeLoopbackPort() : 0;
    const pop3Port = wantPop3 ? await freeLoopbackPort() : 0;
    const connections = opts.serviceLimits?.connections ?? 100;
    const configFile = path.join(dir, 'dovecot.conf');
    await writeFile(
      configFile,
      configText({
        dir,
        users: usersFile,
        imapPort,
        pop3Port,
        limits: {
          connections,
          sharedLogin: opts.serviceLimits?.sharedLogin ?? connections > 500,
          reuseMailProcesses: opts.serviceLimits?.reuseMailProcesses ?? false,
        },
        authPenalty: opts.authPenalty ?? true,
        authFailureDelay: opts.authFailureDelaySeconds ?? 2,
        extra: opts.extraConfig ?? '',
      }),
    );
    await chownTree(mail);
    const started = spawn('dovecot', ['-F', '-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    let stderr = '';
    started.stderr?.setEncoding('utf8');
    started.stderr?.on('data', (s: string) => {
      stderr = (stderr + s).slice(-8000);
    });
    const exited = new Promise<number | string>((resolve) => {
      started.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      started.once('error', (err) => resolve(err.message));
    });
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
    for (;;) {
      if (started.exitCode !== null || started.signalCode !== null) {
        const log = await readFile(path.join(dir, 'dovecot.log'), 'utf8').catch(() => '');
        throw new Error(`dovecot exited (${await exited}): ${stderr} ${log.slice(-4000)}`);
      }
      const okImap = imapPort === 0 || (await canConnect(imapPort));
      const okPop3 = pop3Port === 0 || (await canConnect(pop3Port));
      if (okImap && okPop3) break;
      if (Date.now() > deadline) throw new Error(`dovecot not listening within the timeout: ${stderr}`);
      await sleep(50);
    }
    const masterPid = started.pid!;
    const instance: DovecotInstance = {
      imapPort,
      pop3Port,
      dir,
      configFile,
      pid: masterPid,
      mailRoot: (user) => path.join(mail, user, 'Maildir'),
      maildir: (user) => path.join(mail, user, 'Maildir', 'INBOX'),
      ownMail: (user) => chownTree(path.join(mail, user)),
      pids: () => descendants(masterPid),
      log: () => readFile(path.join(dir, 'dovecot.log'), 'utf8').catch(() => ''),
      async stop() {
        if (started.exitCode === null && started.signalCode === null) {
          started.kill('SIGTERM');
          const timer = setTimeout(() => started.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        if (opts.keep !== true) await rm(dir, { recursive: true, force: true });
      },
    };
    return instance;
  } catch (err) {
    if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (opts.keep !== true) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** chown -R to the mail uid, bounded by the tree itself (no symlinks followed). */
async function chownTree(root: string): Promise<void> {
  await chown(root, DOVECOT_MAIL_UID, DOVECOT_MAIL_UID);
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    await chown(path.join(e.parentPath, e.name), DOVECOT_MAIL_UID, DOVECOT_MAIL_UID);
  }
}

/** The process and all its descendants, from /proc (Linux). */
export async function descendants(rootPid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // the process ended meanwhile
    }
    // The comm field may hold spaces and parentheses: the ppid follows the last ")".
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    for (const c of children.get(pid) ?? []) queue.push(c);
  }
  return out;
}
