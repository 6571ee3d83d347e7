import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImapToken } from '../../wire/imap/reader.js';
import { ImapBad } from './errors.js';
import { entryArg, entryData, entryNameProblem, withinDepth } from './metadata-entry.js';
import { Atom } from '../../wire/imap/encoder.js';

const atomToken = (value: string): ImapToken => ({ kind: 'atom', value });

void test('RFC 5464 §3.2: valid entry names, lower-cased; bare prefixes are roots', () => {
  assert.deepEqual(entryArg(atomToken('/private/comment')), { name: '/private/comment', root: false });
  assert.deepEqual(entryArg(atomToken('/Shared/Vendor/Vendor.Example/X')), {
    name: '/shared/vendor/vendor.example/x',
    root: false,
  });
  assert.deepEqual(entryArg({ kind: 'string', value: Buffer.from('/PRIVATE'), form: 'quoted' }), {
    name: '/private',
    root: true,
  });
  assert.equal(entryNameProblem('/shared/comment ünïcode'), null);
});

void test('RFC 5464 §3.2: wildcards, empty levels, a trailing slash, controls and other prefixes are BAD', () => {
  for (const bad of [
    '/private/*',
    '/shared/co%',
    '/private//comment',
    '/private/comment/',
    '/private/',
    '/shared\tx',
    '/public/comment',
    '/privatecomment',
    'private/comment',
    '',
    `/private/${'x'.repeat(1100)}`,
  ]) {
    assert.notEqual(entryNameProblem(bad), null, bad);
    assert.throws(
      () => entryArg({ kind: 'string', value: Buffer.from(bad), form: 'quoted' }),
      (e) => e instanceof ImapBad,
      bad,
    );
  }
  assert.throws(
    () => entryArg({ kind: 'list', items: [] }),
    (e) => e instanceof ImapBad,
  );
  assert.throws(
    () => entryArg({ kind: 'nil' }),
    (e) => e instanceof ImapBad,
  );
  assert.throws(
    () => entryArg({ kind: 'string', value: Buffer.from([0x2f, 0xff]), form: 'literal' }),
    ImapBad,
  );
});

void test('DEPTH 0, 1 and infinity (RFC 5464 §4.2.2)', () => {
  assert.ok(withinDepth('/private/a', '/private/a', 0));
  assert.ok(!withinDepth('/private/a', '/private/a/b', 0));
  assert.ok(withinDepth('/private/a', '/private/a/b', 1));
  assert.ok(!withinDepth('/private/a', '/private/a/b/c', 1));
  assert.ok(withinDepth('/private/a', '/private/a/b/c', Infinity));
  assert.ok(
    !withinDepth('/private/a', '/private/ab', Infinity),
    'a sibling with the same prefix is not a child',
  );
});

void test('entry names go as atoms when they can', () => {
  assert.ok(entryData('/private/comment') instanceof Atom);
  assert.equal(entryData('/private/with space'), '/private/with space');
  assert.equal(entryData('/private/é'), '/private/é');
});
