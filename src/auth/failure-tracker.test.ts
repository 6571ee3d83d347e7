import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import {
  AuthFailureTracker,
  SessionAuthFailures,
  acceptWorkerFailures,
  broadcastBans,
  connectTrackerToPrimary,
  normalizeIp,
} from './failure-tracker.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

void test('bans after N failures within the window, for banSeconds', () => {
  const c = clock();
  const tracker = new AuthFailureTracker({
    limits: { authFailuresBeforeBan: 3, banSeconds: 60 },
    now: c.now,
  });
  const bans: string[] = [];
  tracker.onBan((ip) => bans.push(ip));
  assert.equal(tracker.recordFailure('192.0.2.1'), false);
  assert.equal(tracker.recordFailure('192.0.2.1'), false);
  assert.equal(tracker.isBanned('192.0.2.1'), false);
  assert.equal(tracker.recordFailure('192.0.2.1'), true);
  assert.equal(tracker.isBanned('192.0.2.1'), true);
  assert.equal(tracker.isBanned('::ffff:192.0.2.1'), true, 'IPv4-mapped form is the same address');
  assert.equal(tracker.isBanned('192.0.2.2'), false);
  assert.deepEqual(bans, ['192.0.2.1']);
  c.advance(59_999);
  assert.equal(tracker.isBanned('192.0.2.1'), true);
  c.advance(1);
  assert.equal(tracker.isBanned('192.0.2.1'), false, 'the ban expires');
  assert.equal(tracker.failureCount('192.0.2.1'), 0, 'and starts from zero');
});

void test('failures older than the window do not count (sliding window)', () => {
  const c = clock();
  const tracker = new AuthFailureTracker({
    limits: { authFailuresBeforeBan: 3, banSeconds: 10 },
    now: c.now,
  });
  tracker.recordFailure('198.51.100.7');
  c.advance(6_000);
  tracker.recordFailure('198.51.100.7');
  c.advance(6_000); // the first failure is now 12 s old
  assert.equal(tracker.recordFailure('198.51.100.7'), false);
  assert.equal(tracker.failureCount('198.51.100.7'), 2);
  c.advance(1_000);
  assert.equal(tracker.recordFailure('198.51.100.7'), true);
});

void test('memory is bounded: the oldest addresses are evicted', () => {
  const tracker = new AuthFailureTracker({
    limits: { authFailuresBeforeBan: 5, banSeconds: 60 },
    maxAddresses: 100,
    maxBans: 10,
  });
  for (let i = 0; i < 1000; i++) tracker.recordFailure(`10.0.${i >> 8}.${i & 255}`);
  assert.equal(tracker.size.addresses, 100);
  assert.equal(tracker.failureCount('10.0.0.0'), 0, 'oldest evicted');
  assert.equal(tracker.failureCount('10.0.3.231'), 1, 'newest kept');
  for (let i = 0; i < 50; i++) tracker.ban(`172.16.0.${i}`, Date.now() + 60_000);
  assert.equal(tracker.size.bans, 10);
  assert.equal(tracker.isBanned('172.16.0.49'), true);
  assert.equal(tracker.isBanned('172.16.0.0'), false);
});

void test('SessionAuthFailures says when to close the session', () => {
  const s = new SessionAuthFailures(3);
  assert.equal(s.fail(), false);
  assert.equal(s.fail(), false);
  assert.equal(s.fail(), true);
  assert.equal(s.failures, 3);
});

void test('normalizeIp', () => {
  assert.equal(normalizeIp('::FFFF:10.1.2.3'), '10.1.2.3');
  assert.equal(normalizeIp('2001:DB8::1'), '2001:db8::1');
  assert.equal(normalizeIp(undefined), 'unknown');
});

/** Two ends of an in-memory IPC channel with node's message semantics (asynchronous delivery). */
function channelPair(): [
  EventEmitter & { send(m: unknown): boolean },
  EventEmitter & { send(m: unknown): boolean },
] {
  const a = new EventEmitter() as EventEmitter & { send(m: unknown): boolean };
  const b = new EventEmitter() as EventEmitter & { send(m: unknown): boolean };
  a.send = (m) => {
    const copy: unknown = JSON.parse(JSON.stringify(m));
    setImmediate(() => b.emit('message', copy));
    return true;
  };
  b.send = (m) => {
    const copy: unknown = JSON.parse(JSON.stringify(m));
    setImmediate(() => a.emit('message', copy));
    return true;
  };
  return [a, b];
}

