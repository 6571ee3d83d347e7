import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError } from '../../core/errors.js';
import {
  ALL_RIGHTS,
  applyRightsChange,
  canonicalRights,
  normalizeIdentifier,
  parseRightsChange,
  rightsForWire,
  unionRights,
} from './acl.js';

void test('RFC 4314 §3.1: replace, add and remove; rights kept in canonical order', () => {
  assert.deepEqual(parseRightsChange('rl'), { mode: 'replace', rights: 'lr' });
  assert.deepEqual(parseRightsChange('+sw'), { mode: 'add', rights: 'sw' });
  assert.deepEqual(parseRightsChange('-w'), { mode: 'remove', rights: 'w' });
  assert.deepEqual(parseRightsChange(''), { mode: 'replace', rights: '' });
  assert.equal(applyRightsChange('lr', parseRightsChange('+swi')), 'lrswi');
  assert.equal(applyRightsChange('lrswi', parseRightsChange('-sw')), 'lri');
  assert.equal(applyRightsChange('lrswi', parseRightsChange('a')), 'a');
  assert.equal(canonicalRights('aetxkpiwsrl'), ALL_RIGHTS);
  assert.equal(unionRights('lr', 'ls', ''), 'lrs');
});

void test('RFC 4314 §2.1.1: "c" is "k", "d" is "x", "t" and "e"; both shown when a member is held', () => {
  // §3.1's example rights "lrswicda".
  assert.equal(parseRightsChange('lrswicda').rights, 'lrswikxtea');
  assert.equal(applyRightsChange('lrswikxtea', parseRightsChange('-d')), 'lrswika');
  assert.equal(applyRightsChange('lr', parseRightsChange('+c')), 'lrk');
  assert.equal(rightsForWire(ALL_RIGHTS), 'lrswipkxteacd');
  assert.equal(rightsForWire('lrt'), 'lrtd');
  assert.equal(rightsForWire('lk'), 'lkc');
  assert.equal(rightsForWire('lr'), 'lr');
});

void test('RFC 4314 §3.1: an unknown right is refused (the example\'s upper-case "Q" too)', () => {
  for (const bad of ['lrQswicda', 'lrz', '+L', '-0', 'l r']) {
    assert.throws(
      () => parseRightsChange(bad),
      (e) => isStoreError(e, 'INVALID_ARGUMENT'),
      bad,
    );
  }
});

void test('identifiers: "anyone" in any case, addresses lower-cased, negative rights and garbage refused', () => {
  assert.equal(normalizeIdentifier('ANYONE'), 'anyone');
  assert.equal(normalizeIdentifier('Bob@Example.ORG'), 'bob@example.org');
  assert.equal(normalizeIdentifier('-bob@example.org'), null);
  assert.equal(normalizeIdentifier('bob'), null);
  assert.equal(normalizeIdentifier('@example.org'), null);
  assert.equal(normalizeIdentifier('bob@'), null);
  assert.equal(normalizeIdentifier('b ob@example.org'), null);
  assert.equal(normalizeIdentifier('__proto__'), null);
});
