// Outbound transport security over real sockets: Postern's SMTP client, guided by
// transportPolicy(), against in-test SMTP servers that offer STARTTLS (node:tls) with chosen
// certificates, or no STARTTLS at all. MTA-STS policies come from an in-test HTTPS server
// (test CA) found through the loopback DNS server, which also serves DNSSEC-flagged TLSA
// records; TLS-RPT results go to a real SQLite store and come out as a daily report.
// What must hold (issue 12, "Policy"): an MTA-STS enforce policy with a certificate that does
// not match refuses (defers) delivery; a TLSA mismatch refuses; a matching DANE-EE record
// passes even with a self-signed certificate; a REQUIRETLS message is never sent in clear.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { startStartTlsServer, type StartTlsServer } from '../helpers/starttls-server.js';
import { createSelfSignedCert, createTestCa, type TestCa } from '../helpers/test-ca.js';
import { DnsResolver } from '../../src/dns/resolver.js';
import { daneFor } from '../../src/outbound/dane.js';
import { MtaStsPolicies } from '../../src/outbound/mta-sts.js';
import { SmtpClientConnection } from '../../src/outbound/smtp-client.js';
import { recordTlsSession, runDailyTlsReports } from '../../src/outbound/tls-rpt.js';
import {
  transportPolicy,
  type PolicyCheck,
  type TransportPolicy,
} from '../../src/outbound/transport-policy.js';
import { openFixture, type StoreFixture } from '../../src/store/sqlite/store-fixture.js';

const FAST = {
  greeting: 3000,
  ehlo: 3000,
  starttls: 3000,
  mail: 3000,
  rcpt: 3000,
  dataInit: 3000,
  dataBlock: 3000,
  dataFinal: 3000,
};

let root: TestCa;
let dns: DnsTestServer;
let https1: https.Server;
let fx: StoreFixture;
let resolver: DnsResolver;
let sts: MtaStsPolicies;
const servers: Record<string, StartTlsServer> = {};

const spkiSha256 = (pem: {
  x509: { publicKey: { export(o: { type: 'spki'; format: 'der' }): Buffer } };
}): string =>
  createHash('sha256')
    .update(pem.x509.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');

before(async () => {
  root = await createTestCa('Policy Test Root');
  const inter = await root.intermediate('Policy Test Intermediate');
  const policyCert = await root.issue(['mta-sts.sts.test', 'mta-sts.ststest.test']);
  const policies: Record<string, string> = {
    'mta-sts.sts.test':
      'version: STSv1\nmode: enforce\nmx: mx.sts.test\nmx: *.pool.sts.test\nmax_age: 86400\n',
    'mta-sts.ststest.test': 'version: STSv1\nmode: testing\nmx: mx.ststest.test\nmax_age: 86400\n',
  };
  https1 = https.createServer({ cert: policyCert.chain, key: policyCert.key }, (req, res) => {
    const text = policies[(req.headers.host ?? '').split(':')[0] ?? ''];
    if (text === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(text);
  });
  await new Promise<void>((resolve) => https1.listen(0, '127.0.0.1', resolve));

  const selfSigned = await createSelfSignedCert(['whatever.invalid']);
  const stranger = await createSelfSignedCert(['stranger.invalid']);
  const wrongName = await root.issue(['other.test']);
  const stsGood = await root.issue(['mx.sts.test', 'a.pool.sts.test']);
  const taLeaf = await inter.issue(['mx.dane-ta.test']);
  servers.wrongName = await startStartTlsServer({ tls: { cert: wrongName.chain, key: wrongName.key } });
  servers.stsGood = await startStartTlsServer({ tls: { cert: stsGood.chain, key: stsGood.key } });
  servers.selfSigned = await startStartTlsServer({ tls: { cert: selfSigned.cert, key: selfSigned.key } });
  servers.daneTa = await startStartTlsServer({ tls: { cert: taLeaf.chain + root.cert, key: taLeaf.key } });
  servers.plain = await startStartTlsServer({ tls: null });

  dns = await startDnsServer({
    '_mta-sts.sts.test': { TXT: ['v=STSv1; id=one;'] },
    'mta-sts.sts.test': { A: ['127.0.0.1'] },
    '_mta-sts.ststest.test': { TXT: ['v=STSv1; id=t1;'] },
    'mta-sts.ststest.test': { A: ['127.0.0.1'] },
    '_smtp._tls.sts.test': { TXT: ['v=TLSRPTv1; rua=mailto:tls-reports@sts.test,https://ignored.example/'] },
    '_smtp._tls.dane.test': { TXT: ['v=TLSRPTv1; rua=mailto:tls%2Dreports@dane.test'] },
    '_25._tcp.mx.dane-ok.dane.test': {
      TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: spkiSha256(selfSigned) }],
      ad: true,
    },
    '_25._tcp.mx.dane-bad.dane.test': {
      TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: spkiSha256(stranger) }],
      ad: true,
    },
    '_25._tcp.mx.dane-unsigned.dane.test': {
      TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: spkiSha256(stranger) }],
    },
    '_25._tcp.mx.dane-ta.test': {
      TLSA: [{ usage: 2, selector: 1, matchingType: 1, data: spkiSha256(root) }],
      ad: true,
    },
  });
  fx = await openFixture();
  resolver = new DnsResolver({ servers: [dns.address], cacheSeconds: 0, timeoutMs: 500, tries: 1 });
  sts = new MtaStsPolicies({
    resolver,
    store: fx.store,
    ca: [root.cert],
    httpsPort: (https1.address() as AddressInfo).port,
    fetchTimeoutMs: 2000,
  });
});

