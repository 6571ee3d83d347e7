import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../core/errors.js';
import { parseAddress, parseDomain } from './address.js';
import { renderTable } from './table.js';

void test('addresses are lower-cased local@domain with a dot-atom local part', () => {
  assert.deepEqual(parseAddress('Alice.Smith@Example.ORG'), {
    local: 'alice.smith',
    domain: 'example.org',
    address: 'alice.smith@example.org',
  });
  assert.equal(parseAddress("o'brien+tag@example.org").address, "o'brien+tag@example.org");
  assert.equal(parseAddress('x@bücher.example').domain, 'xn--bcher-kva.example');
  for (const bad of [
    '',
    'plain',
    '@example.org',
    'a@',
    'a..b@example.org',
    '.a@example.org',
    'a b@example.org',
    'a@exa_mple.org',
    'a@-x.org',
    `${'l'.repeat(65)}@example.org`,
    'a@b@c',
    'a"b@example.org',
  ]) {
    assert.throws(() => parseAddress(bad), UsageError, bad);
  }
});

void test('domains are LDH labels, lower-cased', () => {
  assert.equal(parseDomain('Example.TEST'), 'example.test');
  assert.equal(parseDomain('mail-1.example.test'), 'mail-1.example.test');
  for (const bad of [
    '',
    'a..b',
    'under_score.test',
    '-lead.test',
    'trail-.test',
    `${'a'.repeat(64)}.test`,
    'a b.test',
  ]) {
    assert.throws(() => parseDomain(bad), UsageError, bad);
  }
});

void test('tables are aligned, numbers right-aligned, no trailing spaces', () => {
  const text = renderTable(
    [{ header: 'NAME' }, { header: 'N', right: true }, { header: 'NOTE' }],
    [
      ['INBOX', '1000', ''],
      ['Sent', '7', 'x'],
    ],
  );
  assert.equal(text, 'NAME      N  NOTE\nINBOX  1000\nSent      7  x\n');
});
