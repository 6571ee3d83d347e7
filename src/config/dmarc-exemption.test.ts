import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DmarcExemptions, parseDmarcExemption } from './dmarc-exemption.js';

void test('smtp.dmarc_exempt entries: IPs, networks, domains; anything else is refused', () => {
  assert.deepEqual(parseDmarcExemption('Lists.Example.ORG'), {
    kind: 'domain',
    text: 'lists.example.org',
    domain: 'lists.example.org',
  });
  assert.equal(parseDmarcExemption('192.0.2.0/24')?.kind, 'ip');
  assert.equal(parseDmarcExemption('2001:db8::/129'), null);
  assert.equal(parseDmarcExemption('192.0.2.0/'), null);
  assert.equal(parseDmarcExemption('lists.example/24'), null);
  assert.equal(parseDmarcExemption('not a domain'), null);
  assert.equal(parseDmarcExemption(''), null);
});

void test('matching: client IP or network (IPv4-mapped too), and a domain only with SPF pass', () => {
  const m = new DmarcExemptions(['192.0.2.7', '198.51.100.0/24', '2001:db8::/32', 'lists.example.org']);
  const none = { mailFromDomain: '', spfPass: false };
  assert.equal(m.exempts({ clientIp: '192.0.2.7', ...none }), true);
  assert.equal(m.exempts({ clientIp: '192.0.2.8', ...none }), false);
  assert.equal(m.exempts({ clientIp: '198.51.100.200', ...none }), true);
  assert.equal(m.exempts({ clientIp: '::ffff:198.51.100.9', ...none }), true);
  assert.equal(m.exempts({ clientIp: '2001:db8:1::5', ...none }), true);
  assert.equal(m.exempts({ clientIp: '2001:db9::5', ...none }), false);
  const fromList = { clientIp: '203.0.113.1', mailFromDomain: 'LISTS.example.org' };
  assert.equal(m.exempts({ ...fromList, spfPass: true }), true);
  assert.equal(m.exempts({ ...fromList, spfPass: false }), false, 'a claimed domain is not enough');
  assert.equal(m.exempts({ ...fromList, mailFromDomain: 'sub.lists.example.org', spfPass: true }), false);
});
