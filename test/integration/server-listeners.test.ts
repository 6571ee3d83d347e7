// The listener layer over real sockets on 127.0.0.1: implicit TLS, STARTTLS input discarding,
// connection limits and bans, idle timeout, graceful shutdown.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { Authenticator } from '../../src/auth/authenticator.js';
import { AuthFailureTracker } from '../../src/auth/failure-tracker.js';
import type { ListenerName } from '../../src/config/types.js';
import type { Limits } from '../../src/core/limits.js';
import { createLogger } from '../../src/core/log.js';
import { ListenerSet } from '../../src/server/listeners.js';
import { loadTlsMaterial, type TlsMaterial } from '../../src/server/tls.js';
import type { ProtocolFactory, ServerDeps } from '../../src/server/types.js';
import { openStore, type OpenedStore } from '../../src/app/open-store.js';
import { LOOPBACK_0, LineReader, closed, lineTestProtocol, tempDir, testConfig } from './server-fixture.js';

let dir: string;
let material: TlsMaterial;
let opened: OpenedStore;

before(async () => {
  dir = await tempDir('listeners');
  const config = testConfig(dir);
  material = await loadTlsMaterial(config);
  opened = await openStore(config);
});

after(async () => {
  await opened.store.close();
  await rm(dir, { recursive: true, force: true });
});

interface Started {
  set: ListenerSet;
  tracker: AuthFailureTracker;
  port(name: ListenerName): number;
}

async function start(
  listeners: ListenerName[],
  opts: {
    limits?: Partial<Limits>;
    handlers?: Map<ListenerName, ProtocolFactory>;
    idleTimeout?: number;
  } = {},
): Promise<Started> {
  const listen: Partial<Record<ListenerName, typeof LOOPBACK_0>> = {};
  for (const name of listeners) listen[name] = LOOPBACK_0;
  const config = testConfig(dir, { listen, limits: opts.limits });
  const tracker = new AuthFailureTracker({ limits: config.limits });
  const deps: ServerDeps = {
    config,
    store: opened.store,
    blobs: opened.blobs,
    log: createLogger(config.log),
    authenticator: new Authenticator({ store: opened.store, limits: config.limits, tracker }),
    tls: material,
  };
  const protocol = lineTestProtocol({ idleTimeout: opts.idleTimeout });
  const handlers = opts.handlers ?? new Map(listeners.map((n) => [n, protocol] as const));
  const set = await ListenerSet.start({ deps, handlers });
  return {
    set,
    tracker,
    port(name) {
      const info = set.listening.find((l) => l.name === name);
      if (info === undefined) throw new Error(`${name} not listening`);
      return info.port;
    },
  };
}

function connectPlain(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

function upgrade(socket: net.Socket): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({ socket, ca: material.cert, servername: 'localhost' }, () => resolve(t));
    t.once('error', reject);
  });
}

void test('implicit TLS: the handshake happens before the protocol sees the connection; the cert verifies', async () => {
  const s = await start(['imaps']);
  try {
    const client = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const t = tls.connect(
        { host: '127.0.0.1', port: s.port('imaps'), ca: material.cert, servername: 'mail.example.test' },
        () => resolve(t),
      );
      t.once('error', reject);
    });
    assert.equal(client.authorized, true);
    assert.ok(['TLSv1.2', 'TLSv1.3'].includes(client.getProtocol() ?? ''));
    const r = new LineReader(client);
    assert.equal(await r.next(), 'HELLO secure=true');
    client.write('ECHO over tls\r\n');
    assert.equal(await r.next(), 'over tls');
    client.end();
  } finally {
    await s.set.shutdown({ graceMs: 0 });
  }
});

