import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPython } from '../../test/helpers/python.js';
import { mobileconfig } from './apple-mobileconfig.js';
import { clientSettings } from './client-settings.js';

const PLIST_JSON = `
import sys, json, plistlib
print(json.dumps(plistlib.loads(sys.stdin.buffer.read(), fmt=plistlib.FMT_XML)))
`;

type Profile = Record<string, unknown> & { PayloadContent: Array<Record<string, unknown>> };

async function parse(text: string): Promise<Profile> {
  return JSON.parse(await runPython(PLIST_JSON, text)) as Profile;
}

const SETTINGS = clientSettings(
  'mail.example.org',
  new Map([
    ['pop3s', 995],
    ['submission', 587],
  ]),
);

void test('POP3 when there is no IMAP; the password only when asked, escaped like every string', async () => {
  const password = `p<&>"'\u0001]]>😀`;
  const text = mobileconfig({
    settings: SETTINGS,
    address: 'someone@example.org',
    displayName: 'Zoë <Ops> & "Co"',
    password,
  });
  assert.ok(text !== null);
  const p = await parse(text);
  const mail = p.PayloadContent[0];
  assert.equal(mail.EmailAccountType, 'EmailTypePOP');
  assert.equal(mail.IncomingMailServerPortNumber, 995);
  assert.equal(mail.OutgoingMailServerPortNumber, 587);
  assert.equal(mail.EmailAccountName, 'Zoë <Ops> & "Co"');
  // The control character cannot be carried by XML: it becomes U+FFFD; the rest is intact.
  assert.equal(mail.IncomingPassword, password.replace('\u0001', '\uFFFD'));
  assert.equal(mail.OutgoingPassword, mail.IncomingPassword);

  const without = await parse(mobileconfig({ settings: SETTINGS, address: 'someone@example.org' })!);
  assert.ok(!('IncomingPassword' in without.PayloadContent[0]));
  assert.ok(!('EmailAccountName' in without.PayloadContent[0]));
  assert.equal(without.PayloadUUID, p.PayloadUUID, 'the same user gets the same identifiers');
});

void test('no profile without an incoming or an outgoing service', () => {
  assert.equal(
    mobileconfig({
      settings: clientSettings('h.example', new Map([['imaps', 993]])),
      address: 'a@b.example',
    }),
    null,
  );
  assert.equal(
    mobileconfig({
      settings: clientSettings('h.example', new Map([['submissions', 465]])),
      address: 'a@b.example',
    }),
    null,
  );
});
