// A private Postfix instance for the SMTP benchmarks (smtp-ingest.ts, outbound-bench.ts): its own
// config directory, queue and log inside a temp directory, listening on one loopback port, never
// asking DNS. Each benchmark adds the main.cf lines and lookup tables of its scenario. Also the
// two loopback port helpers they share. Needs root (postfix -c DIR start) and Debian's postfix.

import { spawnSync } from 'node:child_process';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { onCleanup, sleep } from './bench-process.js';

/** The services of a stock master.cf, less smtpd (added on the benchmark's port). */
const MASTER_CF_SERVICES = [
  'pickup unix n - n 60 1 pickup',
  'cleanup unix n - n - 0 cleanup',
  'qmgr unix n - n 300 1 qmgr',
  'tlsmgr unix - - n 1000? 1 tlsmgr',
  'rewrite unix - - n - - trivial-rewrite',
  'bounce unix - - n - 0 bounce',
  'defer unix - - n - 0 bounce',
  'trace unix - - n - 0 bounce',
  'verify unix - - n - 1 verify',
  'flush unix n - n 1000? 0 flush',
  'proxymap unix - - n - - proxymap',
  'proxywrite unix - - n - 1 proxymap',
  'smtp unix - - n - - smtp',
  'relay unix - - n - - smtp',
  'showq unix n - n - - showq',
  'error unix - - n - - error',
  'retry unix - - n - - error',
  'discard unix - - n - - discard',
  'local unix - n n - - local',
  'virtual unix - n n - - virtual',
  'lmtp unix - - n - - lmtp',
  'anvil unix - - n - 1 anvil',
  'scache unix - - n - 1 scache',
  'postlog unix-dgram n - n - 1 postlogd',
];

export interface PostfixInstanceOptions {
  /** The directory that receives postfix/{etc,queue,data}. */
  dir: string;
  /** 127.0.0.1 port of smtpd. */
  smtpdPort: number;
  /** main.cf lines of the scenario (transport, restrictions, mailbox maps), after the common ones. */
  mainCf: string[];
  /** Files written into the config directory (lookup tables), by name. */
  tables?: Record<string, string>;
}

/** Writes the config directory (returned) of a loopback-only instance. */
export async function writePostfixConfig(opts: PostfixInstanceOptions): Promise<string> {
  const p = path.join(opts.dir, 'postfix');
  const etc = path.join(p, 'etc');
  await mkdir(etc, { recursive: true });
  await mkdir(path.join(p, 'queue'), { recursive: true });
  await mkdir(path.join(p, 'data'), { recursive: true });
  const pf = spawnSync('id', ['-u', 'postfix'], { encoding: 'utf8' });
  await chown(path.join(p, 'data'), Number(pf.stdout.trim()), 0);
  const common = [
    'compatibility_level = 3.6',
    `queue_directory = ${p}/queue`,
    `data_directory = ${p}/data`,
    'mail_owner = postfix',
    'setgid_group = postdrop',
    'myhostname = ref.example.test',
    'mydomain = example.test',
    'mydestination =',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    // Loopback only: no DNS from the reference either.
    'smtpd_peername_lookup = no',
    'smtp_dns_support_level = disabled',
    // No syslog on these machines: Postfix logs to a file inside the instance.
    `maillog_file = ${p}/maillog`,
    `maillog_file_prefixes = ${p}`,
    'biff = no',
    'alias_maps =',
    'alias_database =',
  ];
  await writeFile(path.join(etc, 'main.cf'), [...common, ...opts.mainCf, ''].join('\n'));
  for (const [name, text] of Object.entries(opts.tables ?? {})) await writeFile(path.join(etc, name), text);
  await writeFile(
    path.join(etc, 'master.cf'),
    [`127.0.0.1:${opts.smtpdPort} inet n - n - - smtpd`, ...MASTER_CF_SERVICES, ''].join('\n'),
  );
  return etc;
}

/** Starts the instance of `etc`, stopped by the benchmark's cleanup; resolves once smtpd listens. */
export async function startPostfix(etc: string, smtpdPort: number): Promise<void> {
  const start = spawnSync('postfix', ['-c', etc, 'start'], { encoding: 'utf8', timeout: 60_000 });
  onCleanup('postfix', async () => {
    const stop = spawnSync('postfix', ['-c', etc, 'stop'], { encoding: 'utf8', timeout: 30_000 });
    if (stop.status !== 0) spawnSync('postfix', ['-c', etc, 'abort'], { encoding: 'utf8', timeout: 30_000 });
    await Promise.resolve();
  });
  if (start.status !== 0) throw new Error(`postfix start failed: ${start.stderr}`);
  await waitForPort(smtpdPort, 10_000);
}

/** A port of 127.0.0.1 free at the time of asking. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on 127.0.0.1:port; throws after `ms`. */
export async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await sleep(100);
  }
}
