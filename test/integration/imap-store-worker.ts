// Child process of imap-concurrency.test.ts: another process on the same data dir, as a second
// `postern serve` worker or `postern import` would be. It opens the store with openStore and
// runs one JSON request per stdin line, answering one JSON line on stdout:
//   {"op":"deliver","mailboxId":N,"subject":"s"}            -> {"ok":true,"uid":U}
//   {"op":"flags","mailboxId":N,"uids":[..],"mode":"add","flags":[..]} -> {"ok":true}
//   {"op":"expunge","mailboxId":N,"uids":[..]}              -> {"ok":true,"uids":[..]}
// It prints "ready" once the store is open and exits when stdin ends.
// With `serve`, it also runs an IMAP listener on 127.0.0.1 (port 0) over that store, a second
// server process, and prints "ready <port>".
// Usage: node imap-store-worker.js <dataDir> [serve]

import { createInterface } from 'node:readline';
import { Authenticator } from '../../src/auth/authenticator.js';
import { AuthFailureTracker } from '../../src/auth/failure-tracker.js';
import { createLogger } from '../../src/core/log.js';
import { deliverLocal } from '../../src/delivery/local.js';
import { createImapHandler } from '../../src/protocols/imap/handler.js';
import { ListenerSet } from '../../src/server/listeners.js';
import { loadTlsMaterial } from '../../src/server/tls.js';
import { openStore } from '../../src/app/open-store.js';
import type { FlagMode } from '../../src/store/types.js';
import { message } from './imap-harness.js';
import { LOOPBACK_0, testConfig } from './server-fixture.js';

type Request =
  | { op: 'deliver'; mailboxId: number; subject: string }
  | { op: 'flags'; mailboxId: number; uids: number[]; mode: FlagMode; flags: string[] }
  | { op: 'expunge'; mailboxId: number; uids: number[] };

async function main(dataDir: string, serve: boolean): Promise<void> {
  const config = testConfig(dataDir, { listen: { imap: serve ? LOOPBACK_0 : null } });
  const { store, blobs } = await openStore(config);
  let listeners: ListenerSet | null = null;
  if (serve) {
    const tracker = new AuthFailureTracker({ limits: config.limits });
    const authenticator = new Authenticator({ store, limits: config.limits, tracker });
    const log = createLogger(config.log);
    const deps = { config, store, blobs, log, authenticator, tls: await loadTlsMaterial(config) };
    listeners = await ListenerSet.start({ deps, handlers: new Map([['imap', createImapHandler]]) });
    process.stdout.write(`ready ${listeners.listening[0]!.port}\n`);
  } else process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const req = JSON.parse(line) as Request;
    try {
      switch (req.op) {
        case 'deliver': {
          const [outcome] = await deliverLocal({
            store,
            blobs,
            limits: config.limits,
            source: Buffer.from(message(req.subject)),
            targets: [{ mailboxId: req.mailboxId }],
          });
          if (outcome === undefined || !outcome.ok)
            throw outcome?.ok === false ? outcome.error : new Error('no outcome');
          process.stdout.write(`${JSON.stringify({ ok: true, uid: outcome.uid })}\n`);
          break;
        }
        case 'flags':
          await store.updateFlags(req.mailboxId, req.uids, { mode: req.mode, flags: req.flags });
          process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
          break;
        case 'expunge': {
          const uids = await store.expunge(req.mailboxId, { uids: req.uids });
          process.stdout.write(`${JSON.stringify({ ok: true, uids })}\n`);
          break;
        }
      }
    } catch (err) {
      process.stdout.write(
        `${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) })}\n`,
      );
    }
  }
  await listeners?.shutdown({ graceMs: 500 });
  await store.close();
}

const dataDir = process.argv[2];
if (dataDir !== undefined) {
  main(dataDir, process.argv[3] === 'serve').catch((err: unknown) => {
    process.stderr.write(
      `worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(2);
  });
}