void test('cluster bridge: failures from two workers add up in the primary, bans reach both', async () => {
  const limits = { authFailuresBeforeBan: 4, banSeconds: 60 };
  const primary = new AuthFailureTracker({ limits });
  const w1 = new AuthFailureTracker({ limits });
  const w2 = new AuthFailureTracker({ limits });
  const [w1Side, p1Side] = channelPair();
  const [w2Side, p2Side] = channelPair();
  connectTrackerToPrimary(w1, w1Side);
  connectTrackerToPrimary(w2, w2Side);
  acceptWorkerFailures(primary, p1Side);
  acceptWorkerFailures(primary, p2Side);
  broadcastBans(primary, () => [p1Side, p2Side]);

  w1.recordFailure('203.0.113.9');
  w1.recordFailure('203.0.113.9');
  w2.recordFailure('203.0.113.9');
  await new Promise((r) => setImmediate(r));
  assert.equal(w1.isBanned('203.0.113.9'), false);
  assert.equal(primary.failureCount('203.0.113.9'), 3);
  w2.recordFailure('203.0.113.9'); // the 4th failure cluster-wide, only the 2nd in w2
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(primary.isBanned('203.0.113.9'), true);
  assert.equal(w1.isBanned('203.0.113.9'), true);
  assert.equal(w2.isBanned('203.0.113.9'), true);
  // A malformed message is ignored.
  p1Side.emit('message', { type: 'postern:auth-failure', ip: 42 });
  w1Side.emit('message', { type: 'postern:ban', ip: '1.2.3.4', until: 'never' });
  assert.equal(w1.isBanned('1.2.3.4'), false);
});

void test('IPv6: guesses from many addresses of one /64 add up to one ban; the next /64 is untouched', () => {
  const tracker = new AuthFailureTracker({
    limits: { authFailuresBeforeBan: 5, banSeconds: 60, ipv6Prefix: 64 },
  });
  const bans: string[] = [];
  tracker.onBan((ip) => bans.push(ip));
  // Five different addresses, as a client rotating through its /64 would use.
  for (let i = 1; i <= 4; i++)
    assert.equal(tracker.recordFailure(`2001:db8:aa:bb::${i.toString(16)}`), false);
  assert.equal(tracker.failureCount('2001:db8:aa:bb:ffff:ffff:ffff:ffff'), 4, 'counted together');
  assert.equal(tracker.recordFailure('2001:db8:aa:bb:1234:5678:9abc:def0'), true, 'the 5th guess bans');
  assert.deepEqual(bans, ['2001:db8:aa:bb::/64']);
  assert.equal(tracker.isBanned('2001:db8:aa:bb::dead:beef'), true, 'an address never seen is banned too');
  assert.equal(tracker.isBanned('2001:DB8:AA:BB::1'), true);
  assert.equal(tracker.isBanned('2001:db8:aa:bc::1'), false, 'the neighbouring /64 is not');
  assert.equal(tracker.isBanned('192.0.2.1'), false);
  assert.equal(tracker.size.bans, 1);
});

void test('IPv6: the prefix is configurable (/56 groups more, /128 groups nothing)', () => {
  const wide = new AuthFailureTracker({
    limits: { authFailuresBeforeBan: 2, banSeconds: 60, ipv6Prefix: 56 },
  });
  wide.recordFailure('2001:db8:0:100::1');
  assert.equal(wide.recordFailure('2001:db8:0:1ff::1'), true, 'two /64s of one /56');
  assert.equal(wide.isBanned('2001:db8:0:1aa::1'), true);
  assert.equal(wide.isBanned('2001:db8:0:200::1'), false);
  const exact = new AuthFailureTracker({
    limits: { authFailuresBeforeBan: 2, banSeconds: 60, ipv6Prefix: 128 },
  });
  exact.recordFailure('2001:db8::1');
  assert.equal(exact.recordFailure('2001:db8::2'), false);
  assert.equal(exact.failureCount('2001:db8::1'), 1);
  const byDefault = new AuthFailureTracker({ limits: { authFailuresBeforeBan: 1, banSeconds: 60 } });
  byDefault.recordFailure('2001:db8::1');
  assert.equal(byDefault.isBanned('2001:db8::ffff:1'), true, 'without ipv6Prefix in the limits: /64');
});

void test('cluster bridge: IPv6 failures from two workers on different addresses of one /64 ban the /64 everywhere', async () => {
  const limits = { authFailuresBeforeBan: 3, banSeconds: 60, ipv6Prefix: 64 };
  const primary = new AuthFailureTracker({ limits });
  const w1 = new AuthFailureTracker({ limits });
  const w2 = new AuthFailureTracker({ limits });
  const [w1Side, p1Side] = channelPair();
  const [w2Side, p2Side] = channelPair();
  connectTrackerToPrimary(w1, w1Side);
  connectTrackerToPrimary(w2, w2Side);
  acceptWorkerFailures(primary, p1Side);
  acceptWorkerFailures(primary, p2Side);
  broadcastBans(primary, () => [p1Side, p2Side]);
  w1.recordFailure('2001:db8:5::a');
  w2.recordFailure('2001:db8:5::b');
  w2.recordFailure('2001:db8:5:0:1:2:3:4');
  for (let i = 0; i < 100 && !w1.isBanned('2001:db8:5::c'); i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(primary.isBanned('2001:db8:5::ffff'), true);
  assert.equal(w1.isBanned('2001:db8:5::c'), true, 'worker 1 saw one failure, got the /64 ban');
  assert.equal(w2.isBanned('2001:db8:5::d'), true);
  assert.equal(w1.isBanned('2001:db8:6::a'), false);
});
