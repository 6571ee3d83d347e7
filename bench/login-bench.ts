// IMAP login benchmark (issue 10, finding 7): what phones and Outlook reconnecting all day cost.
// L logins (default 2,000) by U users (default 100, each with its own password), each on a
// fresh connection: greeting, LOGIN, LOGOUT; C clients at once (default 20); user i % U for
// login i. Servers, one at a time, on 127.0.0.1:
//   - Postern, credential cache off (auth.cache_ttl = 0): every login runs scrypt;
//   - Postern, cache on (the default): pass 1 starts with an empty cache, pass 2 finds it warm;
//   - Dovecot (Debian, private instance, passwd-file with {PLAIN} passwords, no auth cache):
//     two passes the same way, for symmetry.
// Postern's hashes are made by the same code as `postern user add` at the default cost
// (scrypt ln=15). Prints logins/s of each and Postern/Dovecot ratios. Every loop is bounded by
// count. Needs root and Debian's dovecot-imapd. Usage (see bench/login-bench.sh):
//   node BUILD/bench/login-bench.js [--logins N] [--users N] [--clients N] [--workers N]
//        [--only postern|dovecot] [--skip nocache] [--dovecot-login default|shared] [--json FILE]
//        [--keep]

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { cleanUp, describeMachine, log, onCleanup, runBench } from './bench-process.js';
import { startDovecot } from '../test/helpers/dovecot.js';
import { ImapRawClient } from '../test/helpers/imap-raw-client.js';
import { startPosternImap, type PosternImapServer } from '../test/helpers/postern-imap.js';

const { values } = parseArgs({
  options: {
    logins: { type: 'string', default: '2000' },
    users: { type: 'string', default: '100' },
    clients: { type: 'string', default: '20' },
    workers: { type: 'string', default: '1' },
    only: { type: 'string', default: '' },
    skip: { type: 'string', default: '' },
    json: { type: 'string', default: '' },
    keep: { type: 'boolean', default: false },
    'dovecot-login': { type: 'string', default: 'default' },
  },
});
const LOGINS = Number(values.logins);
const USER_COUNT = Number(values.users);
const CLIENTS = Number(values.clients);
const SKIP = new Set(values.skip.split(',').filter((s) => s !== ''));
const USERS = Array.from({ length: USER_COUNT }, (_, i) => ({
  address: `user${i}@example.test`,
  password: `login-bench-secret-${i}`,
}));

interface PassFigures {
  logins: number;
  seconds: number;
  perSecond: number;
  failures: number;
  firstFailure: string;
}

/** LOGINS logins by CLIENTS concurrent clients; each login on its own connection. */
async function loginPass(port: number): Promise<PassFigures> {
  let next = 0;
  let failures = 0;
  let firstFailure = '';
  const fail = (what: string): void => {
    failures++;
    if (firstFailure === '') firstFailure = what;
  };
  const started = performance.now();
  const client = async (): Promise<void> => {
    for (let i = next++; i < LOGINS; i = next++) {
      const user = USERS[i % USERS.length]!;
      let c: ImapRawClient | null = null;
      try {
        c = await ImapRawClient.connect(port, { timeoutMs: 60_000 });
        const login = await c.command(`LOGIN ${user.address} ${user.password}`, { timeoutMs: 60_000 });
        if (login.status !== 'OK') fail(`LOGIN ${user.address}: ${login.tagged}`);
        const logout = await c.command('LOGOUT', { timeoutMs: 60_000 });
        if (logout.status !== 'OK') fail(`LOGOUT: ${logout.tagged}`);
      } catch (err) {
        fail(String(err));
      } finally {
        c?.socket.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, () => client()));
  const seconds = (performance.now() - started) / 1000;
  return { logins: LOGINS, seconds, perSecond: LOGINS / seconds, failures, firstFailure };
}

async function startPostern(cache: boolean): Promise<PosternImapServer> {
  const server = await startPosternImap({
    domains: ['example.test'],
    users: USERS,
    workers: Number(values.workers),
    logLevel: 'warn',
    keep: values.keep,
    passwordCost: 'default',
    extraToml: [
      '[auth]',
      ...(cache ? [] : ['cache_ttl = 0']),
      '[limits]',
      `connections_per_ip = ${CLIENTS * 4 + 100}`,
    ].join('\n'),
  });
  onCleanup('stop server', () => server.stop());
  return server;
}

async function main(): Promise<void> {
  const results: Record<string, PassFigures> = {};
  const run = async (key: string, port: number): Promise<void> => {
    log(`${key}: ${LOGINS} logins, ${CLIENTS} clients`);
    results[key] = await loginPass(port);
    log(`${key}: ${results[key].perSecond.toFixed(0)} logins/s, ${results[key].failures} failures`);
  };
  if (values.only !== 'dovecot') {
    if (!SKIP.has('nocache')) {
      log(`postern (cache off): starting, hashing ${USER_COUNT} passwords at scrypt ln=15`);
      const p = await startPostern(false);
      await run('postern, cache off', p.imapPort);
      await cleanUp();
    }
    log(`postern: starting, hashing ${USER_COUNT} passwords at scrypt ln=15`);
    const p = await startPostern(true);
    await run('postern, cache cold (pass 1)', p.imapPort);
    await run('postern, cache warm (pass 2)', p.imapPort);
    await cleanUp();
  }
  if (values.only !== 'postern') {
    log('dovecot: starting');
    const d = await startDovecot({
      users: USERS.map((u) => ({ user: u.address, password: u.password })),
      // Dovecot's default "high-security" login (a new imap-login process per connection), or
      // its "high-performance" mode (service_count = 0) with --dovecot-login shared.
      serviceLimits: { connections: CLIENTS * 4 + 100, sharedLogin: values['dovecot-login'] === 'shared' },
      keep: values.keep,
    });
    onCleanup('stop server', () => d.stop());
    await run('dovecot (pass 1)', d.imapPort);
    await run('dovecot (pass 2)', d.imapPort);
    await cleanUp();
  }
  const out: string[] = [];
  out.push(`IMAP login benchmark, ${new Date().toISOString()}, ${describeMachine()}`);
  out.push(
    `${LOGINS} logins (connect, LOGIN, LOGOUT) by ${USER_COUNT} users, ${CLIENTS} clients at once; ` +
      `Postern: scrypt ln=15 (default), ${values.workers} process(es); Dovecot: {PLAIN} passwd-file, ` +
      `${values['dovecot-login'] === 'shared' ? 'shared imap-login (service_count = 0)' : 'default imap-login (one process per connection)'}`,
  );
  out.push('| server | logins/s | seconds | failures |');
  out.push('| --- | ---: | ---: | ---: |');
  for (const [key, r] of Object.entries(results)) {
    out.push(`| ${key} | ${r.perSecond.toFixed(0)} | ${r.seconds.toFixed(1)} | ${r.failures} |`);
    if (r.firstFailure !== '') out.push(`  ${key} first failure: ${r.firstFailure.slice(0, 300)}`);
  }
  const dovecot = results['dovecot (pass 2)']?.perSecond;
  for (const key of ['postern, cache off', 'postern, cache cold (pass 1)', 'postern, cache warm (pass 2)']) {
    const p = results[key]?.perSecond;
    if (p !== undefined && dovecot !== undefined) {
      out.push(`ratio ${key} / dovecot (pass 2): ${(p / dovecot).toFixed(2)}`);
    }
  }
  process.stdout.write(out.join('\n') + '\n');
  if (values.json !== '') {
    await writeFile(values.json, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
  }
}

await runBench('login-bench', main);
