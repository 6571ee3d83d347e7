import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { TurnQueue } from './guest-turns.js';

/** Busy-waits `ms` on the event loop, as a guest's login work does. */
function burn(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

void describe('TurnQueue', () => {
  void it('grants turns in the order they were asked for', async () => {
    const q = new TurnQueue();
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3, 4].map((i) => q.take().then(() => order.push(i))));
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.equal(q.length, 0);
    assert.equal(q.grantedTotal, 5);
  });

  void it('lets socket I/O in between two turns, however many guests wait', async () => {
    // An echo over a real loopback socket is started while 60 guests each take 2 ms in their
    // turn. Handled in one go they would hold the loop 120 ms; with turns the echo needs a few
    // poll phases, so only a few turns pass before it comes back.
    const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
    await new Promise<void>((resolve) => client.once('connect', resolve));
    try {
      const q = new TurnQueue();
      const guests = Array.from({ length: 60 }, () => q.take().then(() => burn(2)));
      const echoed = new Promise<number>((resolve) => client.once('data', () => resolve(q.grantedTotal)));
      client.write('ping');
      const turnsBeforeEcho = await echoed;
      await Promise.all(guests);
      assert.ok(turnsBeforeEcho <= 6, `${turnsBeforeEcho} of 60 turns passed before the echo came back`);
      assert.equal(q.grantedTotal, 60);
    } finally {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  void it('a caller that asks during its own turn goes to the back of the line', async () => {
    const q = new TurnQueue();
    const order: string[] = [];
    const a = q.take().then(async () => {
      order.push('a1');
      await q.take();
      order.push('a2');
    });
    const b = q.take().then(() => order.push('b'));
    await Promise.all([a, b]);
    assert.deepEqual(order, ['a1', 'b', 'a2']);
  });
});