after(async () => {
  for (const s of Object.values(servers)) await s.close();
  https1.closeAllConnections();
  await new Promise<void>((resolve) => https1.close(() => resolve()));
  await dns.close();
  await fx.cleanup();
});

interface Attempt {
  policy: TransportPolicy;
  outcome: PolicyCheck;
  delivered: boolean;
}

/** What the queue worker does for one MX: decide, connect, check, record for TLS-RPT, send. */
async function attempt(
  domain: string,
  mxHost: string,
  server: StartTlsServer,
  opts: { requireTls?: boolean; tlsOptional?: boolean } = {},
): Promise<Attempt> {
  const requireTls = opts.requireTls ?? false;
  const policy = await transportPolicy(
    { domain, mxHost, port: 25, requireTls, tlsOptional: opts.tlsOptional ?? false },
    {
      dane: (host, port) => daneFor(host, port, { servers: [dns.address], timeoutMs: 500, tries: 1 }),
      mtaSts: sts,
    },
  );
  // Sessions of `TLS-Required: No` messages stay out of the TLS-RPT counts the last test checks.
  const record = async (outcome: PolicyCheck): Promise<void> => {
    if (opts.tlsOptional === true) return;
    await recordTlsSession(fx.store, policy.report, outcome, {
      sendingIp: '127.0.0.1',
      receivingIp: '127.0.0.1',
    });
  };
  if (policy.refuse !== null) {
    await record(policy.refuse);
    return { policy, outcome: policy.refuse, delivered: false };
  }
  let conn: SmtpClientConnection;
  try {
    conn = await SmtpClientConnection.open({
      host: mxHost,
      ip: '127.0.0.1',
      port: server.port,
      heloName: 'client.postern.test',
      tls: policy.tlsOptions({ ca: [root.cert] }),
      timeouts: FAST,
    });
  } catch (err) {
    const outcome = policy.classifyOpenError(err);
    assert.ok(outcome !== null && !outcome.ok, `an open failure about TLS: ${(err as Error).message}`);
    await record(outcome);
    return { policy, outcome, delivered: false };
  }
  try {
    const outcome = policy.check(conn.tls);
    await record(policy.reportCheck(conn.tls));
    if (!outcome.ok) return { policy, outcome, delivered: false };
    const body = Buffer.from('Subject: policy test\r\n\r\nhello\r\n');
    const out = await conn.send({
      mailFrom: 'sender@postern.test',
      recipients: [{ address: `rcpt@${domain}` }],
      body: () => body,
      size: body.length,
      bodyType: '7BIT',
      smtputf8: false,
      requireTls,
    });
    return { policy, outcome, delivered: out.every((o) => o.kind === 'accepted') };
  } finally {
    await conn.close();
  }
}

