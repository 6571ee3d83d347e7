// `postern domain add` with its DKIM keys, `postern domain dkim show|rotate|remove` and
// `postern dns`, run as real processes on a real data directory; then a message signed with the
// stored keys verifies (mailauth) against a loopback DNS server serving what `postern dns --json`
// said to publish.

import assert from 'node:assert/strict';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { authenticate, type DNSResolver } from 'mailauth';
import { openStore } from '../../src/app/open-store.js';
import { loadConfig } from '../../src/config/load.js';
import { DnsResolver } from '../../src/dns/resolver.js';
import { createDkimSigner } from '../../src/outbound/dkim-signer.js';
import type { DomainRecords } from '../../src/outbound/dns-records.js';
import { startDnsServer, type DnsTestEntry } from '../helpers/dns-server.js';
import { parseZone, unquoteTxt } from '../helpers/zone-file.js';
import { fails, ok, postern, tempDir } from './cli-harness.js';

interface ShownKey {
  selector: string;
  algorithm: string;
  state: string;
  createdAt: string;
  retiredAt: string | null;
  record: string;
  value: string;
}

const year = new Date().getUTCFullYear();

void test('postern domain add makes two DKIM keys; dkim show, rotate, remove; errors in one line', async (t) => {
  const dir = await tempDir(t);
  assert.match(
    ok(postern(dir, ['init', '--domain', 'example.test', '--hostname', 'mail.example.test'])),
    new RegExp(`^DKIM keys: p${year}a-ed \\(ed25519\\), p${year}a-rsa \\(rsa\\); publish them`, 'm'),
  );
  ok(postern(dir, ['domain', 'add', 'Example.ORG']));
  const show = (): ShownKey[] =>
    JSON.parse(ok(postern(dir, ['domain', 'dkim', 'show', 'example.org', '--json']))) as ShownKey[];
  const first = show();
  assert.deepEqual(
    first.map((k) => [k.selector, k.algorithm, k.state, k.retiredAt, k.record]),
    [
      [`p${year}a-ed`, 'ed25519', 'active', null, `p${year}a-ed._domainkey.example.org`],
      [`p${year}a-rsa`, 'rsa', 'active', null, `p${year}a-rsa._domainkey.example.org`],
    ],
  );
  assert.match(first[0]!.value, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
  assert.match(first[1]!.value, /^v=DKIM1; k=rsa; p=MIIBIjAN[A-Za-z0-9+/=]+$/);
  const table = ok(postern(dir, ['domain', 'dkim', 'show', 'example.org']));
  assert.match(table, /^SELECTOR +ALGORITHM +STATE +CREATED +RECORD$/m);
  assert.doesNotMatch(table + JSON.stringify(first), /PRIVATE/);

  const rotated = ok(postern(dir, ['domain', 'dkim', 'rotate', 'example.org']));
  assert.match(
    rotated,
    new RegExp(`^new DKIM keys for example.org: p${year}b-ed \\(ed25519\\), p${year}b-rsa \\(rsa\\)$`, 'm'),
  );
  assert.match(rotated, new RegExp(`^retired: p${year}a-ed \\(ed25519\\), p${year}a-rsa \\(rsa\\)$`, 'm'));
  assert.deepEqual(
    show().map((k) => [k.selector, k.state]),
    [
      [`p${year}b-ed`, 'active'],
      [`p${year}b-rsa`, 'active'],
      [`p${year}a-ed`, 'retired'],
      [`p${year}a-rsa`, 'retired'],
    ],
  );

  // In two steps: staged keys are published but do not sign until the next rotate.
  assert.match(
    ok(postern(dir, ['domain', 'dkim', 'rotate', 'example.org', '--stage'])),
    new RegExp(
      `^staged DKIM keys for example.org: p${year}c-ed \\(ed25519\\), p${year}c-rsa \\(rsa\\)$`,
      'm',
    ),
  );
  assert.match(
    fails(postern(dir, ['domain', 'dkim', 'rotate', 'example.org', '--stage'])),
    /already has staged/,
  );
  assert.deepEqual(
    show().map((k) => [k.selector, k.state]),
    [
      [`p${year}b-ed`, 'active'],
      [`p${year}b-rsa`, 'active'],
      [`p${year}c-ed`, 'pending'],
      [`p${year}c-rsa`, 'pending'],
      [`p${year}a-ed`, 'retired'],
      [`p${year}a-rsa`, 'retired'],
    ],
  );
  assert.match(
    ok(postern(dir, ['dns', 'example.org'])),
    new RegExp(`^; DKIM ed25519 key p${year}c-ed \\(staged`, 'm'),
  );
  const activated = ok(postern(dir, ['domain', 'dkim', 'rotate', 'example.org']));
  assert.match(
    activated,
    new RegExp(`^signing for example.org with the staged DKIM keys: p${year}c-ed`, 'm'),
  );
  assert.match(activated, new RegExp(`^retired: p${year}b-ed \\(ed25519\\), p${year}b-rsa \\(rsa\\)$`, 'm'));
  assert.deepEqual(
    show()
      .filter((k) => k.state === 'active')
      .map((k) => k.selector),
    [`p${year}c-ed`, `p${year}c-rsa`],
  );

  assert.match(
    fails(postern(dir, ['domain', 'dkim', 'remove', 'example.org', `p${year}c-ed`])),
    /is active: rotate first/,
  );
  assert.equal(
    ok(postern(dir, ['domain', 'dkim', 'remove', 'example.org', `P${year}A-ED`])),
    `removed DKIM key p${year}a-ed of example.org\n`,
  );
  assert.match(
    fails(postern(dir, ['domain', 'dkim', 'remove', 'example.org', `p${year}a-ed`])),
    new RegExp(`example.org has no DKIM key p${year}a-ed`),
  );
  assert.match(
    fails(postern(dir, ['domain', 'dkim', 'rotate', 'missing.test'])),
    /no such domain: missing\.test/,
  );
  assert.match(fails(postern(dir, ['domain', 'dkim', 'show', 'bad_name'])), /not a valid domain name/);

  // A domain from before DKIM keys (added through the store): rotate gives it its first pair.
  const config = await loadConfig(path.join(dir, 'postern.toml'));
  const { store } = await openStore(config);
  try {
    await store.createDomain('old.test');
  } finally {
    await store.close();
  }
  assert.match(ok(postern(dir, ['domain', 'dkim', 'show', 'old.test'])), /has no DKIM keys/);
  const noKeys = postern(dir, ['dns', 'old.test']);
  assert.equal(noKeys.status, 0);
  assert.match(noKeys.stderr, /^warning: old\.test signs with no DKIM key/);
  assert.doesNotMatch(noKeys.stdout, /_domainkey/);
  assert.doesNotMatch(ok(postern(dir, ['domain', 'dkim', 'rotate', 'old.test'])), /retired/);
  assert.equal(
    (JSON.parse(ok(postern(dir, ['domain', 'dkim', 'show', 'old.test', '--json']))) as ShownKey[]).length,
    2,
  );
});

void test('postern dns: zone lines and JSON agree; the published keys verify signed mail', async (t) => {
  const dir = await tempDir(t);
  ok(postern(dir, ['init', '--domain', 'example.org', '--hostname', 'mail.example.org']));
  ok(postern(dir, ['domain', 'dkim', 'rotate', 'example.org']));

  const zone = parseZone(ok(postern(dir, ['dns', 'example.org'])));
  const json = JSON.parse(ok(postern(dir, ['dns', 'example.org', '--json']))) as DomainRecords;
  assert.equal(json.hostname, 'mail.example.org');
  assert.deepEqual(
    zone,
    json.records.map((r) => ({ name: r.name, ttl: r.ttl, type: r.type, data: r.data })),
  );
  for (const r of json.records) if (r.type === 'TXT') assert.equal(unquoteTxt(r.data).text, r.text);
  const types = (purpose: string): string[] =>
    json.records.filter((r) => r.purpose === purpose).map((r) => r.name);
  assert.deepEqual(types('dkim'), [
    `p${year}b-ed._domainkey.example.org`,
    `p${year}b-rsa._domainkey.example.org`,
    `p${year}a-ed._domainkey.example.org`,
    `p${year}a-rsa._domainkey.example.org`,
  ]);
  assert.deepEqual(types('mx'), ['example.org']);
  assert.deepEqual(types('dmarc'), ['_dmarc.example.org']);
  assert.deepEqual(types('tls-rpt'), ['_smtp._tls.example.org']);
  assert.deepEqual(types('autoconfig'), ['autoconfig.example.org', 'autodiscover.example.org']);
  assert.equal(types('srv').length, 6);
  // The listeners of the config written by init.
  const config = await loadConfig(path.join(dir, 'postern.toml'));
  const srv = json.records.find((r) => r.name === '_imaps._tcp.example.org')!;
  assert.equal(srv.data, `0 1 ${config.listen.imaps!.port} mail.example.org.`);

  const custom = JSON.parse(
    ok(
      postern(dir, [
        'dns',
        'example.org',
        '--json',
        '--ttl',
        '300',
        '--dmarc',
        'none',
        '--address',
        '192.0.2.7',
      ]),
    ),
  ) as DomainRecords;
  assert.ok(custom.records.every((r) => r.ttl === 300));
  assert.equal(custom.records.find((r) => r.purpose === 'spf')?.text, 'v=spf1 mx ip4:192.0.2.7 -all');
  assert.match(custom.records.find((r) => r.purpose === 'dmarc')!.text!, /p=none/);
  assert.match(fails(postern(dir, ['dns', 'missing.test'])), /no such domain: missing\.test/);
  assert.match(fails(postern(dir, ['dns', 'example.org', '--dmarc', 'maybe'])), /--dmarc: expected one of/);
  assert.match(fails(postern(dir, ['dns', 'example.org', '--address', 'nowhere'])), /not an IP address/);

  // Publish what `postern dns` printed, then sign with the store's keys and verify.
  const records: Record<string, DnsTestEntry> = {};
  for (const r of json.records) {
    if (r.type !== 'TXT') continue;
    (records[r.name] ??= { TXT: [] }).TXT!.push(unquoteTxt(r.data).strings);
  }
  records['example.org']!.A = ['192.0.2.7'];
  const dns = await startDnsServer(records);
  const { store } = await openStore(config);
  try {
    const signer = createDkimSigner(store);
    const msg = Buffer.from(
      'From: Alice <alice@example.org>\r\nTo: bob@remote.test\r\nSubject: published\r\n' +
        'Date: Mon, 07 Dec 2026 02:00:00 +0000\r\nMessage-ID: <p1@example.org>\r\n\r\nSigned with both keys.\r\n',
    );
    const signed = Buffer.concat([Buffer.from(await signer.sign(msg)), msg]);
    const resolver = new DnsResolver({ servers: [dns.address], cacheSeconds: 0, timeoutMs: 1000, tries: 2 });
    const result = await authenticate(Readable.from([signed]), {
      ip: '192.0.2.7',
      helo: 'mail.example.org',
      sender: 'alice@example.org',
      mta: 'mx.remote.test',
      resolver: resolver.mailauthResolver() as unknown as DNSResolver,
      disableBimi: true,
    });
    assert.deepEqual((result.dkim.results ?? []).map((r) => [r.selector, r.status?.result]).sort(), [
      [`p${year}b-ed`, 'pass'],
      [`p${year}b-rsa`, 'pass'],
    ]);
    assert.equal(result.dmarc === false ? 'none' : result.dmarc.status?.result, 'pass');
  } finally {
    await store.close();
    await dns.close();
  }
});
