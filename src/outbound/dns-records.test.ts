import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseZone, unquoteTxt } from '../../test/helpers/zone-file.js';
import { domainRecords, mtaStsPolicy, txtStrings, zoneText, type DomainRecords } from './dns-records.js';

const RSA_P = 'M'.repeat(392); // the length of an RSA-2048 p= value

function sample(): DomainRecords {
  return domainRecords({
    domain: 'example.org',
    hostname: 'mail.example.net',
    dkimKeys: [
      {
        domain: 'example.org',
        selector: 'p2026b-ed',
        algorithm: 'ed25519',
        publicKey: 'A'.repeat(44),
        state: 'active',
      },
      { domain: 'example.org', selector: 'p2026b-rsa', algorithm: 'rsa', publicKey: RSA_P, state: 'active' },
      { domain: 'example.org', selector: 'p2026a-rsa', algorithm: 'rsa', publicKey: RSA_P, state: 'retired' },
      {
        domain: 'example.org',
        selector: 'p2026c-ed',
        algorithm: 'ed25519',
        publicKey: 'B'.repeat(44),
        state: 'pending',
      },
    ],
    ports: { submission: 587, submissions: 465, imap: 143, imaps: 993, pop3: null, pop3s: 995 },
    spfAddresses: ['192.0.2.25', '2001:db8::25'],
  });
}

