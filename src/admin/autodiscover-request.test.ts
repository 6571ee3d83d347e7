import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AutodiscoverRequestError, parseAutodiscoverRequest } from './autodiscover-request.js';

const OUTLOOK_REQUEST =
  '<?xml version="1.0" encoding="utf-8"?>\r\n' +
  '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">\r\n' +
  '  <Request>\r\n' +
  '    <EMailAddress>someone@example.org</EMailAddress>\r\n' +
  '    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\r\n' +
  '  </Request>\r\n' +
  '</Autodiscover>\r\n';

void test("Outlook's request: the address and the response schema", () => {
  assert.deepEqual(parseAutodiscoverRequest(OUTLOOK_REQUEST), {
    emailAddress: 'someone@example.org',
    acceptableResponseSchema:
      'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a',
  });
});

void test('prefixed names, attributes holding ">", comments, CDATA and character references', () => {
  const body =
    '<a:Autodiscover xmlns:a="urn:x" note="1 > 0"><!-- <EMailAddress>no@example.org</EMailAddress> -->' +
    '<a:Request><a:EMailAddress>o&apos;brien&#x26;co&#64;example.org</a:EMailAddress></a:Request></a:Autodiscover>';
  assert.deepEqual(parseAutodiscoverRequest(body), {
    emailAddress: "o'brien&co@example.org",
    acceptableResponseSchema: null,
  });
  const cdata =
    '<Autodiscover><Request><EMailAddress><![CDATA[a&amp;b@example.org]]></EMailAddress></Request></Autodiscover>';
  assert.equal(parseAutodiscoverRequest(cdata).emailAddress, 'a&amp;b@example.org', 'CDATA is literal');
});

void test('only Autodiscover/Request/EMailAddress counts', () => {
  const nested =
    '<Autodiscover><Request><Other><EMailAddress>deep@example.org</EMailAddress></Other>' +
    '<EMailAddress>right@example.org</EMailAddress></Request></Autodiscover>';
  assert.equal(parseAutodiscoverRequest(nested).emailAddress, 'right@example.org');
});

void test('malformed, hostile and incomplete requests are refused with AutodiscoverRequestError', () => {
  const bad = [
    '',
    'text',
    '<Autodiscover>',
    '<Autodiscover></Other>',
    '<Autodiscover><Request><EMailAddress></EMailAddress></Request></Autodiscover>',
    '<Autodiscover><Request/></Autodiscover>',
    '<Other><Request><EMailAddress>a@example.org</EMailAddress></Request></Other>',
    '<!DOCTYPE Autodiscover [<!ENTITY e "x">]><Autodiscover><Request><EMailAddress>&e;</EMailAddress></Request></Autodiscover>',
    '<Autodiscover><Request><EMailAddress>&unknown;</EMailAddress></Request></Autodiscover>',
    '<Autodiscover><Request><EMailAddress>&#0;</EMailAddress></Request></Autodiscover>',
    '<Autodiscover><Request><EMailAddress>&#xD800;</EMailAddress></Request></Autodiscover>',
    '<Autodiscover><Request><EMailAddress>a&b</EMailAddress></Request></Autodiscover>',
    '<Autodiscover></Autodiscover><Autodiscover></Autodiscover>',
    '<Autodiscover><Request><EMailAddress>a@example.org</EMailAddress></Request></Autodiscover>trailing',
    `<Autodiscover><Request><EMailAddress>${'a'.repeat(2000)}</EMailAddress></Request></Autodiscover>`,
    `<Autodiscover>${'<x>'.repeat(20)}${'</x>'.repeat(20)}</Autodiscover>`,
    '<Autodiscover <Request>',
    '<Autodiscover attr="unterminated>',
    '<Autodiscover><![CDATA[x]]></Autodiscover>',
    '<?xml version="1.0"',
    '<Autodiscover><!-- open',
  ];
  for (const body of bad) {
    assert.throws(
      () => parseAutodiscoverRequest(body),
      AutodiscoverRequestError,
      JSON.stringify(body.slice(0, 80)),
    );
  }
});

void test('every truncation of a valid request before its end tag is refused, never a crash', () => {
  const end = OUTLOOK_REQUEST.indexOf('</Autodiscover>') + '</Autodiscover>'.length;
  for (let i = 0; i < end; i++) {
    const head = OUTLOOK_REQUEST.slice(0, i);
    try {
      parseAutodiscoverRequest(head);
      assert.fail(`a truncated request parsed: ${JSON.stringify(head)}`);
    } catch (err) {
      assert.ok(err instanceof AutodiscoverRequestError, String(err));
    }
  }
});

void test('large hostile input is scanned in linear time', () => {
  // Many unclosed "<" and "&" would be quadratic for a backtracking pattern; here each is one step.
  const body = `<Autodiscover><Request><EMailAddress>${'&amp;'.repeat(200)}</EMailAddress></Request>${'<!-- -->'.repeat(2000)}</Autodiscover>`;
  const started = process.hrtime.bigint();
  assert.throws(() => parseAutodiscoverRequest(body + '<'.repeat(16_000)), AutodiscoverRequestError);
  assert.ok(process.hrtime.bigint() - started < 2_000_000_000n, 'well under 2 s');
});
