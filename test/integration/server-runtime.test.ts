// runServer in this process: the store, TLS pair and listeners come up, /healthz answers,
// and an abort signal or SIGTERM shuts it down gracefully.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { ListenerName } from '../../src/config/types.js';
import { runServer, type ReadyInfo } from '../../src/app/server.js';
import type { ProtocolFactory } from '../../src/server/types.js';
import { LOOPBACK_0, LineReader, closed, lineTestProtocol, tempDir, testConfig } from './server-fixture.js';

function portOf(info: ReadyInfo, name: ListenerName): number {
  const l = info.listeners.find((x) => x.name === name);
  if (l === undefined) throw new Error(`${name} not started`);
  return l.port;
}

async function get(port: number, p: string): Promise<{ status: number; body: string; pid: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: res.status, body: await res.text(), pid: res.headers.get('x-postern-pid') };
}

void test('single process: /healthz, 404, every configured listener opened, abort shuts down', async () => {
  const dir = await tempDir('runtime');
  try {
    const config = testConfig(dir, { listen: { http: LOOPBACK_0, imap: LOOPBACK_0 } });
    const controller = new AbortController();
    let ready!: (info: ReadyInfo) => void;
    const readyP = new Promise<ReadyInfo>((r) => (ready = r));
    const running = runServer(config, { onReady: ready, signal: controller.signal, handleSignals: false });
    const info = await readyP;
    assert.deepEqual(
      info.listeners.map((l) => l.name).sort(),
      ['http', 'imap'],
      'both configured listeners have a protocol and are opened',
    );
    assert.equal(info.workers, 1);
    const port = portOf(info, 'http');
    assert.notEqual(port, 0);
    const ok = await get(port, '/healthz');
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { status: 'ok' });
    assert.equal(ok.pid, String(process.pid));
    const missing = await get(port, '/nope');
    assert.equal(missing.status, 404);
    assert.ok(existsSync(path.join(dir, 'tls', 'cert.pem')), 'self-signed pair generated');
    controller.abort();
    await running;
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'listener closed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('SIGTERM waits for the command in flight, then closes connections and resolves', async () => {
  const dir = await tempDir('runtime');
  try {
    const config = testConfig(dir, { listen: { imap: LOOPBACK_0 }, server: { shutdownGrace: 5 } });
    const handlers = new Map<ListenerName, ProtocolFactory>([['imap', lineTestProtocol()]]);
    let ready!: (info: ReadyInfo) => void;
    const readyP = new Promise<ReadyInfo>((r) => (ready = r));
    const running = runServer(config, { onReady: ready, handlers });
    const port = portOf(await readyP, 'imap');
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    const r = new LineReader(socket);
    assert.equal(await r.next(), 'HELLO secure=false');
    // The ECHO is answered once SLOW has begun (lines are handled in order): the command is in
    // flight when SIGTERM comes.
    socket.write('SLOW 400\r\nECHO started\r\n');
    assert.equal(await r.next(), 'started');
    const t = Date.now();
    let resolved = false;
    void running.then(() => (resolved = true));
    process.kill(process.pid, 'SIGTERM');
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(resolved, false, 'still waiting for the command');
    assert.equal(await r.next(), 'DONE');
    assert.equal(await r.next(), 'BYE shutting down');
    await closed(socket);
    await running;
    const elapsed = Date.now() - t;
    assert.ok(elapsed >= 300 && elapsed < 3000, `shutdown took ${elapsed} ms`);
    assert.equal(process.listenerCount('SIGTERM'), 0, 'signal handlers removed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