void test('the zone text parses line by line and says what the JSON says', () => {
  const r = sample();
  const zone = parseZone(zoneText(r));
  assert.deepEqual(
    zone,
    r.records.map((x) => ({ name: x.name, ttl: x.ttl, type: x.type, data: x.data })),
  );
  for (const rec of r.records) {
    if (rec.type !== 'TXT') continue;
    const { strings, text } = unquoteTxt(rec.data);
    assert.equal(text, rec.text);
    for (const s of strings) assert.ok(Buffer.byteLength(s) <= 255);
  }
  const byName = (name: string, type: string): string[] =>
    r.records.filter((x) => x.name === name && x.type === type).map((x) => x.text ?? x.data);
  assert.deepEqual(byName('example.org', 'MX'), ['10 mail.example.net.']);
  assert.deepEqual(byName('example.org', 'TXT'), ['v=spf1 mx ip4:192.0.2.25 ip6:2001:db8::25 -all']);
  assert.deepEqual(byName('p2026b-ed._domainkey.example.org', 'TXT'), [
    `v=DKIM1; k=ed25519; p=${'A'.repeat(44)}`,
  ]);
  assert.deepEqual(byName('p2026a-rsa._domainkey.example.org', 'TXT'), [`v=DKIM1; k=rsa; p=${RSA_P}`]);
  assert.deepEqual(byName('_dmarc.example.org', 'TXT'), [
    'v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:postmaster@example.org',
  ]);
  assert.deepEqual(byName('_mta-sts.example.org', 'TXT'), [`v=STSv1; id=${r.mtaSts.id}`]);
  assert.match(r.mtaSts.id, /^[0-9a-f]{20}$/);
  assert.equal(r.mtaSts.url, 'https://mta-sts.example.org/.well-known/mta-sts.txt');
  assert.equal(
    r.mtaSts.policy,
    'version: STSv1\r\nmode: testing\r\nmx: mail.example.net\r\nmax_age: 86400\r\n',
  );
  assert.deepEqual(byName('mta-sts.example.org', 'CNAME'), ['mail.example.net.']);
  assert.deepEqual(byName('_smtp._tls.example.org', 'TXT'), [
    'v=TLSRPTv1; rua=mailto:postmaster@example.org',
  ]);
  // RFC 8314: implicit TLS preferred (lower priority) to STARTTLS; RFC 6186 §3.4: IMAP to POP3.
  assert.deepEqual(byName('_submissions._tcp.example.org', 'SRV'), ['0 1 465 mail.example.net.']);
  assert.deepEqual(byName('_submission._tcp.example.org', 'SRV'), ['10 1 587 mail.example.net.']);
  assert.deepEqual(byName('_imap._tcp.example.org', 'SRV'), ['10 1 143 mail.example.net.']);
  assert.deepEqual(byName('_imaps._tcp.example.org', 'SRV'), ['0 1 993 mail.example.net.']);
  assert.deepEqual(
    byName('_pop3._tcp.example.org', 'SRV'),
    ['0 0 0 .'],
    'a listener that is off: no service',
  );
  assert.deepEqual(byName('_pop3s._tcp.example.org', 'SRV'), ['20 1 995 mail.example.net.']);
  assert.deepEqual(byName('autoconfig.example.org', 'CNAME'), ['mail.example.net.']);
  assert.deepEqual(byName('autodiscover.example.org', 'CNAME'), ['mail.example.net.']);
  assert.deepEqual(byName('_autodiscover._tcp.example.org', 'SRV'), [], 'no https listener: no record');
  assert.match(zoneText(r), /^; DKIM rsa key p2026a-rsa \(retired: /m);
  assert.match(zoneText(r), /^; DKIM ed25519 key p2026c-ed \(staged: /m);
  assert.deepEqual(byName('p2026c-ed._domainkey.example.org', 'TXT'), [
    `v=DKIM1; k=ed25519; p=${'B'.repeat(44)}`,
  ]);
  assert.equal(new Set(r.records.map((x) => x.ttl)).size, 1);
});

void test('TXT strings: split at 255 octets, quotes and backslashes escaped, other octets as \\DDD', () => {
  assert.deepEqual(txtStrings(''), ['""']);
  assert.deepEqual(txtStrings('a"b\\c'), ['"a\\"b\\\\c"']);
  assert.deepEqual(txtStrings('é'), ['"\\195\\169"']);
  const long = 'x'.repeat(600);
  assert.deepEqual(
    txtStrings(long).map((s) => s.length - 2),
    [255, 255, 90],
  );
});

void test('options: DMARC policy, report address, MTA-STS enforce, TTL', () => {
  const r = domainRecords({
    domain: 'example.org',
    hostname: 'mx.example.org',
    dkimKeys: [],
    ports: { submission: null, submissions: null, imap: null, imaps: null, pop3: null, pop3s: null },
    ttl: 300,
    dmarcPolicy: 'reject',
    reportAddress: 'reports@example.net',
    mtaStsMode: 'enforce',
  });
  assert.ok(r.records.every((x) => x.ttl === 300));
  assert.equal(
    r.records.find((x) => x.name === '_dmarc.example.org')?.text,
    'v=DMARC1; p=reject; adkim=r; aspf=r; rua=mailto:reports@example.net',
  );
  assert.equal(r.mtaSts.policy, mtaStsPolicy('mx.example.org', 'enforce'));
  assert.match(r.mtaSts.policy, /mode: enforce\r\n.*\r\nmax_age: 604800/);
  assert.notEqual(r.mtaSts.id, sample().mtaSts.id);
  assert.equal(r.records.filter((x) => x.purpose === 'dkim').length, 0);
});

void test('SRV records follow the listeners: STARTTLS only when implicit TLS is off; autodiscover on https', () => {
  const r = domainRecords({
    domain: 'example.org',
    hostname: 'mx.example.org',
    dkimKeys: [],
    ports: { submission: 587, submissions: null, imap: 143, imaps: null, pop3: 110, pop3s: null, https: 443 },
  });
  const srv = (name: string): string[] =>
    r.records.filter((x) => x.type === 'SRV' && x.name === name).map((x) => x.data);
  assert.deepEqual(srv('_submissions._tcp.example.org'), ['0 0 0 .']);
  assert.deepEqual(srv('_submission._tcp.example.org'), ['10 1 587 mx.example.org.']);
  assert.deepEqual(srv('_imaps._tcp.example.org'), ['0 0 0 .']);
  assert.deepEqual(srv('_imap._tcp.example.org'), ['10 1 143 mx.example.org.']);
  assert.deepEqual(srv('_pop3._tcp.example.org'), ['30 1 110 mx.example.org.']);
  assert.deepEqual(srv('_autodiscover._tcp.example.org'), ['0 1 443 mx.example.org.']);
  // Every offered IMAP record is preferred to every offered POP3 record (RFC 6186 §3.4).
  const priority = (name: string): number => Number(srv(name)[0].split(' ')[0]);
  assert.ok(priority('_imap._tcp.example.org') < priority('_pop3._tcp.example.org'));
});
