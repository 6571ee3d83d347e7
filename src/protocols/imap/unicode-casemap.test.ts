// i;unicode-casemap keys (RFC 5051): case-insensitive, accents decomposed after their base
// letter, simple (one-for-one) case mappings only, and an order equal to UTF-8 octet order.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { casemapKey, compareKeys } from './unicode-casemap.js';

const cmp = (a: string, b: string): number => Math.sign(compareKeys(casemapKey(a), casemapKey(b)));

void test('case-insensitive, with decomposed accents', () => {
  assert.equal(cmp('apple', 'APPLE'), 0);
  assert.equal(cmp('émile', 'ÉMILE'), 0);
  assert.equal(cmp('Émile', 'E\u0301mile'), 0);
  // É is E followed by a combining accent: after "Emile", before "F".
  assert.equal(cmp('Émile', 'Emile'), 1);
  assert.equal(cmp('Émile', 'F'), -1);
  assert.equal(cmp('', 'a'), -1);
  // ß has no one-character upper case: it stays itself (above every ASCII letter).
  assert.equal(cmp('ß', 'SS'), 1);
  // Compatibility decompositions apply too: the ligature ﬁ is "FI".
  assert.equal(cmp('ﬁle', 'FILE'), 0);
});

void test('the order is the UTF-8 octet order, also beyond U+FFFF', () => {
  const strings = ['a', 'z', '\u00e9', '\uff21', '\ue000', '\u{1f600}', '\u{10400}', 'Ж', '\ufffd'];
  const byOctets = strings
    .map((s) => ({ s, k: casemapKey(s) }))
    .sort((x, y) =>
      Buffer.compare(
        Buffer.from(x.k.replace(/\uffff(?=[\ud800-\udbff])/g, ''), 'utf8'),
        Buffer.from(y.k.replace(/\uffff(?=[\ud800-\udbff])/g, ''), 'utf8'),
      ),
    )
    .map((x) => x.s);
  const byKeys = strings.slice().sort((a, b) => compareKeys(casemapKey(a), casemapKey(b)));
  assert.deepEqual(byKeys, byOctets);
  // U+E000 sorts below an emoji (U+1F600) in UTF-8, though its UTF-16 unit is larger.
  assert.equal(cmp('\ue000', '\u{1f600}'), -1);
});
