import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIpv6, ipGroup, normalizeIp, parseIpv6 } from './ip-group.js';

const P64 = { ipv6Prefix: 64 };

void test('parseIpv6 reads every textual form, formatIpv6 writes RFC 5952 text', () => {
  const cases: Array<[string, string]> = [
    ['::', '::'],
    ['::1', '::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
    ['fe80::1%eth0', 'fe80::1'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1::', '1::'],
  ];
  for (const [input, text] of cases) {
    const groups = parseIpv6(input);
    assert.ok(groups !== null, input);
    assert.equal(groups.length, 8, input);
    assert.equal(formatIpv6(groups), text, input);
  }
  for (const bad of [
    '',
    ':',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '12345::',
    'g::',
    '::1.2.3',
    '::256.0.0.1',
    '1:2:3:4:5:6:7::8',
  ]) {
    assert.equal(parseIpv6(bad), null, bad);
  }
});

void test('ipGroup: IPv4 is the address, IPv6 is its network', () => {
  assert.equal(ipGroup('192.0.2.7', P64), '192.0.2.7');
  assert.equal(ipGroup('::ffff:192.0.2.7', P64), '192.0.2.7', 'IPv4-mapped is IPv4');
  assert.equal(ipGroup('2001:db8:1:2:aaaa:bbbb:cccc:dddd', P64), '2001:db8:1:2::/64');
  assert.equal(ipGroup('2001:DB8:1:2::1', P64), '2001:db8:1:2::/64');
  assert.equal(ipGroup('2001:db8:1:3::1', P64), '2001:db8:1:3::/64', 'the next /64 is another client');
  assert.equal(ipGroup('::1', P64), '::/64');
  assert.equal(ipGroup('2001:db8:1:2ff::1', { ipv6Prefix: 56 }), '2001:db8:1:200::/56');
  assert.equal(
    ipGroup('2001:db8:1:2::1', { ipv6Prefix: 128 }),
    '2001:db8:1:2::1',
    '/128: every address alone',
  );
  assert.equal(ipGroup('2001:db8:1:2::1', { ipv6Prefix: 1 }), '::/1');
  assert.equal(ipGroup('8001:db8::1', { ipv6Prefix: 1 }), '8000::/1');
  assert.equal(ipGroup('2001:db8::1', { ipv6Prefix: 60 }), '2001:db8::/60');
  assert.equal(
    ipGroup('2001:db8:0:1f::1', { ipv6Prefix: 60 }),
    '2001:db8:0:10::/60',
    'a prefix inside a group',
  );
  assert.equal(ipGroup('unknown', P64), 'unknown');
  assert.equal(ipGroup('not:an:address', P64), 'not:an:address', 'unparsable text is its own key');
});

void test('ipGroup of a key is the key (keys travel between cluster processes)', () => {
  for (const address of ['2001:db8:1:2:3:4:5:6', '192.0.2.1', '::1', 'fe80::1%lo']) {
    for (const ipv6Prefix of [1, 48, 64, 127, 128]) {
      const key = ipGroup(address, { ipv6Prefix });
      assert.equal(ipGroup(key, { ipv6Prefix }), key, `${address}/${ipv6Prefix}`);
      assert.ok(key.length <= 64, 'fits the cluster message bound');
    }
  }
  assert.equal(normalizeIp('::FFFF:10.1.2.3'), '10.1.2.3');
});
