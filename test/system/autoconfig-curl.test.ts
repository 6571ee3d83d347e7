// Autoconfiguration fetched with Debian's curl as mail clients fetch it: Thunderbird's file from
// autoconfig.<domain> over http and from the mail host over https, Outlook's JSON v2 lookup and
// then a POST to the URL it names, Apple's profile downloaded as a file. Over https curl checks
// the server's (generated, self-signed) certificate against that certificate, for the
// configured host name: nothing is fetched with verification turned off. The Apple profile is
// behind the user's login: curl logs in (a cookie jar) and posts the setup page's form.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  ACCOUNT_PASSWORD,
  startAutoconfigServer,
  type AutoconfigServer,
} from '../helpers/autoconfig-server.js';
import { runPython } from '../helpers/python.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function curl(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile('curl', ['-sS', ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

let s: AutoconfigServer;
let work: string;
let tlsArgs: string[];
let httpsBase: string;

before(async () => {
  s = await startAutoconfigServer({
    listeners: ['submissions', 'imaps', 'pop3', 'http', 'https'],
    domains: ['example.test'],
    accounts: ['user@example.test'],
  });
  work = await mkdtemp(path.join(os.tmpdir(), 'postern-autoconfig-curl-'));
  const https = s.port('https');
  // The certificate names mail.example.test (the configured hostname): resolve it to loopback.
  tlsArgs = [
    '--cacert',
    path.join(s.dataDir, 'tls', 'cert.pem'),
    '--resolve',
    `${s.hostname}:${https}:127.0.0.1`,
  ];
  httpsBase = `https://${s.hostname}:${https}`;
});

after(async () => {
  await s.stop();
  await rm(work, { recursive: true, force: true });
});

const XML_SUMMARY = `
import sys, json, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
p = root.find('emailProvider')
servers = [[s.tag, s.get('type'), s.findtext('hostname'), int(s.findtext('port')), s.findtext('socketType')]
           for s in p if s.tag.endswith('Server')]
print(json.dumps({'version': root.get('version'), 'id': p.get('id'),
                  'domains': [d.text for d in p.findall('domain')], 'servers': servers}))
`;

void test('Thunderbird: autoconfig.<domain> over http, and the well-known path on the mail host over https', async () => {
  const http = s.port('http');
  const viaAutoconfigHost = await curl([
    '--fail',
    '--resolve',
    `autoconfig.example.test:${http}:127.0.0.1`,
    `http://autoconfig.example.test:${http}/mail/config-v1.1.xml?emailaddress=user%40example.test`,
  ]);
  assert.equal(viaAutoconfigHost.code, 0, viaAutoconfigHost.stderr);
  const viaWellKnown = await curl([
    '--fail',
    ...tlsArgs,
    `${httpsBase}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=user%40example.test`,
  ]);
  assert.equal(viaWellKnown.code, 0, viaWellKnown.stderr);
  assert.equal(viaWellKnown.stdout, viaAutoconfigHost.stdout);
  const summary = JSON.parse(await runPython(XML_SUMMARY, viaWellKnown.stdout)) as Record<string, unknown>;
  assert.deepEqual(summary, {
    version: '1.1',
    id: 'example.test',
    domains: ['example.test'],
    servers: [
      ['incomingServer', 'imap', 'mail.example.test', s.port('imaps'), 'SSL'],
      ['incomingServer', 'pop3', 'mail.example.test', s.port('pop3'), 'STARTTLS'],
      ['outgoingServer', 'smtp', 'mail.example.test', s.port('submissions'), 'SSL'],
    ],
  });
  // No Host naming a hosted domain and an unknown address: 404, which --fail turns into exit 22.
  const unknown = await curl([
    '--fail',
    ...tlsArgs,
    `${httpsBase}/mail/config-v1.1.xml?emailaddress=user%40elsewhere.test`,
  ]);
  assert.equal(unknown.code, 22);
});

