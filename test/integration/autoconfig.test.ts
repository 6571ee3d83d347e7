// Client autoconfiguration over real HTTP and HTTPS from the real server (issue 14): Thunderbird's
// config-v1.1.xml checked against its documented format and parsed by python3's xml.etree,
// Outlook's POX autodiscover parsed with its namespaces as Outlook reads it, the JSON v2
// redirect and its error shape, Apple's .mobileconfig (downloaded after logging in to the user's
// page) parsed by python3's plistlib; the answers
// follow the listeners that are open; malformed, oversized and slow requests are refused while
// the server keeps serving.
// No XSD validator exists in python3's standard library and lxml is not installed, so the
// Thunderbird format is checked in code (checkThunderbirdFormat) instead of by a schema.

import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { OUTLOOK_RESPONSE_SCHEMA, POX_RESPONSE_NS } from '../../src/admin/outlook-autodiscover.js';
import {
  ACCOUNT_PASSWORD,
  startAutoconfigServer,
  type AutoconfigServer,
} from '../helpers/autoconfig-server.js';
import { downloadProfile } from '../helpers/web-client.js';
import { runPython } from '../helpers/python.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(
  port: number,
  path: string,
  opts: { method?: string; body?: string | Buffer; headers?: Record<string, string>; tls?: boolean } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {
      host: '127.0.0.1',
      port,
      path,
      method: opts.method ?? 'GET',
      headers: opts.headers,
      // The server's generated self-signed certificate.
      rejectUnauthorized: false,
      agent: false,
    };
    const req = (opts.tls === true ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An XML element as python3's xml.etree.ElementTree sees it ({namespace}local tags). */
interface XNode {
  tag: string;
  attrib: Record<string, string>;
  text: string;
  children: XNode[];
}

const DUMP_XML = `
import sys, json, xml.etree.ElementTree as ET
def dump(e):
    return {'tag': e.tag, 'attrib': dict(e.attrib), 'text': (e.text or '').strip(), 'children': [dump(c) for c in e]}
print(json.dumps(dump(ET.fromstring(sys.stdin.buffer.read()))))
`;

async function parseXml(body: Buffer): Promise<XNode> {
  return JSON.parse(await runPython(DUMP_XML, body)) as XNode;
}

function child(node: XNode, tag: string): XNode {
  const found = node.children.filter((c) => c.tag === tag);
  assert.equal(found.length, 1, `one <${tag}> in <${node.tag}>`);
  return found[0];
}

function childText(node: XNode, tag: string): string {
  return child(node, tag).text;
}

/**
 * Thunderbird's documented config file format (Mozilla's "Autoconfiguration: ConfigFileFormat"
 * and its reader, readFromXML): clientConfig version 1.1 > one emailProvider with an id, whose
 * children come in the order domain+, displayName?, displayShortName?, incomingServer+,
 * outgoingServer+; each server carries hostname, port, socketType, username, authentication
 * (in the documented example's order), type imap|pop3 incoming and smtp outgoing, socketType one
 * of plain|SSL|STARTTLS, a port in 1..65535, and a known authentication method.
 */
function checkThunderbirdFormat(doc: XNode): void {
  assert.equal(doc.tag, 'clientConfig');
  assert.equal(doc.attrib.version, '1.1');
  assert.equal(doc.children.length, 1);
  const provider = doc.children[0];
  assert.equal(provider.tag, 'emailProvider');
  assert.ok((provider.attrib.id ?? '') !== '', 'emailProvider has an id');
  const rank: Record<string, number> = {
    domain: 0,
    displayName: 1,
    displayShortName: 2,
    incomingServer: 3,
    outgoingServer: 4,
  };
  let last = -1;
  for (const c of provider.children) {
    const r = rank[c.tag];
    assert.ok(r !== undefined, `known emailProvider child <${c.tag}>`);
    assert.ok(r >= last, `<${c.tag}> in the documented order`);
    last = r;
  }
  const count = (tag: string): number => provider.children.filter((c) => c.tag === tag).length;
  assert.ok(count('domain') >= 1 && count('incomingServer') >= 1 && count('outgoingServer') >= 1);
  assert.ok(count('displayName') <= 1 && count('displayShortName') <= 1);
  const methods = [
    'password-cleartext',
    'password-encrypted',
    'NTLM',
    'GSSAPI',
    'client-IP-address',
    'TLS-client-cert',
    'OAuth2',
    'none',
  ];
  for (const server of provider.children.filter((c) => c.tag.endsWith('Server'))) {
    const types = server.tag === 'incomingServer' ? ['imap', 'pop3'] : ['smtp'];
    assert.ok(types.includes(server.attrib.type ?? ''), `${server.tag} type ${server.attrib.type}`);
    assert.deepEqual(
      server.children.map((c) => c.tag),
      ['hostname', 'port', 'socketType', 'username', 'authentication'],
    );
    assert.match(childText(server, 'hostname'), /^[a-z0-9.-]+$/);
    const port = Number(childText(server, 'port'));
    assert.ok(Number.isInteger(port) && port >= 1 && port <= 65535, `port ${port}`);
    assert.ok(['plain', 'SSL', 'STARTTLS'].includes(childText(server, 'socketType')));
    assert.ok(methods.includes(childText(server, 'authentication')));
    assert.notEqual(childText(server, 'username'), '');
  }
}

interface ServerSummary {
  type: string;
  hostname: string;
  port: number;
  socketType: string;
  username: string;
  authentication: string;
}

function servers(doc: XNode, tag: 'incomingServer' | 'outgoingServer'): ServerSummary[] {
  return doc.children[0].children
    .filter((c) => c.tag === tag)
    .map((s) => ({
      type: s.attrib.type,
      hostname: childText(s, 'hostname'),
      port: Number(childText(s, 'port')),
      socketType: childText(s, 'socketType'),
      username: childText(s, 'username'),
      authentication: childText(s, 'authentication'),
    }));
}

const RESP = `{${POX_RESPONSE_NS}}`;
const OUTLOOK = `{${OUTLOOK_RESPONSE_SCHEMA}}`;

function poxRequest(address: string, schema = OUTLOOK_RESPONSE_SCHEMA): string {
  const escaped = address.replaceAll('&', '&amp;').replaceAll("'", '&apos;');
  return (
    '<?xml version="1.0" encoding="utf-8"?>\r\n' +
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">' +
    `<Request><EMailAddress>${escaped}</EMailAddress>` +
    `<AcceptableResponseSchema>${schema}</AcceptableResponseSchema></Request></Autodiscover>`
  );
}

interface PoxProtocol {
  Type: string;
  Server: string;
  Port: number;
  LoginName: string;
  SSL: string;
  Encryption: string;
  SPA: string;
  DomainRequired: string;
  AuthRequired: string;
}

/** The account settings as Outlook reads them: Autodiscover/Response(2006a)/Account by namespace. */
function poxAccount(doc: XNode): { accountType: string; action: string; protocols: PoxProtocol[] } {
  assert.equal(doc.tag, `${RESP}Autodiscover`);
  const response = child(doc, `${OUTLOOK}Response`);
  const account = child(response, `${OUTLOOK}Account`);
  const protocols = account.children
    .filter((c) => c.tag === `${OUTLOOK}Protocol`)
    .map((p) => {
      const get = (name: string): string => childText(p, `${OUTLOOK}${name}`);
      return {
        Type: get('Type'),
        Server: get('Server'),
        Port: Number(get('Port')),
        LoginName: get('LoginName'),
        SSL: get('SSL'),
        Encryption: get('Encryption'),
        SPA: get('SPA'),
        DomainRequired: get('DomainRequired'),
        AuthRequired: get('AuthRequired'),
      };
    });
  return {
    accountType: childText(account, `${OUTLOOK}AccountType`),
    action: childText(account, `${OUTLOOK}Action`),
    protocols,
  };
}

function poxErrorCode(doc: XNode): string {
  const response = child(doc, `${RESP}Response`);
  return childText(child(response, `${RESP}Error`), `${RESP}ErrorCode`);
}

const PLIST_JSON = `
import sys, json, plistlib
p = plistlib.loads(sys.stdin.buffer.read(), fmt=plistlib.FMT_XML)
print(json.dumps(p))
`;

type Plist = Record<string, unknown> & { PayloadContent: Array<Record<string, unknown>> };

async function parsePlist(body: Buffer): Promise<Plist> {
  return JSON.parse(await runPython(PLIST_JSON, body)) as Plist;
}

const UUID = /^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/;
/** An address with characters XML must escape (RFC 5322 atext allows & and '). */
const ODD = "o'brien&co@example.test";

void describe('every listener open (implicit TLS preferred)', () => {
  let s: AutoconfigServer;
  before(async () => {
    s = await startAutoconfigServer({
      listeners: ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http', 'https'],
      domains: ['example.test', 'other.test'],
      accounts: [ODD, 'b@example.test'],
    });
  });
  after(async () => s.stop());

  void test('Thunderbird: config-v1.1.xml in the documented format, IMAP then POP3, implicit TLS', async () => {
    const r = await request(s.port('http'), `/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(ODD)}`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/xml/);
    const doc = await parseXml(r.body);
    checkThunderbirdFormat(doc);
    const provider = doc.children[0];
    assert.equal(provider.attrib.id, 'example.test');
    assert.deepEqual(
      provider.children.filter((c) => c.tag === 'domain').map((c) => c.text),
      ['example.test'],
      'only the requested domain',
    );
    assert.deepEqual(servers(doc, 'incomingServer'), [
      {
        type: 'imap',
        hostname: 'mail.example.test',
        port: s.port('imaps'),
        socketType: 'SSL',
        username: '%EMAILADDRESS%',
        authentication: 'password-cleartext',
      },
      {
        type: 'pop3',
        hostname: 'mail.example.test',
        port: s.port('pop3s'),
        socketType: 'SSL',
        username: '%EMAILADDRESS%',
        authentication: 'password-cleartext',
      },
    ]);
    assert.deepEqual(servers(doc, 'outgoingServer'), [
      {
        type: 'smtp',
        hostname: 'mail.example.test',
        port: s.port('submissions'),
        socketType: 'SSL',
        username: '%EMAILADDRESS%',
        authentication: 'password-cleartext',
      },
    ]);
    assert.ok(!r.body.toString().includes('brien'), 'the address is not written into the file');
  });

  void test('Thunderbird: the .well-known path, by address or by Host; never the list of hosted domains', async () => {
    const byAddress = await request(
      s.port('http'),
      '/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=someone%40other.test',
    );
    assert.equal(byAddress.status, 200);
    const a = await parseXml(byAddress.body);
    checkThunderbirdFormat(a);
    assert.equal(a.children[0].attrib.id, 'other.test');

    const byHost = await request(s.port('http'), '/.well-known/autoconfig/mail/config-v1.1.xml', {
      headers: { Host: 'autoconfig.other.test' },
    });
    assert.equal(byHost.status, 200);
    const h = await parseXml(byHost.body);
    assert.equal(h.children[0].attrib.id, 'other.test');
    assert.deepEqual(
      h.children[0].children.filter((c) => c.tag === 'domain').map((c) => c.text),
      ['other.test'],
    );

    // Neither an address nor a hosted Host: 404, and no hosted domain is named.
    const all = await request(s.port('http'), '/.well-known/autoconfig/mail/config-v1.1.xml');
    assert.equal(all.status, 404);
    assert.ok(!all.body.toString().includes('other.test'));
  });

  void test('Thunderbird: unknown domain 404, malformed address 400, wrong method 405', async () => {
    const unknown = await request(s.port('http'), '/mail/config-v1.1.xml?emailaddress=a%40elsewhere.test');
    assert.equal(unknown.status, 404);
    for (const bad of ['', 'no-at-sign', '%3Cscript%3E%40example.test', 'a%40-bad-.test']) {
      const r = await request(s.port('http'), `/mail/config-v1.1.xml?emailaddress=${bad}`);
      assert.equal(r.status, 400, bad);
      assert.ok(!r.body.toString().includes('<script>'), 'nothing reflected');
    }
    const post = await request(s.port('http'), '/mail/config-v1.1.xml', { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  void test('https serves the same routes over TLS', async () => {
    const plain = await request(s.port('http'), '/mail/config-v1.1.xml?emailaddress=u%40example.test');
    const secure = await request(s.port('https'), '/mail/config-v1.1.xml?emailaddress=u%40example.test', {
      tls: true,
    });
    assert.equal(secure.status, 200);
    assert.equal(secure.body.toString(), plain.body.toString());
    const health = await request(s.port('https'), '/healthz', { tls: true });
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body.toString()), { status: 'ok' });
    // Not TLS on the https port: the handshake fails, nothing is served in clear.
    await assert.rejects(request(s.port('https'), '/healthz'));
  });

  void test('Outlook POX: Account email/settings, IMAP, POP3, SMTP read by namespace; the address escaped', async () => {
    for (const path of [
      '/autodiscover/autodiscover.xml',
      '/Autodiscover/Autodiscover.xml',
      '/AutoDiscover/AutoDiscover.xml',
    ]) {
      const r = await request(s.port('https'), path, {
        method: 'POST',
        tls: true,
        body: poxRequest(ODD),
        headers: { 'Content-Type': 'text/xml' },
      });
      assert.equal(r.status, 200, path);
      assert.match(String(r.headers['content-type']), /^text\/xml/);
      assert.ok(r.body.toString().includes('o&apos;brien&amp;co@example.test'), 'escaped in the XML');
      const account = poxAccount(await parseXml(r.body));
      assert.equal(account.accountType, 'email');
      assert.equal(account.action, 'settings');
      const common = {
        Server: 'mail.example.test',
        LoginName: ODD,
        SPA: 'off',
        DomainRequired: 'off',
        AuthRequired: 'on',
      };
      assert.deepEqual(account.protocols, [
        { Type: 'IMAP', Port: s.port('imaps'), SSL: 'on', Encryption: 'SSL', ...common },
        { Type: 'POP3', Port: s.port('pop3s'), SSL: 'on', Encryption: 'SSL', ...common },
        { Type: 'SMTP', Port: s.port('submissions'), SSL: 'on', Encryption: 'SSL', ...common },
      ]);
    }
  });

  void test('Outlook POX: unknown domain 500, other schema 601, malformed 600', async () => {
    const post = (body: string | Buffer): Promise<Reply> =>
      request(s.port('http'), '/autodiscover/autodiscover.xml', { method: 'POST', body });
    const unknown = await post(poxRequest('a@elsewhere.test'));
    assert.equal(unknown.status, 404);
    assert.equal(poxErrorCode(await parseXml(unknown.body)), '500');
    const mobile = await post(
      poxRequest(
        'a@example.test',
        'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006',
      ),
    );
    assert.equal(mobile.status, 200);
    assert.equal(poxErrorCode(await parseXml(mobile.body)), '601');
    const malformed = [
      'not xml at all',
      '<Autodiscover><Request><EMailAddress>a@example.test</Request></Autodiscover>',
      '<Autodiscover><Request></Request></Autodiscover>',
      '<Other><Request><EMailAddress>a@example.test</EMailAddress></Request></Other>',
      '<!DOCTYPE a [<!ENTITY x "a@example.test">]><Autodiscover><Request><EMailAddress>&x;</EMailAddress></Request></Autodiscover>',
      `${'<a>'.repeat(40)}`,
      '<Autodiscover><Request><EMailAddress>&quot;&gt;&lt;x@example.test</EMailAddress></Request></Autodiscover>',
      Buffer.from([0x3c, 0x41, 0xff, 0xfe, 0x3e]),
    ];
    for (const body of malformed) {
      const r = await post(body);
      assert.equal(r.status, 400, String(body));
      assert.equal(poxErrorCode(await parseXml(r.body)), '600');
      assert.ok(!r.body.toString().includes('<x@'), 'nothing reflected');
    }
    // Outlook's HTTP redirect method: a GET over http is sent to the https URL; over https, 405.
    const get = await request(s.port('http'), '/Autodiscover/Autodiscover.xml');
    assert.equal(get.status, 302);
    assert.equal(
      get.headers.location,
      `https://mail.example.test:${s.port('https')}/Autodiscover/Autodiscover.xml`,
    );
    const secureGet = await request(s.port('https'), '/autodiscover/autodiscover.xml', { tls: true });
    assert.equal(secureGet.status, 405);
    assert.equal(secureGet.headers.allow, 'POST');
  });

  void test('Outlook POX: an oversized body is refused before it is read, a slow one times out; the server keeps serving', async () => {
    // Declared too large: 413 without reading the body, and the connection closes.
    const declared = await rawExchange(
      s.port('http'),
      'POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n<Autodiscover>',
    );
    assert.match(declared.text, /^HTTP\/1\.1 413 /);
    assert.ok(declared.closedByServer, 'the connection is closed');
    // Chunked, growing past the bound.
    const chunk = 'x'.repeat(4096);
    const chunked =
      'POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
      `${(4096).toString(16)}\r\n${chunk}\r\n`.repeat(6);
    const big = await rawExchange(s.port('http'), chunked);
    assert.match(big.text, /^HTTP\/1\.1 413 /);
    // A body that stops coming: 408 after the body timeout (10 s). Meanwhile other clients are
    // served: a probe every second must answer (bound generous for this shared, loaded machine).
    const started = Date.now();
    const slowP = rawExchange(
      s.port('http'),
      'POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n<Autodiscover>',
    );
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const t0 = Date.now();
      const probe = await request(s.port('http'), '/healthz');
      assert.equal(probe.status, 200);
      assert.ok(Date.now() - t0 < 1000, `probe ${i} answered in ${Date.now() - t0} ms`);
    }
    const slow = await slowP;
    assert.match(slow.text, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started >= 9_000, 'not before the timeout');
    // Still serving.
    const ok = await request(s.port('http'), '/autodiscover/autodiscover.xml', {
      method: 'POST',
      body: poxRequest('a@example.test'),
    });
    assert.equal(ok.status, 200);
  });

  void test('Outlook JSON v2: AutodiscoverV1 redirects to the POX service on https; other protocols 404', async () => {
    const url = `https://mail.example.test:${s.port('https')}/Autodiscover/Autodiscover.xml`;
    for (const path of [
      '/autodiscover/autodiscover.json?Email=a%40example.test&Protocol=AutodiscoverV1&RedirectCount=1',
      '/autodiscover/autodiscover.json?Email=a%40example.test&Protocol=Autodiscoverv1',
      '/autodiscover/autodiscover.json/v1.0/a%40example.test?Protocol=AutodiscoverV1',
    ]) {
      const r = await request(s.port('https'), path, { tls: true });
      assert.equal(r.status, 200, path);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      assert.deepEqual(JSON.parse(r.body.toString()), { Protocol: 'AutodiscoverV1', Url: url });
    }
    const activeSync = await request(
      s.port('http'),
      '/autodiscover/autodiscover.json?Email=a%40example.test&Protocol=ActiveSync',
    );
    assert.equal(activeSync.status, 404);
    const err = JSON.parse(activeSync.body.toString()) as Record<string, string>;
    assert.deepEqual(Object.keys(err).sort(), ['ErrorCode', 'ErrorMessage']);
    assert.equal(err.ErrorCode, 'InvalidProtocol');
    assert.match(err.ErrorMessage, /AutodiscoverV1/);
    const missing = await request(s.port('http'), '/autodiscover/autodiscover.json?Email=a%40example.test');
    assert.equal(missing.status, 400);
    const unknown = await request(
      s.port('http'),
      '/autodiscover/autodiscover.json?Email=a%40elsewhere.test&Protocol=AutodiscoverV1',
    );
    assert.equal(unknown.status, 404);
    assert.equal((JSON.parse(unknown.body.toString()) as Record<string, string>).ErrorCode, 'InvalidUser');
  });

  void test('Apple .mobileconfig (behind the login): plistlib reads a Configuration with one IMAP mail payload and no password', async () => {
    const profile = (address: string) =>
      downloadProfile({ port: s.port('http'), address, password: ACCOUNT_PASSWORD });
    const r = await profile(ODD);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/x-apple-aspen-config');
    assert.equal(r.headers['content-disposition'], 'attachment; filename="example.test.mobileconfig"');
    const p = await parsePlist(r.body);
    assert.equal(p.PayloadType, 'Configuration');
    assert.equal(p.PayloadVersion, 1);
    assert.match(String(p.PayloadUUID), UUID);
    assert.equal(p.PayloadRemovalDisallowed, false);
    assert.equal(p.PayloadContent.length, 1);
    const mail = p.PayloadContent[0];
    assert.equal(mail.PayloadType, 'com.apple.mail.managed');
    assert.equal(mail.PayloadVersion, 1);
    assert.match(String(mail.PayloadUUID), UUID);
    assert.ok(String(mail.PayloadIdentifier).startsWith(`${String(p.PayloadIdentifier)}.`));
    assert.equal(mail.EmailAccountType, 'EmailTypeIMAP');
    assert.equal(mail.EmailAddress, ODD);
    assert.equal(mail.IncomingMailServerHostName, 'mail.example.test');
    assert.equal(mail.IncomingMailServerPortNumber, s.port('imaps'));
    assert.equal(mail.IncomingMailServerUseSSL, true);
    assert.equal(mail.IncomingMailServerUsername, ODD);
    assert.equal(mail.IncomingMailServerAuthentication, 'EmailAuthPassword');
    assert.equal(mail.OutgoingMailServerHostName, 'mail.example.test');
    assert.equal(mail.OutgoingMailServerPortNumber, s.port('submissions'));
    assert.equal(mail.OutgoingMailServerUseSSL, true);
    assert.equal(mail.OutgoingMailServerUsername, ODD);
    assert.equal(mail.OutgoingPasswordSameAsIncomingPassword, true);
    assert.ok(!('IncomingPassword' in mail) && !('OutgoingPassword' in mail), 'no password');
    // Stable per user, different between users.
    const again = await parsePlist((await profile(ODD)).body);
    assert.equal(again.PayloadUUID, p.PayloadUUID);
    assert.equal(again.PayloadContent[0].PayloadUUID, mail.PayloadUUID);
    assert.equal(again.PayloadIdentifier, p.PayloadIdentifier);
    const other = await parsePlist((await profile('b@example.test')).body);
    assert.notEqual(other.PayloadUUID, p.PayloadUUID);
    assert.notEqual(other.PayloadContent[0].PayloadUUID, mail.PayloadUUID);
    // The old unauthenticated address (it named any address) now leads to the login.
    const old = await request(s.port('http'), `/mobileconfig?emailaddress=${encodeURIComponent(ODD)}`);
    assert.equal(old.status, 303);
    assert.equal(old.headers.location, '/account/setup');
    assert.equal(old.headers['content-type'], undefined);
  });
});

void describe('STARTTLS listeners only (no imaps, pop3s, submissions, https)', () => {
  let s: AutoconfigServer;
  before(async () => {
    s = await startAutoconfigServer({
      listeners: ['submission', 'imap', 'pop3', 'http'],
      domains: ['example.test'],
      accounts: ['u@example.test'],
    });
  });
  after(async () => s.stop());

  void test('every format offers STARTTLS on the plain ports', async () => {
    const tb = await parseXml(
      (await request(s.port('http'), '/mail/config-v1.1.xml?emailaddress=u%40example.test')).body,
    );
    checkThunderbirdFormat(tb);
    assert.deepEqual(
      servers(tb, 'incomingServer').map((x) => [x.type, x.port, x.socketType]),
      [
        ['imap', s.port('imap'), 'STARTTLS'],
        ['pop3', s.port('pop3'), 'STARTTLS'],
      ],
    );
    assert.deepEqual(
      servers(tb, 'outgoingServer').map((x) => [x.type, x.port, x.socketType]),
      [['smtp', s.port('submission'), 'STARTTLS']],
    );

    const pox = poxAccount(
      await parseXml(
        (
          await request(s.port('http'), '/autodiscover/autodiscover.xml', {
            method: 'POST',
            body: poxRequest('u@example.test'),
          })
        ).body,
      ),
    );
    assert.deepEqual(
      pox.protocols.map((x) => [x.Type, x.Port, x.SSL, x.Encryption]),
      [
        ['IMAP', s.port('imap'), 'off', 'TLS'],
        ['POP3', s.port('pop3'), 'off', 'TLS'],
        ['SMTP', s.port('submission'), 'off', 'TLS'],
      ],
    );

    const profile = await parsePlist(
      (await downloadProfile({ port: s.port('http'), address: 'u@example.test', password: ACCOUNT_PASSWORD }))
        .body,
    );
    assert.equal(profile.PayloadContent[0].IncomingMailServerPortNumber, s.port('imap'));
    assert.equal(profile.PayloadContent[0].OutgoingMailServerPortNumber, s.port('submission'));

    // No https listener: no redirect to it.
    assert.equal((await request(s.port('http'), '/autodiscover/autodiscover.xml')).status, 405);
    const json = await request(
      s.port('http'),
      '/autodiscover/autodiscover.json?Email=u%40example.test&Protocol=AutodiscoverV1',
    );
    assert.deepEqual(JSON.parse(json.body.toString()), {
      Protocol: 'AutodiscoverV1',
      Url: 'https://mail.example.test/Autodiscover/Autodiscover.xml',
    });
  });
});

void describe('no POP3 at all, IMAP over implicit TLS', () => {
  let s: AutoconfigServer;
  before(async () => {
    s = await startAutoconfigServer({
      listeners: ['submissions', 'imaps', 'http'],
      domains: ['example.test'],
      hostname: 'imap.example.test',
    });
  });
  after(async () => s.stop());

  void test('one incoming server: IMAP; the configured host name', async () => {
    const tb = await parseXml(
      (await request(s.port('http'), '/mail/config-v1.1.xml?emailaddress=u%40example.test')).body,
    );
    checkThunderbirdFormat(tb);
    assert.deepEqual(
      servers(tb, 'incomingServer').map((x) => [x.type, x.hostname, x.port, x.socketType]),
      [['imap', 'imap.example.test', s.port('imaps'), 'SSL']],
    );
    const pox = poxAccount(
      await parseXml(
        (
          await request(s.port('http'), '/autodiscover/autodiscover.xml', {
            method: 'POST',
            body: poxRequest('u@example.test'),
          })
        ).body,
      ),
    );
    assert.deepEqual(
      pox.protocols.map((x) => x.Type),
      ['IMAP', 'SMTP'],
    );
  });
});

void describe('no client listener', () => {
  let s: AutoconfigServer;
  before(async () => {
    s = await startAutoconfigServer({
      listeners: ['smtp', 'http'],
      domains: ['example.test'],
      accounts: ['u@example.test'],
    });
  });
  after(async () => s.stop());

  void test('nothing to offer: 404 rather than a file without servers (port 25 is never offered)', async () => {
    assert.equal(
      (await request(s.port('http'), '/mail/config-v1.1.xml?emailaddress=u%40example.test')).status,
      404,
    );
    const profile = await downloadProfile({
      port: s.port('http'),
      address: 'u@example.test',
      password: ACCOUNT_PASSWORD,
    });
    assert.equal(profile.status, 409);
    const pox = await request(s.port('http'), '/autodiscover/autodiscover.xml', {
      method: 'POST',
      body: poxRequest('u@example.test'),
    });
    assert.equal(pox.status, 404);
  });
});

/** Writes raw bytes, collects the answer until the server closes or 12 s pass. */
function rawExchange(port: number, data: string): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedByServer: false });
    }, 12_000);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', (err) => {
      // A reset after the answer still counts as closed by the server.
      if (text !== '') return;
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedByServer: true });
    });
    socket.write(data);
  });
}