function failure(a: Attempt): { resultType: string; enhanced: string } {
  assert.ok(!a.outcome.ok, 'expected a refusal');
  return { resultType: a.outcome.resultType, enhanced: a.outcome.enhanced };
}

void describe('MTA-STS', () => {
  void test('enforce: a certificate that does not name the MX refuses delivery (deferred, nothing sent)', async () => {
    const before = servers.wrongName!.messages.length;
    const a = await attempt('sts.test', 'mx.sts.test', servers.wrongName!);
    assert.equal(a.policy.source, 'mta-sts');
    assert.equal(a.policy.tls, 'required');
    assert.equal(a.delivered, false);
    assert.deepEqual(failure(a), { resultType: 'certificate-host-mismatch', enhanced: '4.7.5' });
    assert.equal(!a.outcome.ok && a.outcome.code, 451, 'temporary: the queue defers');
    assert.equal(servers.wrongName!.messages.length, before);
    assert.ok(!servers.wrongName!.commands.some((c) => /^(TLS )?MAIL/.test(c)), 'no MAIL was sent');
  });

  void test('enforce: a matching, trusted certificate delivers over TLS; wildcard MX patterns match', async () => {
    const a = await attempt('sts.test', 'mx.sts.test', servers.stsGood!);
    assert.equal(a.outcome.ok, true);
    assert.equal(a.delivered, true);
    assert.equal(servers.stsGood!.messages.at(-1)?.tls, true);
    const w = await attempt('sts.test', 'a.pool.sts.test', servers.stsGood!);
    assert.equal(w.delivered, true);
  });

  void test('enforce: an MX the policy does not list is refused before connecting', async () => {
    const commands = servers.stsGood!.commands.length;
    const a = await attempt('sts.test', 'rogue.example.test', servers.stsGood!);
    assert.equal(a.delivered, false);
    assert.equal(failure(a).resultType, 'validation-failure');
    assert.equal(servers.stsGood!.commands.length, commands, 'no connection made');
  });

  void test('testing: the mismatch is reported, the message is delivered', async () => {
    const a = await attempt('ststest.test', 'mx.ststest.test', servers.wrongName!);
    assert.equal(a.policy.testing, true);
    assert.equal(a.policy.tls, 'opportunistic');
    assert.equal(a.delivered, true);
    const report = a.policy.reportCheck({
      ...emptyTls(),
      active: true,
      verifyError: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    assert.equal(!report.ok && report.resultType, 'certificate-host-mismatch');
  });
});

function emptyTls(): Parameters<TransportPolicy['check']>[0] {
  return {
    active: false,
    version: null,
    cipher: null,
    verified: false,
    verifyError: null,
    peerCertificate: null,
    peerChain: [],
  };
}

void describe('DANE', () => {
  void test('a DANE-EE SPKI SHA-256 record that matches passes with a self-signed certificate', async () => {
    const a = await attempt('dane.test', 'mx.dane-ok.dane.test', servers.selfSigned!);
    assert.equal(a.policy.source, 'dane');
    assert.equal(a.policy.tls, 'required');
    assert.equal(a.outcome.ok, true, JSON.stringify(a.outcome));
    assert.equal(a.delivered, true);
    assert.equal(servers.selfSigned!.messages.at(-1)?.tls, true);
  });

  void test('a TLSA mismatch refuses delivery', async () => {
    const before = servers.selfSigned!.messages.length;
    const a = await attempt('dane.test', 'mx.dane-bad.dane.test', servers.selfSigned!);
    assert.equal(a.delivered, false);
    assert.deepEqual(failure(a), { resultType: 'tlsa-invalid', enhanced: '4.7.5' });
    assert.equal(servers.selfSigned!.messages.length, before);
  });

  void test('DANE wins over MTA-STS; an unsigned TLSA answer is ignored', async () => {
    // Unsigned: no DANE, no MTA-STS policy for dane.test: opportunistic, delivered.
    const a = await attempt('dane.test', 'mx.dane-unsigned.dane.test', servers.selfSigned!);
    assert.equal(a.policy.source, 'opportunistic');
    assert.equal(a.delivered, true);
    // A usable TLSA record on an MX of an MTA-STS domain: DANE decides (self-signed passes).
    const b = await attempt('sts.test', 'mx.dane-ok.dane.test', servers.selfSigned!);
    assert.equal(b.policy.source, 'dane');
    assert.equal(b.delivered, true);
  });

  void test('DANE-TA: a chain to the published anchor that names the MX passes', async () => {
    const a = await attempt('ta.test', 'mx.dane-ta.test', servers.daneTa!);
    assert.equal(a.outcome.ok, true, JSON.stringify(a.outcome));
    assert.equal(a.delivered, true);
  });
});

void describe('REQUIRETLS', () => {
  void test('a server without STARTTLS is refused: never in clear', async () => {
    const a = await attempt('plain.test', 'mx.plain.test', servers.plain!, { requireTls: true });
    assert.equal(a.policy.tls, 'required');
    assert.equal(a.delivered, false);
    assert.deepEqual(failure(a), { resultType: 'starttls-not-supported', enhanced: '4.7.4' });
    assert.equal(servers.plain!.messages.length, 0);
    assert.ok(!servers.plain!.commands.some((c) => c.startsWith('MAIL')));
    // Without REQUIRETLS the same server gets the message in clear (opportunistic).
    const b = await attempt('plain.test', 'mx.plain.test', servers.plain!);
    assert.equal(b.delivered, true);
    assert.equal(servers.plain!.messages[0]?.tls, false);
  });

  void test('an unverified certificate is refused; a verified one delivers with REQUIRETLS', async () => {
    const a = await attempt('self.test', 'mx.self.test', servers.selfSigned!, { requireTls: true });
    assert.equal(a.delivered, false);
    assert.equal(failure(a).resultType, 'certificate-not-trusted');
    const b = await attempt('sts.test', 'mx.sts.test', servers.stsGood!, { requireTls: true });
    assert.equal(b.delivered, true);
    assert.ok(servers.stsGood!.commands.some((c) => /^TLS MAIL FROM:.* REQUIRETLS/.test(c)));
  });
});

void describe('TLS-RPT', () => {
  void test('the recorded sessions become a daily report for each domain with a rua', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86400_000).toISOString().slice(0, 10);
    const rows = await fx.store.listTlsResults({ day: today, policyDomain: 'sts.test' });
    assert.ok(rows.length > 0);
    const sent: { to: string[]; bytes: Buffer; policyDomain: string }[] = [];
    const result = await runDailyTlsReports({
      store: fx.store,
      resolver,
      submitter: 'mail.postern.test',
      organizationName: 'Postern Test',
      from: 'tls-reports@postern.test',
      today: tomorrow,
      deliver: async (m) => {
        sent.push(m);
      },
    });
    assert.deepEqual(result.failed, []);
    const forSts = sent.find((m) => m.policyDomain === 'sts.test');
    assert.ok(forSts !== undefined);
    assert.deepEqual(forSts.to, ['tls-reports@sts.test']);
    const dane = sent.find((m) => m.policyDomain === 'dane.test');
    assert.deepEqual(dane?.to, ['tls-reports@dane.test'], 'percent-decoded');
    assert.ok(result.noRecord.includes('plain.test'), 'no _smtp._tls record: nothing to send');
    const text = forSts.bytes.toString('utf8');
    assert.match(text, /^TLS-Report-Domain: sts\.test\r$/m);
    assert.match(text, /^TLS-Report-Submitter: mail\.postern\.test\r$/m);
    assert.match(
      text,
      /^Subject: Report Domain: sts\.test Submitter: mail\.postern\.test Report-ID: <[^>]+>\r$/m,
    );
    assert.match(text, /Content-Type: multipart\/report; report-type="tlsrpt"/);
    const attachment =
      /Content-Type: application\/tlsrpt\+gzip\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="mail\.postern\.test!sts\.test!(\d+)!(\d+)\.json\.gz"\r\n\r\n([A-Za-z0-9+/=\r\n]+)\r\n--/.exec(
        text,
      );
    assert.ok(attachment !== null, 'the gzip attachment');
    assert.equal(Number(attachment[1]), Date.parse(`${today}T00:00:00Z`) / 1000);
    const json = JSON.parse(
      gunzipSync(Buffer.from(attachment[3]!.replace(/\r\n/g, ''), 'base64')).toString('utf8'),
    ) as {
      'organization-name': string;
      'date-range': { 'start-datetime': string; 'end-datetime': string };
      'contact-info': string;
      'report-id': string;
      policies: {
        policy: {
          'policy-type': string;
          'policy-string'?: string[];
          'policy-domain': string;
          'mx-host'?: string[];
        };
        summary: { 'total-successful-session-count': number; 'total-failure-session-count': number };
        'failure-details'?: {
          'result-type': string;
          'receiving-mx-hostname': string;
          'failed-session-count': number;
        }[];
      }[];
    };
    assert.equal(json['organization-name'], 'Postern Test');
    assert.deepEqual(json['date-range'], {
      'start-datetime': `${today}T00:00:00Z`,
      'end-datetime': `${today}T23:59:59Z`,
    });
    assert.equal(json['contact-info'], 'tls-reports@postern.test');
    const stsPolicy = json.policies.find((p) => p.policy['policy-type'] === 'sts');
    assert.ok(stsPolicy !== undefined);
    assert.equal(stsPolicy.policy['policy-domain'], 'sts.test');
    assert.deepEqual(stsPolicy.policy['mx-host'], ['mx.sts.test', '*.pool.sts.test']);
    assert.ok(stsPolicy.policy['policy-string']?.includes('mode: enforce'));
    // enforce: mx.sts.test (good) and a.pool (good) and REQUIRETLS (good): 3; failures: the
    // mismatch and the rogue MX.
    assert.equal(stsPolicy.summary['total-successful-session-count'], 3);
    assert.equal(stsPolicy.summary['total-failure-session-count'], 2);
    const types = (stsPolicy['failure-details'] ?? []).map((d) => d['result-type']).sort();
    assert.deepEqual(types, ['certificate-host-mismatch', 'validation-failure']);
    const tlsa = json.policies.find((p) => p.policy['policy-type'] === 'tlsa');
    assert.equal(tlsa?.summary['total-successful-session-count'], 1, 'DANE decided one session of sts.test');
    // Reported counts are gone; a second run sends nothing.
    assert.deepEqual(await fx.store.listTlsResults({ day: today, policyDomain: 'sts.test' }), []);
    const again = await runDailyTlsReports({
      store: fx.store,
      resolver,
      submitter: 'mail.postern.test',
      organizationName: 'Postern Test',
      from: 'tls-reports@postern.test',
      today: tomorrow,
      deliver: async () => assert.fail('nothing left to report'),
    });
    assert.deepEqual(again.sent, []);
  });
});

void describe('TLS-Required: No (RFC 8689 §5)', () => {
  void test("the domain's MTA-STS and DANE policies are set aside, TLS still used; REQUIRETLS wins over it", async () => {
    const a = await attempt('sts.test', 'mx.sts.test', servers.wrongName!, { tlsOptional: true });
    assert.equal(a.policy.source, 'opportunistic');
    assert.equal(a.delivered, true, 'the enforce policy would refuse this certificate');
    assert.equal(servers.wrongName!.messages.at(-1)?.tls, true, 'TLS is still used when offered');
    const b = await attempt('dane.test', 'mx.dane-bad.dane.test', servers.selfSigned!, { tlsOptional: true });
    assert.equal(b.delivered, true, 'the TLSA mismatch would refuse it');
    const c = await attempt('plain.test', 'mx.plain.test', servers.plain!, {
      requireTls: true,
      tlsOptional: true,
    });
    assert.equal(c.policy.source, 'requiretls');
    assert.equal(c.delivered, false);
  });
});