const POX_SUMMARY = `
import sys, json, xml.etree.ElementTree as ET
ns = {'r': 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006',
      'a': 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'}
root = ET.fromstring(sys.stdin.buffer.read())
account = root.find('a:Response/a:Account', ns)
print(json.dumps({'type': account.findtext('a:AccountType', namespaces=ns),
                  'action': account.findtext('a:Action', namespaces=ns),
                  'protocols': [[p.findtext('a:Type', namespaces=ns), int(p.findtext('a:Port', namespaces=ns)),
                                 p.findtext('a:SSL', namespaces=ns), p.findtext('a:Encryption', namespaces=ns),
                                 p.findtext('a:LoginName', namespaces=ns)]
                                for p in account.findall('a:Protocol', ns)]}))
`;

void test('Outlook: the JSON v2 lookup names the POX URL; a POST there answers the settings', async () => {
  const lookup = await curl([
    '--fail',
    ...tlsArgs,
    `${httpsBase}/autodiscover/autodiscover.json?Email=user%40example.test&Protocol=AutodiscoverV1&RedirectCount=1`,
  ]);
  assert.equal(lookup.code, 0, lookup.stderr);
  const { Protocol, Url } = JSON.parse(lookup.stdout) as { Protocol: string; Url: string };
  assert.equal(Protocol, 'AutodiscoverV1');
  assert.equal(Url, `${httpsBase}/Autodiscover/Autodiscover.xml`);
  const request =
    '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">' +
    '<Request><EMailAddress>user@example.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>';
  const pox = await curl(
    ['--fail', ...tlsArgs, '-H', 'Content-Type: text/xml', '--data-binary', '@-', Url],
    request,
  );
  assert.equal(pox.code, 0, pox.stderr);
  assert.deepEqual(JSON.parse(await runPython(POX_SUMMARY, pox.stdout)), {
    type: 'email',
    action: 'settings',
    protocols: [
      ['IMAP', s.port('imaps'), 'on', 'SSL', 'user@example.test'],
      ['POP3', s.port('pop3'), 'off', 'TLS', 'user@example.test'],
      ['SMTP', s.port('submissions'), 'on', 'SSL', 'user@example.test'],
    ],
  });
  const other = await curl([
    ...tlsArgs,
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    `${httpsBase}/autodiscover/autodiscover.json?Email=user%40example.test&Protocol=ActiveSync`,
  ]);
  assert.equal(other.stdout, '404');
});

void test('Apple: after logging in, the profile downloads under its own file name and plistlib reads it', async () => {
  const jar = path.join(work, '..', `${path.basename(work)}-cookies.txt`);
  const login = await curl([
    ...tlsArgs,
    '-c',
    jar,
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '--data-urlencode',
    'address=user@example.test',
    '--data-urlencode',
    `password=${ACCOUNT_PASSWORD}`,
    `${httpsBase}/login`,
  ]);
  assert.equal(login.stdout, '303', login.stderr);
  const setup = await curl(['--fail', ...tlsArgs, '-b', jar, `${httpsBase}/account/setup`]);
  assert.equal(setup.code, 0, setup.stderr);
  const csrf = /name="csrf" value="([^"]+)"/.exec(setup.stdout)?.[1];
  assert.ok(csrf !== undefined, 'the setup page carries a CSRF token');
  const run = await curl([
    '--fail',
    ...tlsArgs,
    '-b',
    jar,
    '--data-urlencode',
    `csrf=${csrf}`,
    '--output-dir',
    work,
    '-O',
    '-J',
    `${httpsBase}/account/mobileconfig`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  await rm(jar, { force: true });
  assert.deepEqual(
    await readdir(work),
    ['example.test.mobileconfig'],
    'saved under the Content-Disposition name',
  );
  const body = await readFile(path.join(work, 'example.test.mobileconfig'));
  const summary = JSON.parse(
    await runPython(
      `
import sys, json, plistlib
p = plistlib.loads(sys.stdin.buffer.read())
m = p['PayloadContent'][0]
print(json.dumps([p['PayloadType'], m['PayloadType'], m['EmailAccountType'], m['IncomingMailServerPortNumber'],
                  m['OutgoingMailServerPortNumber'], 'IncomingPassword' in m]))
`,
      body,
    ),
  ) as unknown[];
  assert.deepEqual(summary, [
    'Configuration',
    'com.apple.mail.managed',
    'EmailTypeIMAP',
    s.port('imaps'),
    s.port('submissions'),
    false,
  ]);
});
