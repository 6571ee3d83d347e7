import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionLimiter, type ConnectionTicket } from './connection-limiter.js';

function admitted(t: ConnectionTicket | string): ConnectionTicket {
  if (typeof t === 'string') throw new Error(`refused: ${t}`);
  return t;
}

void test('connections from many addresses of one IPv6 /64 count as one client', () => {
  const limiter = new ConnectionLimiter({ connectionsPerIp: 3, connectionsTotal: 100, ipv6Prefix: 64 });
  const tickets = [1, 2, 3].map((i) => admitted(limiter.admit(`2001:db8:7:8::${i}`)));
  assert.equal(limiter.openFrom('2001:db8:7:8::ffff'), 3);
  assert.equal(limiter.admit('2001:db8:7:8:abcd::1'), 'too-many-from-ip', 'a fourth address of the /64');
  assert.equal(limiter.admit('2001:db8:7:8::1'), 'too-many-from-ip');
  admitted(limiter.admit('2001:db8:7:9::1')); // another /64
  admitted(limiter.admit('192.0.2.1'));
  admitted(limiter.admit('192.0.2.2'));
  tickets[0].release();
  tickets[0].release(); // a second release does nothing
  assert.equal(limiter.openFrom('2001:db8:7:8::1'), 2);
  const again = admitted(limiter.admit('2001:db8:7:8::99'));
  assert.equal(again.group, '2001:db8:7:8::/64');
  assert.equal(limiter.admit('2001:db8:7:8::98'), 'too-many-from-ip');
  assert.equal(limiter.open, 6);
});

void test('IPv4 addresses are counted one by one; the total limit applies first', () => {
  const limiter = new ConnectionLimiter({ connectionsPerIp: 1, connectionsTotal: 2, ipv6Prefix: 64 });
  const a = admitted(limiter.admit('192.0.2.1'));
  assert.equal(limiter.admit('192.0.2.1'), 'too-many-from-ip');
  assert.equal(limiter.admit('::ffff:192.0.2.1'), 'too-many-from-ip', 'IPv4-mapped is the same client');
  admitted(limiter.admit('192.0.2.2'));
  assert.equal(limiter.admit('192.0.2.3'), 'too-many-total');
  a.release();
  admitted(limiter.admit('192.0.2.3'));
});

void test('the IPv6 prefix is configurable', () => {
  const exact = new ConnectionLimiter({ connectionsPerIp: 1, connectionsTotal: 100, ipv6Prefix: 128 });
  admitted(exact.admit('2001:db8::1'));
  admitted(exact.admit('2001:db8::2'));
  assert.equal(exact.admit('2001:db8::1'), 'too-many-from-ip');
  const wide = new ConnectionLimiter({ connectionsPerIp: 1, connectionsTotal: 100, ipv6Prefix: 48 });
  admitted(wide.admit('2001:db8:1:1::1'));
  assert.equal(wide.admit('2001:db8:1:2::1'), 'too-many-from-ip');
  assert.equal(wide.groups, 1);
});
