import assert from 'node:assert/strict';
import { test } from 'node:test';
import { xmlElement, xmlEscape } from './xml-text.js';

void test('markup characters become entity references', () => {
  assert.equal(xmlEscape(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  assert.equal(xmlEscape(']]>'), ']]&gt;');
  assert.equal(xmlElement('b', 'x&y'), '<b>x&amp;y</b>');
  assert.equal(xmlElement('port', 993), '<port>993</port>');
});

void test('characters XML cannot carry become U+FFFD; tab, newlines and astral characters stay', () => {
  assert.equal(xmlEscape('a\u0000b\u0001c\u001fd'), 'a\uFFFDb\uFFFDc\uFFFDd');
  assert.equal(xmlEscape('\t\n\r'), '\t\n\r');
  assert.equal(xmlEscape('\uD800x\uDC00'), '\uFFFDx\uFFFD', 'lone surrogates');
  assert.equal(xmlEscape('😀 é'), '😀 é');
  assert.equal(xmlEscape('\uFFFE\uFFFF'), '\uFFFD\uFFFD');
});
