import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommitOrder } from './commit-order.js';

void test('tickets get their turn in the order they were taken, whatever order work finishes in', async () => {
  const order = new CommitOrder();
  const issued: number[] = [];
  const delays = [30, 5, 20, 0, 10];
  await Promise.all(
    delays.map(async (delay, i) => {
      const ticket = order.next();
      try {
        await sleep(delay); // the blob write, finishing out of order
        await ticket.turn();
        issued.push(i);
        ticket.release();
      } finally {
        ticket.release();
      }
    }),
  );
  assert.deepEqual(issued, [0, 1, 2, 3, 4]);
});

void test('a ticket released without committing (a failed delivery) does not hold back the next', async () => {
  const order = new CommitOrder();
  const first = order.next();
  const second = order.next();
  const third = order.next();
  first.release();
  second.release(); // failed before its turn
  await third.turn();
  let early = false;
  const fourth = order.next();
  const waiting = fourth.turn().then(() => (early = true));
  await sleep(5);
  assert.equal(early, false, 'the fourth waits for the third');
  third.release();
  await waiting;
  assert.equal(early, true);
});