void test('implicit TLS refuses TLS 1.1 clients', async () => {
  const s = await start(['imaps']);
  try {
    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        const t = tls.connect({
          host: '127.0.0.1',
          port: s.port('imaps'),
          ca: material.cert,
          servername: 'localhost',
          minVersion: 'TLSv1',
          maxVersion: 'TLSv1.1',
        });
        t.once('secureConnect', () => {
          t.destroy();
          resolve();
        });
        t.once('error', reject);
      }),
    );
  } finally {
    await s.set.shutdown({ graceMs: 0 });
  }
});

void test('STARTTLS: commands pipelined in the same packet as STARTTLS are never executed', async () => {
  const s = await start(['imap']);
  try {
    const plain = await connectPlain(s.port('imap'));
    const r = new LineReader(plain);
    assert.equal(await r.next(), 'HELLO secure=false');
    plain.write('STARTTLS\r\nECHO injected-1\r\n');
    assert.equal(await r.next(), 'READY');
    r.detach();
    const secure = await upgrade(plain);
    const sr = new LineReader(secure);
    assert.equal(await sr.next(), 'SECURE');
    secure.write('ECHO after\r\n');
    assert.equal(await sr.next(), 'after');
    assert.ok(![...r.all, ...sr.all].includes('injected-1'));
    secure.end();
  } finally {
    await s.set.shutdown({ graceMs: 0 });
  }
});

void test('STARTTLS: bytes buffered in the socket before the handshake are discarded by the connection', async () => {
  const s = await start(['imap']);
  try {
    const plain = await connectPlain(s.port('imap'));
    const r = new LineReader(plain);
    assert.equal(await r.next(), 'HELLO secure=false');
    // The session pauses input for 300 ms before starting TLS; this second packet arrives
    // meanwhile and sits unread in the server's socket buffer.
    plain.write('STARTTLS 300\r\n');
    await new Promise((res) => setTimeout(res, 80));
    plain.write('ECHO injected-2\r\n');
    assert.equal(await r.next(), 'READY');
    r.detach();
    const secure = await upgrade(plain);
    const sr = new LineReader(secure);
    assert.equal(await sr.next(), 'SECURE');
    secure.write('ECHO clean\r\n');
    assert.equal(await sr.next(), 'clean');
    assert.ok(![...r.all, ...sr.all].includes('injected-2'));
    secure.end();
  } finally {
    await s.set.shutdown({ graceMs: 0 });
  }
});

void test('per-IP limit: the connection over the limit gets the protocol refusal and is closed', async () => {
  const s = await start(['smtp'], { limits: { connectionsPerIp: 2 } });
  try {
    const a = await connectPlain(s.port('smtp'));
    const b = await connectPlain(s.port('smtp'));
    const ra = new LineReader(a);
    const rb = new LineReader(b);
    assert.equal(await ra.next(), 'HELLO secure=false');
    assert.equal(await rb.next(), 'HELLO secure=false');
    assert.equal(s.set.connectionsFrom('127.0.0.1'), 2);
    const c = await connectPlain(s.port('smtp'));
    const rc = new LineReader(c);
    assert.equal(await rc.next(), 'BUSY too-many-from-ip');
    await closed(c);
    a.destroy();
    await closed(a);
    // Wait for the server to see the close, then a new connection is accepted again.
    for (let i = 0; i < 50 && s.set.connectionsFrom('127.0.0.1') > 1; i++)
      await new Promise((res) => setTimeout(res, 10));
    const d = await connectPlain(s.port('smtp'));
    assert.equal(await new LineReader(d).next(), 'HELLO secure=false');
    b.destroy();
    d.destroy();
  } finally {
    await s.set.shutdown({ graceMs: 0 });
  }
});

void test('total limit, and no refusal line on an implicit-TLS listener', async () => {
  const s = await start(['smtp', 'submissions'], { limits: { connectionsTotal: 1 } });
  try {
    const a = await connectPlain(s.port('smtp'));
    assert.equal(await new LineReader(a).next(), 'HELLO secure=false');
    const b = await connectPlain(s.port('smtp'));
    assert.equal(await new LineReader(b).next(), 'BUSY too-many-total');
    const c = await connectPlain(s.port('submissions'));
    const rc = new LineReader(c);
    await closed(c);
    assert.deepEqual(rc.all, [], 'nothing in clear text before TLS');
    a.destroy();
  } finally {
    await s.set.shutdown({ graceMs: 0 });
  }
});

