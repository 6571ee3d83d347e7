// FETCH over 100,000 messages (one blob, copied by doubling) must not stall other connections:
// a NOOP on a second connection answers within 100 ms while `FETCH 1:* (FLAGS ENVELOPE)` runs.
// Its own file so that it has its own time budget.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FIXTURES } from './imap-fetch-fixtures.js';
import { RawImapClient, startImapServer, type ImapTestServer } from './imap-harness.js';

const ALICE = 'alice@example.test';

void describe('IMAP FETCH over 100,000 messages', () => {
  let server: ImapTestServer;
  before(async () => {
    server = await startImapServer();
  });
  after(async () => {
    await server.close();
  });

  void it('FETCH 1:* (FLAGS ENVELOPE) does not stall another connection (NOOP within 100 ms)', async () => {
    const tBuild = Date.now();
    await server.deliver(ALICE, 'INBOX', FIXTURES[1]!.bytes, { date: FIXTURES[1]!.date });
    const id = await server.mailboxId(ALICE, 'INBOX');
    // Doubling to 65,536, then the first 34,464 once more: exactly 100,000 messages, one blob.
    const total = 100_000;
    for (let have = 1; have < total;) {
      const uids = (await server.store.listMessages(id)).map((m) => m.uid);
      const take = uids.slice(0, Math.min(have, total - have));
      await server.store.copy(id, take, id);
      have += take.length;
    }
    const other = await selectBox(server, 'INBOX');
    // The fetching client reads with a plain socket: it only counts bytes and finds the end.
    const c = await selectBox(server, 'INBOX');
    c.socket.removeAllListeners('data');
    let received = 0;
    let tail = '';
    let firstByte!: () => void;
    const started = new Promise<void>((resolve) => (firstByte = resolve));
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    c.socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      firstByte();
      tail = (tail + chunk.toString('latin1')).slice(-2000);
      if (/\r\nZ1 \w+ [^\r\n]*\r\n$/.test(tail)) done();
    });
    const t0 = Date.now();
    c.write('Z1 FETCH 1:* (FLAGS ENVELOPE)\r\n');
    await started;
    const noopAt = Date.now();
    const noop = await other.command('NOOP');
    const noopMs = Date.now() - noopAt;
    assert.equal(noop.status, 'OK');
    await finished;
    const fetchMs = Date.now() - t0;
    assert.match(tail, /\r\nZ1 OK /);
    assert.ok(tail.includes(`* ${total} FETCH (FLAGS (`), tail);
    assert.ok(received > total * 250, `received ${received}`);
    assert.ok(noopMs < 100, `NOOP took ${noopMs} ms while FETCH ran (${fetchMs} ms in all)`);
    // The NOOP really ran while the FETCH was in progress.
    assert.ok(fetchMs > noopMs, `FETCH ${fetchMs} ms`);
    console.log(`# build ${t0 - tBuild} ms, fetch ${fetchMs} ms, NOOP ${noopMs} ms, ${received} bytes`);
    c.destroy();
    other.destroy();
  });
});

async function selectBox(server: ImapTestServer, box: string): Promise<RawImapClient> {
  const c = await RawImapClient.login(server.ports.imap, ALICE);
  const r = await c.command(`SELECT ${box}`, 30_000);
  assert.equal(r.status, 'OK', r.tagged);
  return c;
}