void test('a banned address is refused at once', async () => {
  const s = await start(['pop3']);
  try {
    s.tracker.ban('127.0.0.1', Date.now() + 60_000);
    const a = await connectPlain(s.port('pop3'));
    assert.equal(await new LineReader(a).next(), 'BUSY banned');
    await closed(a);
    assert.equal(s.set.connectionCount, 0);
  } finally {
    await s.set.shutdown({ graceMs: 0 });
  }
});

void test('idle timeout: the protocol says goodbye and the connection closes', async () => {
  const s = await start(['imap'], { idleTimeout: 0.3 });
  try {
    const a = await connectPlain(s.port('imap'));
    const r = new LineReader(a);
    assert.equal(await r.next(), 'HELLO secure=false');
    const t = Date.now();
    assert.equal(await r.next(2000), 'BYE idle');
    await closed(a);
    const elapsed = Date.now() - t;
    assert.ok(elapsed >= 250 && elapsed < 2000, `closed after ${elapsed} ms`);
  } finally {
    await s.set.shutdown({ graceMs: 0 });
  }
});

void test('activity keeps a connection alive past the idle timeout', async () => {
  const s = await start(['imap'], { idleTimeout: 0.3 });
  try {
    const a = await connectPlain(s.port('imap'));
    const r = new LineReader(a);
    await r.next();
    for (let i = 0; i < 4; i++) {
      await new Promise((res) => setTimeout(res, 150));
      a.write(`ECHO ${i}\r\n`);
      assert.equal(await r.next(), String(i));
    }
    a.destroy();
  } finally {
    await s.set.shutdown({ graceMs: 0 });
  }
});

void test('graceful shutdown waits for the command in flight, closes idle connections at once', async () => {
  const s = await start(['imap']);
  const port = s.port('imap');
  const busy = await connectPlain(port);
  const idle = await connectPlain(port);
  const rb = new LineReader(busy);
  const ri = new LineReader(idle);
  await rb.next();
  await ri.next();
  busy.write('SLOW 500\r\n');
  await new Promise((res) => setTimeout(res, 50));
  const t = Date.now();
  const done = s.set.shutdown({ graceMs: 5000 });
  assert.equal(await ri.next(), 'BYE shutting down');
  await closed(idle);
  assert.ok(Date.now() - t < 400, 'idle connection closed without waiting');
  await assert.rejects(connectPlain(port), 'no new connections');
  assert.equal(await rb.next(), 'DONE');
  assert.equal(await rb.next(), 'BYE shutting down');
  await closed(busy);
  await done;
  const elapsed = Date.now() - t;
  assert.ok(elapsed >= 400 && elapsed < 3000, `shutdown took ${elapsed} ms`);
});

void test('graceful shutdown gives up after the grace period', async () => {
  const s = await start(['imap']);
  const busy = await connectPlain(s.port('imap'));
  const rb = new LineReader(busy);
  await rb.next();
  busy.write('SLOW 10000\r\n');
  await new Promise((res) => setTimeout(res, 50));
  const t = Date.now();
  await s.set.shutdown({ graceMs: 300 });
  await closed(busy);
  const elapsed = Date.now() - t;
  assert.ok(elapsed >= 250 && elapsed < 2000, `shutdown took ${elapsed} ms`);
  assert.ok(!rb.all.includes('DONE'));
});

void test('a listener whose protocol has no handler is not opened', async () => {
  const s = await start(['imap', 'http'], { handlers: new Map([['http', lineTestProtocol()]]) });
  try {
    assert.deepEqual(
      s.set.listening.map((l) => l.name),
      ['http'],
    );
  } finally {
    await s.set.shutdown({ graceMs: 0 });
  }
});
